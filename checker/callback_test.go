package checker

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

// TestUnansweredCallback pins down the world's move "a callback is never
// answered": offered for a callback whose state has no timeout and no
// heartbeat, it leaves the execution waiting forever, which NoDeadlock
// reports at the callback state with the shortest trace; a timeout or a
// heartbeat (the engine's timer ends the wait) or an execution timeout
// take the move's consequence away. Nothing else is reported: not
// NoDanglingState (a deadlock is not dangling), not Termination.
func TestUnansweredCallback(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		// want: the violated invariants; at: the state NoDeadlock names;
		// msg: what its message says.
		want []Invariant
		at   string
		msg  []string
		// recover: every deadlocked state, crashed and recovered, is the
		// same deadlock again (the callback is still not answered).
		recover bool
	}{
		{name: "callback without timeout", src: `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, next: Done}
- {name: Done, type: succeed}
`, want: []Invariant{NoDeadlock}, at: "Ask",
			msg: []string{`callback state "Ask" has no timeout or heartbeat: if nobody answers, the execution waits forever`}},
		{name: "callback with timeout", src: `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, timeout: 72h, catch: [{errors: [States.Timeout], next: Done}], next: Done}
- {name: Done, type: succeed}
`},
		{name: "callback with heartbeat", src: `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, heartbeat: 10m, catch: [{errors: [States.HeartbeatTimeout], next: Done}], next: Done}
- {name: Done, type: succeed}
`},
		{name: "callback with a timeout from the input", src: `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, timeout_path: $.deadline, next: Done}
- {name: Done, type: succeed}
`},
		{name: "callback under an execution timeout", src: `
version: "1.0"
timeout: 1h
states:
- {name: Ask, action: ask, callback: true, next: Done}
- {name: Done, type: succeed}
`},
		{name: "callback inside a parallel branch", src: `
version: "1.0"
states:
- name: Review
  branches:
  - states: [{name: SignOff, action: sign-off, callback: true, end: true}]
  - states: [{name: Check, action: check, timeout: 30s, end: true}]
  next: Done
- {name: Done, type: succeed}
`, want: []Invariant{NoDeadlock}, at: "SignOff",
			msg: []string{`callback state "SignOff" has no timeout or heartbeat`, `parallel state "Review" waits for it and never joins`}},
		{name: "callback inside a map", src: `
version: "1.0"
states:
- name: Each
  processor:
    states: [{name: Confirm, action: confirm, callback: true, end: true}]
  end: true
`, want: []Invariant{NoDeadlock}, at: "Confirm", msg: []string{`map state "Each" waits for it`}},
		{name: "callback after a crash and recovery", src: `
version: "1.0"
states:
- {name: Prepare, action: prepare, next: Ask}
- {name: Ask, action: ask, callback: true, next: Done}
- {name: Done, type: succeed}
`, want: []Invariant{NoDeadlock}, at: "Ask", recover: true},
		{name: "callback mutation: its compensation is no callback", src: `
version: "1.0"
states:
- {name: Hold, action: hold, callback: true, timeout: 1h, mutates: true, compensate: release, next: Fail}
- {name: Fail, action: fail, end: true}
`},
		{name: "a cancellation request is no move of its own", src: `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, end: true}
`, opts: Options{Cancel: true}, want: []Invariant{NoDeadlock}, at: "Ask", recover: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := compile(t, tt.src)
			r := check(t, m, tt.opts)
			if got := violated(r); !slices.Equal(got, tt.want) {
				t.Fatalf("violated %v, want %v", got, tt.want)
			}
			if !r.Complete {
				t.Fatal("incomplete")
			}
			for _, w := range r.Witnesses {
				if w.Name == "Succeeds" && !w.Reached {
					t.Error("no execution succeeds")
				}
			}
			if len(tt.want) == 0 {
				return
			}
			v := r.Result(NoDeadlock).Violations[0]
			if v.State.Name != tt.at || v.State.Line == 0 {
				t.Errorf("at %+v, want %s with its position", v.State, tt.at)
			}
			for _, want := range tt.msg {
				if !strings.Contains(v.Message, want) {
					t.Errorf("message %q lacks %q", v.Message, want)
				}
			}
			if v.Trace == nil || len(v.Trace.Steps) == 0 {
				t.Fatal("no trace")
			}
			unanswered := 0
			for _, s := range v.Trace.Steps {
				if s.Move.Kind == "unanswered" {
					unanswered++
					if !strings.Contains(s.Event, "is never answered") {
						t.Errorf("step %q", s.Event)
					}
				}
				if s.Move.Kind == "crash" || s.Move.Kind == "cancel" {
					t.Errorf("the shortest trace takes a %s", s.Move.Kind)
				}
			}
			if last := v.Trace.Steps[len(v.Trace.Steps)-1]; unanswered != 1 || !strings.Contains(last.After, "never answered") {
				t.Errorf("%d unanswered moves; last step ends %q", unanswered, last.After)
			}
			g, err := Explore(context.Background(), m, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.recover {
				checkRecoveryStillDeadlocks(t, g)
			}
			// The symmetry reductions change no verdict.
			if full := check(t, m, Options{Cancel: tt.opts.Cancel, NoSymmetry: true}); !slices.Equal(violated(full), tt.want) {
				t.Errorf("without symmetry: violated %v", violated(full))
			}
		})
	}
}

