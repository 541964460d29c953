package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// Trace is the provenance of one execution, built from its log: every
// call with its input, output or error, attempt and timing, every wait,
// every data error, and the step that made the execution fail.
type Trace struct {
	Execution string          `json:"execution"`
	Workflow  string          `json:"workflow"`
	Status    string          `json:"status"`
	Input     json.RawMessage `json:"input,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	// Start and End: first and last record (Unix ns).
	Start int64   `json:"start"`
	End   int64   `json:"end"`
	Steps []*Step `json:"steps"`
	// RootCause is the index in Steps of the failure the execution ended
	// with (-1 when it succeeded or none is found).
	RootCause int `json:"root_cause"`
	// Attempts counts calls; Retries those after a first attempt.
	Attempts int `json:"attempts"`
	Retries  int `json:"retries"`
}

// Step is one call, wait or data error of a trace.
type Step struct {
	// Kind: "call", "compensation", "wait", "error" (a data or fail-state
	// error), "cancel".
	Kind     string          `json:"kind"`
	State    string          `json:"state,omitempty"`
	Function string          `json:"function,omitempty"`
	Attempt  uint32          `json:"attempt,omitempty"`
	Key      string          `json:"key,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	// Outcome: "succeeded", "failed", "timed_out", "heartbeat_timeout",
	// "caught" (failed, and a catcher took the error), "abandoned" (its
	// outcome stopped mattering), "running", or for a wait "fired".
	Outcome string `json:"outcome"`
	Start   int64  `json:"start"`
	End     int64  `json:"end,omitempty"`
	// Delay of a wait.
	Delay int64 `json:"delay_ns,omitempty"`
}

// TraceOf reads execution exec from the store and builds its trace.
func TraceOf(ctx context.Context, st store.Store, exec string) (*Trace, error) {
	row, err := st.Execution(ctx, exec)
	if err != nil {
		return nil, err
	}
	hist, err := History(ctx, st, exec)
	if err != nil {
		return nil, err
	}
	tr := &Trace{Execution: exec, Status: row.Status, Error: row.Error, Cause: row.Cause, RootCause: -1}
	if w, err := st.Workflow(ctx, row.Workflow); err == nil {
		tr.Workflow = w.Name
	}
	if len(row.Output) > 0 {
		tr.Output = json.RawMessage(row.Output)
	}
	byKey := map[string]*Step{}  // calls in flight
	timers := map[uint32]*Step{} // waits running
	var lastFail *Step           // the last failed call or error, for catch
	for _, en := range hist {
		if tr.Start == 0 {
			tr.Start = en.Time
		}
		tr.End = en.Time
		if c := en.Command; c != nil {
			switch c.Effect {
			case model.Invoke:
				s := &Step{Kind: "call", State: en.State, Function: en.Function, Attempt: en.Attempt, Key: en.Key,
					Input: json.RawMessage(c.Input), Outcome: "running", Start: en.Time}
				if c.Comp {
					s.Kind = "compensation"
				}
				tr.Attempts++
				if c.Attempt > 1 {
					tr.Retries++
				}
				byKey[en.Key] = s
				tr.Steps = append(tr.Steps, s)
			case model.StartTimer:
				if en.State == "" {
					continue // the execution's own timeout
				}
				s := &Step{Kind: "wait", State: en.State, Outcome: "running", Start: en.Time, Delay: int64(c.Delay)}
				if c.Until != 0 {
					s.Delay = c.Until - en.Time
				}
				timers[c.ID] = s
				tr.Steps = append(tr.Steps, s)
			}
			continue
		}
		ev := en.Event
		switch ev.Kind {
		case model.EvStart:
			tr.Input = json.RawMessage(ev.Data)
		case model.EvSucceeded, model.EvFailed, model.EvTimedOut, model.EvHeartbeatTimeout:
			s := byKey[en.Key]
			if s == nil {
				continue
			}
			delete(byKey, en.Key)
			s.End = en.Time
			switch ev.Kind {
			case model.EvSucceeded:
				s.Outcome, s.Output = "succeeded", json.RawMessage(ev.Data)
			case model.EvFailed:
				s.Outcome, s.Error, s.Cause = "failed", ev.Err, ev.Cause
				if s.Error == "" {
					s.Error = model.ErrTaskFailed
				}
			case model.EvTimedOut:
				s.Outcome, s.Error, s.Cause = "timed_out", model.ErrTimeout, ev.Cause
			default:
				s.Outcome, s.Error, s.Cause = "heartbeat_timeout", model.ErrHeartbeatTimeout, ev.Cause
			}
			if s.Error != "" {
				lastFail = s
			}
		case model.EvTimerFired:
			if s := timers[ev.ID]; s != nil {
				s.End, s.Outcome = en.Time, "fired"
				delete(timers, ev.ID)
			}
		case model.EvCancel:
			tr.Steps = append(tr.Steps, &Step{Kind: "cancel", Cause: ev.Cause, Outcome: "cancelled", Start: en.Time, End: en.Time})
		case model.EvDecided:
			switch {
			case ev.Decide == model.DecideCatch && lastFail != nil:
				lastFail.Outcome = "caught"
			case ev.Decide == model.DecideFail || (ev.Err != "" && ev.Decide != model.DecideJitter):
				s := &Step{Kind: "error", State: en.State, Error: ev.Err, Cause: ev.Cause, Outcome: "failed",
					Start: en.Time, End: en.Time}
				tr.Steps = append(tr.Steps, s)
				lastFail = s
			}
		}
	}
	// Calls whose outcome never came were abandoned if the execution is
	// over (a sibling failed, a cancel), or are still running.
	if s, ok := model.ParseStatus(row.Status); ok && s.Terminal() {
		for _, st := range tr.Steps {
			if st.Outcome == "running" {
				st.Outcome = "abandoned"
			}
		}
	}
	if tr.Status != model.Succeeded.String() && tr.Error != "" {
		for i := len(tr.Steps) - 1; i >= 0; i-- {
			s := tr.Steps[i]
			if s.Kind != "compensation" && s.Error == tr.Error && s.Outcome != "caught" {
				tr.RootCause = i
				break
			}
		}
		if tr.RootCause < 0 {
			for i := len(tr.Steps) - 1; i >= 0; i-- {
				if s := tr.Steps[i]; s.Kind == "cancel" || (s.Kind != "compensation" && s.Outcome == "failed") {
					tr.RootCause = i
					break
				}
			}
		}
	}
	return tr, nil
}

// Describe is one line about a step.
func (s *Step) Describe() string {
	switch s.Kind {
	case "wait":
		return fmt.Sprintf("%s waited %dms", s.State, s.Delay/1e6)
	case "cancel":
		return "cancel requested: " + s.Cause
	case "error":
		return fmt.Sprintf("%s failed: %s", s.State, errorText(s.Error, s.Cause))
	}
	what := "calling"
	if s.Kind == "compensation" {
		what = "compensating with"
	}
	out := fmt.Sprintf("%s %s %s, attempt %d, %s", s.State, what, s.Function, s.Attempt, s.Outcome)
	if s.Error != "" {
		out += ": " + errorText(s.Error, s.Cause)
	}
	return out
}

func errorText(name, cause string) string {
	if cause == "" {
		return name
	}
	return name + ": " + cause
}
