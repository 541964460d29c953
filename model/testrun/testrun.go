// Package testrun runs a workflow in memory with mocked functions: the
// driver behind nexus test. It drives the kernel (model.Machine.Step) and
// answers its questions with package dataflow, like the engine does, but
// with a virtual clock and functions that are Go values, so a test case
// runs in microseconds and the same case always gives the same result.
package testrun

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/dataflow"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Call is one invocation of a mocked function.
type Call struct {
	Function string // logical function name
	State    string // the state that calls it
	Input    any
	Attempt  int
	Key      string // idempotency key
	// Compensation marks a compensation or on-failure handler.
	Compensation bool
}

// Outcome is what a mocked function does: return Output, fail with Error
// and Cause, or time out.
type Outcome struct {
	Output  any
	Error   string
	Cause   string
	TimeOut bool
}

// Func is a mocked function.
type Func func(Call) Outcome

// Options configure a run. The zero value is usable: every function echoes
// its input.
type Options struct {
	// Functions by logical name; Default answers the others (nil: echo the
	// input).
	Functions map[string]Func
	Default   Func
	// Start is the virtual time the execution starts at.
	Start time.Time
	// ExecutionName and StateMachineName name the execution and the
	// workflow in the Context Object (defaults: "test" and the workflow's
	// name).
	ExecutionName    string
	StateMachineName string
	// Sync marks a synchronous (express) execution.
	Sync bool
	// MaxEvents bounds the run; 0 means 100000.
	MaxEvents int
}

// Result is how a run ended.
type Result struct {
	Status model.Status
	Output any
	// Error and Cause of a failed execution; nil when JSON null.
	Error, Cause *string
	// Calls lists the invocations in the order they were made.
	Calls []Call
	// Events counts the events stepped.
	Events int
	// Elapsed is the virtual time the execution took.
	Elapsed time.Duration
}

// ErrTooLong is returned when a run exceeds Options.MaxEvents.
var ErrTooLong = errors.New("execution did not finish")

// Run executes machine m on input (JSON text) and returns how it ended.
func Run(m *model.Machine, input []byte, opts Options) (*Result, error) {
	if _, err := expr.ParseJSON(string(input)); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	r := &runner{m: m, opts: opts, now: opts.Start, entered: map[uint32]int{}, nextEvent: 2,
		cel: &expr.CELCache{}}
	if r.now.IsZero() {
		r.now = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	}
	if opts.MaxEvents == 0 {
		r.opts.MaxEvents = 100000
	}
	if r.opts.ExecutionName == "" {
		r.opts.ExecutionName = "test"
	}
	if r.opts.StateMachineName == "" {
		// An imported definition has no name; AWS always has one.
		r.opts.StateMachineName = cmp.Or(m.Name, "StateMachine")
	}
	start := r.now
	r.queue = append(r.queue, model.Event{Kind: model.EvStart, Data: input, Time: r.now.UnixNano()})
	if err := r.loop(); err != nil {
		return nil, err
	}
	res := &Result{Status: r.s.Status, Calls: r.calls, Events: r.events, Elapsed: r.now.Sub(start)}
	if r.s.Status == model.Succeeded {
		res.Output, _ = expr.ParseJSON(string(r.s.Data.Output))
	} else {
		if !r.s.Data.ErrNull {
			e := r.s.Err
			res.Error = &e
		}
		if !r.s.Data.CauseNull {
			c := r.s.Cause
			res.Cause = &c
		}
	}
	return res, nil
}

type runner struct {
	m      *model.Machine
	opts   Options
	s      model.Execution
	now    time.Time
	queue  []model.Event
	timers timerHeap
	calls  []Call
	events int
	cel    *expr.CELCache
	// entered numbers the history event at which each thread entered its
	// current state, the way Step Functions numbers them (two per state),
	// for error causes.
	entered   map[uint32]int
	lastState map[uint32]int32
	nextEvent int
}

