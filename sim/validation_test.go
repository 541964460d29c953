package sim

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/nexus-workflows/nexus/model"
)

// Validation of the simulator against what can be computed by hand
// (issue 5, point 7 a and b). The tests use fixed seeds; the tolerances
// are confidence intervals at 99.9% (z = 3.29), so that a correct
// simulator fails a check with probability 0.1% for a given seed, while a
// simulator off by one retry is far outside (each test checks that too:
// it can fail).

const z999 = 3.2905267314919255

// chain builds a linear workflow of tasks t0..tn-1 calling f0..fn-1, each
// retried retries[i] times after an interval, the first mutating and
// compensated by undo when comp is set.
func chain(retries []int, comp bool) *model.Machine {
	var b strings.Builder
	b.WriteString("version: \"1.0\"\nname: chain\nstates:\n")
	for i, r := range retries {
		fmt.Fprintf(&b, "- name: T%d\n  action: f%d\n", i, i)
		if comp && i == 0 {
			b.WriteString("  mutates: true\n  compensate: undo\n")
		}
		if r > 0 {
			fmt.Fprintf(&b, "  on_failure: {retry: %d, backoff: exponential, interval: 1s}\n", r)
		}
		if i == len(retries)-1 {
			b.WriteString("  end: true\n")
		} else {
			fmt.Fprintf(&b, "  next: T%d\n", i+1)
		}
	}
	return model.MustCompile(b.String())
}

func failingProfile(ps []float64) *Profile {
	p := &Profile{Functions: map[string]*Function{}}
	for i, x := range ps {
		p.Functions[fmt.Sprintf("f%d", i)] = &Function{Latency: Constant(10 * time.Millisecond),
			Failures: []Failure{{Error: "Boom", P: x}}}
	}
	return p
}

func TestClosedFormChainSuccess(t *testing.T) {
	tests := []struct {
		name    string
		p       []float64
		retries []int
		comp    bool
	}{
		{"one task, no retry", []float64{0.5}, []int{0}, false},
		{"three tasks, mixed retries", []float64{0.1, 0.2, 0.3}, []int{1, 2, 0}, false},
		{"five tasks, two retries each", []float64{0.3, 0.3, 0.3, 0.3, 0.3}, []int{2, 2, 2, 2, 2}, false},
		{"five tasks, compensating failure path", []float64{0.05, 0.1, 0.2, 0.1, 0.05}, []int{3, 2, 1, 2, 0}, true},
		{"high failure, many retries", []float64{0.6, 0.5}, []int{4, 3}, false},
	}
	const n = 200_000 / raceScale
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := chain(tt.retries, tt.comp)
			r, err := Run(context.Background(), m, failingProfile(tt.p), Options{N: n, Seed: uint64(100 + i)})
			if err != nil {
				t.Fatal(err)
			}
			want, offByOne := 1.0, 1.0
			// s[i]: the probability that step i succeeds (within its
			// retries); compensated: fails at a step after the first.
			var compensated float64
			for k, p := range tt.p {
				s := 1 - math.Pow(p, float64(tt.retries[k]+1))
				if k > 0 {
					compensated += want * (1 - s)
				}
				want *= s
				offByOne *= 1 - math.Pow(p, float64(tt.retries[k]))
			}
			got, _, _ := r.Rate(EndSucceeded)
			k := int64(math.Round(got * n))
			lo, hi := Wilson(k, n, z999)
			lo95, hi95 := Wilson(k, n, z95)
			t.Logf("closed form %.5f, simulated %.5f, 95%% CI [%.5f, %.5f] (inside: %v)", want, got, lo95, hi95,
				want >= lo95 && want <= hi95)
			if want < lo || want > hi {
				t.Errorf("closed form %.5f outside the 99.9%% interval [%.5f, %.5f] of the simulated %.5f", want, lo, hi, got)
			}
			if sum(tt.retries) > 0 && offByOne >= lo && offByOne <= hi {
				t.Errorf("an off-by-one retry count (%.5f) is inside the interval: the test has no power", offByOne)
			}
			if tt.comp {
				gotC, _, _ := r.Rate(EndCompensated)
				kc := int64(math.Round(gotC * n))
				clo, chi := Wilson(kc, n, z999)
				if compensated < clo || compensated > chi {
					t.Errorf("compensated: closed form %.5f outside [%.5f, %.5f]", compensated, clo, chi)
				}
			}
			if r.Rejected != 0 {
				t.Errorf("%d events rejected by the kernel", r.Rejected)
			}
		})
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestConstantLatenciesSumExactly(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		src     string
		profile *Profile
		end     Ending
		want    time.Duration
	}{
		{
			name: "four tasks",
			src: `
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: b, next: C}
- {name: C, action: c, next: D}
- {name: D, action: d, end: true}
`,
			profile: &Profile{Functions: map[string]*Function{"a": {Latency: Constant(10 * ms)},
				"b": {Latency: Constant(20 * ms)}, "c": {Latency: Constant(30 * ms)}, "d": {Latency: Constant(40 * ms)}}},
			end: EndSucceeded, want: 100 * ms,
		},
		{
			// A succeeds (10ms) and is a mutation; B fails every time:
			// 3 attempts of 20ms with backoffs 1s and 2s between them;
			// then A's compensation (7ms).
			name: "retries, backoff and compensation",
			src: `
version: "1.0"
states:
- {name: A, action: a, mutates: true, compensate: undo, next: B}
- name: B
  action: b
  on_failure: {retry: 2, backoff: exponential, interval: 1s}
  end: true
`,
			profile: &Profile{Functions: map[string]*Function{"a": {Latency: Constant(10 * ms)},
				"b":    {Latency: Constant(20 * ms), Failures: []Failure{{Error: "Boom", P: 1}}},
				"undo": {Latency: Constant(7 * ms)}}},
			end: EndCompensated, want: 10*ms + 3*20*ms + 3*time.Second + 7*ms,
		},
		{
			// B takes 50ms against a 30ms timeout, twice; then the
			// catcher sends the execution to C (5ms).
			name: "timeouts and a catcher",
			src: `
version: "1.0"
states:
- name: B
  action: b
  timeout: 30ms
  retry: [{errors: [States.Timeout], max_attempts: 1, interval: 100ms}]
  catch: [{errors: [States.ALL], next: C}]
  next: C
- {name: C, action: c, end: true}
`,
			profile: &Profile{Functions: map[string]*Function{"b": {Latency: Constant(50 * ms)}, "c": {Latency: Constant(5 * ms)}}},
			end:     EndSucceeded, want: 30*ms + 100*ms + 30*ms + 5*ms,
		},
		{
			name: "wait state and a parallel of unequal branches",
			src: `
version: "1.0"
states:
- {name: W, type: wait, seconds: 2, next: P}
- name: P
  type: parallel
  branches:
  - states: [{name: X, action: x, end: true}]
  - states: [{name: Y, action: y, next: Z}, {name: Z, action: z, end: true}]
  end: true
`,
			profile: &Profile{Functions: map[string]*Function{"x": {Latency: Constant(100 * ms)},
				"y": {Latency: Constant(30 * ms)}, "z": {Latency: Constant(40 * ms)}}},
			end: EndSucceeded, want: 2*time.Second + 100*ms,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := model.MustCompile(tt.src)
			r, err := Run(context.Background(), m, tt.profile, Options{N: 5000, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if rate, _, _ := r.Rate(tt.end); rate != 1 {
				t.Fatalf("%s rate %v, want 1; outcomes %+v", tt.end, rate, r.Outcomes)
			}
			s := r.Samples()
			if time.Duration(s[0]) != tt.want || time.Duration(s[len(s)-1]) != tt.want {
				t.Errorf("latencies from %v to %v, want exactly %v", time.Duration(s[0]), time.Duration(s[len(s)-1]), tt.want)
			}
		})
	}
}

