package checker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nexus-workflows/nexus/model"
)

// This file computes the moves of one execution at rest: every event the
// world can deliver, every command the engine can perform next, a crash.
// Each move is a call to model.Machine.Step (or Pending, for a crash)
// followed by the "closure": the engine answers every question the step
// asked at once, each possible answer a branch.
//
// The reductions, and why they lose nothing an invariant can see:
//
//   - A step and the leading appends it returns are one move. Step puts
//     the append of the event (and, with a correct kernel, every intent)
//     before any effect, and the engine makes them durable in one write.
//     A crash before that write loses the event: the world redelivers a
//     completion whose invocation is re-issued, a timer is re-armed, a
//     question is asked again. That is the same as a crash just before the
//     delivery, which is explored. With
//     model.Machine.FaultInvokeBeforeIntent the appends after the first
//     effect are not leading: they queue behind the effect, in order.
//   - Questions (Decide commands) are answered at once, in the same move,
//     with every possible answer. The engine answers them by evaluating
//     data, with no I/O, and appends the answers with the step's own
//     appends: the log then runs ahead of the effects, never behind them.
//     Invariants are evaluated on the states at rest and on every step the
//     closure takes (determinism, effects, visited states).
//   - The other commands (Invoke, StartTimer, a late AppendIntent) are
//     performed one per move, in order, and a crash may come between any
//     two. CancelInvoke, CancelTimer and Finish change nothing the model
//     tracks: an abandoned invocation is resolved when its thread stops
//     waiting for it (it may still take effect), a cancelled timer is
//     simply no longer awaited.
//   - An execution steps a new event only once its queue is empty: the
//     engine performs the commands of one step before it takes the next
//     event of that execution (other executions are independent).

// Edge flags.
const (
	// fProgress: the move decided a choice. A loop through a choice can be
	// ended by data; Termination does not count it.
	fProgress uint32 = 1 << iota
	// fCrash: the move is an engine crash and restart.
	fCrash
	// fCatch: a catcher took an error (a witness).
	fCatch
	// fLoop (on graph edges): some move from the edge's source to its
	// target neither decides a choice nor crashes: it can drive a loop.
	fLoop
	// fViolation is the first of the invariant bits.
	fViolation
)

func violationBit(v Invariant) uint32 { return fViolation << v }

// moveKind says what a move is.
type moveKind uint8

const (
	mvStart moveKind = iota
	mvPerform
	mvDeliver
	mvFire
	mvAnswer
	mvCancel
	mvCrash
	// mvSilence: the world decides that nobody will ever answer a
	// callback (see expander.silence).
	mvSilence
)

// outcome of a delivered invocation.
type outcome uint8

const (
	outSuccess outcome = iota
	outError
	outTimeout
)

// move is the move being expanded.
type move struct {
	kind    moveKind
	pre     *inst
	thread  uint32 // the thread whose invocation completed, for mvDeliver
	id      uint32
	outcome outcome
	effect  bool // the delivered outcome took effect
	comp    bool // the invocation was a compensation's
}

// work is one branch of a move being computed.
type work struct {
	in      inst
	decides []model.Command
	flags   uint32
	depth   int
	dead    bool
	// Verbose only: what happened, for traces.
	text    []string
	states  []int32
	notes   []note
	renames []rename
	move    Move
	answers []Answer
	seqPre  uint32 // Seq before canonical renumbering
}

// note is a violation found on a move, with its message.
type note struct {
	inv   Invariant
	state int32
	msg   string
}

type rename struct{ old, new uint32 }

// abandoned is an invocation or an attempt whose thread stopped waiting
// for it without a completion.
type abandoned struct {
	state   int32
	request bool // a request in flight, which may still take effect
	eff     bool // an earlier attempt of the same step may have taken effect
}

// maxClosure bounds the questions answered in one move. A workflow whose
// choices and pass states loop with no task in between would otherwise
// answer forever; repeated states end such loops long before.
const maxClosure = 100_000

// closureMemo is the depth from which the closure remembers the states it
// passed through in a move: a state met again (on the same path: a loop of
// decisions with no effect in between; on another: the same situation
// reached by other answers) continues as it did the first time, so it is
// not expanded twice. Below it, questions are few and remembering costs
// more than it saves.
const closureMemo = 2

var errClosure = errors.New("a single step asks more than 100000 questions in a row")

// maxBranches bounds the outcomes of the moves of one state: nested maps
// answered at once multiply their sizes. A state with more ends the
// exploration incomplete.
const maxBranches = 50_000

// errBranches and errStopped stop an expansion: the exploration ends
// incomplete.
var (
	errBranches = fmt.Errorf("max-branches (a single state has more than %d successors: nested maps or fan-outs multiply)", maxBranches)
	errStopped  = errors.New("stopped")
)

