package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// api implements nexusv1connect.NexusServiceHandler.
type api struct {
	s *Server
}

// loaded is a deployed version, compiled.
type loaded struct {
	v  *Version
	w  *model.Workflow
	wf *engine.Workflow
	// resolved bindings of every function the machine calls, as the
	// engine stores them with an execution (JSON).
	resolved string
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// execID is the engine's id of execution id of namespace ns.
func execID(ns, id string) string { return ns + "/" + id }

// load returns version n (0: latest) of workflow name of ns, compiled.
func (s *Server) load(ctx context.Context, ns, name string, n int64) (*loaded, error) {
	v, err := s.meta.Version(ctx, ns, name, n)
	if err != nil {
		return nil, err
	}
	key := ns + "/" + name + "/" + strconv.FormatInt(v.Version, 10)
	s.mu.Lock()
	l := s.versions[key]
	s.mu.Unlock()
	if l != nil {
		return l, nil
	}
	src, err := s.st.Workflow(ctx, v.Digest)
	if err != nil {
		return nil, fmt.Errorf("workflow %s version %d: source: %w", name, v.Version, err)
	}
	w, fs := s.opts.Parse(v.File, src.Source)
	if w == nil || fs.Errors() > 0 {
		return nil, fmt.Errorf("workflow %s version %d: %v", name, v.Version, fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		return nil, fmt.Errorf("workflow %s version %d: %v", name, v.Version, fs)
	}
	l = &loaded{v: v, w: w, wf: &engine.Workflow{File: v.File, Source: src.Source, Machine: m, Bindings: v.Bindings}}
	res := map[string]string{}
	for _, fn := range m.Functions {
		uri := v.Bindings[fn]
		if uri == "" {
			if f := w.Function(fn); f != nil {
				uri = f.URI
			}
		}
		res[fn] = uri
	}
	rb, _ := json.Marshal(res)
	l.resolved = string(rb)
	s.mu.Lock()
	s.versions[key] = l
	s.byDigest[ns+"\x00"+v.Digest+"\x00"+l.resolved] = name + "\x00" + strconv.FormatInt(v.Version, 10)
	s.mu.Unlock()
	return l, nil
}

// versionOf names the workflow version an execution of ns runs: the
// version with its digest (and, if several, its bindings).
func (s *Server) versionOf(ctx context.Context, ns string, row *store.Execution) (string, int64) {
	key := ns + "\x00" + row.Workflow + "\x00" + compactJSON(row.Bindings)
	s.mu.Lock()
	nv, ok := s.byDigest[key]
	s.mu.Unlock()
	if !ok {
		vs, err := s.meta.ByDigest(ctx, ns, row.Workflow)
		if err != nil || len(vs) == 0 {
			return "", 0
		}
		nv = vs[0].Name + "\x00" + strconv.FormatInt(vs[0].Version, 10)
		for _, v := range vs {
			if l, err := s.load(ctx, ns, v.Name, v.Version); err == nil && l.resolved == compactJSON(row.Bindings) {
				nv = v.Name + "\x00" + strconv.FormatInt(v.Version, 10)
				break
			}
		}
		s.mu.Lock()
		s.byDigest[key] = nv
		s.mu.Unlock()
	}
	name, ver, _ := strings.Cut(nv, "\x00")
	n, _ := strconv.ParseInt(ver, 10, 64)
	return name, n
}

// compactJSON is JSON with its object keys sorted and no spaces.
func compactJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// errorf makes a connect error.
func errorf(code connect.Code, format string, args ...any) error {
	return connect.NewError(code, fmt.Errorf(format, args...))
}

// storeError maps an error of the store or the engine to a connect error.
func storeError(err error, what string) error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, store.ErrNotFound), errors.Is(err, errNoVersion):
		return errorf(connect.CodeNotFound, "%s: not found", what)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeInternal, fmt.Errorf("%s: %w", what, err))
}

