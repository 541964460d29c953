package model

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// names returns the function names of the invocations, in order.
func names(m *Machine, cs []Command) string {
	var out []string
	for _, c := range cs {
		out = append(out, m.Functions[c.Fn])
	}
	return strings.Join(out, ",")
}

func failing(fn string, times int, err string) func(m *Machine, c Command) (EventKind, string) {
	n := 0
	return func(m *Machine, c Command) (EventKind, string) {
		if m.Functions[c.Fn] == fn && (times < 0 || n < times) {
			n++
			if err == ErrTimeout {
				return EvTimedOut, ""
			}
			return EvFailed, err
		}
		return EvSucceeded, ""
	}
}

func TestStepScenarios(t *testing.T) {
	saga := `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Charge}
- {name: Charge, action: charge, mutates: true, compensate: refund, next: Ship}
- {name: Ship, action: ship, end: true}
`
	tests := []struct {
		name    string
		src     string
		world   world
		status  Status
		err     string
		invoked string // function names in invocation order
	}{
		{"linear", `
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, type: pass, next: C}
- {name: C, action: c, end: true}
`, allSucceed, Succeeded, "", "a,c"},
		{"retry then succeed", `
version: "1.0"
states:
- name: A
  action: a
  end: true
  retry: [{errors: [Boom], max_attempts: 2}]
`, world{invoke: failing("a", 2, "Boom")}, Succeeded, "", "a,a,a"},
		{"retry exhausted fails", `
version: "1.0"
states:
- name: A
  action: a
  end: true
  retry: [{errors: [Boom], max_attempts: 2}]
`, world{invoke: failing("a", -1, "Boom")}, Failed, "Boom", "a,a,a"},
		{"first matching retrier decides", `
version: "1.0"
states:
- name: A
  action: a
  end: true
  retry:
  - {errors: [Boom], max_attempts: 0}
  - {errors: [States.ALL], max_attempts: 5}
`, world{invoke: failing("a", -1, "Boom")}, Failed, "Boom", "a"},
		{"catch routes the error", `
version: "1.0"
states:
- name: A
  action: a
  next: Done
  catch: [{errors: [Boom], next: Recover}]
- {name: Recover, action: recover, end: true}
- {name: Done, type: succeed}
`, world{invoke: failing("a", -1, "Boom")}, Succeeded, "", "a,recover"},
		{"timeout is States.Timeout and TaskFailed does not match it", `
version: "1.0"
states:
- name: A
  action: a
  end: true
  timeout: 1s
  retry: [{errors: [States.TaskFailed], max_attempts: 3}]
`, world{invoke: failing("a", -1, ErrTimeout)}, Failed, ErrTimeout, "a"},
		{"saga compensates in reverse order", saga, world{invoke: failing("ship", -1, "Lost")}, Compensated, "Lost",
			"reserve,charge,ship,refund,release"},
		{"failed compensation is reported", saga, world{invoke: func(m *Machine, c Command) (EventKind, string) {
			switch m.Functions[c.Fn] {
			case "ship", "refund":
				return EvFailed, "Nope"
			}
			return EvSucceeded, ""
		}}, CompensationFailed, "Nope", "reserve,charge,ship,refund,refund,refund,refund,refund,refund,release"},
		{"on_failure handler runs first", `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Transfer}
- name: Transfer
  action: transfer
  end: true
  on_failure: {compensate: reverse-transfer}
`, world{invoke: failing("transfer", -1, "Down")}, Compensated, "Down", "reserve,transfer,reverse-transfer,release"},
		{"parallel branch failure is caught by the parallel", `
version: "1.0"
states:
- name: P
  branches:
  - states: [{name: A, action: a, end: true}]
  - states: [{name: B, action: b, end: true}]
  next: Done
  catch: [{errors: [States.ALL], next: Handle}]
- {name: Handle, action: handle, end: true}
- {name: Done, type: succeed}
`, world{invoke: failing("a", -1, "Boom")}, Succeeded, "", "a,b,handle"},
		{"map runs every item", `
version: "1.0"
states:
- name: M
  processor:
    states: [{name: Item, action: item, end: true}]
  end: true
`, world{items: 3}, Succeeded, "", "item,item,item"},
		{"choice default", `
version: "1.0"
states:
- name: C
  choices: [{variable: $.x, numeric_equals: 1, next: One}]
  default: Other
- {name: One, action: one, end: true}
- {name: Other, action: other, end: true}
`, world{branch: func(*Machine, Command) int32 { return No }}, Succeeded, "", "other"},
		{"no choice matched", `
version: "1.0"
states:
- name: C
  choices: [{variable: $.x, numeric_equals: 1, next: One}]
- {name: One, action: one, end: true}
`, world{branch: func(*Machine, Command) int32 { return No }}, Failed, ErrNoChoiceMatched, ""},
		{"fail state", `
version: "1.0"
states:
- {name: F, type: fail, error: Bad, cause: worse}
`, allSucceed, Failed, "Bad", ""},
		{"wait", `
version: "1.0"
states:
- {name: W, type: wait, seconds: 5, next: A}
- {name: A, action: a, end: true}
`, allSucceed, Succeeded, "", "a"},
		{"full jitter asks for a delay", `
version: "1.0"
states:
- name: A
  action: a
  end: true
  retry: [{errors: [Boom], max_attempts: 1, jitter: full}]
`, world{invoke: failing("a", 1, "Boom")}, Succeeded, "", "a,a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MustCompile(tt.src)
			tr := runAbstract(t, m, tt.world, 1000, true)
			if tr.final.Status != tt.status || tr.final.Err != tt.err {
				t.Errorf("ended %s %q, want %s %q", tr.final.Status, tr.final.Err, tt.status, tt.err)
			}
			if got := names(m, tr.invoked); got != tt.invoked {
				t.Errorf("invoked %s, want %s", got, tt.invoked)
			}
			if len(tr.final.Threads) != 0 || len(tr.final.Done) != 0 {
				t.Errorf("terminal state keeps threads or mutations: %+v", tr.final)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- name: A
  action: a
  end: true
  retry: [{errors: [Boom], max_attempts: 4, interval: 1s, backoff_rate: 3, max_delay: 5s}]
`)
	tr := runAbstract(t, m, world{invoke: failing("a", 4, "Boom")}, 1000, true)
	var delays []time.Duration
	for _, c := range tr.commands {
		if c.Kind == StartTimer {
			delays = append(delays, c.Delay)
		}
	}
	want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second}
	if len(delays) != len(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delay %d = %v, want %v", i, delays[i], want[i])
		}
	}
}

func TestMapConcurrencyLimit(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- name: M
  max_concurrency: 2
  processor:
    states: [{name: Item, action: item, end: true}]
  end: true
`)
	s := &Execution{}
	out, err := m.Step(s, Event{Kind: EvStart}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err = m.Step(s, Event{Kind: EvDecided, Thread: out[1].Thread, Decide: DecideInput, Count: 5}, out[:0])
	if err != nil {
		t.Fatal(err)
	}
	inFlight := func() int {
		n := 0
		for _, th := range s.Threads {
			if th.Parent != 0 {
				n++
			}
		}
		return n
	}
	if n := inFlight(); n != 2 {
		t.Fatalf("%d items started, want 2", n)
	}
	// Finish items one by one: never more than two at a time, five in all.
	seen := map[uint32]bool{}
	for guard := 0; s.Status == Running && guard < 100; guard++ {
		var next []Event
		for _, c := range out {
			switch c.Kind {
			case Decide:
				next = append(next, Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide})
			case Invoke:
				next = append(next, Event{Kind: EvSucceeded, ID: c.ID})
			}
		}
		out = out[:0]
		for _, e := range next {
			if out, err = m.Step(s, e, out); err != nil {
				t.Fatal(err)
			}
			for _, th := range s.Threads {
				if th.Parent != 0 {
					seen[th.ID] = true
				}
			}
			if n := inFlight(); n > 2 {
				t.Fatalf("%d items in flight", n)
			}
		}
	}
	if s.Status != Succeeded || len(seen) != 5 {
		t.Errorf("status %s, %d items started", s.Status, len(seen))
	}
}

func TestStaleEventsRejected(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: b, end: true}
`)
	s := &Execution{}
	out, _ := m.Step(s, Event{Kind: EvStart}, nil)
	out, _ = m.Step(s, Event{Kind: EvDecided, Thread: out[1].Thread, Decide: DecideInput}, out[:0])
	inv := out[2]
	if inv.Kind != Invoke {
		t.Fatalf("want invoke, got %v", out)
	}
	if _, err := m.Step(s, Event{Kind: EvSucceeded, ID: inv.ID}, nil); err != nil {
		t.Fatal(err)
	}
	before := s.AppendEncoding(nil)
	bad := []Event{
		{Kind: EvSucceeded, ID: inv.ID}, // duplicate delivery
		{Kind: EvFailed, ID: inv.ID, Err: "X"},
		{Kind: EvTimerFired, ID: 99},
		{Kind: EvDecided, Thread: 1, Decide: DecideChoice},
		{Kind: EvDecided, Thread: 42, Decide: DecideOutput},
		{Kind: EvStart},
		{Kind: 200},
	}
	for _, e := range bad {
		out, err := m.Step(s, e, nil)
		var re *RejectError
		if !errors.As(err, &re) || len(out) != 0 {
			t.Errorf("%v: err %v, out %v", e, err, out)
		}
		if !bytes.Equal(before, s.AppendEncoding(nil)) {
			t.Fatalf("%v changed the state", e)
		}
	}
}

func TestCancelCompensates(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, mutates: true, compensate: undo-a, next: B}
- {name: B, action: b, end: true}
`)
	s := &Execution{}
	var out []Command
	feed := func(e Event) {
		t.Helper()
		var err error
		if out, err = m.Step(s, e, out[:0]); err != nil {
			t.Fatal(err)
		}
	}
	feed(Event{Kind: EvStart})
	feed(Event{Kind: EvDecided, Thread: 1, Decide: DecideInput})
	feed(Event{Kind: EvSucceeded, ID: out[2].ID})
	feed(Event{Kind: EvDecided, Thread: 1, Decide: DecideOutput})
	feed(Event{Kind: EvDecided, Thread: 1, Decide: DecideInput})
	b := out[2]
	feed(Event{Kind: EvCancel, Cause: "operator"})
	if s.Status != Compensating || out[len(out)-1].Kind != Invoke || m.Functions[out[len(out)-1].Fn] != "undo-a" {
		t.Fatalf("after cancel: %s %v", s.Status, out)
	}
	var cancelled bool
	for _, c := range out {
		cancelled = cancelled || (c.Kind == CancelInvoke && c.ID == b.ID)
	}
	if !cancelled {
		t.Errorf("in-flight invocation of b not abandoned: %v", out)
	}
	feed(Event{Kind: EvSucceeded, ID: out[len(out)-1].ID})
	if s.Status != Cancelled || s.Err != ErrCancelled {
		t.Errorf("status %s %s", s.Status, s.Err)
	}
}

