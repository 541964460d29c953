package checker

import "fmt"

// Invariant names a property the checker decides. The names are stable:
// they appear in every output format and in the TLA+ export.
type Invariant uint8

// The invariants, in report order. doc.go gives their exact meaning.
const (
	// LoggedBeforeExecuted: no invocation or timer is started before the
	// append of its intent is durable.
	LoggedBeforeExecuted Invariant = iota
	// MutationsCompensable: no execution ends failed after an irreversible
	// mutation took effect (the saga's pivot comes after every step that
	// can fail).
	MutationsCompensable
	// CompensationComplete: an execution that ends failed, cancelled or
	// timed out leaves no mutation that took effect and was not undone.
	CompensationComplete
	// NoDeadlock: an execution that has not ended always has a move of its
	// own (an event it waits for that can come, a command to perform); a
	// crash and a cancellation request do not count. A callback that
	// nobody answers, at a state with no timeout and no heartbeat, breaks
	// it.
	NoDeadlock
	// NoDanglingState: every state of the workflow is entered in some
	// execution, every choice has a way out for every input, and from every
	// reachable situation the execution can still end.
	NoDanglingState
	// Termination: no reachable cycle that only the world's failures,
	// timers and engine commands drive (see doc.go for the fairness
	// assumptions).
	Termination
	// AtMostOnceEffect: at a function that honours idempotency keys, one
	// step takes effect at most once, whatever the timeouts, crashes and
	// duplicate deliveries.
	AtMostOnceEffect
	// Deterministic: stepping the same event on the same state twice gives
	// the same state and commands, and canonical encodings are canonical.
	Deterministic

	numInvariants = int(Deterministic) + 1
)

var invariantNames = [...]string{"LoggedBeforeExecuted", "MutationsCompensable", "CompensationComplete", "NoDeadlock",
	"NoDanglingState", "Termination", "AtMostOnceEffect", "Deterministic"}

var invariantSummaries = [...]string{
	"every invocation and timer is started only after the append of its intent is durable",
	"no execution ends failed after an irreversible mutation took effect",
	"a failed, cancelled or timed-out execution leaves no mutation that took effect and was not undone",
	"an execution that has not ended always has a move of its own",
	"every state is entered, every choice has a way out, and every reachable situation can still end",
	"no reachable cycle is driven only by failures, timers and engine commands",
	"at a function that honours idempotency keys, each step takes effect at most once",
	"the same event on the same state gives the same state and commands",
}

// Invariants lists every invariant in report order.
func Invariants() []Invariant {
	out := make([]Invariant, numInvariants)
	for i := range out {
		out[i] = Invariant(i)
	}
	return out
}

// String returns the invariant's stable name.
func (v Invariant) String() string {
	if int(v) < len(invariantNames) {
		return invariantNames[v]
	}
	return fmt.Sprintf("Invariant(%d)", v)
}

// Summary is a one-line statement of what the invariant requires.
func (v Invariant) Summary() string {
	if int(v) < len(invariantSummaries) {
		return invariantSummaries[v]
	}
	return ""
}

// ParseInvariant maps a stable name back to its invariant.
func ParseInvariant(name string) (Invariant, bool) {
	for i, n := range invariantNames {
		if n == name {
			return Invariant(i), true
		}
	}
	return 0, false
}

// MarshalText writes the stable name.
func (v Invariant) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Verdict is the outcome of one invariant.
type Verdict uint8

// Verdicts.
const (
	// Holds: the invariant holds in every reachable state within the
	// stated abstraction and bounds.
	Holds Verdict = iota
	// Violated: a counterexample was found.
	Violated
	// NotChecked: the invariant does not apply to this workflow (say, no
	// state mutates) or could not be decided; Result.Reason says which.
	NotChecked
	// Incomplete: no counterexample was found before a bound (states,
	// time, memory) stopped the exploration.
	Incomplete
)

var verdictNames = [...]string{"holds", "violated", "not checked", "incomplete"}

// String returns the verdict as printed: holds, violated, not checked,
// incomplete.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "invalid"
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