func checkName(kind, s string) error {
	if !idRE.MatchString(s) {
		return errorf(connect.CodeInvalidArgument, "%s %q: use letters, digits, '.', '_' and '-' (at most 128, starting with a letter or digit)", kind, s)
	}
	return nil
}

// valueOf turns JSON into a protobuf Value (nil for no data).
func valueOf(b []byte) *structpb.Value {
	if len(bytes.TrimSpace(b)) == 0 || !json.Valid(b) {
		return nil
	}
	v := &structpb.Value{}
	if err := protojson.Unmarshal(b, v); err != nil {
		return nil
	}
	return v
}

// valueOfAny turns a Go value into a protobuf Value through JSON.
func valueOfAny(x any) *structpb.Value {
	b, err := json.Marshal(x)
	if err != nil {
		return nil
	}
	return valueOf(b)
}

// jsonOf is the JSON of a Value, object keys sorted (nil: def).
func jsonOf(v *structpb.Value, def string) ([]byte, error) {
	if v == nil {
		return []byte(def), nil
	}
	return json.Marshal(v.AsInterface())
}

func ts(ns int64) *timestamppb.Timestamp {
	if ns == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(0, ns))
}

// execution converts an execution row of namespace ns.
func (s *Server) execution(ctx context.Context, ns string, row *store.Execution) *nexusv1.Execution {
	x := &nexusv1.Execution{Id: strings.TrimPrefix(row.ID, ns+"/"), Digest: row.Workflow, Status: row.Status,
		Error: row.Error, Cause: row.Cause, CreatedAt: ts(row.Created), UpdatedAt: ts(row.Updated), Records: row.Seq}
	x.Workflow, x.Version = s.versionOf(ctx, ns, row)
	if st, ok := model.ParseStatus(row.Status); ok && st.Terminal() {
		x.Terminal = true
		if st == model.Succeeded {
			x.Output = valueOf(row.Output)
			if x.Output == nil {
				x.Output = structpb.NewNullValue()
			}
		}
	}
	return x
}

// inputOf reads the input of an execution from its first record.
func (s *Server) inputOf(ctx context.Context, id string) ([]byte, error) {
	r, err := s.st.Record(ctx, id, 1)
	if err != nil {
		return nil, err
	}
	if r.Kind != store.KindEvent {
		return nil, fmt.Errorf("execution %s: its first record is not its start", id)
	}
	ev, err := engine.DecodeEvent(r.Body)
	if err != nil {
		return nil, err
	}
	if ev.Kind != model.EvStart {
		return nil, fmt.Errorf("execution %s: its first record is %s, not its start", id, ev.Kind)
	}
	return ev.Data, nil
}

// ListWorkflows implements the service.
func (a *api) ListWorkflows(ctx context.Context, req *connect.Request[nexusv1.ListWorkflowsRequest]) (*connect.Response[nexusv1.ListWorkflowsResponse], error) {
	ns := callerOf(ctx).Namespace
	vs, err := a.s.meta.Versions(ctx, ns, "")
	if err != nil {
		return nil, storeError(err, "list workflows")
	}
	out := &nexusv1.ListWorkflowsResponse{}
	var cur *nexusv1.Workflow
	for _, v := range vs { // by name, newest version first
		if cur == nil || cur.Name != v.Name {
			cur = &nexusv1.Workflow{Name: v.Name, Latest: a.s.versionMessage(ctx, v, false)}
			out.Workflows = append(out.Workflows, cur)
		}
		cur.Versions++
		cur.CreatedAt = timestamppb.New(v.Deployed)
	}
	return connect.NewResponse(out), nil
}