// expander computes the successors of execution states.
type expander struct {
	m       *model.Machine
	info    []model.World
	opts    Options
	verbose bool
	// idName maps an id of the state being expanded (or a new one) to the
	// id a trace shows; nil: ids as they are.
	idName func(uint32) uint32

	mv      move
	curEnc  []byte
	succ    []*work
	free    []*work
	out     []model.Command
	detOut  []model.Command
	det     model.Execution
	enc1    []byte
	enc2    []byte
	ren     []rename
	abandon []abandoned
	entered []bool // workflow states some thread entered
	err     error
	tmpExec model.Execution
	keyExec model.Execution
	// ctx stops a long expansion; branches counts the branches of the
	// current one.
	ctx      context.Context
	branches int
	answered int
	memo     map[string]bool // closure situations of the current move
	keyInst  inst
	slots    []int
	items    []item
	cur      inst // the state being expanded
}

func newExpander(m *model.Machine, opts Options) *expander {
	return &expander{m: m, info: m.Worlds(), opts: opts, entered: make([]bool, len(m.States))}
}

func (x *expander) get() *work {
	if n := len(x.free); n > 0 {
		w := x.free[n-1]
		x.free = x.free[:n-1]
		return w
	}
	return &work{}
}

func (x *expander) release(w *work) {
	w.decides = w.decides[:0]
	w.flags, w.depth, w.dead = 0, 0, false
	w.text, w.states, w.notes, w.renames = w.text[:0], w.states[:0], w.notes[:0], w.renames[:0]
	w.move, w.answers = Move{}, w.answers[:0]
	x.free = append(x.free, w)
}

// releaseAll returns the successors of the last expansion to the pool.
func (x *expander) releaseAll() {
	for _, w := range x.succ {
		x.release(w)
	}
	x.succ = x.succ[:0]
}

func (x *expander) clone(w *work) *work {
	c := x.get()
	w.in.copyInto(&c.in)
	c.decides = append(c.decides[:0], w.decides...)
	c.flags, c.depth, c.dead = w.flags, w.depth, w.dead
	if x.verbose {
		c.text = append(c.text[:0], w.text...)
		c.states = append(c.states[:0], w.states...)
		c.notes = append(c.notes[:0], w.notes...)
		c.move = w.move
		c.move.AbandonedTookEffect = append([]string(nil), w.move.AbandonedTookEffect...)
		c.answers = append(c.answers[:0], w.answers...)
	}
	return c
}

func (x *expander) say(w *work, format string, args ...any) {
	if x.verbose {
		w.text = append(w.text, fmt.Sprintf(format, args...))
	}
}

func (x *expander) touch(w *work, state int32) {
	if x.verbose && state >= 0 {
		for _, s := range w.states {
			if s == state {
				return
			}
		}
		w.states = append(w.states, state)
	}
}

// violate records a violation of inv on the move, at workflow state state.
func (x *expander) violate(w *work, inv Invariant, state int32, format string, args ...any) {
	w.flags |= violationBit(inv)
	if x.verbose {
		w.notes = append(w.notes, note{inv: inv, state: state, msg: fmt.Sprintf(format, args...)})
	}
}

func (x *expander) id(id uint32) uint32 {
	if x.idName != nil && id != 0 {
		return x.idName(id)
	}
	return id
}

// expand computes the successors of cur (canonical, at rest) into x.succ
// and returns the number of moves the execution itself has: a crash and a
// cancellation request are not counted (NoDeadlock: an execution stuck
// until an operator cancels it is stuck).
func (x *expander) expand(cur *inst) int {
	x.releaseAll()
	x.branches = 0
	s := &cur.exec
	switch {
	case s.Status == model.NotStarted:
		return count(x.stepMove(cur, move{kind: mvStart}, model.Event{Kind: model.EvStart}))
	case s.Status.Terminal():
		return 0
	}
	moves := 0
	if len(cur.queue) > 0 {
		x.perform(cur)
		x.crash(cur)
		return 1
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		switch t.Phase {
		case model.PhaseRun:
			if hasID(cur.sent, t.Wait) && !hasID(cur.silent, t.Wait) {
				moves += x.deliveries(cur, t)
				if !t.Comp && x.info[t.State].Unanswerable() {
					moves += x.silence(cur, t)
				}
			}
		case model.PhaseBackoff, model.PhaseTimer:
			if hasID(cur.sent, t.Wait) {
				moves += count(x.stepMove(cur, move{kind: mvFire, id: t.Wait}, model.Event{Kind: model.EvTimerFired, ID: t.Wait}))
			}
		case model.PhaseDecide:
			moves += x.answerMoves(cur, t)
		}
	}
	if s.Timer != 0 && s.Status == model.Running && hasID(cur.sent, s.Timer) {
		moves += count(x.stepMove(cur, move{kind: mvFire, id: s.Timer}, model.Event{Kind: model.EvTimerFired, ID: s.Timer}))
	}
	if x.opts.Cancel && s.Status == model.Running {
		// A move, but not one of the execution's own: NoDeadlock does not
		// count it.
		x.stepMove(cur, move{kind: mvCancel}, model.Event{Kind: model.EvCancel, Cause: "cancelled by the world"})
	}
	x.crash(cur)
	return moves
}

