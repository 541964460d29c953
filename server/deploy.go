package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/goccy/go-graphviz"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/graph"
	"github.com/nexus-workflows/nexus/model"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Verdicts of the deploy gate, beyond the checker's holds, violated and
// incomplete.
const (
	verdictInvalid = "invalid" // does not parse, validate or compile; bindings or triggers wrong
	verdictPolicy  = "policy"  // a policy of severity error fails
)

// verified is what the gate found about one source.
type verified struct {
	w  *model.Workflow
	m  *model.Machine
	v  *nexusv1.Verification
	ok bool // the verdict lets the version in without force
}

// findingMessage converts a finding.
func findingMessage(f model.Finding) *nexusv1.Finding {
	return &nexusv1.Finding{File: f.File, Line: int32(f.Pos.Line), Column: int32(f.Pos.Col), Severity: f.Severity.String(),
		Code: f.Code, Message: f.Message}
}

// verify runs the deploy gate on a source: parse, validate, compile,
// bindings, triggers, policies, model checking.
func (s *Server) verify(ctx context.Context, file string, src []byte, binds map[string]string, co *nexusv1.CheckOptions) (*verified, error) {
	start := time.Now()
	out := &verified{v: &nexusv1.Verification{CheckedAt: timestamppb.New(start)}}
	v := out.v
	if len(src) > model.MaxSourceBytes {
		return nil, errorf(connect.CodeInvalidArgument, "source: %d bytes; the limit is %d", len(src), model.MaxSourceBytes)
	}
	w, fs := s.opts.Parse(file, src)
	if w != nil && fs.Errors() == 0 {
		out.m, fs = compile(w, fs)
	} else if w != nil {
		fs = append(fs, model.Validate(w)...)
	}
	out.w = w
	if out.m != nil {
		fs = append(fs, s.checkBindings(file, w, out.m, binds)...)
		fs = append(fs, checkTriggers(file, w)...)
	}
	fs.Sort()
	for _, f := range fs {
		v.Findings = append(v.Findings, findingMessage(f))
	}
	if out.m == nil || fs.Errors() > 0 {
		v.Verdict = verdictInvalid
		v.ElapsedMs = time.Since(start).Milliseconds()
		return out, nil
	}
	pfs := policy.Evaluate(out.m, append(policy.FromWorkflow(w), s.opts.Policies...))
	for _, f := range pfs {
		v.Findings = append(v.Findings, findingMessage(f))
	}
	opts := checker.Options{Timeout: s.opts.CheckTimeout, MaxMemory: s.opts.CheckMaxMemory}
	if co != nil {
		opts.Instances, opts.MapSize = int(co.Instances), int(co.MapSize)
		opts.Cancel, opts.DataErrors, opts.CompensationFailures = co.Cancel, co.DataErrors, co.CompensationFailures
	}
	select {
	case s.checkSem <- struct{}{}:
	case <-ctx.Done():
		return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
	}
	r, err := checker.Check(ctx, out.m, opts)
	<-s.checkSem
	if err != nil {
		if ctx.Err() != nil {
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		return nil, errorf(connect.CodeInvalidArgument, "check: %v", err)
	}
	r.File = file
	v.Complete, v.States, v.Abstraction, v.Bounds = r.Complete, int64(r.Execution.States), r.Abstraction, r.Bounds
	for _, res := range r.Results {
		ir := &nexusv1.InvariantResult{Invariant: res.Invariant.String(), Verdict: strings.ReplaceAll(res.Verdict.String(), " ", "_"),
			Reason: res.Reason, Summary: res.Invariant.Summary()}
		for _, vio := range res.Violations {
			vm := &nexusv1.Violation{Message: vio.Message, State: vio.State.Name}
			if vio.Trace != nil {
				vm.Trace, vm.Steps = valueOfAny(vio.Trace), int32(len(vio.Trace.Steps))
			}
			ir.Violations = append(ir.Violations, vm)
		}
		v.Results = append(v.Results, ir)
	}
	if b, err := json.Marshal(r); err == nil {
		v.Report = valueOf(b)
	}
	v.Verdict = r.Verdict()
	if v.Verdict == "holds" && pfs.Errors() > 0 {
		v.Verdict = verdictPolicy
	}
	out.ok = v.Verdict == "holds"
	v.ElapsedMs = time.Since(start).Milliseconds()
	return out, nil
}

func compile(w *model.Workflow, fs model.Findings) (*model.Machine, model.Findings) {
	m, cfs := model.Compile(w)
	fs = append(fs, cfs...)
	if fs.Errors() > 0 {
		return nil, fs
	}
	return m, fs
}

// checkBindings reports overrides of functions the workflow does not
// call, functions without a binding, and bindings the engine cannot call.
func (s *Server) checkBindings(file string, w *model.Workflow, m *model.Machine, binds map[string]string) model.Findings {
	var fs model.Findings
	errf := func(p model.Pos, code, format string, args ...any) {
		fs = append(fs, model.Finding{File: file, Pos: p, Severity: model.SeverityError, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	called := map[string]bool{}
	for _, fn := range m.Functions {
		called[fn] = true
	}
	names := make([]string, 0, len(binds))
	for fn := range binds {
		names = append(names, fn)
	}
	sort.Strings(names)
	for _, fn := range names {
		if !called[fn] {
			errf(w.Pos, "binding", "the bindings name function %q, which the workflow does not call", fn)
		}
	}
	for _, fn := range m.Functions {
		uri := binds[fn]
		pos := w.Pos
		if f := w.Function(fn); f != nil {
			if uri == "" {
				uri = f.URI
			}
			pos = f.Pos
		}
		if uri == "" {
			errf(pos, "binding", "function %q has no binding: give it a uri in the functions: section or in the deploy's bindings", fn)
			continue
		}
		if err := s.checkURI(uri); err != nil {
			errf(pos, "binding", "function %q: %v", fn, err)
		}
	}
	return fs
}

// checkURI checks a binding as the engine will: in-process functions,
// builtins, then the invokers.
func (s *Server) checkURI(uri string) error {
	if _, ok := s.opts.Inline[uri]; ok {
		return nil
	}
	if strings.HasPrefix(uri, "builtin:") {
		if uri == "builtin:echo" || strings.HasPrefix(uri, "builtin:fail") {
			return nil
		}
		return fmt.Errorf("binding %q: the builtins are builtin:echo and builtin:fail?error=NAME&cause=TEXT", uri)
	}
	if name, ok := strings.CutPrefix(uri, engine.ChildScheme); ok {
		return checkName("sub-workflow", name)
	}
	return s.opts.Invokers.Check(uri)
}

// subWorkflow resolves a workflow:NAME binding for a child of execution
// parent: the latest version of NAME in the parent's namespace. Without a
// parent (a binding checked at deploy) any well-formed name is accepted:
// the workflow may be deployed later, and a step that finds none fails.
func (s *Server) subWorkflow(parent, name string) (*engine.Workflow, error) {
	if parent == "" {
		return nil, checkName("sub-workflow", name)
	}
	ns, _, ok := strings.Cut(parent, "/")
	if !ok {
		return nil, fmt.Errorf("execution %s belongs to no namespace", parent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := s.load(ctx, ns, name, 0)
	if err != nil {
		return nil, err
	}
	return l.wf, nil
}

// DeployWorkflow implements the service.
func (a *api) DeployWorkflow(ctx context.Context, req *connect.Request[nexusv1.DeployWorkflowRequest]) (*connect.Response[nexusv1.DeployWorkflowResponse], error) {
	c := callerOf(ctx)
	m := req.Msg
	file := m.File
	if file == "" {
		file = "workflow.yaml"
	}
	vr, err := a.s.verify(ctx, file, []byte(m.Source), m.Bindings, m.Check)
	if err != nil {
		return nil, err
	}
	a.s.tel.deploys.WithLabelValues(vr.v.Verdict, strconv.FormatBool(m.Force && !vr.ok)).Inc()
	if vr.v.Verdict == verdictInvalid {
		return nil, withVerification(connect.CodeInvalidArgument, vr.v, fmt.Errorf("%s is not a valid workflow: %s", file, firstErrors(vr.v)))
	}
	if vr.w.Name == "" {
		return nil, withVerification(connect.CodeInvalidArgument, vr.v, fmt.Errorf("%s: a deployed workflow needs a name", file))
	}
	if err := checkName("workflow name", vr.w.Name); err != nil {
		return nil, err
	}
	if !vr.ok && !m.Force {
		return nil, withVerification(connect.CodeFailedPrecondition, vr.v, fmt.Errorf("%s refused: %s (deploy with force to register it anyway; the verdict is recorded)", vr.w.Name, refusal(vr.v)))
	}
	vr.v.Forced = !vr.ok
	digest := engine.Digest([]byte(m.Source))
	ver := &Version{Namespace: c.Namespace, Name: vr.w.Name, Digest: digest, File: file, Bindings: m.Bindings,
		Forced: vr.v.Forced, Deployed: time.Now().UTC(), DeployedBy: c.TokenID}
	if ver.Verification, err = protojson.Marshal(vr.v); err != nil {
		return nil, storeError(err, "deploy")
	}
	if m.DryRun {
		vm := &nexusv1.WorkflowVersion{Name: ver.Name, Digest: digest, File: file, Bindings: m.Bindings, Verification: vr.v,
			Triggers: triggerMessages(vr.w), Comment: vr.w.Comment, States: int32(len(vr.m.States))}
		return connect.NewResponse(&nexusv1.DeployWorkflowResponse{Version: vm}), nil
	}
	if err := a.s.st.PutWorkflow(ctx, &store.Workflow{Digest: digest, Name: vr.w.Name, File: file, Source: []byte(m.Source)}); err != nil {
		return nil, storeError(err, "deploy")
	}
	saved, created, err := a.s.meta.AddVersion(ctx, ver)
	if err != nil {
		return nil, storeError(err, "deploy")
	}
	a.s.log.Info("deployed", "namespace", c.Namespace, "workflow", saved.Name, "version", saved.Version, "digest", digest,
		"verdict", vr.v.Verdict, "forced", saved.Forced, "created", created, "token", c.TokenID)
	a.s.trig.invalidate()
	return connect.NewResponse(&nexusv1.DeployWorkflowResponse{Version: a.s.versionMessage(ctx, saved, false), Created: created}), nil
}

// withVerification is a connect error carrying the verification as
// detail, so that a client can show every finding and violation.
func withVerification(code connect.Code, v *nexusv1.Verification, err error) error {
	ce := connect.NewError(code, err)
	if d, derr := connect.NewErrorDetail(v); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}

// VerificationOf returns the verification a refused deploy carries.
func VerificationOf(err error) *nexusv1.Verification {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if v, ok := m.(*nexusv1.Verification); ok {
				return v
			}
		}
	}
	return nil
}

func firstErrors(v *nexusv1.Verification) string {
	var out []string
	for _, f := range v.Findings {
		if f.Severity == model.SeverityError.String() {
			out = append(out, fmt.Sprintf("%s:%d:%d: %s", f.File, f.Line, f.Column, f.Message))
		}
		if len(out) == 3 {
			break
		}
	}
	return strings.Join(out, "; ")
}

// refusal says why the gate refused a version.
func refusal(v *nexusv1.Verification) string {
	switch v.Verdict {
	case "violated":
		var names []string
		for _, r := range v.Results {
			if r.Verdict == "violated" {
				names = append(names, r.Invariant)
			}
		}
		return "it violates " + strings.Join(names, ", ")
	case verdictPolicy:
		return "a policy of severity error fails: " + firstErrors(v)
	case "incomplete":
		return "the model checking stopped at a bound before it was complete"
	}
	return v.Verdict
}

// GetWorkflowGraph implements the service.
func (a *api) GetWorkflowGraph(ctx context.Context, req *connect.Request[nexusv1.GetWorkflowGraphRequest]) (*connect.Response[nexusv1.GetWorkflowGraphResponse], error) {
	ns := callerOf(ctx).Namespace
	m := req.Msg
	l, err := a.s.load(ctx, ns, m.Name, m.Version)
	if err != nil {
		return nil, storeError(err, "workflow "+m.Name)
	}
	opts := graph.Options{}
	switch {
	case m.Invariant != "":
		ver := &nexusv1.Verification{}
		if err := protojson.Unmarshal(l.v.Verification, ver); err != nil {
			return nil, storeError(err, "verification")
		}
		if opts, err = traceHighlight(l.w.Name, ver, m.Invariant, int(m.Violation)); err != nil {
			return nil, err
		}
	case m.ExecutionId != "":
		row, err := a.s.row(ctx, ns, m.ExecutionId)
		if err != nil {
			return nil, err
		}
		tr, err := engine.TraceOf(ctx, a.s.st, row.ID)
		if err != nil {
			return nil, storeError(err, "trace of "+m.ExecutionId)
		}
		opts = executionHighlight(l.w.Name, tr)
	}
	svg, err := graph.Render(ctx, graph.DOT(l.w, opts), graphviz.SVG)
	if err != nil {
		return nil, storeError(err, "graph")
	}
	return connect.NewResponse(&nexusv1.GetWorkflowGraphResponse{Svg: string(svg)}), nil
}

// traceHighlight labels each state a counterexample involves with the
// numbers of its steps, as nexus check --trace-svg draws it.
func traceHighlight(name string, v *nexusv1.Verification, invariant string, n int) (graph.Options, error) {
	for _, r := range v.Results {
		if !strings.EqualFold(r.Invariant, invariant) {
			continue
		}
		if n < 0 || n >= len(r.Violations) {
			return graph.Options{}, errorf(connect.CodeNotFound, "%s has %d counterexample(s); no number %d", r.Invariant, len(r.Violations), n)
		}
		vio := r.Violations[n]
		var tr checker.Trace
		if vio.Trace != nil {
			b, _ := json.Marshal(vio.Trace.AsInterface())
			if err := json.Unmarshal(b, &tr); err != nil {
				return graph.Options{}, storeError(err, "trace")
			}
		}
		steps := map[string][]string{}
		for i, s := range tr.Steps {
			for _, st := range s.States {
				k := strconv.Itoa(i + 1)
				if l := steps[st.Name]; len(l) == 0 || l[len(l)-1] != k {
					steps[st.Name] = append(steps[st.Name], k)
				}
			}
		}
		hl := map[string]string{}
		for st, ks := range steps {
			hl[st] = "steps " + strings.Join(ks, ",")
		}
		if _, ok := hl[vio.State]; ok {
			hl[vio.State] += " ✗ " + r.Invariant
		} else {
			hl[vio.State] = "✗ " + r.Invariant
		}
		return graph.Options{Highlight: hl, Title: name + ": " + r.Invariant + " violated"}, nil
	}
	return graph.Options{}, errorf(connect.CodeNotFound, "invariant %s: no such result in this version's verification", invariant)
}

// executionHighlight labels each state an execution went through with
// its calls' attempts and last outcome.
func executionHighlight(name string, tr *engine.Trace) graph.Options {
	hl := map[string]string{}
	for _, st := range tr.Steps {
		if st.State == "" {
			continue
		}
		label := st.Outcome
		if st.Kind == "call" || st.Kind == "compensation" {
			label = fmt.Sprintf("%s #%d %s", st.Kind, st.Attempt, st.Outcome)
		}
		hl[st.State] = label
	}
	return graph.Options{Highlight: hl, Title: name + ": execution " + tr.Execution[strings.IndexByte(tr.Execution, '/')+1:] + " " + tr.Status}
}