// versionMessage converts a version; withSource adds its source.
func (s *Server) versionMessage(ctx context.Context, v *Version, withSource bool) *nexusv1.WorkflowVersion {
	out := &nexusv1.WorkflowVersion{Name: v.Name, Version: v.Version, Digest: v.Digest, File: v.File, Bindings: v.Bindings,
		DeployedAt: timestamppb.New(v.Deployed), DeployedBy: v.DeployedBy}
	if len(v.Verification) > 0 {
		ver := &nexusv1.Verification{}
		if err := protojson.Unmarshal(v.Verification, ver); err == nil {
			out.Verification = ver
		}
	}
	if l, err := s.load(ctx, v.Namespace, v.Name, v.Version); err == nil {
		out.Triggers = triggerMessages(l.w)
		out.Comment = l.w.Comment
		out.States = int32(len(l.wf.Machine.States))
		if withSource {
			out.Source = string(l.wf.Source)
		}
	}
	return out
}

func triggerMessages(w *model.Workflow) []*nexusv1.Trigger {
	var out []*nexusv1.Trigger
	for _, t := range w.Triggers {
		tm := &nexusv1.Trigger{Event: t.Event, Type: t.Type, Schedule: t.Schedule}
		if t.Input != nil {
			tm.Input = valueOfAny(t.Input)
		}
		out = append(out, tm)
	}
	return out
}

// GetWorkflow implements the service.
func (a *api) GetWorkflow(ctx context.Context, req *connect.Request[nexusv1.GetWorkflowRequest]) (*connect.Response[nexusv1.GetWorkflowResponse], error) {
	ns := callerOf(ctx).Namespace
	v, err := a.s.meta.Version(ctx, ns, req.Msg.Name, req.Msg.Version)
	if err != nil {
		return nil, storeError(err, "workflow "+req.Msg.Name)
	}
	return connect.NewResponse(&nexusv1.GetWorkflowResponse{Version: a.s.versionMessage(ctx, v, true)}), nil
}

// ListWorkflowVersions implements the service.
func (a *api) ListWorkflowVersions(ctx context.Context, req *connect.Request[nexusv1.ListWorkflowVersionsRequest]) (*connect.Response[nexusv1.ListWorkflowVersionsResponse], error) {
	ns := callerOf(ctx).Namespace
	if req.Msg.Name == "" {
		return nil, errorf(connect.CodeInvalidArgument, "name: which workflow?")
	}
	vs, err := a.s.meta.Versions(ctx, ns, req.Msg.Name)
	if err != nil {
		return nil, storeError(err, "workflow "+req.Msg.Name)
	}
	if len(vs) == 0 {
		return nil, errorf(connect.CodeNotFound, "workflow %s: not found", req.Msg.Name)
	}
	out := &nexusv1.ListWorkflowVersionsResponse{}
	for _, v := range vs {
		out.Versions = append(out.Versions, a.s.versionMessage(ctx, v, false))
	}
	return connect.NewResponse(out), nil
}

// newID makes an execution id: sortable by start time, unique.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return strconv.FormatInt(now.UnixMilli(), 36) + "-" + hex.EncodeToString(b[:])
}

// StartExecution implements the service.
func (a *api) StartExecution(ctx context.Context, req *connect.Request[nexusv1.StartExecutionRequest]) (*connect.Response[nexusv1.StartExecutionResponse], error) {
	ns := callerOf(ctx).Namespace
	m := req.Msg
	input, err := jsonOf(m.Input, "{}")
	if err != nil {
		return nil, errorf(connect.CodeInvalidArgument, "input: %v", err)
	}
	x, created, err := a.s.start(ctx, ns, m.Workflow, m.Version, m.ExecutionId, input)
	if err != nil {
		return nil, err
	}
	x.Input = valueOf(input)
	return connect.NewResponse(&nexusv1.StartExecutionResponse{Execution: x, Created: created}), nil
}

