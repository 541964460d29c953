package model

import (
	"fmt"
	"time"
)

// RejectError is returned by Step for an event that does not apply to the
// state: a completion of an invocation nobody waits for (a duplicate or
// late delivery), an answer to a question not asked, a start of a started
// execution. The state is left unchanged; drivers drop such events.
type RejectError struct {
	Event  Event
	Reason string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("event %s rejected: %s", e.Event, e.Reason)
}

func reject(e Event, format string, args ...any) error {
	return &RejectError{Event: e, Reason: fmt.Sprintf(format, args...)}
}

// Step applies event e to execution state s, in place, and appends to out
// the commands the driver must perform, in order. It is pure: no I/O, no
// clock, no randomness; the same state and event always give the same
// result. It never panics on any event: an event that does not apply
// returns a *RejectError and leaves s and out as they were.
//
// The first command of every accepted event is AppendEvent, and every
// Invoke and StartTimer is preceded by the AppendIntent announcing it: a
// driver that performs the commands in order, making each append durable
// before going on, can be killed at any point and resume with Recover.
func (m *Machine) Step(s *Execution, e Event, out []Command) ([]Command, error) {
	st := stepper{m: m, s: s, out: out, now: e.Time}
	if err := st.check(e); err != nil {
		return out, err
	}
	start := len(st.out)
	st.emit(Command{Kind: AppendEvent, State: No, Fn: No})
	st.apply(e)
	if !m.FaultInvokeBeforeIntent {
		appendsFirst(st.out[start:])
	}
	return st.out, nil
}

// appendsFirst moves the appends of one step ahead of its other commands,
// keeping the order within each group, so that a driver can make all the
// records of a step durable in one write (one fsync) before any effect.
func appendsFirst(cs []Command) {
	w := 0
	for i := range cs {
		if cs[i].Kind != AppendEvent && cs[i].Kind != AppendIntent {
			continue
		}
		if i != w {
			c := cs[i]
			copy(cs[w+1:i+1], cs[w:i])
			cs[w] = c
		}
		w++
	}
}

type stepper struct {
	m   *Machine
	s   *Execution
	out []Command
	now int64
}

// check decides whether e applies to s, before anything is changed.
func (st *stepper) check(e Event) error {
	s := st.s
	switch e.Kind {
	case EvStart:
		if s.Status != NotStarted {
			return reject(e, "execution already started")
		}
		return nil
	case EvCancel:
		if s.Status != Running {
			return reject(e, "execution is %s", s.Status)
		}
		return nil
	}
	if s.Status != Running && s.Status != Compensating {
		return reject(e, "execution is %s", s.Status)
	}
	switch e.Kind {
	case EvDecided:
		t := s.Thread(e.Thread)
		if t == nil || t.Phase != PhaseDecide || t.Decide != e.Decide {
			return reject(e, "thread %d asked no %s question", e.Thread, e.Decide)
		}
		sp := &st.m.States[t.State]
		if e.Decide == DecideChoice && e.Err == "" {
			if e.Branch < No || int(e.Branch) >= len(sp.Choices) || (e.Branch == No && sp.Default == No) {
				return reject(e, "state %q has no branch %d", sp.Name, e.Branch)
			}
		}
		if e.Decide == DecideInput && e.Err == "" && sp.Kind == KindMap && t.Data != nil && len(e.Items) != int(e.Count) {
			return reject(e, "map state %q: %d items but count %d", sp.Name, len(e.Items), e.Count)
		}
		return nil
	case EvSucceeded, EvFailed, EvTimedOut, EvHeartbeatTimeout:
		if s.waiting(e.ID, PhaseRun) == nil {
			return reject(e, "no invocation #%d in flight", e.ID)
		}
		return nil
	case EvTimerFired:
		if e.ID != 0 && e.ID == s.Timer && s.Status == Running {
			return nil
		}
		if s.waiting(e.ID, PhaseBackoff, PhaseTimer) == nil {
			return reject(e, "no timer #%d running", e.ID)
		}
		return nil
	}
	return reject(e, "unknown event kind %d", e.Kind)
}

