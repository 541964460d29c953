package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile is the world a simulated workflow runs in: how each function
// behaves (latency, failures, cold starts, limits), what the data-dependent
// decisions of the workflow come out as (choice branches, map sizes, data
// errors, wait times), what things cost, and how executions arrive.
//
// The zero Profile is usable: every function answers after DefaultLatency
// and never fails, choices are uniform, maps have DefaultItems items, and
// prices are AWS's list prices (see DefaultCost).
type Profile struct {
	// File is the path the profile was read from, for messages.
	File string
	// Default is the behaviour of every function not in Functions.
	Default Function
	// Functions by logical function name (as the workflow names them).
	Functions map[string]*Function
	// States by state name: answers to the workflow's data-dependent
	// questions.
	States map[string]*StateProfile
	Cost   Cost
	Load   Load
}

// Function is how one function behaves.
type Function struct {
	// Latency of a call that returns (success or error); nil means
	// Constant(DefaultLatency).
	Latency Dist
	// FailureLatency, when not nil, is the latency of a call that fails.
	FailureLatency Dist
	// Failures: the probability of each error name, per attempt. The
	// events are exclusive: at most one error per attempt.
	Failures []Failure
	// Hang is the probability that a call never answers: the kernel's
	// timeout (the state's timeout) or MaxDuration ends it.
	Hang float64
	// ColdStart is the probability that a call starts cold and takes
	// ColdStartLatency more (nil: Constant(DefaultColdStartLatency)).
	ColdStart        float64
	ColdStartLatency Dist
	// MaxDuration is the platform's own limit on one call (Lambda's
	// function timeout): a call running longer is killed and fails with
	// MaxDurationError. 0: no limit.
	MaxDuration      time.Duration
	MaxDurationError string
	// Concurrency bounds the calls in flight at once across all
	// executions; beyond it a call fails after ThrottleLatency with
	// ThrottleError. 0: no limit.
	Concurrency     int
	ThrottleError   string
	ThrottleLatency time.Duration
	// Breaker, when not nil, is a circuit breaker in front of the
	// function.
	Breaker *Breaker
	// MemoryMB is the memory size billed per GB-second.
	MemoryMB int
	// Price, when not nil, replaces the profile's Cost for this function.
	Price *Price
}

// Price is what a function's calls cost, in dollars.
type Price struct {
	Invocation float64
	GBSecond   float64
}

// Failure is an error name and its probability per attempt.
type Failure struct {
	Error string
	P     float64
}

// Breaker is a circuit breaker: after Failures consecutive failed calls it
// opens for Cooldown, during which every call fails at once with Error;
// then one call goes through (half-open): its success closes the breaker,
// its failure opens it again.
type Breaker struct {
	Failures int
	Cooldown time.Duration
	Error    string
}

// StateProfile answers the data-dependent questions of one state.
type StateProfile struct {
	// Branches weighs the branches of a choice state, by the name of the
	// state a branch leads to, or "default". Weights are normalised.
	Branches map[string]float64
	// NoMatch is the probability that no rule of a choice without a
	// default matches (States.NoChoiceMatched).
	NoMatch float64
	// Items is the number of items of a map state.
	Items CountDist
	// Wait is the duration of a wait state whose duration comes from data.
	Wait Dist
	// DataErrors: the probability of each error in evaluating the state's
	// input (States.Runtime for a JSONPath that does not match, ...).
	DataErrors []Failure
}

// Cost is the price list. Prices are in dollars.
type Cost struct {
	// Transition is the price of one state transition (a state entered
	// or retried, a compensation attempt).
	Transition float64
	// Invocation is the price of one function call.
	Invocation float64
	// GBSecond is the price of one GB-second of function time.
	GBSecond float64
	// Granularity: billed durations are rounded up to a multiple of it.
	Granularity time.Duration
}

// Load is how executions arrive. With Rate set, executions start as a
// Poisson process of Rate per second (an open loop); otherwise Clients
// executions run at a time, each starting when another ends (a closed
// loop; 0 means 1). Concurrency limits and breakers are shared by the
// executions running at the same time.
type Load struct {
	Clients int
	Rate    float64
}

