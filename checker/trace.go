package checker

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nexus-workflows/nexus/model"
)

// Trace is a counterexample: the moves of one execution from its start.
// In the K-execution model the other executions stay idle (not started),
// so this is also a shortest K-execution trace.
type Trace struct {
	Steps []TraceStep `json:"steps"`
	// Loop is the index of the first step of a cycle that can repeat
	// forever (a Termination counterexample); -1 when there is none.
	Loop int `json:"loop"`
}

// TraceStep is one move: what happened, the kernel's answers and
// commands, and where the execution stands after it.
type TraceStep struct {
	// Execution is the number of the execution that moved (1-based).
	Execution int `json:"execution"`
	// Event is what happened: a delivery, a timer, a command the engine
	// performed, a crash.
	Event string `json:"event"`
	// Details are the questions answered and the commands returned, in
	// order.
	Details []string `json:"details,omitempty"`
	// States are the workflow states the move involved, with their
	// positions in the workflow file.
	States []StateRef `json:"states,omitempty"`
	// After describes the execution after the move.
	After string `json:"after"`
	// Move is the step as data, for tools that replay a trace.
	Move Move `json:"move"`
}

// Move is a trace step as data: what happened, with the trace's
// numbering of invocations and timers, and the answers the engine gave.
type Move struct {
	// Kind is start, perform, deliver, fire, answer, cancel, crash or
	// unanswered (the world decides that nobody will ever answer the
	// callback ID).
	Kind string `json:"kind"`
	// ID is the invocation or timer delivered, fired or performed.
	ID uint32 `json:"id,omitempty"`
	// Command is what a perform move performed: invoke, start_timer or
	// append_intent.
	Command string `json:"command,omitempty"`
	// Outcome of a delivery: succeeded, failed, timed_out or
	// heartbeat_timeout; Error the error of a failure; Effect whether a
	// timed-out invocation took effect.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
	Effect  bool   `json:"effect,omitempty"`
	// Answers are the answers to the questions the move asked, in the
	// order they were given.
	Answers []Answer `json:"answers,omitempty"`
	// AbandonedTookEffect names the states whose invocations the move
	// abandoned in flight and which took effect anyway.
	AbandonedTookEffect []string `json:"abandoned_took_effect,omitempty"`
}

// Answer is the engine's answer to one question of the kernel.
type Answer struct {
	State    string `json:"state"`
	Thread   uint32 `json:"thread"`
	Question string `json:"question"`
	// Branch of a choice: the rule's index from 0, or -1 for the default.
	Branch *int32 `json:"branch,omitempty"`
	// Count of a map's items.
	Count *uint32 `json:"count,omitempty"`
	// Error of a failed decision (States.NoChoiceMatched, a data error, a
	// fail state's error).
	Error string `json:"error,omitempty"`
}