func (st *stepper) apply(e Event) {
	s := st.s
	switch e.Kind {
	case EvStart:
		s.Status = Running
		if e.Data != nil {
			s.Data = &ExecData{Input: e.Data, Start: e.Time}
		}
		if st.m.Timeout > 0 {
			s.Timer = st.nextID()
			st.effect(st.m.executionTimer(s))
		}
		st.enter(st.spawn(0, 0), st.m.Start(), e.Data, nil)
	case EvCancel:
		st.end(Cancelled, ErrCancelled, e.Cause)
	case EvDecided:
		st.decided(s.Thread(e.Thread), e)
	case EvSucceeded:
		t := s.waiting(e.ID, PhaseRun)
		if t.Comp {
			st.remove(t.ID)
			st.compensateNext()
			return
		}
		sp := &st.m.States[t.State]
		t.Uncertain = false // the completion covers any earlier attempt's effect
		if t.Data != nil {
			t.Data.Result = e.Data
		}
		if sp.Compensate != No {
			m := Mutation{State: t.State}
			if t.Data != nil {
				m.Input, m.Result = t.Data.Effective, e.Data
			}
			s.Done = append(s.Done, m)
		}
		st.decide(t, DecideOutput)
	case EvFailed:
		err := e.Err
		if err == "" {
			err = ErrTaskFailed
		}
		st.handle(s.waiting(e.ID, PhaseRun), failure{err: err, cause: e.Cause})
	case EvTimedOut, EvHeartbeatTimeout:
		// An attempt that timed out may have taken effect all the same.
		t := s.waiting(e.ID, PhaseRun)
		t.Uncertain = t.Uncertain || !t.Comp
		err := ErrTimeout
		if e.Kind == EvHeartbeatTimeout {
			err = ErrHeartbeatTimeout
		}
		st.handle(t, failure{err: err, cause: e.Cause})
	case EvTimerFired:
		if e.ID == s.Timer {
			s.Timer = 0
			st.end(TimedOut, ErrTimeout, "execution timed out")
			return
		}
		t := s.waiting(e.ID, PhaseBackoff, PhaseTimer)
		switch {
		case t.Phase == PhaseTimer:
			st.decide(t, DecideOutput)
		case t.Comp:
			st.invoke(t)
		default:
			st.decide(t, DecideInput)
		}
	}
}

func (st *stepper) decided(t *Thread, e Event) {
	sp := &st.m.States[t.State]
	if e.Err != "" && e.Decide != DecideFail {
		st.handle(t, failure{err: e.Err, cause: e.Cause})
		return
	}
	if t.Data != nil && e.Vars != nil {
		t.Data.Vars = e.Vars
	}
	switch e.Decide {
	case DecideInput:
		t.Attempt++
		if t.Data != nil {
			t.Data.Effective = e.Data
			t.Data.Key = e.Key
			t.Data.Timeout, t.Data.Heartbeat = e.Timeout, e.Heartbeat
		}
		switch sp.Kind {
		case KindParallel:
			st.fork(t, uint32(len(sp.Branches)), nil)
		case KindMap:
			t.Limit = e.Limit
			if t.Limit == 0 {
				t.Limit = uint32(sp.MaxConcurrency)
			}
			st.fork(t, e.Count, e.Items)
		case KindWait:
			st.timer(t, PhaseTimer, e.Delay, e.Until)
		default:
			st.invoke(t)
		}
	case DecideOutput:
		st.advance(t, e.Data)
	case DecideChoice:
		next := sp.Default
		if e.Branch != No {
			next = sp.Choices[e.Branch]
		}
		st.enterThread(t, next, st.dataOr(t, e.Data), nil)
	case DecideCatch:
		c := sp.Catch[t.Catcher]
		t.Err, t.Cause = "", ""
		st.enterThread(t, c.Next, st.dataOr(t, e.Data), nil)
	case DecideFail:
		st.fail(t, failure{e.Err, e.Cause, e.ErrNull, e.CauseNull})
	case DecideJitter:
		st.timer(t, PhaseBackoff, e.Delay, 0)
	}
}

// dataOr returns a decision's data, or the thread's input when the
// decision passed none (a choice passes its input on unchanged).
func (st *stepper) dataOr(t *Thread, data []byte) []byte {
	if data == nil && t.Data != nil {
		return t.Data.Input
	}
	return data
}

func (st *stepper) emit(c Command) { st.out = append(st.out, c) }

// effect emits an effect preceded by the append of its intent: the
// durable-execution protocol in one place.
func (st *stepper) effect(c Command) {
	intent := c
	intent.Kind, intent.Effect = AppendIntent, c.Kind
	if st.m.FaultInvokeBeforeIntent {
		st.out = append(st.out, c, intent)
		return
	}
	st.out = append(st.out, intent, c)
}

func (st *stepper) nextID() uint32 {
	st.s.Seq++
	return st.s.Seq
}

// spawn adds a thread and returns its id. Threads are addressed by id
// because spawning may move the slice that holds them.
func (st *stepper) spawn(parent, index uint32) uint32 {
	id := st.nextID()
	t := Thread{ID: id, Parent: parent, Index: index, State: No}
	if st.s.Data != nil {
		t.Data = &ThreadData{}
	}
	st.s.Threads = append(st.s.Threads, t)
	return id
}