// Defaults of a profile, applied to whatever it does not say.
const (
	DefaultLatency          = 100 * time.Millisecond
	DefaultColdStartLatency = 300 * time.Millisecond
	DefaultMemoryMB         = 128
	DefaultItems            = 3
	// DefaultThrottleError is Lambda's error for a call beyond the
	// function's concurrency.
	DefaultThrottleError = "Lambda.TooManyRequestsException"
	// DefaultMaxDurationError is the error of a Lambda function killed at
	// its timeout.
	DefaultMaxDurationError = "Sandbox.Timedout"
	// DefaultBreakerError is the error of a call refused by an open
	// circuit breaker.
	DefaultBreakerError    = "Nexus.CircuitOpen"
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// DefaultCost is AWS's list price (us-east-1): Step Functions standard
// workflows $25 per million state transitions, Lambda $0.20 per million
// requests and $0.0000166667 per GB-second, billed per millisecond.
var DefaultCost = Cost{Transition: 0.000025, Invocation: 0.0000002, GBSecond: 0.0000166667,
	Granularity: time.Millisecond}

// function returns the profile of function name, or the default.
func (p *Profile) function(name string) *Function {
	if f := p.Functions[name]; f != nil {
		return f
	}
	return &p.Default
}

// latency returns the latency distribution with the default applied.
func (f *Function) latency() Dist {
	if f.Latency == nil {
		return Constant(DefaultLatency)
	}
	return f.Latency
}

func (f *Function) coldLatency() Dist {
	if f.ColdStartLatency == nil {
		return Constant(DefaultColdStartLatency)
	}
	return f.ColdStartLatency
}

// FailureP is the total probability that an attempt fails with an error
// (hangs not included).
func (f *Function) FailureP() float64 {
	var s float64
	for _, x := range f.Failures {
		s += x.P
	}
	return s
}

// Outcome is what one call of a function does in a simulation.
type Outcome struct {
	// Latency until the call answers (cold start included).
	Latency time.Duration
	// Error is the error name of a failed call, "" on success.
	Error string
	// Hang: the call hung. When the function has a MaxDuration, the
	// platform kills it then: Latency is MaxDuration and Error
	// MaxDurationError. Otherwise it never answers (Latency is 0).
	Hang bool
	// Cold: the call started cold.
	Cold bool
}

// Sample draws the outcome of one call (throttling and breakers aside:
// those depend on other calls and live in the simulator).
func (f *Function) Sample(src rand.Source) Outcome {
	var o Outcome
	if f.ColdStart > 0 && uniform01(src) < f.ColdStart {
		o.Cold = true
		o.Latency = f.coldLatency().Sample(src)
	}
	u := uniform01(src)
	lat := f.latency()
	switch {
	case u < f.Hang:
		o.Hang = true
		o.Latency = 0
		if f.MaxDuration > 0 {
			o.Latency = f.MaxDuration
			o.Error = f.maxDurationError()
		}
		return o
	default:
		u -= f.Hang
		for _, x := range f.Failures {
			if u < x.P {
				o.Error = x.Error
				if f.FailureLatency != nil {
					lat = f.FailureLatency
				}
				break
			}
			u -= x.P
		}
	}
	o.Latency += lat.Sample(src)
	if f.MaxDuration > 0 && o.Latency > f.MaxDuration {
		o.Latency = f.MaxDuration
		o.Error = f.maxDurationError()
	}
	return o
}

func (f *Function) maxDurationError() string {
	if f.MaxDurationError == "" {
		return DefaultMaxDurationError
	}
	return f.MaxDurationError
}

func (f *Function) throttleError() string {
	if f.ThrottleError == "" {
		return DefaultThrottleError
	}
	return f.ThrottleError
}

func (f *Function) memoryMB() int {
	if f.MemoryMB <= 0 {
		return DefaultMemoryMB
	}
	return f.MemoryMB
}

// cost returns the price of one call billed for d.
func (f *Function) cost(c *Cost, d time.Duration) float64 {
	inv, gbs := c.Invocation, c.GBSecond
	if f.Price != nil {
		inv, gbs = f.Price.Invocation, f.Price.GBSecond
	}
	return inv + gbs*float64(f.memoryMB())/1024*billed(d, c.Granularity).Seconds()
}

// billed rounds d up to a multiple of g.
func billed(d, g time.Duration) time.Duration {
	if g <= 0 || d <= 0 {
		return max(d, 0)
	}
	return (d + g - 1) / g * g
}

func (p *Profile) cost() *Cost {
	if p.Cost == (Cost{}) {
		return &DefaultCost
	}
	return &p.Cost
}

// check reports the problems of a profile built in Go (a decoded profile
// was checked while decoding).
func (f *Function) check(name string) error {
	total := f.Hang
	for _, x := range f.Failures {
		if x.P < 0 || x.P > 1 || math.IsNaN(x.P) {
			return fmt.Errorf("function %s: probability of %s is %g, not in [0, 1]", name, x.Error, x.P)
		}
		if x.Error == "" {
			return fmt.Errorf("function %s: a failure without an error name", name)
		}
		total += x.P
	}
	if total > 1+1e-9 {
		return fmt.Errorf("function %s: failure and hang probabilities add up to %g, more than 1", name, total)
	}
	if f.Hang < 0 || f.ColdStart < 0 || f.ColdStart > 1 {
		return fmt.Errorf("function %s: probabilities must be in [0, 1]", name)
	}
	return nil
}

// Check reports the first problem of a profile: probabilities out of
// range or adding up to more than one.
func (p *Profile) Check() error {
	if err := p.Default.check("defaults"); err != nil {
		return err
	}
	for _, name := range sortedKeys(p.Functions) {
		if err := p.Functions[name].check(name); err != nil {
			return err
		}
	}
	if p.Load.Clients < 0 || p.Load.Rate < 0 {
		return fmt.Errorf("load: clients and rate must not be negative")
	}
	return nil
}