// StateRef names a workflow state and where it is written.
type StateRef struct {
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// String gives the state's name and LINE:COL.
func (r StateRef) String() string {
	if r.Line == 0 {
		return r.Name
	}
	return fmt.Sprintf("%s (%d:%d)", r.Name, r.Line, r.Column)
}

// stateRef returns the reference of workflow state i.
func stateRef(m *model.Machine, i int32) StateRef {
	if i < 0 || int(i) >= len(m.States) {
		return StateRef{Name: "-"}
	}
	sp := &m.States[i]
	r := StateRef{Name: sp.Name}
	if sp.Src != nil {
		p := sp.Src.At("name")
		r.Line, r.Column = p.Line, p.Col
	}
	return r
}

// tracer replays paths of the graph with a verbose expander, naming ids
// as an execution without renumbering would have them.
type tracer struct {
	g       *Graph
	x       *expander
	real    map[uint32]uint32
	realSeq uint32
}

func (g *Graph) newTracer() *tracer {
	x := newExpander(g.m, g.opts)
	x.verbose = true
	return &tracer{g: g, x: x, real: map[uint32]uint32{}}
}

// edge re-expands state src and returns the move to dst accepted by ok,
// with what it said and found. The tracer's id naming follows the move.
func (tr *tracer) edge(src, dst int32, ok func(flags uint32) bool) (*work, bool) {
	var cur inst
	if err := cur.decode(tr.g.enc.get(int(src))); err != nil {
		return nil, false
	}
	seq := cur.exec.Seq
	real, realSeq := tr.real, tr.realSeq
	tr.x.idName = func(id uint32) uint32 {
		if id <= seq {
			if r, ok := real[id]; ok {
				return r
			}
			return id
		}
		return realSeq + id - seq
	}
	tr.x.curEnc = tr.g.enc.get(int(src))
	tr.x.expand(&cur)
	var found *work
	var buf []byte
	for _, w := range tr.x.succ {
		buf = w.in.appendEncoding(buf[:0])
		if bytes.Equal(buf, tr.g.enc.get(int(dst))) && (ok == nil || ok(w.flags)) {
			found = w
			break
		}
	}
	if found == nil {
		return nil, false
	}
	next := map[uint32]uint32{}
	for _, r := range found.renames {
		next[r.new] = tr.x.idName(r.old)
	}
	tr.real = next
	tr.realSeq = realSeq + (found.seqPre - seq)
	return found, true
}

// afterText describes state i with the tracer's current id naming.
func (tr *tracer) afterText(i int32) string {
	var a inst
	if err := a.decode(tr.g.enc.get(int(i))); err != nil {
		return "?"
	}
	name := func(id uint32) uint32 {
		if r, ok := tr.real[id]; ok {
			return r
		}
		return id
	}
	return describe(tr.g.m, &a, name)
}

// trace builds the trace along path (state numbers from the initial
// state), the last move accepted by last (nil: any). It returns the
// trace and the notes of the last move.
func (g *Graph) trace(path []int32, last func(uint32) bool) (*Trace, []note) {
	tr := g.newTracer()
	t := &Trace{Loop: -1}
	var notes []note
	for i := 0; i+1 < len(path); i++ {
		ok := (func(uint32) bool)(nil)
		if i+2 == len(path) {
			ok = last
		}
		w, found := tr.edge(path[i], path[i+1], ok)
		if !found {
			t.Steps = append(t.Steps, TraceStep{Execution: 1, Event: "(the move could not be replayed)"})
			break
		}
		t.Steps = append(t.Steps, g.traceStep(tr, w, path[i+1]))
		notes = w.notes
		tr.x.releaseAll()
	}
	return t, notes
}

// cycleTrace builds the trace to state entry followed by the cycle
// through cycle (entry ... entry), each move accepted by ok.
func (g *Graph) cycleTrace(entry int32, cycle []int32, ok func(uint32) bool) *Trace {
	tr := g.newTracer()
	t := &Trace{Loop: -1}
	path := g.path(entry)
	for i := 0; i+1 < len(path); i++ {
		w, found := tr.edge(path[i], path[i+1], nil)
		if !found {
			return t
		}
		t.Steps = append(t.Steps, g.traceStep(tr, w, path[i+1]))
		tr.x.releaseAll()
	}
	t.Loop = len(t.Steps)
	for i := 0; i+1 < len(cycle); i++ {
		w, found := tr.edge(cycle[i], cycle[i+1], ok)
		if !found {
			break
		}
		t.Steps = append(t.Steps, g.traceStep(tr, w, cycle[i+1]))
		tr.x.releaseAll()
	}
	return t
}

func (g *Graph) traceStep(tr *tracer, w *work, dst int32) TraceStep {
	s := TraceStep{Execution: 1}
	if len(w.text) > 0 {
		s.Event = w.text[0]
		s.Details = append([]string(nil), w.text[1:]...)
	}
	for _, st := range w.states {
		s.States = append(s.States, stateRef(g.m, st))
	}
	s.After = tr.afterText(dst)
	s.Move = w.move
	s.Move.Answers = append([]Answer(nil), w.answers...)
	return s
}

// describeEvent says what move mv does, for a trace.
func (x *expander) describeEvent(w *work, cur *inst, mv move, ev model.Event) {
	s := &cur.exec
	switch mv.kind {
	case mvStart:
		x.say(w, "the execution starts")
	case mvCancel:
		x.say(w, "the execution is cancelled")
	case mvFire:
		if ev.ID == s.Timer {
			x.say(w, "the execution's timeout (timer #%d) fires", x.id(ev.ID))
			return
		}
		t := waiter(s, ev.ID)
		if t == nil {
			x.say(w, "timer #%d fires", x.id(ev.ID))
			return
		}
		x.touch(w, t.State)
		what := "wait of"
		switch {
		case t.Phase == model.PhaseBackoff && t.Comp:
			what = "retry backoff of the compensation of"
		case t.Phase == model.PhaseBackoff:
			what = "retry backoff of"
		}
		x.say(w, "timer #%d fires: the %s %s ends", x.id(ev.ID), what, stateName(x.m, t.State))
	case mvDeliver:
		t := waiter(s, ev.ID)
		if t == nil {
			x.say(w, "invocation #%d completes", x.id(ev.ID))
			return
		}
		x.touch(w, t.State)
		inv := fmt.Sprintf("invocation #%d (%s of %s, attempt %d)", x.id(ev.ID), x.fnName(invocationFn(x.m, t)), stateName(x.m, t.State), t.Attempt)
		if t.Comp {
			kind := "compensation"
			if t.OnFail {
				kind = "on-failure handler"
			}
			inv = fmt.Sprintf("invocation #%d (%s %s of %s, attempt %d)", x.id(ev.ID), kind, x.fnName(invocationFn(x.m, t)), stateName(x.m, t.State), t.Attempt)
		}
		switch mv.outcome {
		case outSuccess:
			x.say(w, "%s succeeds", inv)
		case outError:
			x.say(w, "%s fails with %s", inv, ev.Err)
		case outTimeout:
			what := "times out"
			if ev.Kind == model.EvHeartbeatTimeout {
				what = "misses its heartbeat"
			}
			if mv.effect {
				x.say(w, "%s %s after taking effect", inv, what)
			} else {
				x.say(w, "%s %s without taking effect", inv, what)
			}
		}
	}
}

// waiter returns the thread of s waiting for invocation or timer id.
func waiter(s *model.Execution, id uint32) *model.Thread {
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.Wait == id && t.Phase != model.PhaseDecide && t.Phase != model.PhaseFork {
			return t
		}
	}
	return nil
}