func TestLogNormalMeanWithinInterval(t *testing.T) {
	tests := []struct {
		median time.Duration
		sigma  float64
		n      int
	}{
		{100 * time.Millisecond, 0.5, 200_000},
		{40 * time.Millisecond, 1.0, 400_000},
		{2 * time.Second, 0.25, 100_000},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("median %v sigma %v", tt.median, tt.sigma), func(t *testing.T) {
			m := model.MustCompile("version: \"1.0\"\nstates:\n- {name: A, action: a, end: true}\n")
			mu := math.Log(tt.median.Seconds())
			p := &Profile{Functions: map[string]*Function{"a": {Latency: LogNormal{Mu: mu, Sigma: tt.sigma}}}}
			r, err := Run(context.Background(), m, p, Options{N: tt.n / raceScale, Seed: uint64(7 + i)})
			if err != nil {
				t.Fatal(err)
			}
			want := distuv.LogNormal{Mu: mu, Sigma: tt.sigma}.Mean() * 1e3 // ms
			l := r.Latency
			// Widen the reported 95% interval to 99.9%.
			half := (l.MeanCI[1] - l.MeanCI[0]) / 2 * z999 / z95
			t.Logf("mean %.3fms, want %.3fms, 95%% CI [%.3f, %.3f]", l.MeanMS, want, l.MeanCI[0], l.MeanCI[1])
			if math.Abs(l.MeanMS-want) > half {
				t.Errorf("mean %.3fms is %.2f half-widths from the lognormal mean %.3fms", l.MeanMS,
					math.Abs(l.MeanMS-want)/half, want)
			}
			// The median too, with its distribution-free interval.
			if med := tt.median.Seconds() * 1e3; med < l.P50CI[0]*0.999 || med > l.P50CI[1]*1.001 {
				t.Errorf("median %.3fms outside the p50 interval [%.3f, %.3f]", med, l.P50CI[0], l.P50CI[1])
			}
		})
	}
}