func TestExecutionTimeout(t *testing.T) {
	m := MustCompile(`
version: "1.0"
timeout: 1m
states:
- {name: A, action: a, end: true}
`)
	s := &Execution{}
	out, _ := m.Step(s, Event{Kind: EvStart}, nil)
	if out[1].Kind != AppendIntent || out[1].Effect != StartTimer || out[1].Delay != time.Minute {
		t.Fatalf("no execution timer: %v", out)
	}
	timer := out[1].ID
	if _, err := m.Step(s, Event{Kind: EvTimerFired, ID: timer}, nil); err != nil {
		t.Fatal(err)
	}
	if s.Status != TimedOut {
		t.Errorf("status %s", s.Status)
	}
}

func TestFaultInvokeBeforeIntentBreaksProtocol(t *testing.T) {
	m := MustCompile("version: \"1.0\"\nstates:\n- {name: A, action: a, end: true}\n")
	m.FaultInvokeBeforeIntent = true
	s := &Execution{}
	out, _ := m.Step(s, Event{Kind: EvStart}, nil)
	out, _ = m.Step(s, Event{Kind: EvDecided, Thread: out[1].Thread, Decide: DecideInput}, out[:0])
	if err := checkProtocol(out); err == nil {
		t.Fatalf("protocol check passed a stream with the invocation first: %v", out)
	}
}