func (st *stepper) remove(id uint32) {
	ts := st.s.Threads
	for i := range ts {
		if ts[i].ID == id {
			copy(ts[i:], ts[i+1:])
			ts[len(ts)-1] = Thread{}
			st.s.Threads = ts[:len(ts)-1]
			return
		}
	}
}

// enter moves thread id into state i with the given raw input (and
// variables, for a new thread), and asks the first question of the state.
func (st *stepper) enter(id uint32, i int, input, vars []byte) {
	t := st.s.Thread(id)
	st.enterThread(t, i, input, vars)
}

func (st *stepper) enterThread(t *Thread, i int, input, vars []byte) {
	t.State = int32(i)
	t.Attempt = 0
	t.Uncertain = false
	t.Retries = [MaxRetriers]uint32{}
	t.Total, t.Started, t.Finished, t.Limit = 0, 0, 0, 0
	if t.Data != nil {
		d := t.Data
		d.Input, d.Effective, d.Result, d.Key = input, nil, nil, ""
		d.Items, d.Results = nil, nil
		d.Entered = st.now
		if vars != nil {
			d.Vars = vars
		}
	}
	switch st.m.States[i].Kind {
	case KindPass, KindSucceed:
		st.decide(t, DecideOutput)
	case KindChoice:
		st.decide(t, DecideChoice)
	case KindFail:
		st.decide(t, DecideFail)
	default:
		st.decide(t, DecideInput)
	}
}

func (st *stepper) decide(t *Thread, k DecideKind) {
	t.Phase, t.Decide, t.Wait = PhaseDecide, k, 0
	st.emit(st.m.question(t))
}

// question is the Decide command of the question thread t waits on.
func (m *Machine) question(t *Thread) Command {
	c := Command{Kind: Decide, Thread: t.ID, State: t.State, Fn: No, Decide: t.Decide, Catcher: t.Catcher,
		Err: t.Err, Cause: t.Cause, Attempt: t.Attempt}
	if t.Decide == DecideJitter {
		c.Delay = m.States[t.State].retriers(t)[t.Catcher].Delay(int(t.Retries[t.Catcher]))
	}
	return c
}

func (st *stepper) invoke(t *Thread) {
	t.Phase, t.Wait = PhaseRun, st.nextID()
	if t.Comp {
		t.Attempt++
	}
	st.effect(st.m.invocation(t))
}

// invocation is the Invoke command of the invocation thread t waits for.
func (m *Machine) invocation(t *Thread) Command {
	sp := &m.States[t.State]
	c := Command{Kind: Invoke, ID: t.Wait, Thread: t.ID, State: t.State, Fn: int32(sp.Fn), Attempt: t.Attempt,
		Timeout: sp.Timeout, Heartbeat: sp.Heartbeat, Callback: sp.Callback}
	if t.Comp {
		c.Comp, c.Callback, c.Timeout, c.Heartbeat = true, false, 0, 0
		c.Fn = int32(sp.Compensate)
		if t.OnFail {
			c.Fn = int32(sp.OnFailure)
		}
	}
	if d := t.Data; d != nil {
		c.Input, c.Key = d.Effective, d.Key
		if d.Timeout > 0 {
			c.Timeout = d.Timeout
		}
		if d.Heartbeat > 0 {
			c.Heartbeat = d.Heartbeat
		}
	}
	return c
}

func (st *stepper) timer(t *Thread, p Phase, delay time.Duration, until int64) {
	if until == 0 && st.now != 0 {
		// The deadline is fixed now, from the driver's clock, so that a
		// restart re-arms the timer for what is left, not its whole delay.
		until = st.now + int64(delay)
	}
	t.Phase, t.Wait, t.Delay, t.Until = p, st.nextID(), delay, until
	st.effect(timerCommand(t))
}

func timerCommand(t *Thread) Command {
	return Command{Kind: StartTimer, ID: t.Wait, Thread: t.ID, State: t.State, Fn: No, Delay: t.Delay, Until: t.Until}
}

// fork starts the children of a parallel (n branches) or map (n items)
// state.
func (st *stepper) fork(t *Thread, n uint32, items [][]byte) {
	t.Phase, t.Wait = PhaseFork, 0
	t.Total, t.Started, t.Finished = n, 0, 0
	if t.Data != nil {
		t.Data.Items = items
		t.Data.Results = make([][]byte, n)
	}
	if n == 0 {
		st.decide(t, DecideOutput)
		return
	}
	st.startChildren(t.ID)
}

