package sim

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

// run simulates src under profile (YAML) and fails the test on errors
// and on any event the kernel rejected.
func run(t *testing.T, src, profile string, o Options) *Report {
	t.Helper()
	m := model.MustCompile(src)
	p, fs := ParseProfile("test.profile.yaml", []byte(profile))
	if p == nil {
		t.Fatalf("profile: %v", fs)
	}
	r, err := Run(context.Background(), m, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rejected != 0 {
		t.Fatalf("the kernel rejected %d events", r.Rejected)
	}
	return r
}

func stateStats(t *testing.T, r *Report, name string) StateStats {
	t.Helper()
	for _, s := range r.States {
		if s.State == name {
			return s
		}
	}
	t.Fatalf("no state %s in the report", name)
	return StateStats{}
}

func fnStats(t *testing.T, r *Report, name string) FunctionStats {
	t.Helper()
	for _, f := range r.Functions {
		if f.Function == name {
			return f
		}
	}
	t.Fatalf("no function %s in the report", name)
	return FunctionStats{}
}

func failures(s StateStats, err string) int64 {
	for _, f := range s.Failures {
		if f.Error == err {
			return f.Count
		}
	}
	return 0
}

// within checks that x is within tol of want, relative.
func within(t *testing.T, what string, x, want, tol float64) {
	t.Helper()
	if math.Abs(x-want) > tol*math.Abs(want) {
		t.Errorf("%s = %g, want %g ± %.0f%%", what, x, want, 100*tol)
	}
}

const oneTask = `
version: "1.0"
states:
- {name: A, action: a, end: true}
`

func TestTimeoutBecomesStatesTimeout(t *testing.T) {
	src := `
version: "1.0"
states:
- name: A
  action: a
  timeout: 100ms
  retry: [{errors: [States.Timeout], max_attempts: 2, interval: 10ms, backoff_rate: 1}]
  end: true
`
	// P(latency > 100ms) for exponential mean 100ms is e^-1.
	r := run(t, src, `functions: {a: {latency: {dist: exponential, mean: 100ms}}}`, Options{N: 50_000 / raceScale, Seed: 3})
	pt := math.Exp(-1)
	within(t, "succeeded", r.Outcomes[0].Rate, 1-math.Pow(pt, 3), 0.01)
	s := stateStats(t, r, "A")
	within(t, "timeouts per attempt", float64(failures(s, model.ErrTimeout))/float64(s.Attempts), pt, 0.03*math.Sqrt(raceScale))
	// No execution waits past three timeouts and two backoffs.
	if max := r.Latency.MaxMS; max > 3*100+2*10 {
		t.Errorf("max latency %vms beyond 3 timeouts and 2 backoffs", max)
	}
}

func TestHangs(t *testing.T) {
	tests := []struct {
		name, src, profile string
		end                Ending
	}{
		{"no timeout: stuck", oneTask, `functions: {a: {hang: 1}}`, EndStuck},
		{"state timeout ends it", `
version: "1.0"
states:
- {name: A, action: a, timeout: 1s, end: true}
`, `functions: {a: {hang: 1}}`, EndFailed},
		{"max_duration kills it", oneTask, `functions: {a: {hang: 1, max_duration: 2s}}`, EndFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.src, tt.profile, Options{N: 100, Seed: 1})
			if rate, _, _ := r.Rate(tt.end); rate != 1 {
				t.Fatalf("outcomes %+v, want all %s", r.Outcomes, tt.end)
			}
			if h := fnStats(t, r, "a").Hangs; h != 100 {
				t.Errorf("%d hangs, want 100", h)
			}
		})
	}
	r := run(t, oneTask, `functions: {a: {hang: 1, max_duration: 2s, max_duration_error: Killed}}`, Options{N: 10, Seed: 1})
	if got := failures(stateStats(t, r, "A"), "Killed"); got != 10 {
		t.Errorf("%d Killed failures, want 10", got)
	}
	if r.Latency.MaxMS != 2000 || r.Latency.MinMS != 2000 {
		t.Errorf("latency %v..%vms, want 2000", r.Latency.MinMS, r.Latency.MaxMS)
	}
}