// TestRecoverEveryPrefix crashes a run after every record of its log and
// recovers: the state equals the run's state at that point, and every
// in-flight invocation is re-issued with its id.
func TestRecoverEveryPrefix(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: P}
- name: P
  branches:
  - states: [{name: A, action: a, end: true}]
  - states: [{name: B, type: wait, seconds: 1, next: C}, {name: C, action: c, end: true}]
  next: Charge
- name: Charge
  action: charge
  end: true
  retry: [{errors: [Boom], max_attempts: 1}]
`)
	tr := runAbstract(t, m, world{invoke: failing("charge", -1, "Boom")}, 1000, true)
	if tr.final.Status != Compensated {
		t.Fatalf("status %s", tr.final.Status)
	}
	// Replay the whole log: the same final state.
	s, pending, err := m.Recover(tr.log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.AppendEncoding(nil), tr.final.AppendEncoding(nil)) || len(pending) != 0 {
		t.Fatalf("replay differs: %+v pending %v", s, pending)
	}
	for cut := 1; cut < len(tr.log); cut++ {
		s, pending, err := m.Recover(tr.log[:cut])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := m.Verify(s); err != nil {
			t.Fatalf("cut %d: recovered state inconsistent: %v", cut, err)
		}
		logged := map[uint32]bool{}
		for _, r := range tr.log[:cut] {
			if r.Intent != nil {
				logged[r.Intent.ID] = true
			}
		}
		announced := map[uint32]bool{}
		for _, c := range pending {
			switch c.Kind {
			case AppendIntent:
				announced[c.ID] = true
			case Invoke, StartTimer:
				if !logged[c.ID] && !announced[c.ID] {
					t.Fatalf("cut %d: %v re-issued without its intent", cut, c)
				}
			}
		}
		for _, th := range s.Threads {
			if th.Phase != PhaseRun {
				continue
			}
			found := false
			for _, c := range pending {
				found = found || (c.Kind == Invoke && c.ID == th.Wait)
			}
			if !found {
				t.Fatalf("cut %d: invocation #%d in flight but not re-issued", cut, th.Wait)
			}
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, mutates: true, compensate: undo, next: M}
- name: M
  processor: {states: [{name: I, action: i, end: true}]}
  end: true
`)
	s := &Execution{}
	var out []Command
	out, _ = m.Step(s, Event{Kind: EvStart, Data: []byte(`{"x":1}`), Time: 5}, out[:0])
	out, _ = m.Step(s, Event{Kind: EvDecided, Thread: 1, Decide: DecideInput, Data: []byte(`{"x":1}`)}, out[:0])
	out, _ = m.Step(s, Event{Kind: EvSucceeded, ID: out[2].ID, Data: []byte(`"ok"`)}, out[:0])
	_, _ = m.Step(s, Event{Kind: EvDecided, Thread: 1, Decide: DecideOutput, Data: []byte(`[1,2]`)}, out[:0])
	_, err := m.Step(s, Event{Kind: EvDecided, Thread: 1, Decide: DecideInput, Count: 2, Items: [][]byte{[]byte("1"), []byte("2")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := s.AppendEncoding(nil)
	d, err := DecodeExecution(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.AppendEncoding(nil), enc) {
		t.Fatal("decode∘encode is not the identity")
	}
	if err := m.Verify(d); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		if _, err := DecodeExecution(enc[:i]); err == nil {
			t.Fatalf("truncated encoding (%d of %d bytes) decoded", i, len(enc))
		}
	}
}

func FuzzDecodeExecution(f *testing.F) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, mutates: true, compensate: undo, next: P}
- name: P
  branches: [{states: [{name: B, action: b, end: true}]}]
  end: true