// deliveries expands the completions of thread t's invocation.
func (x *expander) deliveries(cur *inst, t *model.Thread) int {
	si := &x.info[t.State]
	base := move{kind: mvDeliver, thread: t.ID, id: t.Wait, comp: t.Comp}
	n := 0
	mv := base
	mv.outcome, mv.effect = outSuccess, true
	n += count(x.stepMove(cur, mv, model.Event{Kind: model.EvSucceeded, ID: t.Wait}))
	errs := si.Errs
	if t.Comp {
		errs = si.CompErrs
		if t.OnFail {
			errs = si.OnFailErrs
		}
	}
	for _, e := range errs {
		mv := base
		mv.outcome = outError
		n += count(x.stepMove(cur, mv, model.Event{Kind: model.EvFailed, ID: t.Wait, Err: e}))
	}
	if !t.Comp {
		for _, k := range []model.EventKind{model.EvTimedOut, model.EvHeartbeatTimeout} {
			if (k == model.EvTimedOut && !si.Timeout) || (k == model.EvHeartbeatTimeout && !si.Heartbeat) {
				continue
			}
			mv := base
			mv.outcome = outTimeout
			n += count(x.stepMove(cur, mv, model.Event{Kind: k, ID: t.Wait}))
			if si.Tracked() {
				mv.effect = true
				n += count(x.stepMove(cur, mv, model.Event{Kind: k, ID: t.Wait}))
			}
		}
	}
	return n
}

// silence is the world's move "nobody ever answers the callback of thread
// t": its invocation stays in flight and joins silent, and no completion
// is delivered for it from then on (no success, no error, no duplicate).
// Only a callback of a state with no timeout and no heartbeat has this
// move: otherwise the engine's timer ends the wait (a timeout delivery,
// explored). The execution does not step: the move changes only what the
// world will do, so it is taken once, from the state at rest in which the
// invocation is in flight. It returns 1 (a move of the execution's own:
// the world's answer, or its silence, is what the execution waits for).
func (x *expander) silence(cur *inst, t *model.Thread) int {
	clear(x.memo)
	x.mv = move{kind: mvSilence, pre: cur, thread: t.ID, id: t.Wait}
	w := x.get()
	cur.copyInto(&w.in)
	w.in.silent = addID(w.in.silent, t.Wait)
	if x.verbose {
		x.touch(w, t.State)
		x.say(w, "the callback of invocation #%d (%s of %s, attempt %d) is never answered: state %s has no timeout or heartbeat",
			x.id(t.Wait), x.fnName(invocationFn(x.m, t)), stateName(x.m, t.State), t.Attempt, stateName(x.m, t.State))
		w.move = Move{Kind: "unanswered", ID: x.id(t.Wait)}
	}
	x.final(w)
	return 1
}

// answerMoves answers a question left open at rest: one the closure was
// cut at. It returns the number of answers.
func (x *expander) answerMoves(cur *inst, t *model.Thread) int {
	c := x.m.Pending(&cur.exec, func(uint32) bool { return true })
	n := 0
	for _, q := range c {
		if q.Kind != model.Decide || q.Thread != t.ID {
			continue
		}
		for _, a := range x.answers(q) {
			clear(x.memo)
			x.mv = move{kind: mvAnswer, pre: cur}
			w := x.get()
			cur.copyInto(&w.in)
			x.say(w, "the engine answers an open question")
			w.move = Move{Kind: "answer"}
			x.applyAnswer(w, q, a)
			x.answerAll(w)
			n++
		}
	}
	return n
}

// stepMove applies event ev to a copy of cur and brings the result to
// rest.
func (x *expander) stepMove(cur *inst, mv move, ev model.Event) bool {
	clear(x.memo)
	mv.pre = cur
	x.mv = mv
	w := x.get()
	cur.copyInto(&w.in)
	if mv.kind == mvDeliver || mv.kind == mvFire {
		w.in.sent = removeID(w.in.sent, ev.ID)
	}
	if x.verbose {
		x.describeEvent(w, cur, mv, ev)
		w.move = x.moveData(mv, ev)
	}
	out, err := x.step(w, ev)
	if err != nil {
		// The kernel refuses an event the model offered: the move does not
		// exist (NoDeadlock reports an execution left with none).
		x.release(w)
		return false
	}
	if mv.kind == mvDeliver {
		// Duplicate delivery: the same completion again must change nothing.
		w.in.exec.CopyInto(&x.tmpExec)
		x.enc1 = x.tmpExec.AppendEncoding(x.enc1[:0])
		dup, derr := x.m.Step(&x.tmpExec, ev, x.detOut[:0])
		x.detOut = dup[:0]
		x.enc2 = x.tmpExec.AppendEncoding(x.enc2[:0])
		if derr == nil || !bytes.Equal(x.enc1, x.enc2) {
			x.violate(w, AtMostOnceEffect, x.stateOfThread(cur, mv.thread),
				"a second delivery of the completion of invocation #%d was accepted: the execution acted on one result twice", x.id(ev.ID))
		}
	}
	x.absorb(w, out)
	x.answerAll(w)
	return true
}

