package expr

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Error names that Step Functions raises for data-flow failures.
const (
	ErrRuntime                = "States.Runtime"
	ErrQueryEvaluation        = "States.QueryEvaluationError"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
)

// Error is an evaluation failure as Step Functions reports it: an error
// name (one of the Err constants) and a cause. Cause is the message
// proper; AWS prefixes runtime and query-evaluation causes with the state
// and history event they happened in, which only the driver knows: see
// InState.
type Error struct {
	Name  string
	Cause string
}

// Error returns "name: cause".
func (e *Error) Error() string { return e.Name + ": " + e.Cause }

// InState returns the error as AWS words it for a failure while executing
// the state named state, entered at history event eventID (AWS numbers
// ExecutionStarted 1, so the first state is entered at 2). States.Runtime
// and States.QueryEvaluationError causes carry the prefix "An error
// occurred while executing the state ..."; other errors are returned as
// they are.
func (e *Error) InState(state string, eventID int) *Error {
	if e.Name != ErrRuntime && e.Name != ErrQueryEvaluation {
		return e
	}
	return &Error{Name: e.Name, Cause: fmt.Sprintf(
		"An error occurred while executing the state '%s' (entered at the event id #%d). %s", state, eventID, e.Cause)}
}

// errorf builds an *Error.
func errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// Env is what an evaluation may read besides the state's data: the Context
// Object ($$, $states.context), the workflow variables in scope, the
// driver's clock, and entropy chosen by the driver. The evaluators are pure
// functions of their arguments and Env: the same Env gives the same
// result, so a driver that logs Now and Seed can replay any evaluation.
// A driver varies Seed between evaluations (per state entry, say) to get
// fresh UUIDs and random numbers.
type Env struct {
	Context any
	Vars    map[string]any
	Now     time.Time
	Seed    uint64
	// CEL, when set, caches the CEL programs of evaluations with this Env
	// (Choice conditions, idempotency keys); nil compiles on every call.
	CEL *CELCache
}

// rng returns the deterministic generator of one evaluation.
func (e *Env) rng() *rand.Rand {
	var seed uint64
	if e != nil {
		seed = e.Seed
	}
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (e *Env) context() any {
	if e == nil {
		return nil
	}
	return e.Context
}

func (e *Env) now() time.Time {
	if e == nil {
		return time.Time{}
	}
	return e.Now
}

func (e *Env) variable(name string) (any, bool) {
	if e == nil {
		return nil, false
	}
	v, ok := e.Vars[name]
	return v, ok
}

// uuid4 draws a version 4 UUID from r.
func uuid4(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		u := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(u >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