`)
	tr := runAbstract(f, m, allSucceed, 100, true)
	s := &Execution{}
	for _, r := range tr.log {
		if r.Event != nil {
			_, _ = m.Step(s, *r.Event, nil)
			f.Add(s.AppendEncoding(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeExecution(b)
		if err != nil {
			return
		}
		if err := m.Verify(s); err != nil {
			return
		}
		// A verified state can be driven without panics.
		for _, c := range m.Pending(s, func(uint32) bool { return true }) {
			switch c.Kind {
			case Invoke:
				_, _ = m.Step(s, Event{Kind: EvFailed, ID: c.ID, Err: "X"}, nil)
			case Decide:
				_, _ = m.Step(s, Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide}, nil)
			case StartTimer:
				_, _ = m.Step(s, Event{Kind: EvTimerFired, ID: c.ID}, nil)
			}
		}
	})
}

// TestRenumberMakesLoopsFinite runs a polling loop: without renumbering
// every iteration is a new state; with it, iterations repeat.
func TestRenumberMakesLoopsFinite(t *testing.T) {
	m := MustCompile(`
version: "1.0"
states:
- {name: Poll, action: poll, next: Check}
- name: Check
  choices: [{condition: input.done, next: Done}]
  default: Poll
- {name: Done, type: succeed}
`)
	s := &Execution{}
	seen := map[string]int{}
	var out []Command
	var queue []Event
	out, _ = m.Step(s, Event{Kind: EvStart}, out[:0])
	for round := 0; round < 50; round++ {
		for _, c := range out {
			switch c.Kind {
			case Decide:
				e := Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide}
				if c.Decide == DecideChoice {
					e.Branch = No // never done: loop
				}
				queue = append(queue, e)
			case Invoke:
				queue = append(queue, Event{Kind: EvSucceeded, ID: c.ID})
			}
		}
		e := queue[0]
		queue = queue[1:]
		var err error
		if out, err = m.Step(s, e, out[:0]); err != nil {
			t.Fatal(err)
		}
		c := s.Clone()
		renames := map[uint32]uint32{}
		c.Renumber(func(o, n uint32) { renames[o] = n })
		if err := m.Verify(c); err != nil {
			t.Fatalf("renumbered state invalid: %v", err)
		}
		if th := s.Threads[0]; renames[th.ID] != c.Threads[0].ID || (th.Wait != 0 && renames[th.Wait] != c.Threads[0].Wait) {
			t.Fatalf("rename callback disagrees with the state")
		}
		seen[string(c.AppendEncoding(nil))]++
	}
	if len(seen) > 6 {
		t.Errorf("%d distinct renumbered states in a loop of 3 states", len(seen))
	}
}

// TestUncertainEffectsAreCompensated: a compensable step whose effect is
// uncertain — an attempt timed out, or it was abandoned in flight — is
// undone when the execution fails, its compensation told so.
func TestUncertainEffectsAreCompensated(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		world   world
		status  Status
		invoked string
	}{
		{"timed out, then failed for good", `
