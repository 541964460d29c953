package model

import "fmt"

// The durable-execution protocol, as pure code.
//
// A driver runs an execution by repeating: take an event, Step, perform
// the returned commands in order. Step puts the appends of one event first
// (the event itself, then the intent of each effect), so a driver makes
// them durable in one write and only then performs the effects: no
// invocation or timer can start without its intent in the log.
//
// After a crash the log holds a prefix of what was appended. Recover
// replays its events and returns what must happen again: every invocation
// and timer whose intent is logged without an outcome is re-issued (with
// the same id, hence the same idempotency key, so a function that honours
// keys applies its effect at most once), an intent that was lost with the
// crash is appended again before its effect, and every open question is
// asked again.

// Record is one entry of an execution's log: an event that was stepped, or
// the intent of an effect (an AppendIntent command).
type Record struct {
	Event  *Event
	Intent *Command
}

// Recover rebuilds an execution from its log and returns the commands
// that resume it. It fails if an event in the log does not apply, which
// means the log was not written by this machine or was damaged.
func (m *Machine) Recover(log []Record) (*Execution, []Command, error) {
	return m.RecoverFrom(&Execution{}, log)
}

// RecoverFrom is Recover starting from a snapshot (an execution state
// that covers a prefix of the log) and the records after it.
func (m *Machine) RecoverFrom(snapshot *Execution, tail []Record) (*Execution, []Command, error) {
	if err := m.Verify(snapshot); err != nil {
		return nil, nil, fmt.Errorf("recover: snapshot: %w", err)
	}
	s := snapshot.Clone()
	logged := map[uint32]bool{}
	var scratch []Command
	for i, r := range tail {
		switch {
		case r.Intent != nil:
			logged[r.Intent.ID] = true
		case r.Event != nil:
			var err error
			if scratch, err = m.Step(s, *r.Event, scratch[:0]); err != nil {
				return nil, nil, fmt.Errorf("recover: record %d: %w", i, err)
			}
		}
	}
	return s, m.Pending(s, func(id uint32) bool { return logged[id] || id <= snapshotSeq(snapshot) }), nil
}

// snapshotSeq is the last id a snapshot had handed out: their intents were
// logged before the snapshot was taken.
func snapshotSeq(s *Execution) uint32 { return s.Seq }

// Pending returns the commands that resume execution s: for every thread,
// the question it waits on, or the invocation or timer it waits for,
// preceded by the append of its intent when logged(id) is false.
func (m *Machine) Pending(s *Execution, logged func(id uint32) bool) []Command {
	return m.AppendPending(nil, s, logged)
}

// AppendPending is Pending appending to out, for drivers that reuse a
// buffer (the model checker calls it for every state it expands).
func (m *Machine) AppendPending(out []Command, s *Execution, logged func(id uint32) bool) []Command {
	if s.Status.Terminal() || s.Status == NotStarted {
		return out
	}
	start := len(out)
	if s.Timer != 0 {
		out = append(out, m.executionTimer(s))
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		switch t.Phase {
		case PhaseDecide:
			out = append(out, m.question(t))
		case PhaseRun:
			out = append(out, m.invocation(t))
		case PhaseBackoff, PhaseTimer:
			out = append(out, timerCommand(t))
		}
	}
	// The intents lost with a crash go first, as Step puts appends first.
	end := len(out)
	for i := start; i < end; i++ {
		if c := out[i]; (c.Kind == Invoke || c.Kind == StartTimer) && !logged(c.ID) {
			c.Kind, c.Effect = AppendIntent, c.Kind
			out = append(out, c)
		}
	}
	if len(out) > end {
		effects := append([]Command(nil), out[start:end]...)
		n := copy(out[start:], out[end:])
		copy(out[start+n:], effects)
	}
	return out
}

// Verify checks that an execution state is consistent with the machine:
// every index in range, every parent alive, every phase possible. Decoded
// snapshots are verified before use, so that Step can trust its input.
func (m *Machine) Verify(s *Execution) error {
	if s.Status > TimedOut || s.Final > TimedOut {
		return fmt.Errorf("status %d out of range", s.Status)
	}
	forks := map[uint32]*Thread{} // live threads that may have children
	seen := map[uint32]bool{}
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.ID == 0 || t.ID > s.Seq || seen[t.ID] {
			return fmt.Errorf("thread %d: bad or duplicate id", t.ID)
		}
		seen[t.ID] = true
		if t.State < 0 || int(t.State) >= len(m.States) {
			return fmt.Errorf("thread %d: state %d out of range", t.ID, t.State)
		}
		sp := &m.States[t.State]
		if t.Parent != 0 {
			p := forks[t.Parent]
			if p == nil || t.Index >= p.Total || t.Comp {
				return fmt.Errorf("thread %d: parent %d is not a fan-out before it", t.ID, t.Parent)
			}
		}
		if t.Phase == PhaseFork {
			forks[t.ID] = t
		}
		if t.Phase > PhaseFork || (t.Phase == PhaseDecide && (t.Decide < DecideInput || t.Decide > DecideJitter)) {
			return fmt.Errorf("thread %d: bad phase", t.ID)
		}
		if (t.Phase == PhaseRun || t.Phase == PhaseBackoff || t.Phase == PhaseTimer) && (t.Wait == 0 || t.Wait > s.Seq) {
			return fmt.Errorf("thread %d: bad wait id %d", t.ID, t.Wait)
		}
		if t.Decide == DecideCatch && t.Phase == PhaseDecide && (t.Catcher < 0 || int(t.Catcher) >= len(sp.Catch)) {
			return fmt.Errorf("thread %d: catcher %d out of range", t.ID, t.Catcher)
		}
		if t.Decide == DecideJitter && t.Phase == PhaseDecide && (t.Catcher < 0 || int(t.Catcher) >= len(sp.retriers(t))) {
			return fmt.Errorf("thread %d: retrier %d out of range", t.ID, t.Catcher)
		}
		if t.Phase == PhaseFork && (sp.Kind != KindParallel && sp.Kind != KindMap || t.Finished > t.Started || t.Started > t.Total) {
			return fmt.Errorf("thread %d: bad fan-out", t.ID)
		}
		if t.Comp && (t.Phase == PhaseRun || t.Phase == PhaseBackoff) {
			fn := sp.Compensate
			if t.OnFail {
				fn = sp.OnFailure
			}
			if fn == No {
				return fmt.Errorf("thread %d: compensates a state without compensation", t.ID)
			}
		}
		if d := t.Data; d != nil && t.Phase == PhaseFork && (len(d.Results) != int(t.Total) || (sp.Kind == KindMap && len(d.Items) != int(t.Total))) {
			return fmt.Errorf("thread %d: data does not match fan-out", t.ID)
		}
		if (t.Data == nil) != (s.Data == nil) {
			return fmt.Errorf("thread %d: data and execution disagree on mode", t.ID)
		}
	}
	for _, d := range append(s.Done[:len(s.Done):len(s.Done)], s.Stuck...) {
		if d.State < 0 || int(d.State) >= len(m.States) {
			return fmt.Errorf("mutation of state %d out of range", d.State)
		}
		sp := &m.States[d.State]
		if (d.OnFail && sp.OnFailure == No) || (!d.OnFail && sp.Compensate == No) {
			return fmt.Errorf("mutation of state %q has nothing to run", sp.Name)
		}
	}
	return nil
}