// startChildren starts as many children of parent as its limit allows.
func (st *stepper) startChildren(parent uint32) {
	for {
		p := st.s.Thread(parent)
		sp := &st.m.States[p.State]
		if p.Started >= p.Total || (p.Limit > 0 && p.Started-p.Finished >= p.Limit) {
			return
		}
		i := p.Started
		p.Started++
		var input, vars []byte
		graph := sp.Processor
		if sp.Kind == KindParallel {
			graph = sp.Branches[i]
		}
		if p.Data != nil {
			vars = p.Data.Vars
			if sp.Kind == KindParallel {
				input = p.Data.Effective
			} else {
				input = p.Data.Items[i]
			}
		}
		id := st.spawn(parent, i)
		st.enter(id, st.m.Graphs[graph].Start, input, vars)
	}
}

// advance moves a thread past a state that produced output.
func (st *stepper) advance(t *Thread, output []byte) {
	sp := &st.m.States[t.State]
	if sp.Next != No && sp.Kind != KindSucceed {
		st.enterThread(t, sp.Next, output, nil)
		return
	}
	// The end of a graph.
	if t.Parent == 0 {
		st.remove(t.ID)
		st.s.Status = Succeeded
		if st.s.Data != nil {
			st.s.Data.Output = output
		}
		st.cancelTimer()
		st.emit(Command{Kind: Finish, Status: Succeeded, State: No, Fn: No})
		return
	}
	parent, index := t.Parent, t.Index
	st.remove(t.ID)
	p := st.s.Thread(parent)
	if p.Data != nil {
		p.Data.Results[index] = output
	}
	p.Finished++
	if p.Finished == p.Total {
		st.decide(p, DecideOutput)
		return
	}
	st.startChildren(parent)
}

// handle deals with an error in thread t's current state: retry, catch, or
// fail the thread.
// failure is an error on its way up: a name and a cause, either of which
// may be JSON null (a fail state without them).
type failure struct {
	err, cause         string
	errNull, causeNull bool
}

func (st *stepper) handle(t *Thread, f failure) {
	err := f.err
	sp := &st.m.States[t.State]
	retry := sp.retriers(t)
	// Children of a failing parallel or map stop at once.
	id := t.ID
	st.cancelDescendants(id)
	t = st.s.Thread(id)
	for k, r := range retry {
		if !Matches(r.Errors, err) {
			continue
		}
		if int(t.Retries[k]) < r.MaxAttempts {
			t.Retries[k]++
			delay := r.Delay(int(t.Retries[k]))
			if r.FullJitter && delay > 0 {
				t.Catcher = int32(k)
				st.decide(t, DecideJitter)
				return
			}
			st.timer(t, PhaseBackoff, delay, 0)
			return
		}
		break // the first matching retrier decides, exhausted or not
	}
	if !t.Comp {
		for k, c := range sp.Catch {
			if Matches(c.Errors, err) {
				// The state is left behind; what it may have done stays
				// to be undone if the execution fails later.
				st.pushUncertain(t)
				t.Catcher, t.Err, t.Cause = int32(k), err, f.cause
				st.decide(t, DecideCatch)
				return
			}
		}
	}
	st.fail(t, f)
}

// fail ends thread t with an error that nothing in its state handles.
func (st *stepper) fail(t *Thread, f failure) {
	s := st.s
	if t.Comp {
		// What it was to undo stays done: recorded for an operator, with
		// what the compensation was given.
		m := Mutation{State: t.State, OnFail: t.OnFail}
		if t.Data != nil {
			m.Input = t.Data.Effective
		}
		s.Stuck = append(s.Stuck, m)
		st.remove(t.ID)
		st.compensateNext()
		return
	}
	sp := &st.m.States[t.State]
	st.pushUncertain(t)
	if sp.OnFailure != No {
		m := Mutation{State: t.State, OnFail: true}
		if t.Data != nil {
			m.Input = t.Data.Effective
		}
		s.Done = append(s.Done, m)
	}
	if t.Parent == 0 {
		if s.Data != nil {
			s.Data.ErrNull, s.Data.CauseNull = f.errNull, f.causeNull
		}
		// The failed thread is done; what end abandons is the rest.
		st.remove(t.ID)
		st.end(Failed, f.err, f.cause)
		return
	}
	parent := t.Parent
	st.remove(t.ID)
	st.handle(s.Thread(parent), f)
}