// start starts (idempotently, when id is given) an execution of workflow
// name, version n (0: latest), with input (JSON).
func (s *Server) start(ctx context.Context, ns, name string, n int64, id string, input []byte) (*nexusv1.Execution, bool, error) {
	if name == "" {
		return nil, false, errorf(connect.CodeInvalidArgument, "workflow: which workflow to start?")
	}
	if id == "" {
		id = newID(time.Now())
	} else if err := checkName("execution id", id); err != nil {
		return nil, false, err
	}
	if len(input) > s.opts.MaxPayloadBytes {
		return nil, false, errorf(connect.CodeInvalidArgument, "input of %d bytes is over the %d-byte payload limit", len(input), s.opts.MaxPayloadBytes)
	}
	l, err := s.load(ctx, ns, name, n)
	if err != nil {
		return nil, false, storeError(err, "workflow "+name)
	}
	eid := execID(ns, id)
	// An execution with this id: the same start again, or a conflict.
	same := func() (*nexusv1.Execution, bool, error) {
		row, err := s.st.Execution(ctx, eid)
		if err != nil {
			return nil, false, err
		}
		prev, err := s.inputOf(ctx, eid)
		if err != nil {
			return nil, false, storeError(err, "execution "+id)
		}
		if row.Workflow != l.v.Digest || compactJSON(prev) != compactJSON(input) {
			return nil, false, errorf(connect.CodeAlreadyExists,
				"execution %s exists with another workflow version or input; start it with another id", id)
		}
		return s.execution(ctx, ns, row), false, nil
	}
	if x, created, err := same(); err == nil {
		return x, created, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, storeError(err, "execution "+id)
	}
	_, err = s.eng.Start(ctx, l.wf, input, engine.StartOptions{ID: eid})
	if errors.Is(err, store.ErrExists) {
		// Started already, or being started by a concurrent call (the
		// engine registers an id before its start is durable): wait for
		// the start to be in the store.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
			x, created, err := same()
			if err == nil {
				return x, created, nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, false, storeError(err, "execution "+id)
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, false, errorf(connect.CodeAborted, "execution %s: a concurrent start of this id did not finish; try again", id)
			case <-t.C:
			}
		}
	}
	if err != nil {
		var be *engine.BindingError
		if errors.As(err, &be) {
			return nil, false, errorf(connect.CodeFailedPrecondition, "workflow %s version %d cannot run: %s", name, l.v.Version, strings.Join(be.Problems, "; "))
		}
		if strings.Contains(err.Error(), "payload limit") || strings.Contains(err.Error(), "not JSON") {
			return nil, false, errorf(connect.CodeInvalidArgument, "%v", err)
		}
		return nil, false, storeError(err, "start "+id)
	}
	s.tel.started.Inc()
	row, err := s.st.Execution(ctx, eid)
	if err != nil {
		return nil, false, storeError(err, "execution "+id)
	}
	return s.execution(ctx, ns, row), true, nil
}

// row reads execution id of ns.
func (s *Server) row(ctx context.Context, ns, id string) (*store.Execution, error) {
	if id == "" {
		return nil, errorf(connect.CodeInvalidArgument, "execution_id: which execution?")
	}
	if !idRE.MatchString(id) {
		return nil, errorf(connect.CodeNotFound, "execution %s: not found", id)
	}
	row, err := s.st.Execution(ctx, execID(ns, id))
	if err != nil {
		return nil, storeError(err, "execution "+id)
	}
	return row, nil
}

// maxWait bounds GetExecution's wait.
const maxWait = 60 * time.Second

// GetExecution implements the service.
func (a *api) GetExecution(ctx context.Context, req *connect.Request[nexusv1.GetExecutionRequest]) (*connect.Response[nexusv1.GetExecutionResponse], error) {
	ns := callerOf(ctx).Namespace
	row, err := a.s.row(ctx, ns, req.Msg.ExecutionId)
	if err != nil {
		return nil, err
	}
	if w := req.Msg.WaitMs; w > 0 {
		if row, err = a.s.wait(ctx, row, min(time.Duration(w)*time.Millisecond, maxWait)); err != nil {
			return nil, err
		}
	}
	x := a.s.execution(ctx, ns, row)
	if in, err := a.s.inputOf(ctx, row.ID); err == nil {
		x.Input = valueOf(in)
	}
	return connect.NewResponse(&nexusv1.GetExecutionResponse{Execution: x}), nil
}