func TestConcurrencyLimitThrottles(t *testing.T) {
	src := `
version: "1.0"
states:
- name: M
  type: map
  processor:
    states:
    - name: Item
      action: a
      retry: [{errors: [Lambda.TooManyRequestsException], max_attempts: 10, interval: 50ms, backoff_rate: 1}]
      end: true
  end: true
`
	// Four items at once against a limit of two: the first two run, the
	// other two are throttled and retried after 50ms until a slot frees.
	r := run(t, src, `
functions: {a: {latency: 100ms, concurrency: 2}}
states: {M: {items: 4}}
`, Options{N: 1000, Seed: 1})
	f := fnStats(t, r, "a")
	if f.Calls != 4000 {
		t.Errorf("%d calls ran, want 4000", f.Calls)
	}
	// Items 3 and 4 are throttled at 0 and 50ms, run at 100ms.
	if f.Throttled != 4000 {
		t.Errorf("%d throttled, want 4000", f.Throttled)
	}
	if r.Latency.MinMS != 200 || r.Latency.MaxMS != 200 {
		t.Errorf("latency %v..%vms, want 200ms", r.Latency.MinMS, r.Latency.MaxMS)
	}
	// Without retries on the throttle error the map fails.
	r = run(t, `
version: "1.0"
states:
- {name: M, type: map, processor: {states: [{name: Item, action: a, end: true}]}, end: true}
`, "functions: {a: {concurrency: {limit: 1, error: Slow.Down}}}\nstates: {M: {items: 2}}", Options{N: 100, Seed: 1})
	if rate, _, _ := r.Rate(EndFailed); rate != 1 {
		t.Errorf("outcomes %+v, want all failed", r.Outcomes)
	}
	if got := failures(stateStats(t, r, "Item"), "Slow.Down"); got != 100 {
		t.Errorf("%d Slow.Down failures, want 100", got)
	}
}

func TestConcurrencyAcrossExecutions(t *testing.T) {
	// Ten executions at a time against a limit of five: throttles happen
	// only because executions share the function.
	profile := "functions: {a: {latency: {dist: exponential, mean: 100ms}, concurrency: 5}}\nload: {clients: %d}"
	one := run(t, oneTask, fmt.Sprintf(profile, 1), Options{N: 2000, Seed: 1})
	ten := run(t, oneTask, fmt.Sprintf(profile, 10), Options{N: 2000, Seed: 1})
	if th := fnStats(t, one, "a").Throttled; th != 0 {
		t.Errorf("one client: %d throttled, want 0", th)
	}
	if th := fnStats(t, ten, "a").Throttled; th == 0 {
		t.Errorf("ten clients: nothing throttled")
	}
}

func TestBreakerOpensAndRefuses(t *testing.T) {
	src := `
version: "1.0"
states:
- name: A
  action: a
  retry: [{errors: [States.ALL], max_attempts: 20, interval: 1s, backoff_rate: 1}]
  end: true
`
	// Every call fails: after 3 failures the breaker opens for 10s, so of
	// the next attempts (1s apart) most are refused, one probe in ~10
	// goes through and fails again.
	r := run(t, src, `functions: {a: {latency: 10ms, failure: 1, breaker: {failures: 3, cooldown: 10s}}}`,
		Options{N: 100, Seed: 1})
	f := fnStats(t, r, "a")
	if f.Calls+f.Refused != 100*21 {
		t.Errorf("calls %d + refused %d, want %d attempts", f.Calls, f.Refused, 100*21)
	}
	if f.Refused == 0 || f.BreakerOpened == 0 {
		t.Fatalf("breaker never refused (%d) or opened (%d)", f.Refused, f.BreakerOpened)
	}
	// 3 calls, then per 11s cycle one probe: about 3 + 18/11 calls.
	if f.Calls > 100*6 {
		t.Errorf("%d calls went through an open breaker", f.Calls)
	}
	if got := failures(stateStats(t, r, "A"), DefaultBreakerError); got != f.Refused {
		t.Errorf("%d %s failures, want %d", got, DefaultBreakerError, f.Refused)
	}
}

func TestFullJitter(t *testing.T) {
	src := `
version: "1.0"
states:
- name: A
  action: a
  retry: [{errors: [States.ALL], max_attempts: 1, interval: 1s, jitter: full}]
  end: true
`
	r := run(t, src, `functions: {a: {latency: 0s, failure: 1}}`, Options{N: 20_000 / raceScale, Seed: 5})
	// One backoff uniform in [0, 1s]: mean 500ms, never above 1s.
	within(t, "mean latency (ms)", r.Latency.MeanMS, 500, 0.02*math.Sqrt(raceScale))
	if r.Latency.MaxMS > 1000 || r.Latency.MinMS < 0 {
		t.Errorf("latency %v..%vms outside [0, 1000]", r.Latency.MinMS, r.Latency.MaxMS)
	}
	within(t, "backoff per execution (ms)", stateStats(t, r, "A").BackoffMS, 500, 0.02*math.Sqrt(raceScale))
}

