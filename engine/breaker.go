package engine

import (
	"fmt"
	"sync"
	"time"
)

// ErrCircuitOpen is the error name of an attempt failed fast because its
// function's circuit breaker is open. It is an ordinary error to the
// workflow: retry rules matching it (or States.ALL) retry the attempt
// after their backoff, by which time the breaker may let a trial through.
const ErrCircuitOpen = "Nexus.CircuitOpen"

// BreakerPolicy configures the circuit breaker of a function. The zero
// value is the default: open after 5 consecutive failed attempts, fail
// attempts fast for 30 s, then let one trial through (half-open): its
// success closes the breaker, its failure opens it again.
type BreakerPolicy struct {
	// Failures is how many consecutive failed attempts open the breaker
	// (0: 5; negative: the breaker never opens).
	Failures int
	// OpenFor is how long the breaker stays open before a trial (0: 30s).
	OpenFor time.Duration
	// Trials is how many consecutive successful trials close a half-open
	// breaker (0: 1).
	Trials int
}

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Failures == 0 {
		p.Failures = 5
	}
	if p.OpenFor <= 0 {
		p.OpenFor = 30 * time.Second
	}
	if p.Trials <= 0 {
		p.Trials = 1
	}
	return p
}

// BreakerState is where a circuit breaker stands.
type BreakerState int

// Breaker states.
const (
	BreakerClosed BreakerState = iota
	BreakerOpen
	BreakerHalfOpen
)

// String names the state.
func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// outcome of an attempt, as a breaker counts it.
type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	// outcomeNone: the attempt was abandoned; it says nothing about the
	// function, but frees a half-open breaker's trial.
	outcomeNone
)

// breaker is the circuit breaker of one function. It lives in memory: a
// restarted engine starts with every breaker closed.
type breaker struct {
	fn     string
	policy BreakerPolicy

	mu        sync.Mutex
	state     BreakerState
	fails     int // consecutive failures (closed)
	trials    int // consecutive successful trials (half-open)
	trialOut  bool
	openedAt  time.Time
	openCount int
}

// allow says whether an attempt may call the function now; when not,
// the cause to fail the attempt with. trial reports that the attempt is a
// half-open breaker's trial, to be reported back with done.
func (b *breaker) allow(now time.Time) (ok, trial bool, cause string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.policy.OpenFor {
			return false, false, fmt.Sprintf("circuit breaker of function %s is open after %d consecutive failed attempts; next trial at %s",
				b.fn, b.policy.Failures, b.openedAt.Add(b.policy.OpenFor).UTC().Format(time.RFC3339Nano))
		}
		b.state, b.trials = BreakerHalfOpen, 0
		fallthrough
	case BreakerHalfOpen:
		if b.trialOut {
			return false, false, fmt.Sprintf("circuit breaker of function %s is half-open and a trial call is in flight", b.fn)
		}
		b.trialOut = true
		return true, true, ""
	}
	return true, false, ""
}

// done reports the outcome of an attempt allow let through.
func (b *breaker) done(trial bool, o outcome, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if trial {
		b.trialOut = false
	}
	if o == outcomeNone {
		return
	}
	switch b.state {
	case BreakerClosed:
		if o == outcomeSuccess {
			b.fails = 0
			return
		}
		b.fails++
		if b.policy.Failures > 0 && b.fails >= b.policy.Failures {
			b.open(now)
		}
	case BreakerHalfOpen:
		if !trial {
			return
		}
		if o == outcomeFailure {
			b.open(now)
			return
		}
		b.trials++
		if b.trials >= b.policy.Trials {
			b.state, b.fails = BreakerClosed, 0
		}
	}
}

func (b *breaker) open(now time.Time) {
	b.state, b.openedAt, b.fails = BreakerOpen, now, 0
	b.openCount++
}

// snapshot returns the breaker's state.
func (b *breaker) snapshot() (BreakerState, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.openCount
}

// breakers holds one breaker per function name.
type breakers struct {
	mu       sync.Mutex
	def      BreakerPolicy
	policies map[string]BreakerPolicy
	m        map[string]*breaker
}

func (bs *breakers) get(fn string) *breaker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.m[fn]
	if b == nil {
		p, ok := bs.policies[fn]
		if !ok {
			p = bs.def
		}
		b = &breaker{fn: fn, policy: p.withDefaults()}
		if bs.m == nil {
			bs.m = map[string]*breaker{}
		}
		bs.m[fn] = b
	}
	return b
}
