package checker

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Verdict is the verdict of the whole report: "violated" when some
// invariant is, otherwise "incomplete" when a bound stopped the
// exploration, otherwise "holds".
func (r *Report) Verdict() string {
	switch {
	case r.Violated():
		return "violated"
	case !r.Complete:
		return "incomplete"
	}
	return "holds"
}

// WriteText writes the report for a terminal: the verdict per invariant,
// the witnesses, what was explored, the abstraction and bounds, then each
// violation with its numbered trace.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	file := r.File
	if file == "" {
		file = "-"
	}
	nviol := 0
	for _, res := range r.Results {
		nviol += len(res.Violations)
	}
	switch r.Verdict() {
	case "violated":
		p.printf("%s: workflow %q: %d violation(s)\n", file, r.Workflow, nviol)
	case "incomplete":
		p.printf("%s: workflow %q: incomplete: %s; no violation found before it\n", file, r.Workflow, r.Execution.Stop)
	default:
		p.printf("%s: workflow %q: every invariant holds\n", file, r.Workflow)
	}
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Invariant.String()))
	}
	for _, res := range r.Results {
		line := fmt.Sprintf("  %-*s  %s", width, res.Invariant, res.Verdict)
		if res.Reason != "" {
			line += " (" + res.Reason + ")"
		}
		p.printf("%s\n", line)
	}
	if len(r.Witnesses) > 0 {
		p.printf("sometimes:\n")
		for _, wi := range r.Witnesses {
			if wi.Reached {
				p.printf("  %-*s  reached in %d move(s): %s\n", width, wi.Name, wi.Moves, wi.Description)
			} else if r.Complete {
				p.printf("  %-*s  warning: never reached: it is not the case that %s\n", width, wi.Name, wi.Description)
			} else {
				p.printf("  %-*s  not reached before the bound: %s\n", width, wi.Name, wi.Description)
			}
		}
	}
	e := r.Execution
	status := "complete"
	if !e.Complete {
		status = "stopped by " + e.Stop
	}
	p.printf("explored: one execution: %s states, %s moves, depth %d (%s, %s, %s states/s); %d of %d workflow states entered\n",
		groupDigits(int64(e.States)), groupDigits(int64(e.Edges)), e.Depth, status, roundDuration(e.Elapsed),
		groupDigits(int64(e.StatesPerSec)), e.EnteredStates, e.WorkflowStates)
	ps := r.Product
	switch {
	case !r.Complete:
		p.printf("explored: %d executions: not explored (the execution graph is incomplete)\n", ps.Instances)
	case !ps.Enumerated:
		p.printf("explored: %d executions: %s states (%s without symmetry) by the closed form; %s\n", ps.Instances,
			groupDigits(ps.States), groupDigits(ps.StatesNoSymmetry), ps.Stop)
	default:
		sym := "symmetry off"
		if ps.Symmetry {
			sym = fmt.Sprintf("%s without symmetry, reduction %.2fx", groupDigits(ps.StatesNoSymmetry), float64(ps.StatesNoSymmetry)/float64(max(ps.States, 1)))
		}
		stop := ""
		if !ps.Complete {
			stop = "; stopped by " + ps.Stop
		}
		p.printf("explored: %d executions: %s states (%s), %s transitions, depth %d, %s, %s states/s on %d worker(s), %.1f bytes/state%s\n",
			ps.Instances, groupDigits(ps.States), sym, groupDigits(ps.Transitions), ps.Depth, roundDuration(ps.Elapsed),
			groupDigits(int64(ps.StatesPerSec)), ps.Workers, ps.BytesPerState, stop)
	}
	p.printf("time %s, peak heap %s\n", roundDuration(r.Elapsed), formatBytes(r.PeakHeapBytes))
	p.printf("abstraction:\n")
	for _, a := range r.Abstraction {
		p.printf("  - %s\n", a)
	}
	p.printf("bounds: %s\n", strings.Join(r.Bounds, ", "))
	n := 0
	for _, res := range r.Results {
		for _, v := range res.Violations {
			n++
			p.printf("\nviolation %d: %s at %s:%d:%d (state %s)\n", n, v.Invariant, file, v.State.Line, v.State.Column, v.State.Name)
			p.printf("  %s\n", v.Message)
			if v.Trace != nil {
				v.Trace.write(p, file)
			}
		}
	}
	return p.err
}

func (t *Trace) write(p *printer, file string) {
	p.printf("  trace (execution 1; the other executions are not started):\n")
	for i, s := range t.Steps {
		if i == t.Loop {
			p.printf("  loop (repeats forever):\n")
		}
		p.printf("  %3d. %s\n", i+1, s.Event)
		if len(s.States) > 0 {
			var refs []string
			for _, st := range s.States {
				refs = append(refs, fmt.Sprintf("%s %s:%d:%d", st.Name, file, st.Line, st.Column))
			}
			p.printf("       states: %s\n", strings.Join(refs, ", "))
		}
		for _, d := range s.Details {
			p.printf("       %s\n", strings.TrimSpace(d))
		}
		p.printf("       ⇒ %s\n", s.After)
	}
	if t.Loop >= 0 && t.Loop < len(t.Steps) {
		p.printf("  (back to the state before step %d)\n", t.Loop+1)
	}
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// MarshalJSON writes the report with its overall verdict.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		Verdict string `json:"verdict"`
		*plain
	}{r.Verdict(), (*plain)(r)})
}