// count is 1 for a move the kernel accepted.
func count(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

func (x *expander) stateOfThread(a *inst, id uint32) int32 {
	if t := a.exec.Thread(id); t != nil {
		return t.State
	}
	return model.No
}

// step applies ev to w's execution, checking that the kernel is a
// function of its input: the same event on a copy of the same state gives
// the same state and the same commands.
func (x *expander) step(w *work, ev model.Event) ([]model.Command, error) {
	w.in.exec.CopyInto(&x.det)
	out, err := x.m.Step(&w.in.exec, ev, x.out[:0])
	x.out = out[:0]
	det, derr := x.m.Step(&x.det, ev, x.detOut[:0])
	x.detOut = det[:0]
	if (err == nil) != (derr == nil) {
		x.violate(w, Deterministic, model.No, "stepping %s twice on the same state: accepted once and rejected once", ev)
	} else if err == nil {
		x.enc1 = w.in.exec.AppendEncoding(x.enc1[:0])
		x.enc2 = x.det.AppendEncoding(x.enc2[:0])
		if !bytes.Equal(x.enc1, x.enc2) || !commandsEqual(out, det) {
			x.violate(w, Deterministic, model.No, "stepping %s twice on the same state gave different results", ev)
		}
	}
	if err != nil {
		return nil, err
	}
	for i := range w.in.exec.Threads {
		t := &w.in.exec.Threads[i]
		if !t.Comp && t.State >= 0 && int(t.State) < len(x.entered) {
			x.entered[t.State] = true
		}
	}
	return out, nil
}

func commandsEqual(a, b []model.Command) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		p, q := a[i], b[i]
		if p.Kind != q.Kind || p.Effect != q.Effect || p.ID != q.ID || p.Thread != q.Thread || p.State != q.State ||
			p.Fn != q.Fn || p.Attempt != q.Attempt || p.Comp != q.Comp || p.Decide != q.Decide || p.Catcher != q.Catcher ||
			p.Delay != q.Delay || p.Until != q.Until || p.Timeout != q.Timeout || p.Heartbeat != q.Heartbeat ||
			p.Callback != q.Callback || !bytes.Equal(p.Input, q.Input) || p.Key != q.Key || p.Status != q.Status ||
			p.Err != q.Err || p.Cause != q.Cause {
			return false
		}
	}
	return true
}

// absorb takes the commands of a step just applied to w: the leading
// appends are durable at once; effects and late appends queue in order;
// questions wait to be answered.
func (x *expander) absorb(w *work, out []model.Command) {
	leading := true
	for i := range out {
		c := &out[i]
		if x.verbose {
			w.text = append(w.text, "  → "+x.commandText(c))
			if c.Kind != model.AppendEvent && c.Kind != model.Finish && c.State >= 0 {
				x.touch(w, c.State)
			}
		}
		switch c.Kind {
		case model.AppendEvent:
		case model.AppendIntent:
			if !leading {
				w.in.queue = append(w.in.queue, qitem{kind: model.AppendIntent, id: c.ID, state: c.State})
			}
		case model.Invoke, model.StartTimer:
			leading = false
			w.in.queue = append(w.in.queue, qitem{kind: c.Kind, id: c.ID, state: c.State})
		case model.Decide:
			leading = false
			w.decides = append(w.decides, *c)
		default:
			leading = false
		}
	}
}

// answerAll answers w's questions in order, branching on every answer,
// and finishes each branch.
func (x *expander) answerAll(w *work) {
	if x.err != nil {
		w.dead = true
	}
	for len(w.decides) > 0 && !w.dead {
		d := w.decides[0]
		copy(w.decides, w.decides[1:])
		w.decides = w.decides[:len(w.decides)-1]
		t := w.in.exec.Thread(d.Thread)
		if t == nil || t.Phase != model.PhaseDecide || t.Decide != d.Decide {
			continue // a later answer already removed the thread
		}
		w.depth++
		if w.depth > maxClosure {
			x.err = errClosure
			w.dead = true
			break
		}
		if w.depth > closureMemo && x.closureSeen(w) {
			w.dead = true
			break
		}
		as := x.answers(d)
		x.answered++
		if x.branches += len(as) - 1; x.branches > maxBranches || (x.answered&255 == 0 && x.ctx != nil && x.ctx.Err() != nil) {
			if x.err == nil {
				x.err = errBranches
				if x.branches <= maxBranches {
					x.err = errStopped
				}
			}
			w.dead = true
			break
		}
		for i := 0; i < len(as)-1; i++ {
			c := x.clone(w)
			x.applyAnswer(c, d, as[i])
			x.answerAll(c)
		}
		x.applyAnswer(w, d, as[len(as)-1])
	}
	x.finish(w)
}

