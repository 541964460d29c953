package checker

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// Result is the verdict on one invariant.
type Result struct {
	Invariant Invariant `json:"invariant"`
	Verdict   Verdict   `json:"verdict"`
	// Reason says why an invariant was not checked or is incomplete.
	Reason string `json:"reason,omitempty"`
	// Violations are counterexamples, the shortest first, at most one per
	// workflow state.
	Violations []Violation `json:"violations,omitempty"`
}

// Violation is one counterexample.
type Violation struct {
	Invariant Invariant `json:"invariant"`
	Message   string    `json:"message"`
	// State is the workflow state the violation is about.
	State StateRef `json:"state"`
	// Trace leads from the start to the violation; nil for a property
	// about the whole graph (a state never entered).
	Trace *Trace `json:"trace,omitempty"`
}

// Witness is a "sometimes" property: something some execution should be
// able to do. One that is never reached hints at a model (or a workflow)
// too constrained to mean anything, and is reported as a warning.
type Witness struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Reached     bool   `json:"reached"`
	// Moves is the length of the shortest execution reaching it.
	Moves int `json:"moves,omitempty"`
}

// GraphStats describes the explored graph of one execution.
type GraphStats struct {
	States      int           `json:"states"`
	Edges       int           `json:"edges"`
	Transitions int64         `json:"transitions"`
	Depth       int           `json:"depth"`
	Complete    bool          `json:"complete"`
	Stop        string        `json:"stop,omitempty"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	// StatesPerSec: distinct states per second, with the kernel stepped
	// for every move.
	StatesPerSec float64 `json:"states_per_sec"`
	// EnteredStates of WorkflowStates workflow states were entered.
	EnteredStates  int `json:"entered_states"`
	WorkflowStates int `json:"workflow_states"`
}

// Report is the outcome of a check.
type Report struct {
	Workflow    string       `json:"workflow"`
	File        string       `json:"file"`
	Abstraction []string     `json:"abstraction"`
	Bounds      []string     `json:"bounds"`
	Execution   GraphStats   `json:"execution"`
	Product     ProductStats `json:"product"`
	Results     []Result     `json:"results"`
	Witnesses   []Witness    `json:"witnesses"`
	// Complete is false when a bound stopped the exploration of the
	// execution graph: verdicts not violated are then incomplete.
	Complete      bool          `json:"complete"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	PeakHeapBytes int64         `json:"peak_heap_bytes"`
}

// Violated reports whether some invariant is violated.
func (r *Report) Violated() bool {
	for _, res := range r.Results {
		if res.Verdict == Violated {
			return true
		}
	}
	return false
}

// Result returns the result of invariant v.
func (r *Report) Result(v Invariant) Result {
	for _, res := range r.Results {
		if res.Invariant == v {
			return res
		}
	}
	return Result{Invariant: v, Verdict: NotChecked}
}

// Check explores every execution of m under the model and bounds of opts
// and decides each invariant. An error means the check could not run
// (invalid options, an internal inconsistency); bounds reached are not
// errors but an incomplete report.
func Check(ctx context.Context, m *model.Machine, opts Options) (*Report, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	mon, ctx, done := startMonitor(ctx, opts)
	defer done()
	mon.setPhase("execution graph")
	g, err := explore(ctx, m, opts, mon)
	if err != nil {
		return nil, err
	}
	r := &Report{Workflow: m.Name, Abstraction: opts.Abstraction(), Bounds: opts.Bounds(), Complete: g.complete}
	if m.Workflow != nil {
		r.File = m.Workflow.File
	}
	r.Execution = g.stats()
	r.Results = g.analyze()
	r.Witnesses = g.witnesses()
	sym := !opts.NoSymmetry
	n := int64(g.NumStates())
	r.Product = ProductStats{Instances: opts.Instances, Symmetry: sym, Workers: opts.Workers}
	if g.complete {
		want, ok := ExpectedProduct(n, opts.Instances, sym)
		wantFull, okFull := ExpectedProduct(n, opts.Instances, false)
		if ok && want <= opts.MaxProductStates {
			mon.setPhase("product")
			r.Product = g.product(ctx, opts.Instances, sym, opts.Workers, opts.MaxProductStates, mon)
			if r.Product.Complete && (r.Product.States != want || (okFull && r.Product.StatesNoSymmetry != wantFull)) {
				return nil, fmt.Errorf("checker: internal error: %d executions of a %d-state graph gave %d states (%d without symmetry), want %d (%d)",
					opts.Instances, n, r.Product.States, r.Product.StatesNoSymmetry, want, wantFull)
			}
		} else {
			r.Product.States, r.Product.StatesNoSymmetry = want, wantFull
			if !ok || !okFull {
				r.Product.States, r.Product.StatesNoSymmetry = -1, -1
			}
			r.Product.Stop = fmt.Sprintf("not enumerated: more than max-product-states (%d)", opts.MaxProductStates)
		}
	}
	r.Elapsed = time.Since(start)
	r.PeakHeapBytes = mon.peak.Load()
	return r, nil
}

