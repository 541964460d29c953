package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"connectrpc.com/connect"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
	"github.com/robfig/cron/v3"
)

// Started is an execution a trigger started (or found started by an
// earlier delivery of the same event or firing).
type Started struct {
	Workflow    string
	Version     int64
	ExecutionID string
	Created     bool
}

// A trigger's CEL filter sees two variables: event, the CloudEvent as a
// map (id, source, type, subject, time, datacontenttype, specversion,
// data and the extensions), and data, the event's data. Its input is a
// payload template evaluated against the same map ($.data.systolic,
// $.id), a JSONata value ("{% $states.input.data %}"), a literal, or,
// when absent, the event's data.

// cronParser reads schedules: five fields (minute hour day month
// weekday), an optional leading seconds field, or a descriptor (@hourly,
// @every 5m).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var (
	celOnce sync.Once
	celEnv  *cel.Env
	celErr  error
)

func triggerEnv() (*cel.Env, error) {
	celOnce.Do(func() {
		celEnv, celErr = cel.NewEnv(cel.Variable("event", cel.DynType), cel.Variable("data", cel.DynType),
			cel.CrossTypeNumericComparisons(true))
	})
	return celEnv, celErr
}

// compileFilter compiles a trigger's CEL filter.
func compileFilter(src string) (cel.Program, error) {
	env, err := triggerEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("the filter gives a %s, not a bool", t)
	}
	return env.Program(ast, cel.CostLimit(1_000_000))
}