// invocationFn is the function thread t's invocation calls.
func invocationFn(m *model.Machine, t *model.Thread) int {
	sp := &m.States[t.State]
	switch {
	case t.Comp && t.OnFail:
		return sp.OnFailure
	case t.Comp:
		return sp.Compensate
	}
	return sp.Fn
}

func (x *expander) fnName(fn int) string {
	if fn < 0 || fn >= len(x.m.Functions) {
		return "-"
	}
	return x.m.Functions[fn]
}

// commandText renders a kernel command for a trace.
func (x *expander) commandText(c *model.Command) string {
	state := ""
	if c.State >= 0 {
		state = " (" + stateName(x.m, c.State) + ")"
	}
	switch c.Kind {
	case model.AppendEvent:
		return "append event"
	case model.AppendIntent:
		return fmt.Sprintf("append intent of %s #%d%s", c.Effect, x.id(c.ID), state)
	case model.Invoke:
		kind := "invoke"
		if c.Comp {
			kind = "invoke compensation"
		}
		return fmt.Sprintf("%s #%d %s%s attempt %d", kind, x.id(c.ID), x.fnName(int(c.Fn)), state, c.Attempt)
	case model.StartTimer:
		if c.State < 0 {
			return fmt.Sprintf("start timer #%d (execution timeout)", x.id(c.ID))
		}
		return fmt.Sprintf("start timer #%d%s", x.id(c.ID), state)
	case model.CancelInvoke:
		return fmt.Sprintf("abandon invocation #%d%s", x.id(c.ID), state)
	case model.CancelTimer:
		return fmt.Sprintf("cancel timer #%d%s", x.id(c.ID), state)
	case model.Decide:
		return fmt.Sprintf("ask %s%s", c.Decide, state)
	case model.Finish:
		if c.Err != "" {
			return fmt.Sprintf("finish %s (%s)", c.Status, c.Err)
		}
		return "finish " + c.Status.String()
	}
	return c.Kind.String()
}

// queueText names what a queued command is about.
func (x *expander) queueText(cur *inst, it qitem) string {
	if t := waiter(&cur.exec, it.id); t != nil && it.kind == model.Invoke {
		return x.fnName(invocationFn(x.m, t)) + " for " + stateName(x.m, it.state)
	}
	if it.state < 0 {
		return "execution timeout"
	}
	return stateName(x.m, it.state)
}

// describe summarizes an execution at rest: status, what each thread
// waits for, what is queued.
func describe(m *model.Machine, a *inst, name func(uint32) uint32) string {
	s := &a.exec
	var b strings.Builder
	b.WriteString(s.Status.String())
	var parts []string
	for i := range s.Threads {
		t := &s.Threads[i]
		what := stateName(m, t.State)
		if t.Comp {
			what = "compensating " + what
			if t.OnFail {
				what = "on-failure handler of " + stateName(m, t.State)
			}
		}
		switch t.Phase {
		case model.PhaseRun:
			flight := "queued"
			if hasID(a.sent, t.Wait) {
				flight = "in flight"
			}
			if hasID(a.silent, t.Wait) {
				flight = "in flight, never answered"
			}
			parts = append(parts, fmt.Sprintf("%s: invocation #%d %s", what, name(t.Wait), flight))
		case model.PhaseBackoff:
			parts = append(parts, fmt.Sprintf("%s: retry timer #%d", what, name(t.Wait)))
		case model.PhaseTimer:
			parts = append(parts, fmt.Sprintf("%s: wait timer #%d", what, name(t.Wait)))
		case model.PhaseFork:
			parts = append(parts, fmt.Sprintf("%s: %d/%d children done", what, t.Finished, t.Total))
		case model.PhaseDecide:
			parts = append(parts, fmt.Sprintf("%s: asks %s", what, t.Decide))
		}
	}
	if len(parts) > 0 {
		b.WriteString("; ")
		b.WriteString(strings.Join(parts, "; "))
	}
	if len(a.queue) > 0 {
		var q []string
		for _, it := range a.queue {
			q = append(q, fmt.Sprintf("%s #%d", it.kind, name(it.id)))
		}
		b.WriteString("; to perform: " + strings.Join(q, ", "))
	}
	if len(s.Done) > 0 {
		var d []string
		for _, mu := range s.Done {
			d = append(d, stateName(m, mu.State))
		}
		b.WriteString("; completed mutations: " + strings.Join(d, ", "))
	}
	if a.orphan != 0 {
		b.WriteString("; mutation of " + stateName(m, a.orphan-1) + " has nothing to undo it")
	}
	if a.pivot != 0 {
		b.WriteString("; irreversible " + stateName(m, a.pivot-1) + " took effect")
	}
	if s.Status.Terminal() && s.Err != "" {
		b.WriteString("; error " + s.Err)
	}
	return b.String()
}