func (g *Graph) stats() GraphStats {
	s := GraphStats{States: g.NumStates(), Edges: g.NumEdges(), Transitions: g.transitions, Complete: g.complete,
		Stop: g.stop, Elapsed: g.elapsed, WorkflowStates: len(g.m.States)}
	for _, d := range g.depth {
		s.Depth = max(s.Depth, int(d))
	}
	if sec := g.elapsed.Seconds(); sec > 0 {
		s.StatesPerSec = float64(s.States) / sec
	}
	for _, e := range g.entered {
		if e {
			s.EnteredStates++
		}
	}
	return s
}

// maxViolations bounds the counterexamples reported per invariant, and
// maxCandidates the moves examined to find them.
const (
	maxViolations = 5
	maxCandidates = 64
)

// analyze decides every invariant on the graph.
func (g *Graph) analyze() []Result {
	found := make([][]Violation, numInvariants)
	seen := make([]map[string]bool, numInvariants)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	add := func(v Violation) {
		if len(found[v.Invariant]) >= maxViolations || seen[v.Invariant][v.State.Name] {
			return
		}
		seen[v.Invariant][v.State.Name] = true
		found[v.Invariant] = append(found[v.Invariant], v)
	}
	g.edgeViolations(add)
	g.stateViolations(add)
	if g.complete {
		g.termination(add)
		g.dangling(add)
	}
	applies := g.applicability()
	var out []Result
	for _, inv := range Invariants() {
		r := Result{Invariant: inv, Violations: found[inv]}
		switch {
		case len(r.Violations) > 0:
			r.Verdict = Violated
		case applies[inv] != "":
			r.Verdict, r.Reason = NotChecked, applies[inv]
		case !g.complete:
			r.Verdict, r.Reason = Incomplete, "exploration stopped at "+g.stop
		default:
			r.Verdict = Holds
		}
		out = append(out, r)
	}
	return out
}

// applicability says, per invariant, why it does not apply ("" if it
// does).
func (g *Graph) applicability() []string {
	out := make([]string, numInvariants)
	var mutates, compensates, honours bool
	for i := range g.m.States {
		si := &g.info[i]
		sp := &g.m.States[i]
		mutates = mutates || si.Mutating
		compensates = compensates || sp.Compensate != model.No || sp.OnFailure != model.No
		honours = honours || si.Honours
	}
	if !mutates {
		out[MutationsCompensable] = "no state declares mutates: true"
	}
	if !mutates && !compensates {
		out[CompensationComplete] = "no state mutates or names a compensation"
	}
	if !honours {
		out[AtMostOnceEffect] = "no function is bound with idempotent: true and no state names an idempotency key"
	}
	return out
}

type candidate struct {
	src, dst int32
	depth    int32
}

// edgeViolations reports the moves that violate an invariant.
func (g *Graph) edgeViolations(add func(Violation)) {
	for _, inv := range Invariants() {
		bit := violationBit(inv)
		var cands []candidate
		for i := 0; i+1 < len(g.edgeStart); i++ {
			for e := g.edgeStart[i]; e < g.edgeStart[i+1]; e++ {
				if g.edgeFlags[e]&bit != 0 {
					cands = append(cands, candidate{src: int32(i), dst: g.edgeTo[e], depth: g.depth[i]})
				}
			}
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].depth < cands[b].depth })
		done := map[int32]bool{}
		for k, c := range cands {
			if k >= maxCandidates {
				break
			}
			// Where is it? One verbose expansion says, before the trace is
			// worth building.
			tr := g.newTracer()
			w, ok := tr.edge(c.src, c.dst, func(f uint32) bool { return f&bit != 0 })
			if !ok {
				continue
			}
			var states []int32
			for _, n := range w.notes {
				if n.inv == inv && !done[n.state] {
					states = append(states, n.state)
				}
			}
			tr.x.releaseAll()
			if len(states) == 0 {
				continue
			}
			trace, notes := g.trace(append(g.path(c.src), c.dst), func(f uint32) bool { return f&bit != 0 })
			for _, n := range notes {
				if n.inv != inv || done[n.state] {
					continue
				}
				done[n.state] = true
				add(Violation{Invariant: inv, Message: n.msg, State: stateRef(g.m, n.state), Trace: trace})
			}
		}
	}
}

