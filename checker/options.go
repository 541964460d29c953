package checker

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Options are the abstraction and the bounds of a check. The zero value
// is the default check: two executions, maps of up to three items,
// symmetry reduction on, and the default limits.
type Options struct {
	// Instances is the number K of concurrent executions (default 2).
	Instances int
	// MapSize bounds the number of items of a map state: the checker
	// explores every count from 0 to MapSize (default 3).
	MapSize int
	// NoSymmetry turns off the symmetry reductions: over identical
	// executions, and over the items of a map state within one execution.
	// Distinct-state counts to compare with another tool (TLC on the TLA+
	// export) are those without symmetry.
	NoSymmetry bool
	// DataErrors lets every decision of a state with data-dependent paths
	// (input/output paths, templates, JSONata, idempotency expressions)
	// fail with the error evaluation would raise: States.Runtime under
	// JSONPath, States.QueryEvaluationError under JSONata.
	DataErrors bool
	// Cancel lets the world cancel a running execution at any point.
	Cancel bool
	// CompensationFailures lets a compensation (or on-failure handler)
	// fail for good, after its retries. Without it a compensation's
	// attempts fail only while its retry policy still retries the error:
	// compensations are assumed to succeed eventually.
	CompensationFailures bool

	// MaxStates bounds the distinct states of one execution's graph
	// (default 10 million); reaching it ends the check incomplete.
	MaxStates int64
	// MaxProductStates bounds the K-execution states enumerated (default
	// 1 million). The K executions share nothing, so their product has
	// exactly n^K states for an execution graph of n; when enumerating
	// would pass this bound the count is given by that formula instead,
	// and the verdicts, decided on the complete execution graph, stay
	// complete. Enumerating only cross-checks the count (and measures the
	// explorer), so the default keeps it to about a second: a workflow
	// whose product has tens of millions of states is checked in the time
	// its execution graph takes.
	MaxProductStates int64
	// Timeout bounds the wall time of the check (0: none).
	Timeout time.Duration
	// MaxMemory bounds the heap in bytes (0: none).
	MaxMemory int64
	// Workers is the number of goroutines of the product exploration
	// (default GOMAXPROCS).
	Workers int
	// Progress, when set, is called about once a second while exploring.
	Progress func(Progress)
}

// Default bounds.
const (
	DefaultInstances        = 2
	DefaultMapSize          = 3
	DefaultMaxStates        = 10_000_000
	DefaultMaxProductStates = 1_000_000
	// MaxInstances bounds --instances.
	MaxInstances = 8
	// MaxMapSize bounds --map-size.
	MaxMapSize = 64
)

// normalized returns o with defaults filled in, or an error for values
// out of range.
func (o Options) normalized() (Options, error) {
	if o.Instances == 0 {
		o.Instances = DefaultInstances
	}
	if o.MapSize == 0 {
		o.MapSize = DefaultMapSize
	}
	if o.MaxStates == 0 {
		o.MaxStates = DefaultMaxStates
	}
	if o.MaxProductStates == 0 {
		o.MaxProductStates = DefaultMaxProductStates
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.Instances < 1 || o.Instances > MaxInstances:
		return o, fmt.Errorf("instances must be between 1 and %d, not %d", MaxInstances, o.Instances)
	case o.MapSize < 1 || o.MapSize > MaxMapSize:
		return o, fmt.Errorf("map size must be between 1 and %d, not %d", MaxMapSize, o.MapSize)
	case o.MaxStates < 1:
		return o, fmt.Errorf("max states must be positive, not %d", o.MaxStates)
	case o.MaxProductStates < 1:
		return o, fmt.Errorf("max product states must be positive, not %d", o.MaxProductStates)
	case o.Timeout < 0 || o.MaxMemory < 0:
		return o, fmt.Errorf("timeout and max memory must not be negative")
	}
	return o, nil
}

