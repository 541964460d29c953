package model

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// machines used by the property tests: between them, every kind of state,
// retries with jitter, catch, compensation and fan-out.
var propertyMachines = []string{`
version: "1.0"
timeout: 1h
states:
- name: Reserve
  action: reserve
  mutates: true
  compensate: {action: release, retry: [{errors: [States.ALL], max_attempts: 1}]}
  retry: [{errors: [Busy], max_attempts: 2, jitter: full}]
  next: Route
- name: Route
  choices: [{variable: $.express, boolean_equals: true, next: Fan}]
  default: Each
- name: Fan
  branches:
  - states: [{name: A, action: a, end: true, retry: [{errors: [States.Timeout], max_attempts: 1}]}]
  - states: [{name: W, type: wait, seconds: 1, next: B}, {name: B, action: b, end: true}]
  next: Charge
  catch: [{errors: [States.ALL], next: Failed}]
- name: Each
  max_concurrency: 2
  processor: {states: [{name: Item, action: item, end: true, on_failure: {compensate: clean}}]}
  next: Charge
- name: Charge
  action: charge
  mutates: true
  compensate: refund
  next: Done
  catch: [{errors: [Declined], next: Failed}]
- {name: Failed, type: fail, error: Oops}
- {name: Done, type: succeed}
`, `
version: "1.0"
states:
- {name: Poll, action: poll, next: Check, retry: [{errors: [States.ALL], max_attempts: 1}]}
- name: Check
  choices: [{condition: input.done, next: Done}]
  default: Sleep
- {name: Sleep, type: wait, seconds: 5, next: Poll}
- {name: Done, type: pass, end: true}
`}

// genEvent draws the next event: mostly a plausible answer to one of the
// commands outstanding, sometimes anything at all.
func genEvent(t *rapid.T, pending []Command, seq uint32, data bool) Event {
	if len(pending) == 0 || rapid.IntRange(0, 9).Draw(t, "garbage") == 0 {
		return Event{
			Kind:   EventKind(rapid.IntRange(0, 9).Draw(t, "kind")),
			ID:     uint32(rapid.IntRange(0, int(seq)+2).Draw(t, "id")),
			Thread: uint32(rapid.IntRange(0, int(seq)+2).Draw(t, "thread")),
			Decide: DecideKind(rapid.IntRange(0, 7).Draw(t, "decide")),
			Branch: int32(rapid.IntRange(-2, 3).Draw(t, "branch")),
			Count:  uint32(rapid.IntRange(0, 3).Draw(t, "count")),
			Err:    rapid.SampledFrom([]string{"", "Busy", "Declined", ErrTimeout, ErrRuntime}).Draw(t, "err"),
		}
	}
	c := pending[rapid.IntRange(0, len(pending)-1).Draw(t, "which")]
	switch c.Kind {
	case Decide:
		e := Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide}
		switch c.Decide {
		case DecideChoice:
			e.Branch = int32(rapid.IntRange(-1, 1).Draw(t, "branch"))
		case DecideInput:
			e.Count = uint32(rapid.IntRange(0, 3).Draw(t, "count"))
			if data {
				for i := range e.Count {
					e.Items = append(e.Items, []byte{'0' + byte(i)})
				}
			}
		case DecideFail:
			e.Err = "Oops"
		}
		if data {
			e.Data = []byte(`{"v":1}`)
			e.Vars = []byte(`{"x":2}`)
		}
		if rapid.IntRange(0, 9).Draw(t, "data-error") == 0 {
			e.Err = rapid.SampledFrom([]string{ErrRuntime, ErrQueryEvaluation}).Draw(t, "data-err")
		}
		return e
	case Invoke:
		e := Event{Kind: rapid.SampledFrom([]EventKind{EvSucceeded, EvSucceeded, EvFailed, EvTimedOut, EvHeartbeatTimeout}).Draw(t, "outcome"),
			ID: c.ID, Err: rapid.SampledFrom([]string{"Busy", "Declined", "Other"}).Draw(t, "err")}
		if data {
			e.Data = []byte(`"result"`)
		}
		return e
	case StartTimer:
		return Event{Kind: EvTimerFired, ID: c.ID}
	}
	return Event{Kind: EvCancel}
}

// TestStepProperties drives the kernel with generated events and checks:
// Step never panics; it is deterministic; a rejected event changes
// nothing; every accepted event's output keeps the protocol; every state
// is consistent (Verify), survives encode∘decode, and equals the replay
// of the log so far.
func TestStepProperties(t *testing.T) {
	for i, src := range propertyMachines {
		m := MustCompile(src)
		t.Run(string(rune('A'+i)), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				s := &Execution{}
				var log []Record
				var pending []Command
				steps := rapid.IntRange(1, 60).Draw(t, "steps")
				data := rapid.Bool().Draw(t, "data")
				for n := 0; n < steps; n++ {
					e := Event{Kind: EvStart}
					if data {
						e.Data = []byte(`{"in":true}`)
					}
					if n > 0 {
						e = genEvent(t, pending, s.Seq, data)
					}
					twin := s.Clone()
					before := s.AppendEncoding(nil)
					out, err := m.Step(s, e, nil)
					out2, err2 := m.Step(twin, e, nil)
					if (err == nil) != (err2 == nil) || !bytes.Equal(s.AppendEncoding(nil), twin.AppendEncoding(nil)) || len(out) != len(out2) {
						t.Fatalf("Step is not deterministic on %v", e)
					}
					if err != nil {
						if !bytes.Equal(before, s.AppendEncoding(nil)) || len(out) != 0 {
							t.Fatalf("rejected %v changed the state", e)
						}
						continue
					}
					if err := checkProtocol(out); err != nil {
						t.Fatal(err)
					}
					if err := m.Verify(s); err != nil {
						t.Fatalf("after %v: %v", e, err)
					}
					enc := s.AppendEncoding(nil)
					d, err := DecodeExecution(enc)
					if err != nil || !bytes.Equal(d.AppendEncoding(nil), enc) {
						t.Fatalf("encode∘decode: %v", err)
					}
					ev := e
					log = append(log, Record{Event: &ev})
					r, _, err := m.Recover(log)
					if err != nil || !bytes.Equal(r.AppendEncoding(nil), enc) {
						t.Fatalf("replay of the log differs: %v", err)
					}
					// Outstanding commands: what the world may answer next.
					pending = m.Pending(s, func(uint32) bool { return true })
					if s.Status.Terminal() {
						break
					}
				}
			})
		})
	}
}