// stateViolations reports the states that violate an invariant.
func (g *Graph) stateViolations(add func(Violation)) {
	order := make([]int32, len(g.flags))
	for i := range order {
		order[i] = int32(i) // BFS order: by depth already
	}
	counts := make([]int, numInvariants)
	for _, i := range order {
		f := g.flags[i]
		if f&(sViolation*0xff) == 0 {
			continue
		}
		var a inst
		if err := a.decode(g.enc.get(int(i))); err != nil {
			continue
		}
		for _, inv := range Invariants() {
			if f&stateViolationBit(inv) == 0 || counts[inv] >= maxCandidates {
				continue
			}
			counts[inv]++
			state, msg := g.explainState(inv, &a)
			trace, _ := g.trace(g.path(i), nil)
			add(Violation{Invariant: inv, Message: msg, State: stateRef(g.m, state), Trace: trace})
		}
	}
}

// explainState says why state a violates inv, and where.
func (g *Graph) explainState(inv Invariant, a *inst) (int32, string) {
	s := &a.exec
	first := int32(model.No)
	for i := range s.Threads {
		if !s.Threads[i].Comp {
			first = s.Threads[i].State
			break
		}
	}
	switch inv {
	case CompensationComplete:
		switch {
		case a.orphan != 0:
			st := a.orphan - 1
			return st, fmt.Sprintf("the execution ends %s, but the mutation of step %q may have taken effect (an attempt timed out or was abandoned in flight) "+
				"and nothing undoes it: the kernel compensates only steps that completed", s.Status, stateName(g.m, st))
		case s.Status == model.CompensationFailed:
			st := first
			if len(s.Stuck) > 0 {
				st = s.Stuck[0].State
			}
			return st, fmt.Sprintf("the execution ends compensation_failed: the compensation of step %q failed for good and its mutation stays done",
				stateName(g.m, st))
		case len(s.Done) > 0:
			st := s.Done[len(s.Done)-1].State
			return st, fmt.Sprintf("the execution ends %s with completed mutations not compensated (%s last)", s.Status, stateName(g.m, st))
		}
	case MutationsCompensable:
		st := a.pivot - 1
		return st, fmt.Sprintf("the execution ends %s after irreversible step %q took effect: nothing can undo it "+
			"(put irreversible steps after every step that can fail, or give it a compensation)", s.Status, stateName(g.m, st))
	case NoDeadlock:
		if st, msg, ok := g.unanswered(a); ok {
			return st, msg
		}
		return first, fmt.Sprintf("the execution is %s and waits for nothing that can come: no event can be delivered and no command is left to perform", s.Status)
	case Deterministic:
		return first, "the canonical encoding of a state does not decode back to itself"
	}
	return first, inv.Summary()
}

// unanswered explains a deadlock on a callback nobody answers: the first
// thread of a waiting for an invocation in silent.
func (g *Graph) unanswered(a *inst) (int32, string, bool) {
	s := &a.exec
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.Comp || t.Phase != model.PhaseRun || !hasID(a.silent, t.Wait) {
			continue
		}
		name := stateName(g.m, t.State)
		msg := fmt.Sprintf("callback state %q has no timeout or heartbeat: if nobody answers, the execution waits forever", name)
		if p := s.Thread(t.Parent); p != nil && p.Phase == model.PhaseFork {
			what := "parallel"
			if g.m.States[p.State].Kind == model.KindMap {
				what = "map"
			}
			msg += fmt.Sprintf("; the %s state %q waits for it and never joins", what, stateName(g.m, p.State))
		}
		msg += " (give it a timeout: or a heartbeat:, and catch States.Timeout)"
		return t.State, msg, true
	}
	return 0, "", false
}