// closureSeen reports whether this move has been in w's situation before
// (see closureMemo), and remembers it.
func (x *expander) closureSeen(w *work) bool {
	// The situation up to the naming of ids: a loop that spawns threads
	// hands out new ids on every round.
	k := &x.keyInst
	w.in.copyInto(k)
	x.ren = x.ren[:0]
	k.exec.Renumber(func(old, new uint32) { x.ren = append(x.ren, rename{old, new}) })
	name := func(old uint32) uint32 {
		for _, r := range x.ren {
			if r.old == old {
				return r.new
			}
		}
		return 0
	}
	for i := range k.queue {
		k.queue[i].id = name(k.queue[i].id)
	}
	for i := range k.sent {
		k.sent[i] = name(k.sent[i])
	}
	for i := range k.eff {
		k.eff[i] = name(k.eff[i])
	}
	for i := range k.silent {
		k.silent[i] = name(k.silent[i])
	}
	x.enc1 = k.appendEncoding(x.enc1[:0])
	x.enc1 = binary.AppendUvarint(x.enc1, uint64(w.flags))
	for _, d := range w.decides {
		x.enc1 = binary.AppendUvarint(x.enc1, uint64(name(d.Thread)))
		x.enc1 = append(x.enc1, byte(d.Decide))
	}
	if x.memo == nil {
		x.memo = map[string]bool{}
	}
	if x.memo[string(x.enc1)] {
		return true
	}
	x.memo[string(x.enc1)] = true
	return false
}

// answer is one possible answer to a question.
type answer struct {
	ev    model.Event
	flags uint32
	what  string
}

// answers lists every answer the model gives to question d.
func (x *expander) answers(d model.Command) []answer {
	sp := &x.m.States[d.State]
	si := &x.info[d.State]
	base := model.Event{Kind: model.EvDecided, Thread: d.Thread, Decide: d.Decide}
	var as []answer
	dataErr := func(ok bool, what, cause string) {
		if ok && x.opts.DataErrors {
			e := base
			e.Err, e.Cause = si.DataErr, cause
			as = append(as, answer{ev: e, what: what + " fails with " + si.DataErr})
		}
	}
	switch d.Decide {
	case model.DecideInput:
		switch sp.Kind {
		case model.KindMap:
			for n := 0; n <= x.opts.MapSize; n++ {
				e := base
				e.Count = uint32(n)
				as = append(as, answer{ev: e, what: fmt.Sprintf("map over %d item(s)", n)})
			}
		case model.KindWait:
			as = append(as, answer{ev: base, what: "wait"})
		default:
			as = append(as, answer{ev: base, what: "input ready"})
		}
		dataErr(si.DataIn, "input", si.InCause)
	case model.DecideOutput:
		as = append(as, answer{ev: base, what: "output ready"})
		dataErr(si.DataOut, "output", si.OutCause)
	case model.DecideChoice:
		for k := range sp.Choices {
			e := base
			e.Branch = int32(k)
			as = append(as, answer{ev: e, flags: fProgress, what: fmt.Sprintf("choice rule %d → %s", k+1, stateName(x.m, int32(sp.Choices[k])))})
		}
		if sp.Default != model.No {
			e := base
			e.Branch = model.No
			as = append(as, answer{ev: e, flags: fProgress, what: "choice default → " + stateName(x.m, int32(sp.Default))})
		} else {
			e := base
			e.Branch = model.No
			e.Err, e.Cause = model.ErrNoChoiceMatched, "no choice rule matched and the state has no default"
			as = append(as, answer{ev: e, flags: fProgress | violationBit(NoDanglingState), what: "no choice rule matches: " + model.ErrNoChoiceMatched})
		}
	case model.DecideCatch:
		as = append(as, answer{ev: base, what: fmt.Sprintf("catcher %d takes %s", d.Catcher+1, d.Err)})
	case model.DecideFail:
		e := base
		e.Err, e.ErrNull = si.FailErr, si.FailNull
		as = append(as, answer{ev: e, what: "fails with " + errText(si.FailErr, si.FailNull)})
	case model.DecideJitter:
		e := base
		e.Delay = d.Delay
		as = append(as, answer{ev: e, what: "jittered delay " + d.Delay.String()})
	default:
		as = append(as, answer{ev: base, what: d.Decide.String()})
	}
	return as
}

func errText(err string, null bool) string {
	if null {
		return "a null error"
	}
	return err
}

// applyAnswer steps answer a to question d in w.
func (x *expander) applyAnswer(w *work, d model.Command, a answer) {
	if x.verbose {
		x.say(w, "%s: %s", stateName(x.m, d.State), a.what)
		x.touch(w, d.State)
		an := Answer{State: stateName(x.m, d.State), Thread: x.id(d.Thread), Question: d.Decide.String(), Error: a.ev.Err}
		switch {
		case d.Decide == model.DecideChoice && a.ev.Err == "":
			b := a.ev.Branch
			an.Branch = &b
		case d.Decide == model.DecideInput && x.m.States[d.State].Kind == model.KindMap && a.ev.Err == "":
			c := a.ev.Count
			an.Count = &c
		}
		w.answers = append(w.answers, an)
	}
	out, err := x.step(w, a.ev)
	if err != nil {
		return
	}
	w.flags |= a.flags
	if a.flags&violationBit(NoDanglingState) != 0 {
		x.violate(w, NoDanglingState, d.State, "no rule of choice state %q matches and it has no default: the execution fails with %s",
			stateName(x.m, d.State), model.ErrNoChoiceMatched)
	}
	if d.Decide == model.DecideCatch {
		w.flags |= fCatch
	}
	x.absorb(w, out)
}