// wait waits up to d for the execution to end and returns its row.
func (s *Server) wait(ctx context.Context, row *store.Execution, d time.Duration) (*store.Execution, error) {
	if st, _ := model.ParseStatus(row.Status); st.Terminal() {
		return row, nil
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	// This engine's executions end on a channel; the others are polled.
	if _, err := s.eng.Wait(wctx, row.ID); err == nil {
		return s.reread(ctx, row)
	}
	poll := 5 * time.Millisecond
	for {
		t := time.NewTimer(poll)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
			}
			return s.reread(ctx, row)
		case <-t.C:
		}
		r, err := s.reread(ctx, row)
		if err != nil {
			return nil, err
		}
		if st, _ := model.ParseStatus(r.Status); st.Terminal() {
			return r, nil
		}
		poll = min(poll*2, 200*time.Millisecond)
	}
}

func (s *Server) reread(ctx context.Context, row *store.Execution) (*store.Execution, error) {
	r, err := s.st.Execution(ctx, row.ID)
	if err != nil {
		return nil, storeError(err, "execution "+row.ID)
	}
	return r, nil
}

// pageToken is where a page of executions ends: (created, id) of its
// last execution.
func pageToken(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + ":" + id))
}

func parsePageToken(tok string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", err
	}
	c, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", errors.New("malformed")
	}
	n, err := strconv.ParseInt(c, 10, 64)
	return n, id, err
}

// ListExecutions implements the service.
func (a *api) ListExecutions(ctx context.Context, req *connect.Request[nexusv1.ListExecutionsRequest]) (*connect.Response[nexusv1.ListExecutionsResponse], error) {
	ns := callerOf(ctx).Namespace
	m := req.Msg
	size := int(m.PageSize)
	switch {
	case size <= 0:
		size = 100
	case size > 1000:
		size = 1000
	}
	for _, st := range m.Status {
		if _, ok := model.ParseStatus(st); !ok {
			return nil, errorf(connect.CodeInvalidArgument, "status %q: one of running, compensating, succeeded, failed, compensated, compensation_failed, cancelled, timed_out", st)
		}
	}
	var afterC int64
	var afterID string
	if m.PageToken != "" {
		var err error
		if afterC, afterID, err = parsePageToken(m.PageToken); err != nil {
			return nil, errorf(connect.CodeInvalidArgument, "page_token: not a token this server gave")
		}
	}
	var filters []store.Filter
	if m.Workflow != "" {
		vs, err := a.s.meta.Versions(ctx, ns, m.Workflow)
		if err != nil {
			return nil, storeError(err, "workflow "+m.Workflow)
		}
		seen := map[string]bool{}
		for _, v := range vs {
			if !seen[v.Digest] {
				seen[v.Digest] = true
				filters = append(filters, store.Filter{Status: m.Status, Workflow: v.Digest})
			}
		}
	} else {
		filters = append(filters, store.Filter{Status: m.Status})
	}
	var from, to int64
	if m.CreatedAfter != nil {
		from = m.CreatedAfter.AsTime().UnixNano()
	}
	if m.CreatedBefore != nil {
		to = m.CreatedBefore.AsTime().UnixNano()
	}
	prefix := ns + "/"
	var rows []*store.Execution
	for _, f := range filters {
		rs, err := a.s.st.Executions(ctx, f)
		if err != nil {
			return nil, storeError(err, "list executions")
		}
		for _, r := range rs {
			if !strings.HasPrefix(r.ID, prefix) || (from != 0 && r.Created < from) || (to != 0 && r.Created >= to) {
				continue
			}
			if m.PageToken != "" && (r.Created > afterC || (r.Created == afterC && r.ID >= afterID)) {
				continue
			}
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Created != rows[j].Created {
			return rows[i].Created > rows[j].Created
		}
		return rows[i].ID > rows[j].ID
	})
	out := &nexusv1.ListExecutionsResponse{}
	if len(rows) > size {
		rows = rows[:size]
		last := rows[size-1]
		out.NextPageToken = pageToken(last.Created, last.ID)
	}
	for _, r := range rows {
		out.Executions = append(out.Executions, a.s.execution(ctx, ns, r))
	}
	return connect.NewResponse(out), nil
}