func TestDecisions(t *testing.T) {
	choice := `
version: "1.0"
states:
- name: C
  type: choice
  choices:
  - {condition: "input.x > 1", next: Big}
  - {condition: "input.x > 0", next: Small}
  default: Zero
- {name: Big, action: big, end: true}
- {name: Small, action: small, end: true}
- {name: Zero, action: zero, end: true}
`
	r := run(t, choice, `states: {C: {branches: {Big: 0.5, Small: 0.3, default: 0.2}}}`, Options{N: 50_000, Seed: 2})
	for fn, want := range map[string]float64{"big": 0.5, "small": 0.3, "zero": 0.2} {
		within(t, fn+" share", float64(fnStats(t, r, fn).Calls)/50_000, want, 0.03)
	}
	r = run(t, choice, ``, Options{N: 30_000, Seed: 2})
	for _, fn := range []string{"big", "small", "zero"} {
		within(t, fn+" share (uniform)", float64(fnStats(t, r, fn).Calls)/30_000, 1.0/3, 0.03)
	}

	noDefault := `
version: "1.0"
states:
- name: C
  type: choice
  choices: [{condition: "input.x > 1", next: Big}]
- {name: Big, action: big, end: true}
`
	r = run(t, noDefault, `states: {C: {no_match: 0.25}}`, Options{N: 40_000, Seed: 2})
	within(t, "failed (no match)", func() float64 { x, _, _ := r.Rate(EndFailed); return x }(), 0.25, 0.03)

	mp := `
version: "1.0"
states:
- {name: M, type: map, max_concurrency: 2, processor: {states: [{name: I, action: a, end: true}]}, end: true}
`
	r = run(t, mp, "functions: {a: {latency: 100ms}}\nstates: {M: {items: 5}}", Options{N: 100, Seed: 1})
	if f := fnStats(t, r, "a"); f.Calls != 500 {
		t.Errorf("%d calls, want 500", f.Calls)
	}
	// Five items two at a time: three rounds of 100ms.
	if r.Latency.MaxMS != 300 || r.Latency.MinMS != 300 {
		t.Errorf("map latency %v..%vms, want 300", r.Latency.MinMS, r.Latency.MaxMS)
	}
	r = run(t, mp, "states: {M: {items: {dist: poisson, mean: 4}}}", Options{N: 20_000, Seed: 1})
	within(t, "items per execution", float64(fnStats(t, r, "a").Calls)/20_000, 4, 0.03)

	r = run(t, oneTask, `states: {A: {data_errors: {States.Runtime: 0.1}}}`, Options{N: 20_000, Seed: 1})
	within(t, "failed by data errors", func() float64 { x, _, _ := r.Rate(EndFailed); return x }(), 0.1, 0.05)

	wait := `
version: "1.0"
states:
- {name: W, type: wait, seconds_path: $.delay, end: true}
`
	r = run(t, wait, `states: {W: {wait: 3s}}`, Options{N: 10, Seed: 1})
	if r.Latency.MaxMS != 3000 || stateStats(t, r, "W").WaitMS != 3000 {
		t.Errorf("wait %vms (state %vms), want 3000", r.Latency.MaxMS, stateStats(t, r, "W").WaitMS)
	}
}