func (r *runner) loop() error {
	var out []model.Command
	for {
		if len(r.queue) == 0 {
			if r.timers.Len() == 0 {
				break
			}
			t := heap.Pop(&r.timers).(timer)
			if t.due.After(r.now) {
				r.now = t.due
			}
			r.queue = append(r.queue, model.Event{Kind: model.EvTimerFired, ID: t.id})
		}
		e := r.queue[0]
		r.queue = r.queue[1:]
		e.Time = r.now.UnixNano()
		var err error
		out, err = r.m.Step(&r.s, e, out[:0])
		var rejected *model.RejectError
		if errors.As(err, &rejected) {
			continue // e.g. a timer of an abandoned retry
		}
		if err != nil {
			return err
		}
		r.events++
		if r.events > r.opts.MaxEvents {
			return fmt.Errorf("%w after %d events (a loop without end?)", ErrTooLong, r.opts.MaxEvents)
		}
		r.numberEntries()
		for _, c := range out {
			r.perform(c)
		}
	}
	if !r.s.Status.Terminal() {
		return fmt.Errorf("execution stuck in status %s with nothing left to happen", r.s.Status)
	}
	return nil
}

// numberEntries gives every thread that entered a new state the next
// history event number.
func (r *runner) numberEntries() {
	if r.lastState == nil {
		r.lastState = map[uint32]int32{}
	}
	for _, t := range r.s.Threads {
		if prev, ok := r.lastState[t.ID]; !ok || prev != t.State {
			r.lastState[t.ID] = t.State
			r.entered[t.ID] = r.nextEvent
			r.nextEvent += 2
		}
	}
}

func (r *runner) perform(c model.Command) {
	switch c.Kind {
	case model.Decide:
		sm := r.opts.StateMachineName
		env := &dataflow.Env{ExecutionID: "arn:aws:states:us-east-1:111111111111:execution:" + sm + ":" + r.opts.ExecutionName,
			ExecutionName: r.opts.ExecutionName, StateMachineID: "arn:aws:states:us-east-1:111111111111:stateMachine:" + sm,
			StateMachineName: sm,
			RoleArn:          "arn:aws:iam::111111111111:role/nexus-test", Now: r.now, Seed: r.seed(c), Sync: r.opts.Sync, CEL: r.cel,
			EnteredEvent: func(id uint32) int { return r.entered[id] }}
		// Questions are answered at once, ahead of other events, as the
		// engine does.
		r.queue = append([]model.Event{dataflow.Decide(r.m, &r.s, c, env)}, r.queue...)
	case model.Invoke:
		r.queue = append(r.queue, r.invoke(c))
	case model.StartTimer:
		due := r.now.Add(c.Delay)
		if c.Until != 0 {
			due = time.Unix(0, c.Until)
		}
		heap.Push(&r.timers, timer{due: due, id: c.ID})
	case model.CancelTimer:
		r.timers.remove(c.ID)
	}
}

func (r *runner) seed(c model.Command) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d/%d", r.opts.ExecutionName, r.events, c.Thread, c.Decide)
	return h.Sum64()
}

func (r *runner) invoke(c model.Command) model.Event {
	sp := &r.m.States[c.State]
	input, _ := expr.ParseJSON(string(c.Input))
	call := Call{Function: r.m.Functions[c.Fn], State: sp.Name, Input: input, Attempt: int(c.Attempt),
		Key: c.Key, Compensation: c.Comp}
	if call.Key == "" {
		call.Key = model.DefaultKey(r.opts.ExecutionName, c.ID)
	}
	r.calls = append(r.calls, call)
	f := r.opts.Functions[call.Function]
	if f == nil {
		f = r.opts.Default
	}
	var o Outcome
	if f == nil {
		o = Outcome{Output: input}
	} else {
		o = f(call)
	}
	switch {
	case o.TimeOut:
		return model.Event{Kind: model.EvTimedOut, ID: c.ID}
	case o.Error != "":
		return model.Event{Kind: model.EvFailed, ID: c.ID, Err: o.Error, Cause: o.Cause}
	}
	return model.Event{Kind: model.EvSucceeded, ID: c.ID, Data: []byte(expr.JSON(o.Output))}
}

type timer struct {
	due time.Time
	id  uint32
}

// timerHeap orders timers by due time, then by id, so that runs are
// deterministic.
type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].id < h[j].id
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (h *timerHeap) remove(id uint32) {
	for i, t := range *h {
		if t.id == id {
			heap.Remove(h, i)
			return
		}
	}
}