// Abstraction describes, one line per aspect, what the model is: what the
// world may do, what the engine does, what is left out. Every verdict is
// printed with it.
func (o Options) Abstraction() []string {
	o, _ = o.normalized()
	sym := "on: executions are interchangeable, and so are the items of a map; states equal up to such a permutation are one"
	if o.NoSymmetry {
		sym = "off"
	}
	data := "not modelled: every data-dependent answer is explored (choice: each branch, the default, or States.NoChoiceMatched without one; map: 0.." +
		fmt.Sprint(o.MapSize) + " items; inputs, outputs and catches: success"
	if o.DataErrors {
		data += ", or the evaluation error of a state with data-dependent paths (States.Runtime / States.QueryEvaluationError)"
	}
	data += "; fail: its declared error; wait and jitter: one delay)"
	comp := "a compensation or on-failure handler fails only while its retry policy still retries the error (compensations eventually succeed)"
	if o.CompensationFailures {
		comp = "a compensation or on-failure handler may fail with any error, also for good"
	}
	cancel := "no cancellation requests"
	if o.Cancel {
		cancel = "a running execution may be cancelled at any point (not a move of the execution's own: NoDeadlock does not count it)"
	}
	return []string{
		fmt.Sprintf("executions: %d concurrent executions of the workflow; they share no state, so each is explored once and the %d-execution state space is their product", o.Instances, o.Instances),
		"symmetry reduction: " + sym,
		"data: " + data,
		"invocations: each may succeed, fail with each error its state's retry and catch rules name or with an undeclared one (" + UndeclaredError + "), " +
			"time out (also heartbeat) when it has a timeout, with or without its effect having happened; a declared error has no effect; a completion may be delivered twice",
		"callbacks: a callback (task token) may be answered like any invocation, or never: for a state with no timeout and no heartbeat " +
			"nobody may ever answer it, and the execution waits for it forever (NoDeadlock); with either, the engine's timer ends the wait",
		"compensations: " + comp,
		"timers: backoff, wait and execution-timeout timers fire in any order relative to everything else (no clock)",
		"engine: steps one event at a time per execution, makes the step's leading appends durable in one write, answers the step's questions at once, then performs the other commands one at a time in order",
		"crashes: the engine may crash between any two commands and restart; everything not appended is lost, recovery is the state the log gives plus model.Machine.Pending; invocations in flight keep running, timers are lost and re-armed",
		"effects: an abandoned invocation (its thread cancelled) may still take effect; an invocation re-issued with the same id reuses its idempotency key",
		"requests: " + cancel,
	}
}

// Bounds returns the bounds of o as "name value" pairs, for reports.
func (o Options) Bounds() []string {
	o, _ = o.normalized()
	b := []string{
		fmt.Sprintf("instances %d", o.Instances),
		fmt.Sprintf("map-size %d", o.MapSize),
		fmt.Sprintf("max-states %d", o.MaxStates),
		fmt.Sprintf("max-product-states %d", o.MaxProductStates),
	}
	if o.Timeout > 0 {
		b = append(b, "timeout "+o.Timeout.String())
	} else {
		b = append(b, "timeout none")
	}
	if o.MaxMemory > 0 {
		b = append(b, "max-memory "+formatBytes(o.MaxMemory))
	} else {
		b = append(b, "max-memory none")
	}
	return b
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Progress is a snapshot of a running exploration.
type Progress struct {
	// Phase is "execution graph" or "product".
	Phase string
	// States explored so far in this phase, and their rate.
	States       int64
	StatesPerSec float64
	Elapsed      time.Duration
	HeapBytes    int64
}

// String formats the progress line nexus check prints.
func (p Progress) String() string {
	return fmt.Sprintf("%s: %s states, %s states/s, %s, heap %s", p.Phase, groupDigits(p.States),
		groupDigits(int64(p.StatesPerSec)), p.Elapsed.Round(100*time.Millisecond), formatBytes(p.HeapBytes))
}

// groupDigits writes n with thousands separators.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