// dangling reports workflow states never entered and situations from
// which the execution can never end.
func (g *Graph) dangling(add func(Violation)) {
	var first []int32
	for i := range g.m.States {
		if g.entered[i] {
			continue
		}
		v := Violation{Invariant: NoDanglingState, State: stateRef(g.m, int32(i)),
			Message: fmt.Sprintf("state %q is never entered in any execution of the model", g.m.States[i].Name)}
		// The trace leads to where the state would be entered from: the
		// first situation in which a state with a transition to it runs.
		if first == nil {
			first = g.firstAt()
		}
		best := int32(-1)
		var from int32
		for _, p := range predecessors(g.m, i) {
			if at := first[p]; at >= 0 && (best < 0 || g.depth[at] < g.depth[best]) {
				best, from = at, int32(p)
			}
		}
		if best >= 0 {
			v.Message += fmt.Sprintf("; the trace leads to %q, which names it, and no move from there enters it", g.m.States[from].Name)
			v.Trace, _ = g.trace(g.path(best), nil)
		}
		add(v)
	}
	n := g.NumStates()
	// The reverse graph, compressed: the predecessors of j are
	// revTo[revStart[j]:revStart[j+1]].
	revStart := make([]int32, n+1)
	for _, j := range g.edgeTo {
		revStart[j+1]++
	}
	for j := 0; j < n; j++ {
		revStart[j+1] += revStart[j]
	}
	revTo := make([]int32, len(g.edgeTo))
	fill := append([]int32(nil), revStart[:n]...)
	for i := 0; i < n; i++ {
		for _, j := range g.Successors(i) {
			revTo[fill[j]] = int32(i)
			fill[j]++
		}
	}
	// A situation that ends, or that reaches a deadlock (reported as
	// NoDeadlock: a callback nobody answers), is not dangling.
	ends := make([]bool, n)
	var queue []int32
	for i := 0; i < n; i++ {
		if g.flags[i]&(sTerminal|sDeadlock) != 0 {
			ends[i] = true
			queue = append(queue, int32(i))
		}
	}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, i := range revTo[revStart[j]:revStart[j+1]] {
			if !ends[i] {
				ends[i] = true
				queue = append(queue, i)
			}
		}
	}
	reported := 0
	for i := 0; i < n && reported < maxViolations; i++ {
		if ends[i] {
			continue
		}
		var a inst
		if err := a.decode(g.enc.get(int(i))); err != nil {
			continue
		}
		st, _ := g.explainState(NoDeadlock, &a)
		trace, _ := g.trace(g.path(int32(i)), nil)
		add(Violation{Invariant: NoDanglingState, State: stateRef(g.m, st), Trace: trace,
			Message: "from here the execution can never end: no sequence of events leads to a final status"})
		reported++
	}
}

// witnesses evaluates the "sometimes" properties.
func (g *Graph) witnesses() []Witness {
	var retries, catches, compensates bool
	canFail := g.m.Timeout > 0 || g.opts.Cancel
	for i := range g.m.States {
		sp := &g.m.States[i]
		retries = retries || len(sp.Retry) > 0
		catches = catches || len(sp.Catch) > 0
		compensates = compensates || sp.Compensate != model.No || sp.OnFailure != model.No
		canFail = canFail || sp.Kind == model.KindTask || sp.Kind == model.KindWorkflow || sp.Kind == model.KindFail ||
			(sp.Kind == model.KindChoice && sp.Default == model.No) || (g.opts.DataErrors && (g.info[i].DataIn || g.info[i].DataOut))
	}
	byState := func(name, desc string, bit uint32) Witness {
		w := Witness{Name: name, Description: desc}
		for i, f := range g.flags {
			if f&bit != 0 {
				w.Reached, w.Moves = true, int(g.depth[i])
				break
			}
		}
		return w
	}
	out := []Witness{byState("Succeeds", "some execution succeeds", sSucceeded)}
	if canFail {
		out = append(out, byState("Fails", "some execution ends failed, cancelled or timed out", sFailed))
	}
	if compensates {
		out = append(out, byState("Compensates", "some execution runs a compensation or on-failure handler", sCompensating))
	}
	if retries {
		out = append(out, byState("Retries", "some step is retried", sRetrying))
	}
	if catches {
		w := Witness{Name: "Catches", Description: "some error is caught"}
		best := int32(-1)
		for i := 0; i+1 < len(g.edgeStart); i++ {
			for e := g.edgeStart[i]; e < g.edgeStart[i+1]; e++ {
				if g.edgeFlags[e]&fCatch != 0 && (best < 0 || g.depth[i] < best) {
					best = g.depth[i]
				}
			}
		}
		if best >= 0 {
			w.Reached, w.Moves = true, int(best)+1
		}
		out = append(out, w)
	}
	return out
}

// firstAt returns, for every workflow state, the first execution state (in
// BFS order) in which a thread other than a compensation is in it, or -1.
func (g *Graph) firstAt() []int32 {
	out := make([]int32, len(g.m.States))
	for i := range out {
		out[i] = -1
	}
	var a inst
	for i := 0; i < g.NumStates(); i++ {
		if a.decode(g.enc.get(i)) != nil {
			continue
		}
		for _, t := range a.exec.Threads {
			if !t.Comp && t.State >= 0 && int(t.State) < len(out) && out[t.State] < 0 {
				out[t.State] = int32(i)
			}
		}
	}
	return out
}

// predecessors lists the states with a transition (next, choice,
// default, catch) to state i.
func predecessors(m *model.Machine, i int) []int {
	var out []int
	for p := range m.States {
		sp := &m.States[p]
		to := sp.Next == i || sp.Default == i
		for _, c := range sp.Choices {
			to = to || c == i
		}
		for _, c := range sp.Catch {
			to = to || c.Next == i
		}
		if to {
			out = append(out, p)
		}
	}
	return out
}