func TestExecutionTimeoutAndEventLimit(t *testing.T) {
	r := run(t, `
version: "1.0"
timeout: 1s
states:
- {name: A, action: a, end: true}
`, `functions: {a: {latency: 2s}}`, Options{N: 10, Seed: 1})
	if rate, _, _ := r.Rate(EndTimedOut); rate != 1 || r.Latency.MaxMS != 1000 {
		t.Errorf("outcomes %+v, latency %vms; want timed_out at 1000ms", r.Outcomes, r.Latency.MaxMS)
	}
	src, err := os.ReadFile("../corpus/bugs/wait-loop-without-exit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, fs := model.Parse("loop.yaml", src)
	m, fs2 := model.Compile(w)
	if m == nil {
		t.Fatal(fs, fs2)
	}
	p, _ := ParseProfile("p.yaml", []byte(`functions: {poll-job: {failures: {Job.NotReady: 1}}}`))
	rep, err := Run(context.Background(), m, p, Options{N: 5, Seed: 1, MaxEvents: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if rate, _, _ := rep.Rate(EndEventLimit); rate != 1 {
		t.Errorf("outcomes %+v, want all event_limit", rep.Outcomes)
	}
}

func TestCost(t *testing.T) {
	// Two tasks of 150.2ms at 1024MB billed per 1ms (151ms each), two
	// transitions; prices chosen to be exact in binary.
	r := run(t, `
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: a, end: true}
`, `
functions: {a: {latency: 150.2ms, memory_mb: 1024}}
cost: {transition: 0.25, invocation: 0.125, gb_second: 1, granularity: 1ms}
`, Options{N: 100, Seed: 1})
	want := 2*0.25 + 2*0.125 + 2*0.151
	within(t, "cost per execution", r.Cost.PerExecution, want, 1e-9)
	within(t, "cost per million", r.Cost.PerMillion, want*1e6, 1e-9)
	if r.Cost.TransitionsPerExecution != 2 {
		t.Errorf("%v transitions, want 2", r.Cost.TransitionsPerExecution)
	}
}

func TestOpenLoopArrivals(t *testing.T) {
	// Poisson arrivals at 100/s of 1s calls: about 100 in flight, so a
	// limit of 50 throttles, and a limit of 1000 never does.
	for _, tt := range []struct {
		limit    int
		throttle bool
	}{{50, true}, {1000, false}} {
		r := run(t, oneTask, fmt.Sprintf("functions: {a: {latency: 1s, concurrency: %d}}\nload: {rate: 100/s}", tt.limit),
			Options{N: 5000, Seed: 1})
		if th := fnStats(t, r, "a").Throttled; (th > 0) != tt.throttle {
			t.Errorf("limit %d: %d throttled", tt.limit, th)
		}
	}
}

func TestDeterminism(t *testing.T) {
	m := chain([]int{2, 1, 3}, true)
	p, fs := ParseProfile("p.yaml", []byte(`
functions:
  f0: {latency: {dist: lognormal, median: 50ms, sigma: 0.5}, failure: 0.2, concurrency: 3}
  f1: {latency: {dist: gamma, shape: 2, mean: 80ms}, failures: {A: 0.1, B: 0.1}, cold_start: 0.1}
  f2: {latency: {dist: exponential, mean: 30ms}, failure: 0.3, breaker: {failures: 2, cooldown: 1s}}
load: {clients: 8}
`))
	if p == nil {
		t.Fatal(fs)
	}
	report := func(o Options) string {
		r, err := Run(context.Background(), m, p, o)
		if err != nil {
			t.Fatal(err)
		}
		var b, j strings.Builder
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&j); err != nil {
			t.Fatal(err)
		}
		return b.String() + j.String()
	}
	base := report(Options{N: 30_000 / raceScale, Seed: 9, Workers: 1})
	for _, o := range []Options{{N: 30_000 / raceScale, Seed: 9, Workers: 2}, {N: 30_000 / raceScale, Seed: 9, Workers: 7}} {
		if got := report(o); got != base {
			t.Errorf("workers %d: report differs from one worker's", o.Workers)
		}
	}
	if report(Options{N: 30_000 / raceScale, Seed: 10, Workers: 2}) == base {
		t.Error("another seed gives the same report")
	}
}

func TestProgressAndCancel(t *testing.T) {
	m := chain([]int{1}, false)
	var last int
	calls := 0
	_, err := Run(context.Background(), m, nil, Options{N: 10_000, ChunkSize: 1000, Workers: 1,
		Progress: func(done, total int) { last, calls = done, calls+1; _ = total }})
	if err != nil || last != 10_000 || calls != 10 {
		t.Errorf("progress: last %d after %d calls (err %v), want 10000 after 10", last, calls, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, m, nil, Options{N: 10_000}); err == nil {
		t.Error("a cancelled run returned no error")
	}
	if _, err := Run(context.Background(), m, nil, Options{N: -1}); err == nil {
		t.Error("a negative N was accepted")
	}
}

func TestEventHeapOrder(t *testing.T) {
	var h eventHeap
	seq := uint64(0)
	push := func(at int64) {
		seq++
		h.push(item{at: at, seq: seq})
	}
	for _, at := range []int64{5, 3, 9, 3, 1, 7, 3, 0, 8, 2} {
		push(at)
	}
	prev := item{at: -1}
	for len(h) > 0 {
		it := h.pop()
		if it.at < prev.at || (it.at == prev.at && it.seq < prev.seq) {
			t.Fatalf("popped (%d, %d) after (%d, %d)", it.at, it.seq, prev.at, prev.seq)
		}
		prev = it
	}
}