// perform performs the first queued command of cur.
func (x *expander) perform(cur *inst) {
	x.mv = move{kind: mvPerform, pre: cur}
	w := x.get()
	cur.copyInto(&w.in)
	it := w.in.queue[0]
	copy(w.in.queue, w.in.queue[1:])
	w.in.queue = w.in.queue[:len(w.in.queue)-1]
	x.touch(w, it.state)
	w.move = Move{Kind: "perform", ID: x.id(it.id), Command: it.kind.String()}
	switch it.kind {
	case model.AppendIntent:
		x.say(w, "engine appends the intent of #%d (%s)", x.id(it.id), stateName(x.m, it.state))
	case model.Invoke, model.StartTimer:
		what := "invokes"
		if it.kind == model.StartTimer {
			what = "starts timer"
		}
		x.say(w, "engine %s #%d (%s)", what, x.id(it.id), x.queueText(cur, it))
		if intentQueued(w.in.queue, it.id) {
			x.violate(w, LoggedBeforeExecuted, it.state, "%s #%d of state %q was started before the append of its intent was durable",
				it.kind, x.id(it.id), stateName(x.m, it.state))
		}
		w.in.sent = addID(w.in.sent, it.id)
	}
	x.final(w)
}

// crash crashes the engine running cur and restarts it: what was not
// appended is lost, the execution is what its log replays to (the state
// at rest, since every stepped event was appended), timers are lost, and
// model.Machine.Pending says what to do again.
func (x *expander) crash(cur *inst) {
	clear(x.memo)
	x.mv = move{kind: mvCrash, pre: cur}
	w := x.get()
	cur.copyInto(&w.in)
	w.flags |= fCrash
	queue := cur.queue
	w.in.queue = w.in.queue[:0]
	kept := w.in.sent[:0]
	for _, id := range w.in.sent {
		if !isTimer(&w.in.exec, id) {
			kept = append(kept, id)
		}
	}
	w.in.sent = kept
	x.say(w, "engine crashes and restarts: recovered from the log; %d command(s) lost", len(queue))
	w.move = Move{Kind: "crash"}
	out := x.m.Pending(&w.in.exec, func(id uint32) bool { return !intentQueued(queue, id) })
	x.absorb(w, out)
	x.answerAll(w)
}

// finish resolves what the move abandoned (invocations whose thread
// stopped waiting, attempts that may have taken effect), then branches on
// whether each abandoned invocation took effect, and emits the results.
func (x *expander) finish(w *work) {
	if w.dead {
		x.release(w)
		return
	}
	mv := &x.mv
	pre := mv.pre
	post := &w.in.exec
	x.abandon = x.abandon[:0]
	// Queued commands whose thread a later answer of the same move
	// cancelled: the engine performs them anyway, in order.
	q := w.in.queue[:0]
	for i, it := range w.in.queue {
		if it.kind == model.AppendIntent || awaits(post, it.id) {
			q = append(q, it)
			continue
		}
		if it.kind == model.Invoke {
			if intentQueued(w.in.queue[i+1:], it.id) {
				x.violate(w, LoggedBeforeExecuted, it.state, "invoke #%d of state %q was started before the append of its intent was durable",
					x.id(it.id), stateName(x.m, it.state))
			}
			x.abandon = append(x.abandon, abandoned{state: it.state, request: true})
		}
	}
	w.in.queue = q
	q = w.in.queue[:0]
	for _, it := range w.in.queue {
		if it.kind != model.AppendIntent || awaits(post, it.id) {
			q = append(q, it)
		}
	}
	w.in.queue = q
	// Requests and timers no longer awaited.
	kept := w.in.sent[:0]
	for _, id := range w.in.sent {
		if awaits(post, id) {
			kept = append(kept, id)
		}
	}
	w.in.sent = kept
	kept = w.in.silent[:0]
	for _, id := range w.in.silent {
		if hasID(w.in.sent, id) {
			kept = append(kept, id)
		}
	}
	w.in.silent = kept
	if mv.kind != mvPerform && mv.kind != mvCrash {
		// Bystander threads whose step ended without their own event.
		for i := range pre.exec.Threads {
			t := &pre.exec.Threads[i]
			if t.Comp || t.ID == mv.thread {
				continue
			}
			if pt := post.Thread(t.ID); pt != nil && pt.State == t.State && !pt.Comp {
				continue
			}
			inFlight := t.Phase == model.PhaseRun && hasID(pre.sent, t.Wait)
			hadEff := hasID(pre.eff, t.ID)
			w.in.eff = removeID(w.in.eff, t.ID)
			if inFlight || hadEff {
				x.abandon = append(x.abandon, abandoned{state: t.State, request: inFlight, eff: hadEff})
			}
		}
		if mv.kind == mvDeliver {
			x.delivered(w)
		}
	}
	if mv.kind == mvDeliver && mv.comp && !x.opts.CompensationFailures && post.CompFailed() && !pre.exec.CompFailed() {
		// Compensations are assumed to succeed eventually.
		x.release(w)
		return
	}
	x.branchAbandoned(w, 0)
}

