package model

import (
	"fmt"
	"time"
)

// EventKind is the kind of an event fed to Step.
type EventKind uint8

// Event kinds: everything the world can tell an execution.
const (
	// EvStart starts the execution with Data as its input.
	EvStart EventKind = iota + 1
	// EvDecided answers the Decide command of thread Thread.
	EvDecided
	// EvSucceeded: invocation ID returned Data.
	EvSucceeded
	// EvFailed: invocation ID failed with Err and Cause.
	EvFailed
	// EvTimedOut: invocation ID ran past its timeout.
	EvTimedOut
	// EvHeartbeatTimeout: invocation ID sent no heartbeat in time.
	EvHeartbeatTimeout
	// EvTimerFired: timer ID fired.
	EvTimerFired
	// EvCancel asks the execution to stop (Cause says why).
	EvCancel
)

var eventNames = [...]string{"", "start", "decided", "succeeded", "failed", "timed_out", "heartbeat_timeout",
	"timer_fired", "cancel"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "invalid"
}

// ParseEventKind maps an event kind name back to its value.
func ParseEventKind(name string) (EventKind, bool) {
	for i, n := range eventNames {
		if n == name && i > 0 {
			return EventKind(i), true
		}
	}
	return 0, false
}

// Event is one input to Step. Which fields mean something depends on Kind.
// The driver stamps Time; the kernel never reads a clock.
type Event struct {
	Kind EventKind
	// Time is the driver's clock when the event happened (Unix nanoseconds;
	// 0 in abstract runs).
	Time int64
	// ID names the invocation (EvSucceeded, EvFailed, EvTimedOut,
	// EvHeartbeatTimeout) or timer (EvTimerFired).
	ID uint32
	// Thread and Decide name the question an EvDecided answers.
	Thread uint32
	Decide DecideKind
	// Answers to a Decide: Branch of a choice (No for the default), Count
	// of map items, Delay of a jittered retry or a wait, Until of a wait
	// until a point in time (Unix nanoseconds).
	Branch int32
	Count  uint32
	// Limit is how many map items may run at once, when computed from
	// data (0: the state's own max_concurrency).
	Limit uint32
	Delay time.Duration
	Until int64
	// Err and Cause: the error of EvFailed, a failed decision, or a fail
	// state; ErrNull/CauseNull mark JSON null.
	Err, Cause         string
	ErrNull, CauseNull bool
	// Data: the input of EvStart, the output of EvSucceeded, the computed
	// value of EvDecided. Vars: variables a decision assigns (JSON object).
	Data  []byte
	Vars  []byte
	Items [][]byte
	// Key is the idempotency key a DecideInput computed, if any.
	Key string
	// Timeout and Heartbeat computed by a DecideInput, when dynamic.
	Timeout, Heartbeat time.Duration
}

func (e Event) String() string {
	switch e.Kind {
	case EvStart, EvCancel:
		return e.Kind.String()
	case EvDecided:
		s := fmt.Sprintf("decided thread %d %s", e.Thread, e.Decide)
		switch {
		case e.Err != "":
			s += " error " + e.Err
		case e.Decide == DecideChoice:
			if e.Branch == No {
				s += " default"
			} else {
				s += fmt.Sprintf(" branch %d", e.Branch)
			}
		case e.Decide == DecideInput && e.Count > 0:
			s += fmt.Sprintf(" %d items", e.Count)
		}
		return s
	case EvFailed:
		return fmt.Sprintf("failed #%d %s", e.ID, e.Err)
	}
	return fmt.Sprintf("%s #%d", e.Kind, e.ID)
}

// CommandKind is the kind of a command Step returns.
type CommandKind uint8

// Command kinds. A driver performs the commands of one Step strictly in
// order; an Append must be durable before any command after it runs.
const (
	// AppendEvent: append the event just stepped to the log.
	AppendEvent CommandKind = iota + 1
	// AppendIntent: append the intent of the effect that follows (the
	// command's other fields describe it; Effect says which).
	AppendIntent
	// Invoke calls function Fn with Input under idempotency key Key.
	Invoke
	// StartTimer starts timer ID for Delay (or until Until).
	StartTimer
	// CancelInvoke abandons invocation ID: its outcome no longer matters.
	CancelInvoke
	// CancelTimer stops timer ID.
	CancelTimer
	// Decide asks the driver a data-dependent question about a thread;
	// the driver answers with an EvDecided event.
	Decide
	// Finish: the execution ended with Status.
	Finish
)

var commandNames = [...]string{"", "append_event", "append_intent", "invoke", "start_timer", "cancel_invoke",
	"cancel_timer", "decide", "finish"}

func (k CommandKind) String() string {
	if int(k) < len(commandNames) {
		return commandNames[k]
	}
	return "invalid"
}

// ParseCommandKind maps a command kind name back to its value.
func ParseCommandKind(name string) (CommandKind, bool) {
	for i, n := range commandNames {
		if n == name && i > 0 {
			return CommandKind(i), true
		}
	}
	return 0, false
}

// Command is one effect Step asks the driver to perform.
type Command struct {
	Kind CommandKind
	// Effect is the kind of effect an AppendIntent announces.
	Effect CommandKind
	// ID of the invocation or timer.
	ID uint32
	// Thread and State the command is about.
	Thread uint32
	State  int32
	// Fn is the function to invoke (an index into Machine.Functions).
	Fn int32
	// Attempt number of the invocation, 1-based.
	Attempt uint32
	// Comp marks the invocation of a compensation (or on-failure handler).
	Comp bool
	// Decide is the question of a Decide command; Catcher the catcher or
	// retrier it is about; Delay the maximum delay of a DecideJitter.
	Decide  DecideKind
	Catcher int32
	// Delay and Until of a timer.
	Delay time.Duration
	Until int64
	// Timeout and Heartbeat bound one invocation (0: none).
	Timeout, Heartbeat time.Duration
	// Callback: the function completes later through a task token.
	Callback bool
	// Input of the invocation; Key its idempotency key when the workflow
	// names one (otherwise the driver derives one from the execution and
	// ID, see DefaultKey).
	Input []byte
	Key   string
	// Status of a Finish; Err and Cause carry the error of a failed
	// execution or of the failure a DecideCatch is about.
	Status     Status
	Err, Cause string
}

func (c Command) String() string {
	switch c.Kind {
	case AppendEvent:
		return "append event"
	case AppendIntent:
		return fmt.Sprintf("append intent %s #%d", c.Effect, c.ID)
	case Invoke:
		s := fmt.Sprintf("invoke #%d fn %d attempt %d", c.ID, c.Fn, c.Attempt)
		if c.Comp {
			s += " (compensation)"
		}
		return s
	case StartTimer:
		return fmt.Sprintf("start timer #%d %s", c.ID, c.Delay)
	case CancelInvoke, CancelTimer:
		return fmt.Sprintf("%s #%d", c.Kind, c.ID)
	case Decide:
		return fmt.Sprintf("decide %s thread %d", c.Decide, c.Thread)
	case Finish:
		return "finish " + c.Status.String()
	}
	return c.Kind.String()
}

// DefaultKey is the idempotency key of an invocation whose workflow names
// none: unique per attempt, and the same when a restart re-issues it.
func DefaultKey(execution string, id uint32) string {
	return fmt.Sprintf("%s/%d", execution, id)
}
