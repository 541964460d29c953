package model

import "testing"

// BenchmarkStepTaskCompletion measures Step for the common case: a task
// of a linear workflow completes, its output question is answered, and the
// next task is entered and invoked. One iteration is one completion event
// (the other two events are steps of their own; see the per-op figures in
// the README).
func BenchmarkStepTaskCompletion(b *testing.B) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: b, next: A2}
- {name: A2, action: a, next: B2}
- {name: B2, action: b, end: true}
`)
	// Bring an execution to "A in flight", then snapshot it.
	s := &Execution{}
	out := make([]Command, 0, 16)
	out, _ = m.Step(s, Event{Kind: EvStart}, out[:0])
	out, _ = m.Step(s, Event{Kind: EvDecided, Thread: 1, Decide: DecideInput}, out[:0])
	inv := out[len(out)-1].ID
	base := s.Clone()
	work := s.Clone()
	done := Event{Kind: EvSucceeded, ID: inv}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		base.CopyInto(work)
		var err error
		if out, err = m.Step(work, done, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepLinearWorkflow runs a whole 4-task workflow through Step,
// reporting the cost per event.
func BenchmarkStepLinearWorkflow(b *testing.B) {
	m := MustCompile(`
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: b, next: C}
- {name: C, action: c, next: D}
- {name: D, action: d, end: true}
`)
	out := make([]Command, 0, 16)
	queue := make([]Event, 0, 16)
	s := &Execution{Threads: make([]Thread, 0, 4)}
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		threads := s.Threads[:0]
		*s = Execution{Threads: threads}
		queue = append(queue[:0], Event{Kind: EvStart})
		for next := 0; next < len(queue); next++ {
			e := queue[next]
			var err error
			if out, err = m.Step(s, e, out[:0]); err != nil {
				b.Fatal(err)
			}
			events++
			for i := range out {
				switch c := &out[i]; c.Kind {
				case Decide:
					queue = append(queue, Event{Kind: EvDecided, Thread: c.Thread, Decide: c.Decide})
				case Invoke:
					queue = append(queue, Event{Kind: EvSucceeded, ID: c.ID})
				}
			}
		}
		if s.Status != Succeeded {
			b.Fatal(s.Status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}