// delivered applies the effect bookkeeping of the delivered completion to
// its thread.
func (x *expander) delivered(w *work) {
	mv := &x.mv
	t := mv.pre.exec.Thread(mv.thread)
	if t == nil || t.Comp {
		return
	}
	si := &x.info[t.State]
	hadEff := hasID(mv.pre.eff, t.ID)
	w.in.eff = removeID(w.in.eff, t.ID)
	name := stateName(x.m, t.State)
	effectNow := mv.effect && mv.outcome != outError
	if effectNow && hadEff && si.Honours && si.PerAttempt {
		x.violate(w, AtMostOnceEffect, t.State, "step %q took effect twice: an earlier attempt timed out after taking effect, and attempt %d "+
			"took effect too, under a new idempotency key (the state names no idempotency: key, so each attempt gets its own)", name, t.Attempt)
	}
	if mv.outcome == outSuccess {
		if si.Irreversible && w.in.pivot == 0 {
			w.in.pivot = t.State + 1
		}
		return
	}
	pt := w.in.exec.Thread(t.ID)
	retried := pt != nil && pt.State == t.State && !pt.Comp && sumRetries(pt) > sumRetries(t)
	if retried {
		if (hadEff || effectNow) && si.Tracked() {
			w.in.eff = addID(w.in.eff, t.ID)
		}
		return
	}
	if (hadEff || effectNow) && si.Mutating {
		switch {
		case si.Irreversible:
			if w.in.pivot == 0 {
				w.in.pivot = t.State + 1
			}
		case pt == nil && si.Handler:
			// Failed for good: its on-failure handler cleans up.
		case uncertainRecorded(&w.in.exec, t.State):
			// The kernel keeps the uncertain effect on its compensation
			// stack (model: pushUncertain): undone if the execution fails.
		default:
			if w.in.orphan == 0 {
				w.in.orphan = t.State + 1
			}
			x.say(w, "step %s may have taken effect (an attempt timed out) and ends without completing: nothing will undo it", name)
		}
	}
}

// branchAbandoned branches on whether each abandoned invocation took
// effect, from the i-th on, and emits the results.
func (x *expander) branchAbandoned(w *work, i int) {
	for ; i < len(x.abandon); i++ {
		a := x.abandon[i]
		si := &x.info[a.state]
		if !si.Tracked() {
			continue
		}
		if a.request {
			c := x.clone(w)
			x.resolveAbandoned(c, a, true)
			x.branchAbandoned(c, i+1)
		}
		x.resolveAbandoned(w, a, false)
	}
	x.final(w)
}

func (x *expander) resolveAbandoned(w *work, a abandoned, effect bool) {
	si := &x.info[a.state]
	name := stateName(x.m, a.state)
	if effect {
		x.say(w, "the abandoned invocation of %s takes effect anyway", name)
		if x.verbose {
			w.move.AbandonedTookEffect = append(w.move.AbandonedTookEffect, name)
		}
		if a.eff && si.Honours && si.PerAttempt {
			x.violate(w, AtMostOnceEffect, a.state, "step %q took effect twice: an attempt timed out after taking effect, and the next one, "+
				"abandoned in flight, took effect under a new idempotency key", name)
		}
	}
	if (a.eff || effect) && si.Mutating {
		if si.Irreversible {
			if w.in.pivot == 0 {
				w.in.pivot = a.state + 1
			}
			return
		}
		if uncertainRecorded(&w.in.exec, a.state) {
			return // on the compensation stack, as uncertain
		}
		if w.in.orphan == 0 {
			w.in.orphan = a.state + 1
		}
		x.say(w, "step %s may have taken effect and was abandoned: nothing will undo it", name)
	}
}

// final canonicalizes w and adds it to the successors.
func (x *expander) final(w *work) {
	if x.verbose {
		w.seqPre = w.in.exec.Seq
	}
	x.canon(w)
	if x.mv.kind == mvCrash {
		x.enc1 = w.in.appendEncoding(x.enc1[:0])
		if bytes.Equal(x.enc1, x.curEnc) {
			x.release(w) // nothing was lost
			return
		}
	}
	x.succ = append(x.succ, w)
}

