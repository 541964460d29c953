package model

import (
	"fmt"
	"testing"
)

// world answers what a driver must answer in an abstract run (no data):
// the outcome of each invocation and the answer to each question.
type world struct {
	// invoke returns the outcome of an invocation: an event kind
	// (EvSucceeded, EvFailed, EvTimedOut) and the error of a failure.
	invoke func(m *Machine, c Command) (EventKind, string)
	// branch picks a choice branch (No for the default).
	branch func(m *Machine, c Command) int32
	// items is the size of every map.
	items uint32
}

var allSucceed = world{}

func (w world) answer(m *Machine, c Command) Event {
	e := Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide}
	sp := &m.States[c.State]
	switch c.Decide {
	case DecideInput:
		if sp.Kind == KindMap {
			e.Count = w.items
			if e.Count == 0 {
				e.Count = 2
			}
		}
	case DecideChoice:
		switch {
		case w.branch != nil:
			e.Branch = w.branch(m, c)
		case len(sp.Choices) > 0:
			e.Branch = 0
		default:
			e.Branch = No
		}
		if e.Branch == No && sp.Default == No {
			e.Err = ErrNoChoiceMatched
		}
	case DecideFail:
		e.Err = "Failed"
		if sp.Src != nil && sp.Src.Error != "" {
			e.Err = sp.Src.Error
		}
	case DecideJitter:
		e.Delay = c.Delay / 2
	}
	return e
}

func (w world) outcome(m *Machine, c Command) Event {
	kind, err := EvSucceeded, ""
	if w.invoke != nil {
		kind, err = w.invoke(m, c)
	}
	return Event{Kind: kind, ID: c.ID, Err: err}
}

// trace is what an abstract run did.
type trace struct {
	log      []Record  // what a durable log would hold
	invoked  []Command // invocations in the order performed
	commands []Command
	final    *Execution
}

// runAbstract drives m in FIFO order for at most maxSteps events,
// checking the protocol on every step: each Invoke and StartTimer comes
// after its intent. With mustEnd, the run must reach a terminal status.
func runAbstract(t testing.TB, m *Machine, w world, maxSteps int, mustEnd bool) trace {
	t.Helper()
	s := &Execution{}
	var tr trace
	queue := []Event{{Kind: EvStart}}
	var out []Command
	for steps := 0; len(queue) > 0; steps++ {
		if steps > maxSteps {
			if mustEnd {
				t.Fatalf("no end after %d steps; status %s", maxSteps, s.Status)
			}
			break
		}
		e := queue[0]
		queue = queue[1:]
		var err error
		out, err = m.Step(s, e, out[:0])
		if err != nil {
			continue // a stale completion of a cancelled invocation
		}
		if err := checkProtocol(out); err != nil {
			t.Fatalf("step %v: %v", e, err)
		}
		ev := e
		tr.log = append(tr.log, Record{Event: &ev})
		for _, c := range out {
			tr.commands = append(tr.commands, c)
			switch c.Kind {
			case AppendIntent:
				cc := c
				tr.log = append(tr.log, Record{Intent: &cc})
			case Invoke:
				tr.invoked = append(tr.invoked, c)
				queue = append(queue, w.outcome(m, c))
			case StartTimer:
				queue = append(queue, Event{Kind: EvTimerFired, ID: c.ID})
			case Decide:
				queue = append(queue, w.answer(m, c))
			}
		}
	}
	if mustEnd && !s.Status.Terminal() {
		t.Fatalf("run ended with status %s", s.Status)
	}
	tr.final = s
	return tr
}

// checkProtocol checks the output of one Step: it starts with the append
// of the event, all appends come before any effect, and every effect
// follows the append of its intent.
func checkProtocol(out []Command) error {
	if len(out) == 0 || out[0].Kind != AppendEvent {
		return fmt.Errorf("first command is not the event's append: %v", out)
	}
	intents := map[uint32]bool{}
	appending := true
	for _, c := range out {
		switch c.Kind {
		case AppendEvent, AppendIntent:
			if !appending {
				return fmt.Errorf("append after an effect: %v", out)
			}
			intents[c.ID] = c.Kind == AppendIntent
		default:
			appending = false
			if (c.Kind == Invoke || c.Kind == StartTimer) && !intents[c.ID] {
				return fmt.Errorf("%v without its intent before it", c)
			}
		}
	}
	return nil
}