// checkRecoveryStillDeadlocks crashes every deadlocked state of g and
// performs what recovery queued: the execution is back in the same
// deadlock, its callback still unanswered.
func checkRecoveryStillDeadlocks(t *testing.T, g *Graph) {
	t.Helper()
	x := newExpander(g.m, g.opts)
	n := 0
	for i := 0; i < g.NumStates(); i++ {
		if g.flags[i]&sDeadlock == 0 {
			continue
		}
		n++
		var a inst
		if err := a.decode(g.Encoding(i)); err != nil {
			t.Fatal(err)
		}
		if len(a.silent) == 0 {
			t.Fatalf("state %d deadlocks with no unanswered callback", i)
		}
		x.curEnc = g.Encoding(i)
		if moves := x.expand(&a); moves != 0 {
			t.Fatalf("state %d: %d moves in a deadlock", i, moves)
		}
		var cur inst
		for _, w := range x.succ {
			if w.flags&fCrash != 0 {
				w.in.copyInto(&cur)
			}
		}
		if len(cur.queue) == 0 || !slices.Equal(cur.silent, a.silent) {
			t.Fatalf("state %d: after a crash, queue %v, unanswered %v (was %v)", i, cur.queue, cur.silent, a.silent)
		}
		for steps := 0; len(cur.queue) > 0; steps++ {
			if steps > 10 {
				t.Fatalf("state %d: recovery does not settle", i)
			}
			x.curEnc = cur.appendEncoding(nil)
			x.expand(&cur)
			var next inst
			for _, w := range x.succ {
				if w.flags&fCrash == 0 {
					w.in.copyInto(&next)
				}
			}
			cur = next
		}
		x.curEnc = cur.appendEncoding(nil)
		if moves := x.expand(&cur); moves != 0 || !bytes.Equal(x.curEnc, g.Encoding(i)) {
			t.Errorf("state %d: recovered to a state with %d moves (same as before the crash: %v)", i, moves, bytes.Equal(x.curEnc, g.Encoding(i)))
		}
		x.releaseAll()
	}
	if n == 0 {
		t.Fatal("no deadlocked state")
	}
}

// TestUnansweredIsEncoded checks that whether a callback will be answered
// is part of a state: the two states, one with its callback in flight and
// one with it never answered, are distinct and both round-trip.
func TestUnansweredIsEncoded(t *testing.T) {
	m := compile(t, `
version: "1.0"
states:
- {name: Ask, action: ask, callback: true, end: true}
`)
	g, err := Explore(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, silent int
	for i := 0; i < g.NumStates(); i++ {
		var a inst
		if err := a.decode(g.Encoding(i)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.appendEncoding(nil), g.Encoding(i)) {
			t.Fatalf("state %d does not round-trip", i)
		}
		if a.exec.Status == model.Running && len(a.queue) == 0 && len(a.sent) == 1 {
			if len(a.silent) == 1 {
				silent++
			} else {
				inFlight++
			}
		}
	}
	if inFlight != 1 || silent != 1 {
		t.Errorf("%d states with the callback in flight, %d with it never answered; want 1 and 1", inFlight, silent)
	}
}