// GetHistory implements the service.
func (a *api) GetHistory(ctx context.Context, req *connect.Request[nexusv1.GetHistoryRequest]) (*connect.Response[nexusv1.GetHistoryResponse], error) {
	ns := callerOf(ctx).Namespace
	row, err := a.s.row(ctx, ns, req.Msg.ExecutionId)
	if err != nil {
		return nil, err
	}
	hist, err := engine.History(ctx, a.s.st, row.ID)
	if err != nil {
		return nil, storeError(err, "history of "+req.Msg.ExecutionId)
	}
	out := &nexusv1.GetHistoryResponse{}
	for _, en := range hist {
		out.Entries = append(out.Entries, &nexusv1.HistoryEntry{Seq: en.Seq, Time: ts(en.Time), Record: en.Kind.String(),
			Type: en.Type, State: en.State, Function: en.Function, Attempt: en.Attempt, Key: en.Key, Error: en.Error,
			Detail: valueOfAny(entryDetail(en))})
	}
	return connect.NewResponse(out), nil
}

// raw keeps JSON data as it is, and drops what is absent.
func raw(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return json.RawMessage(b)
}

// entryDetail is the event or intent of a record, as nexus history -o
// json shows it.
func entryDetail(en *engine.Entry) map[string]any {
	d := map[string]any{}
	if ev := en.Event; ev != nil {
		d["kind"] = ev.Kind.String()
		if ev.ID != 0 {
			d["id"] = ev.ID
		}
		if ev.Thread != 0 {
			d["thread"], d["decide"] = ev.Thread, ev.Decide.String()
		}
		if ev.Decide == model.DecideChoice {
			d["branch"] = ev.Branch
		}
		if ev.Count != 0 {
			d["count"] = ev.Count
		}
		if ev.Delay != 0 {
			d["delay_ns"] = int64(ev.Delay)
		}
		if ev.Err != "" {
			d["error"] = ev.Err
		}
		if ev.Cause != "" {
			d["cause"] = ev.Cause
		}
		if r := raw(ev.Data); r != nil {
			d["data"] = r
		}
		if r := raw(ev.Vars); r != nil {
			d["vars"] = r
		}
	}
	if c := en.Command; c != nil {
		d["effect"], d["id"] = c.Effect.String(), c.ID
		if c.Effect == model.Invoke {
			d["attempt"] = c.Attempt
			if r := raw(c.Input); r != nil {
				d["input"] = r
			}
			if c.Comp {
				d["compensation"] = true
			}
			if c.Callback {
				d["callback"] = true
			}
			if c.Timeout > 0 {
				d["timeout_ns"] = int64(c.Timeout)
			}
		}
		if c.Delay != 0 {
			d["delay_ns"] = int64(c.Delay)
		}
		if c.Until != 0 {
			d["until"] = time.Unix(0, c.Until).UTC().Format(time.RFC3339Nano)
		}
	}
	return d
}