version: "1.0"
states:
- {name: Charge, action: charge, mutates: true, compensate: refund, idempotency: input.id, end: true, timeout: 1s,
   retry: [{errors: [States.Timeout], max_attempts: 1}]}
`, world{invoke: func(m *Machine, c Command) (EventKind, string) {
			if m.Functions[c.Fn] == "charge" {
				if c.Attempt == 1 {
					return EvTimedOut, ""
				}
				return EvFailed, "Declined"
			}
			return EvSucceeded, ""
		}}, Compensated, "charge,charge,refund"},
		{"timed out, caught, then a later step fails", `
version: "1.0"
states:
- name: Charge
  action: charge
  mutates: true
  compensate: refund
  timeout: 1s
  catch: [{errors: [States.Timeout], next: Ship}]
  next: Ship
- {name: Ship, action: ship, end: true}
`, world{invoke: func(m *Machine, c Command) (EventKind, string) {
			switch m.Functions[c.Fn] {
			case "charge":
				return EvTimedOut, ""
			case "ship":
				return EvFailed, "Lost"
			}
			return EvSucceeded, ""
		}}, Compensated, "charge,ship,refund"},
		{"abandoned in flight when a sibling branch fails", `
version: "1.0"
states:
- name: Both
  branches:
  - states: [{name: Charge, action: charge, mutates: true, compensate: refund, end: true}]
  - states: [{name: Check, action: check, end: true}]
  end: true