// cancelDescendants stops every thread below id, abandoning their
// invocations and timers.
func (st *stepper) cancelDescendants(id uint32) {
	for i := 0; i < len(st.s.Threads); {
		t := &st.s.Threads[i]
		if t.Parent != id {
			i++
			continue
		}
		child := t.ID
		st.cancelWait(t)
		st.cancelDescendants(child)
		st.remove(child)
		i = 0 // removal shifts the slice; start over (threads are few)
	}
}

// cancelWait abandons what thread t waits for. An invocation abandoned in
// flight may still take effect: it is recorded as uncertain.
func (st *stepper) cancelWait(t *Thread) {
	if t.Phase == PhaseRun && !t.Comp {
		t.Uncertain = true
	}
	st.pushUncertain(t)
	switch t.Phase {
	case PhaseRun:
		st.emit(Command{Kind: CancelInvoke, ID: t.Wait, Thread: t.ID, State: t.State, Fn: No})
	case PhaseBackoff, PhaseTimer:
		st.emit(Command{Kind: CancelTimer, ID: t.Wait, Thread: t.ID, State: t.State, Fn: No})
	}
}

func (st *stepper) cancelTimer() {
	if st.s.Timer != 0 {
		st.emit(Command{Kind: CancelTimer, ID: st.s.Timer, State: No, Fn: No})
		st.s.Timer = 0
	}
}

// end stops every thread and compensates the completed mutations; the
// execution then ends with status final (or a compensation status).
func (st *stepper) end(final Status, err, cause string) {
	s := st.s
	for i := range s.Threads {
		st.cancelWait(&s.Threads[i])
	}
	for i := range s.Threads {
		s.Threads[i] = Thread{}
	}
	s.Threads = s.Threads[:0]
	st.cancelTimer()
	if final == Failed && len(s.Done) > 0 {
		final = Compensated
	}
	s.Final, s.Err, s.Cause = final, err, cause
	st.compensateNext()
}

// compensateNext undoes the most recent completed mutation, or finishes
// the execution when none is left.
func (st *stepper) compensateNext() {
	s := st.s
	if len(s.Done) == 0 {
		s.Status = s.Final
		if s.CompFailed() {
			s.Status = CompensationFailed
		}
		st.emit(Command{Kind: Finish, Status: s.Status, Err: s.Err, Cause: s.Cause, State: No, Fn: No})
		return
	}
	s.Status = Compensating
	m := s.Done[len(s.Done)-1]
	s.Done = s.Done[:len(s.Done)-1]
	id := st.spawn(0, 0)
	t := s.Thread(id)
	t.Comp, t.OnFail, t.State = true, m.OnFail, m.State
	if t.Data != nil {
		t.Data.Effective = compensationInput(m)
	}
	st.invoke(t)
}

// compensationInput is what a compensation receives: the input and the
// result of the step it undoes.
func compensationInput(m Mutation) []byte {
	b := make([]byte, 0, len(m.Input)+len(m.Result)+24)
	b = append(b, `{"input":`...)
	b = appendJSON(b, m.Input)
	b = append(b, `,"result":`...)
	b = appendJSON(b, m.Result)
	if m.Uncertain {
		b = append(b, `,"uncertain":true`...)
	}
	return append(b, '}')
}

func appendJSON(b, v []byte) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

// retriers returns the retry policy that applies to thread t in this
// state: the state's own, or its compensation's.
func (sp *Spec) retriers(t *Thread) []RetrySpec {
	switch {
	case !t.Comp:
		return sp.Retry
	case t.OnFail:
		return sp.OnFailureRetry
	}
	return sp.CompRetry
}

// pushUncertain records, for a compensable step whose effect is uncertain
// (an attempt timed out or was abandoned in flight) and which ends without
// completing, a mutation to undo if the execution fails: its compensation
// runs with "uncertain": true and must tolerate finding nothing to undo.
func (st *stepper) pushUncertain(t *Thread) {
	if !t.Uncertain || t.Comp {
		return
	}
	t.Uncertain = false
	sp := &st.m.States[t.State]
	if sp.Compensate == No {
		return
	}
	m := Mutation{State: t.State, Uncertain: true}
	if t.Data != nil {
		m.Input = t.Data.Effective
	}
	st.s.Done = append(st.s.Done, m)
}

// executionTimer is the StartTimer of the whole-execution timeout: its
// deadline counts from the start, whenever it is (re-)armed.
func (m *Machine) executionTimer(s *Execution) Command {
	c := Command{Kind: StartTimer, ID: s.Timer, State: No, Fn: No, Delay: m.Timeout}
	if s.Data != nil && s.Data.Start != 0 {
		c.Until = s.Data.Start + int64(m.Timeout)
	}
	return c
}