// canon renames the identifiers of w's execution to 1, 2, 3, ... with
// model.Execution.Renumber and renames the protocol state's references
// the same way.
func (x *expander) canon(w *work) {
	if !x.opts.NoSymmetry {
		x.itemSymmetry(&w.in)
	}
	x.ren = x.ren[:0]
	w.in.exec.Renumber(func(old, new uint32) { x.ren = append(x.ren, rename{old, new}) })
	find := func(old uint32) (uint32, bool) {
		for _, r := range x.ren {
			if r.old == old {
				return r.new, true
			}
		}
		return 0, false
	}
	q := w.in.queue[:0]
	for _, it := range w.in.queue {
		if n, ok := find(it.id); ok {
			it.id = n
			q = append(q, it)
		}
	}
	w.in.queue = q
	renameSet := func(s []uint32) []uint32 {
		out := s[:0]
		for _, id := range s {
			if n, ok := find(id); ok {
				out = append(out, n)
			}
		}
		sortIDs(out)
		return out
	}
	w.in.sent = renameSet(w.in.sent)
	w.in.eff = renameSet(w.in.eff)
	w.in.silent = renameSet(w.in.silent)
	if x.verbose {
		w.renames = append(w.renames[:0], x.ren...)
	}
}

func sortIDs(s []uint32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// item is a map item's thread with its sort key.
type item struct {
	t   model.Thread
	key string
}

// itemSymmetry puts the items of every map state of a in a canonical
// order. The items of one map run the same processor graph and, without
// data, the kernel treats them alike: an item's Index only addresses its
// result, which an abstract execution does not keep. So two states that
// differ by a permutation of a map's items (their threads, with what the
// protocol knows of them) behave alike, and one stands for all: items are
// sorted by their kernel encoding (model.Execution.AppendEncoding of the
// thread alone, ids and index cleared) and by what the queue, sent and
// eff hold of them, and numbered 0, 1, 2... in that order. Maps whose
// items have threads of their own (a nested parallel or map) are left as
// they are. Like the symmetry over executions, Options.NoSymmetry turns it
// off.
func (x *expander) itemSymmetry(a *inst) {
	s := &a.exec
	for pi := range s.Threads {
		p := &s.Threads[pi]
		if p.Phase != model.PhaseFork || x.m.States[p.State].Kind != model.KindMap {
			continue
		}
		x.slots = x.slots[:0]
		leaves := true
		for ci := pi + 1; ci < len(s.Threads); ci++ {
			if s.Threads[ci].Parent != p.ID {
				continue
			}
			x.slots = append(x.slots, ci)
			for k := ci + 1; k < len(s.Threads); k++ {
				if s.Threads[k].Parent == s.Threads[ci].ID {
					leaves = false
				}
			}
		}
		if !leaves || len(x.slots) == 0 {
			continue
		}
		x.items = x.items[:0]
		for _, ci := range x.slots {
			t := s.Threads[ci]
			k := t
			k.ID, k.Parent, k.Index, k.Wait = 0, 0, 0, 0
			x.keyExec.Threads = append(x.keyExec.Threads[:0], k)
			x.enc1 = x.keyExec.AppendEncoding(x.enc1[:0])
			pos := -1
			for qi, it := range a.queue {
				if it.id == t.Wait && t.Wait != 0 {
					pos = qi
					break
				}
			}
			x.enc1 = append(x.enc1, byte(pos+1), byte((pos+1)>>8))
			x.enc1 = appendBool(x.enc1, t.Wait != 0 && hasID(a.sent, t.Wait))
			x.enc1 = appendBool(x.enc1, hasID(a.eff, t.ID))
			x.enc1 = appendBool(x.enc1, t.Wait != 0 && hasID(a.silent, t.Wait))
			x.items = append(x.items, item{t: t, key: string(x.enc1)})
		}
		slices.SortStableFunc(x.items, func(a, b item) int { return strings.Compare(a.key, b.key) })
		for r, ci := range x.slots {
			s.Threads[ci] = x.items[r].t
			s.Threads[ci].Index = uint32(r)
		}
	}
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// moveData is mv as data for a trace.
func (x *expander) moveData(mv move, ev model.Event) Move {
	kinds := [...]string{mvStart: "start", mvPerform: "perform", mvDeliver: "deliver", mvFire: "fire", mvAnswer: "answer",
		mvCancel: "cancel", mvCrash: "crash", mvSilence: "unanswered"}
	m := Move{Kind: kinds[mv.kind], ID: x.id(ev.ID)}
	if mv.kind == mvDeliver {
		m.Outcome, m.Error = ev.Kind.String(), ev.Err
		m.Effect = mv.outcome == outTimeout && mv.effect
	}
	return m
}

// uncertainRecorded reports whether the kernel recorded an uncertain
// effect of state on the execution's compensation stack, or is already
// compensating it.
func uncertainRecorded(e *model.Execution, state int32) bool {
	for _, d := range e.Done {
		if d.State == state && d.Uncertain {
			return true
		}
	}
	for i := range e.Threads {
		if t := &e.Threads[i]; t.Comp && !t.OnFail && t.State == state {
			return true
		}
	}
	return false
}
