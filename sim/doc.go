// Package sim is the discrete-event simulator of nexus: it runs many
// executions of a workflow on a virtual clock, under latencies and
// failures drawn from a profile, and reports what fraction succeed, end
// compensated or fail, how long they take, how often each step retries
// and what they cost, with confidence intervals.
//
// # The same kernel
//
// The simulator is a driver of model.Machine like the engine and the
// checker (see model/doc.go): it steps the kernel in abstract mode (no
// data) and performs its commands. It implements no workflow semantics
// of its own — retries, backoff, timeouts, catchers, compensation, map
// concurrency and execution timeouts all come out of the kernel's
// commands. What the simulator supplies is the world:
//
//   - a virtual clock and an event heap (a binary heap ordered by time,
//     then by the order things were scheduled);
//   - for every Invoke, an outcome drawn from the function's profile:
//     success, an error, or a hang, after a drawn latency; a latency past
//     the invocation's Timeout is delivered as EvTimedOut at the timeout;
//   - the answer to every Decide: choice branches, map sizes, data errors
//     and wait times from the profile, full-jitter delays uniform in
//     [0, Delay];
//   - what lives outside the kernel in production too: per-function
//     concurrency limits (a call beyond the limit fails at once with a
//     throttling error, Lambda.TooManyRequestsException by default) and
//     circuit breakers (Nexus.CircuitOpen, as the engine's), which the
//     kernel's retry rules then handle like any error.
//
// # Runs
//
// Run simulates Options.N executions in chunks of Options.ChunkSize. A
// chunk is one world: its executions arrive as the profile's load says
// (a closed loop of Load.Clients executions, or Poisson arrivals at
// Load.Rate) and share the functions' concurrency limits and breakers.
// Each chunk draws from its own random source, seeded from Options.Seed
// and the chunk's index, and chunks are merged in order, so the same seed
// gives the same Report byte for byte whatever the number of goroutines.
// The event loop allocates nothing per event: executions, command
// buffers and the heap are reused.
//
// # Profiles
//
// A profile is YAML (or JSON); every key is optional:
//
//	defaults:               # every function not under functions:
//	  latency: 100ms
//	functions:
//	  charge-card:
//	    latency: {dist: lognormal, median: 80ms, p99: 600ms}
//	    failure_latency: 20ms             # latency of failed calls (default: latency)
//	    failures: {Card.Declined: 0.02, Lambda.ServiceException: 0.005}
//	    failure: 0.05                     # or: the total, spread over failures: in proportion
//	    hang: 0.001                       # calls that never answer
//	    max_duration: 15m                 # the platform kills a call then ...
//	    max_duration_error: Sandbox.Timedout
//	    cold_start: {probability: 0.02, latency: 400ms}
//	    concurrency: {limit: 100, error: Lambda.TooManyRequestsException, latency: 0s}
//	    breaker: {failures: 5, cooldown: 30s, error: Nexus.CircuitOpen}
//	    memory_mb: 512
//	    cost: {invocation: 0.0000002, gb_second: 0.0000166667}
//	states:
//	  Route: {branches: {Approve: 0.8, Reject: 0.15, default: 0.05}}
//	  Strict: {no_match: 0.01}            # a choice without default
//	  Items: {items: {dist: poisson, mean: 12}}
//	  Pause: {wait: {dist: exponential, mean: 5s}}
//	  Parse: {data_errors: {States.Runtime: 0.001}}
//	cost: {transition: 0.000025, invocation: 0.0000002, gb_second: 0.0000166667, granularity: 1ms}
//	load: {clients: 1}                    # or {rate: 50/s}
//
// Durations are Go durations (250ms, 1.5s, 2m) or numbers of seconds, as
// in workflow files; probabilities are numbers in [0, 1] or percentages
// ("5%"). Latency distributions: a duration (constant); {dist: constant,
// value}; {dist: exponential, mean}; {dist: lognormal, median, sigma},
// {median, p99} or {mu, sigma} (mu and sigma of the log of seconds);
// {dist: gamma, shape, mean} or {shape, scale}; {dist: empirical, csv:
// FILE, column: N|NAME, unit: ms} or {values: [...]}, which resamples the
// observed values (the CSV path is relative to the profile; a first row
// that is not a number is a header). All but empirical take an offset
// added to every sample. Without dist, the keys say which. Map sizes: a
// number, {dist: poisson, mean} or {dist: uniform, min, max}. Choice
// branches are named by the state they lead to, or default; the weights
// are normalised.
//
// Defaults: latency 100ms (DefaultLatency); no failures, hangs or cold
// starts (a cold start, when given a probability only, adds 300ms); no
// concurrency limit and no breaker (breaker defaults when present: 5
// failures, 30s, Nexus.CircuitOpen); 128 MB; choices uniform over their
// branches and default; maps of 3 items (DefaultItems); wait states
// written with a number of seconds wait that long, others 0s; AWS list
// prices (DefaultCost); one execution at a time. Everything left to a
// default is listed in the report's assumptions.
//
// ProfileSource.Decode applies what-if overrides before decoding:
// "charge-card.failure=0.05", "cost.transition=0.00001",
// "functions.f.latency={dist: gamma, shape: 2, mean: 1s}". RunSweep runs
// the simulation at each value of one parameter, with common random
// numbers (the same seed at every point).
//
// # Reports and validation
//
// The Report gives the rate of each ending with a 95% Wilson interval,
// latency quantiles (nearest rank) with distribution-free intervals, the
// mean latency and cost with normal intervals, per-state attempts,
// retries, failures by error and time (running, backing off, waiting,
// compensating), per-function calls, cold starts, throttles, breaker
// refusals and cost. WriteText, WriteJSON and WritePlots (SVG and PNG
// with gonum.org/v1/plot) render it.
//
// The tests check the simulator against closed forms (a chain of tasks
// with failure probabilities p_i and r_i retries succeeds with
// probability ∏(1 − p_i^(r_i+1))), exact sums of constant latencies
// through retries, timeouts, parallels and compensation, and lognormal
// means; benchmarks/sim checks it against the real engine run under the
// same injected faults.
//
// # Replay
//
// ReadTrace reads a counterexample from nexus check -o json (or a plain
// list of events) and Replay steps it through the kernel, printing every
// move, answer and command, and whether the replay ends where the
// checker's trace says.
package sim