// GetTrace implements the service.
func (a *api) GetTrace(ctx context.Context, req *connect.Request[nexusv1.GetTraceRequest]) (*connect.Response[nexusv1.GetTraceResponse], error) {
	ns := callerOf(ctx).Namespace
	row, err := a.s.row(ctx, ns, req.Msg.ExecutionId)
	if err != nil {
		return nil, err
	}
	tr, err := engine.TraceOf(ctx, a.s.st, row.ID)
	if err != nil {
		return nil, storeError(err, "trace of "+req.Msg.ExecutionId)
	}
	name, _ := a.s.versionOf(ctx, ns, row)
	out := &nexusv1.Trace{ExecutionId: req.Msg.ExecutionId, Workflow: name, Status: tr.Status, Input: valueOf(tr.Input),
		Output: valueOf(tr.Output), Error: tr.Error, Cause: tr.Cause, Start: ts(tr.Start), End: ts(tr.End),
		RootCause: int32(tr.RootCause), Attempts: int32(tr.Attempts), Retries: int32(tr.Retries)}
	for _, st := range tr.Steps {
		out.Steps = append(out.Steps, &nexusv1.TraceStep{Kind: st.Kind, State: st.State, Function: st.Function,
			Attempt: st.Attempt, Key: st.Key, Input: valueOf(st.Input), Output: valueOf(st.Output), Error: st.Error,
			Cause: st.Cause, Outcome: st.Outcome, Start: ts(st.Start), End: ts(st.End), DelayMs: st.Delay / 1e6})
	}
	return connect.NewResponse(&nexusv1.GetTraceResponse{Trace: out}), nil
}

// isOver: the engine refused a signal because the execution ended.
func isOver(err error) bool { return err != nil && strings.Contains(err.Error(), " is over (") }

// CancelExecution implements the service.
func (a *api) CancelExecution(ctx context.Context, req *connect.Request[nexusv1.CancelExecutionRequest]) (*connect.Response[nexusv1.CancelExecutionResponse], error) {
	ns := callerOf(ctx).Namespace
	row, err := a.s.row(ctx, ns, req.Msg.ExecutionId)
	if err != nil {
		return nil, err
	}
	cause := req.Msg.Cause
	if cause == "" {
		cause = "cancelled through the API"
	}
	if err := a.s.eng.Cancel(ctx, row.ID, cause); err != nil {
		if isOver(err) {
			return nil, errorf(connect.CodeFailedPrecondition, "execution %s is over (%s): nothing to cancel", req.Msg.ExecutionId, row.Status)
		}
		return nil, storeError(err, "cancel "+req.Msg.ExecutionId)
	}
	if row, err = a.s.reread(ctx, row); err != nil {
		return nil, err
	}
	return connect.NewResponse(&nexusv1.CancelExecutionResponse{Execution: a.s.execution(ctx, ns, row)}), nil
}

// CompleteTask implements the service.
func (a *api) CompleteTask(ctx context.Context, req *connect.Request[nexusv1.CompleteTaskRequest]) (*connect.Response[nexusv1.CompleteTaskResponse], error) {
	ns := callerOf(ctx).Namespace
	m := req.Msg
	exec, _, err := engine.ParseToken(a.s.secret, m.Token)
	if err != nil {
		return nil, errorf(connect.CodeInvalidArgument, "token: %v", err)
	}
	id, ok := strings.CutPrefix(exec, ns+"/")
	if !ok {
		// A token of another namespace (or of nexus run) is not this
		// caller's to complete; say no more than for an unknown one.
		return nil, errorf(connect.CodeNotFound, "token: no execution of this namespace waits for it")
	}
	c := engine.Completion{Error: m.Error, Cause: m.Cause, Heartbeat: m.Heartbeat}
	if m.Error == "" && !m.Heartbeat {
		if c.Output, err = jsonOf(m.Output, "null"); err != nil {
			return nil, errorf(connect.CodeInvalidArgument, "output: %v", err)
		}
		if len(c.Output) > a.s.opts.MaxPayloadBytes {
			return nil, errorf(connect.CodeInvalidArgument, "output of %d bytes is over the %d-byte payload limit", len(c.Output), a.s.opts.MaxPayloadBytes)
		}
	}
	if err := a.s.eng.Complete(ctx, m.Token, c); err != nil {
		if isOver(err) {
			return nil, errorf(connect.CodeFailedPrecondition, "execution %s is over: nothing waits for this token", id)
		}
		return nil, storeError(err, "complete "+id)
	}
	return connect.NewResponse(&nexusv1.CompleteTaskResponse{ExecutionId: id}), nil
}