// hasJSONata reports whether a template holds a JSONata expression.
func hasJSONata(v any) bool {
	switch t := v.(type) {
	case string:
		return model.IsJSONata(t)
	case map[string]any:
		for _, x := range t {
			if hasJSONata(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasJSONata(x) {
				return true
			}
		}
	}
	return false
}

// checkTriggers reports what is wrong with a workflow's triggers: a CEL
// filter that does not compile, a schedule cron cannot read, a template
// with a bad path.
func checkTriggers(file string, w *model.Workflow) model.Findings {
	var fs model.Findings
	errf := func(p model.Pos, format string, args ...any) {
		fs = append(fs, model.Finding{File: file, Pos: p, Severity: model.SeverityError, Code: "trigger", Message: fmt.Sprintf(format, args...)})
	}
	for _, t := range w.Triggers {
		if t.Event != "" {
			if _, err := compileFilter(t.Event); err != nil {
				errf(t.At("event"), "the trigger's filter is not a valid CEL expression over event and data: %v", err)
			}
		}
		if t.Schedule != "" {
			if _, err := cronParser.Parse(t.Schedule); err != nil {
				errf(t.At("schedule"), "the schedule %q is not a cron expression (minute hour day month weekday, or @hourly, @every 5m): %v", t.Schedule, err)
			}
		}
		if t.Input != nil && !hasJSONata(t.Input) {
			if ptr, err := expr.CheckTemplate(t.Input); err != nil {
				errf(t.At("input"), "the trigger's input template at %s: %v", ptr, err)
			}
		}
	}
	return fs
}

// trigger is one deployed trigger, compiled.
type trigger struct {
	ns, workflow string
	version      int64
	index        int
	t            *model.Trigger
	filter       cel.Program
	schedule     cron.Schedule
	next         time.Time
}

// triggers keeps the deployed triggers and runs the schedules.
type triggers struct {
	s     *Server
	mu    sync.Mutex
	gen   string
	all   []*trigger
	dirty bool
}

func newTriggers(s *Server) *triggers { return &triggers{s: s, dirty: true} }

// invalidate makes the next use re-read the deployed triggers.
func (tg *triggers) invalidate() {
	tg.mu.Lock()
	tg.dirty = true
	tg.mu.Unlock()
}

// refresh re-reads the latest version of every workflow when a deploy
// (on any node) changed them, keeping the next firing of unchanged
// schedules.
func (tg *triggers) refresh(ctx context.Context, now time.Time) ([]*trigger, error) {
	gen, err := tg.s.meta.Generation(ctx)
	if err != nil {
		return nil, err
	}
	tg.mu.Lock()
	if gen == tg.gen && !tg.dirty {
		all := tg.all
		tg.mu.Unlock()
		return all, nil
	}
	tg.dirty = false
	prev := map[string]*trigger{}
	for _, t := range tg.all {
		prev[fmt.Sprintf("%s/%s/%d/%d", t.ns, t.workflow, t.version, t.index)] = t
	}
	tg.mu.Unlock()
	vs, err := tg.s.meta.AllLatest(ctx)
	if err != nil {
		return nil, err
	}
	var all []*trigger
	for _, v := range vs {
		l, err := tg.s.load(ctx, v.Namespace, v.Name, v.Version)
		if err != nil {
			tg.s.log.Warn("triggers", "namespace", v.Namespace, "workflow", v.Name, "err", err)
			continue
		}
		for i, t := range l.w.Triggers {
			tr := &trigger{ns: v.Namespace, workflow: v.Name, version: v.Version, index: i, t: t}
			if old := prev[fmt.Sprintf("%s/%s/%d/%d", v.Namespace, v.Name, v.Version, i)]; old != nil {
				all = append(all, old)
				continue
			}
			if t.Event != "" {
				if tr.filter, err = compileFilter(t.Event); err != nil {
					continue
				}
			}
			if t.Schedule != "" {
				if tr.schedule, err = cronParser.Parse(t.Schedule); err != nil {
					continue
				}
				tr.next = tr.schedule.Next(now)
			}
			all = append(all, tr)
		}
	}
	tg.mu.Lock()
	tg.gen, tg.all = gen, all
	tg.mu.Unlock()
	return all, nil
}

// Event is a CloudEvent as triggers see it.
type Event struct {
	ID, Source, Type, Subject, DataContentType string
	Time                                       time.Time
	// Data is the event's data as JSON (nil: none).
	Data       []byte
	Extensions map[string]string
}

// object is the event as a JSON-like map for CEL and templates.
func (ev *Event) object() (map[string]any, error) {
	o := map[string]any{"id": ev.ID, "source": ev.Source, "type": ev.Type, "specversion": "1.0"}
	if ev.Subject != "" {
		o["subject"] = ev.Subject
	}
	if ev.DataContentType != "" {
		o["datacontenttype"] = ev.DataContentType
	}
	if !ev.Time.IsZero() {
		o["time"] = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range ev.Extensions {
		if _, taken := o[k]; !taken {
			o[k] = v
		}
	}
	o["data"] = nil
	if len(ev.Data) > 0 {
		d, err := expr.ParseJSON(string(ev.Data))
		if err != nil {
			return nil, fmt.Errorf("event data is not JSON: %w", err)
		}
		o["data"] = d
	}
	return o, nil
}

// dispatch starts an execution of every workflow of ns whose event
// trigger matches ev.
func (tg *triggers) dispatch(ctx context.Context, ns string, ev *Event) ([]Started, error) {
	if ev.ID == "" || ev.Source == "" || ev.Type == "" {
		return nil, errorf(connect.CodeInvalidArgument, "a CloudEvent needs an id, a source and a type")
	}
	obj, err := ev.object()
	if err != nil {
		return nil, errorf(connect.CodeInvalidArgument, "%v", err)
	}
	all, err := tg.refresh(ctx, time.Now())
	if err != nil {
		return nil, storeError(err, "triggers")
	}
	var started []Started
	var errs []error
	for _, t := range all {
		if t.ns != ns || t.filter == nil && t.t.Type == "" || t.t.Schedule != "" {
			continue
		}
		if t.t.Type != "" && t.t.Type != ev.Type {
			continue
		}
		if t.filter != nil {
			out, _, err := t.filter.Eval(map[string]any{"event": obj, "data": obj["data"]})
			if err != nil {
				// A filter that cannot be evaluated on this event (a
				// field it lacks) does not match it.
				tg.s.log.Debug("trigger filter", "workflow", t.workflow, "event", ev.ID, "err", err)
				continue
			}
			if b, ok := out.Value().(bool); !ok || !b {
				continue
			}
		}
		input, err := mapInput(t.t.Input, obj, ev.Time)
		if err != nil {
			errs = append(errs, fmt.Errorf("workflow %s, trigger %d: input: %w", t.workflow, t.index+1, err))
			continue
		}
		sum := sha256.Sum256([]byte(ev.Source + "\x00" + ev.ID + "\x00" + t.workflow + "\x00" + fmt.Sprint(t.index)))
		id := "ev-" + hex.EncodeToString(sum[:12])
		st, err := tg.start(ctx, t, id, input, "event")
		if err != nil {
			errs = append(errs, fmt.Errorf("workflow %s: %w", t.workflow, err))
			continue
		}
		started = append(started, st)
	}
	if len(errs) > 0 && len(started) == 0 {
		return nil, errorf(connect.CodeInvalidArgument, "%v", errors.Join(errs...))
	}
	for _, err := range errs {
		tg.s.log.Warn("trigger", "namespace", ns, "event", ev.ID, "err", err)
	}
	return started, nil
}

func (tg *triggers) start(ctx context.Context, t *trigger, id string, input []byte, kind string) (Started, error) {
	x, created, err := tg.s.start(ctx, t.ns, t.workflow, t.version, id, input)
	if err != nil {
		return Started{}, err
	}
	st := Started{Workflow: t.workflow, Version: x.Version, ExecutionID: x.Id, Created: created}
	if created {
		tg.s.tel.triggered.WithLabelValues(kind).Inc()
	}
	if tg.s.opts.OnTrigger != nil {
		tg.s.opts.OnTrigger(t.ns, st)
	}
	return st, nil
}

// mapInput evaluates a trigger's input against the event object.
func mapInput(tpl any, obj map[string]any, now time.Time) ([]byte, error) {
	var v any
	var err error
	env := &expr.Env{Now: now}
	switch {
	case tpl == nil:
		v = obj["data"]
		if v == nil {
			v = map[string]any{}
		}
	case hasJSONata(tpl):
		v, err = expr.JSONataValue("input", tpl, map[string]any{"input": obj}, env)
	default:
		v, err = expr.Template(tpl, obj, env)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// cronLoop fires the schedules until the server closes.
func (tg *triggers) cronLoop() {
	for {
		now := time.Now()
		all, err := tg.refresh(tg.s.ctx, now)
		if err != nil && tg.s.ctx.Err() == nil {
			tg.s.log.Warn("cron", "err", err)
		}
		wake := now.Add(tg.s.opts.TriggerPoll)
		for _, t := range all {
			if t.schedule == nil {
				continue
			}
			tg.mu.Lock()
			due := t.next
			if !due.After(now) {
				t.next = t.schedule.Next(now)
			}
			next := t.next
			tg.mu.Unlock()
			if !due.After(now) {
				tg.fire(t, due)
			}
			if next.Before(wake) {
				wake = next
			}
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-tg.s.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// fire starts the execution of a schedule due at due. Its id is the
// schedule's and the time's: every node fires, one execution starts.
func (tg *triggers) fire(t *trigger, due time.Time) {
	obj := map[string]any{"time": due.UTC().Format(time.RFC3339), "schedule": t.t.Schedule, "workflow": t.workflow}
	input, err := mapInput(t.t.Input, obj, due)
	if t.t.Input == nil {
		input, err = json.Marshal(obj)
	}
	if err != nil {
		tg.s.log.Warn("cron input", "namespace", t.ns, "workflow", t.workflow, "err", err)
		return
	}
	id := fmt.Sprintf("cron-%d-%d", t.index+1, due.Unix())
	ctx, cancel := context.WithTimeout(tg.s.ctx, 30*time.Second)
	defer cancel()
	if _, err := tg.start(ctx, t, id, input, "schedule"); err != nil && tg.s.ctx.Err() == nil {
		tg.s.log.Warn("cron start", "namespace", t.ns, "workflow", t.workflow, "err", err)
	}
}

// SendEvent implements the service.
func (a *api) SendEvent(ctx context.Context, req *connect.Request[nexusv1.SendEventRequest]) (*connect.Response[nexusv1.SendEventResponse], error) {
	m := req.Msg
	ev := &Event{ID: m.Id, Source: m.Source, Type: m.Type, Subject: m.Subject, Extensions: m.Extensions}
	if m.Time != nil {
		ev.Time = m.Time.AsTime()
	}
	if m.Data != nil {
		var err error
		if ev.Data, err = jsonOf(m.Data, "null"); err != nil {
			return nil, errorf(connect.CodeInvalidArgument, "data: %v", err)
		}
		ev.DataContentType = "application/json"
	}
	started, err := a.s.trig.dispatch(ctx, callerOf(ctx).Namespace, ev)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&nexusv1.SendEventResponse{Started: startedMessages(started)}), nil
}

func startedMessages(ss []Started) []*nexusv1.StartedExecution {
	var out []*nexusv1.StartedExecution
	for _, s := range ss {
		out = append(out, &nexusv1.StartedExecution{Workflow: s.Workflow, Version: s.Version, ExecutionId: s.ExecutionID, Created: s.Created})
	}
	return out
}

// serveEvents receives a CloudEvent over HTTP (binary or structured
// content mode) at POST /events and answers 202 with the executions it
// started.
func (tg *triggers) serveEvents(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, tg.s.opts.MaxRequestBytes)
	ce, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			http.Error(w, fmt.Sprintf("the event is over the %d-byte request limit", mb.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := ce.Validate(); err != nil {
		http.Error(w, "not a valid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev := &Event{ID: ce.ID(), Source: ce.Source(), Type: ce.Type(), Subject: ce.Subject(), Time: ce.Time(),
		DataContentType: ce.DataContentType(), Extensions: map[string]string{}}
	for k, v := range ce.Extensions() {
		ev.Extensions[k] = fmt.Sprint(v)
	}
	if d := ce.Data(); len(d) > 0 {
		ct := ce.DataContentType()
		if ct != "" && !strings.Contains(ct, "json") {
			http.Error(w, fmt.Sprintf("event data of content type %s: triggers read JSON data", ct), http.StatusUnsupportedMediaType)
			return
		}
		ev.Data = d
	}
	started, err := tg.dispatch(r.Context(), callerOf(r.Context()).Namespace, ev)
	if err != nil {
		code := http.StatusInternalServerError
		var ce *connect.Error
		if errors.As(err, &ce) && ce.Code() == connect.CodeInvalidArgument {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	type startedJSON struct {
		Workflow    string `json:"workflow"`
		Version     int64  `json:"version"`
		ExecutionID string `json:"executionId"`
		Created     bool   `json:"created"`
	}
	out := struct {
		Started []startedJSON `json:"started"`
	}{Started: []startedJSON{}}
	for _, s := range started {
		out.Started = append(out.Started, startedJSON(s))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(out)
}