`, world{invoke: func(m *Machine, c Command) (EventKind, string) {
			if m.Functions[c.Fn] == "check" {
				return EvFailed, "Fraud"
			}
			return EvSucceeded, ""
		}}, Compensated, "charge,check,refund"},
		{"a timeout followed by success is one effect, undone once", `
version: "1.0"
states:
- {name: Charge, action: charge, mutates: true, compensate: refund, idempotency: input.id, timeout: 1s,
   retry: [{errors: [States.Timeout], max_attempts: 1}], next: Ship}
- {name: Ship, action: ship, end: true}
`, world{invoke: func(m *Machine, c Command) (EventKind, string) {
			switch {
			case m.Functions[c.Fn] == "charge" && c.Attempt == 1:
				return EvTimedOut, ""
			case m.Functions[c.Fn] == "ship":
				return EvFailed, "Lost"
			}
			return EvSucceeded, ""
		}}, Compensated, "charge,charge,ship,refund"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MustCompile(tt.src)
			tr := runAbstract(t, m, tt.world, 1000, true)
			if tr.final.Status != tt.status {
				t.Errorf("status %s, want %s", tr.final.Status, tt.status)
			}
			if got := names(m, tr.invoked); got != tt.invoked {
				t.Errorf("invoked %s, want %s", got, tt.invoked)
			}
		})
	}
	// With data, the compensation is told the effect is uncertain.
	mut := Mutation{State: 0, Uncertain: true, Input: []byte(`{"id":1}`)}
	if got := string(compensationInput(mut)); got != `{"input":{"id":1},"result":null,"uncertain":true}` {
		t.Errorf("compensation input %s", got)
	}
}

// TestTimersKeepTheirDeadline: a restart re-arms a timer for what is left
// of it, not its whole delay.
func TestTimersKeepTheirDeadline(t *testing.T) {
	m := MustCompile("version: \"1.0\"\ntimeout: 5m\nstates:\n- {name: W, type: wait, seconds: 60, next: A}\n- {name: A, action: a, end: true}\n")
	s := &Execution{}
	start := int64(1e18)
	out, _ := m.Step(s, Event{Kind: EvStart, Data: []byte(`{}`), Time: start}, nil)
	if out[0].Kind != AppendEvent || out[0].State != No || out[0].Fn != No {
		t.Errorf("append of the event: %+v", out[0])
	}
	_, err := m.Step(s, Event{Kind: EvDecided, Thread: 2, Decide: DecideInput, Delay: time.Minute, Time: start + 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Pending(s, func(uint32) bool { return true }) {
		switch {
		case c.Kind == StartTimer && c.ID == s.Timer && c.Until != start+int64(5*time.Minute):
			t.Errorf("execution timeout re-armed until %d, want %d", c.Until, start+int64(5*time.Minute))
		case c.Kind == StartTimer && c.ID != s.Timer && c.Until != start+5+int64(time.Minute):
			t.Errorf("wait re-armed until %d", c.Until)
		}
	}
}
