package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is what a simulation run found. Durations are in milliseconds,
// prices in dollars, intervals are 95% confidence intervals. The same run
// (workflow, profile, seed, N) gives the same Report.
type Report struct {
	Workflow   string `json:"workflow"`
	Profile    string `json:"profile,omitempty"`
	Executions int    `json:"executions"`
	Seed       uint64 `json:"seed"`
	// Load describes how executions arrived.
	Load string `json:"load"`
	// Outcomes: the four saga outcomes always, others when they occur.
	Outcomes []OutcomeStats `json:"outcomes"`
	// Latency of every finished execution, then of each outcome that
	// occurred.
	Latency   LatencyStats    `json:"latency"`
	ByOutcome []LatencyStats  `json:"latency_by_outcome"`
	States    []StateStats    `json:"states"`
	Functions []FunctionStats `json:"functions"`
	Cost      CostStats       `json:"cost"`
	// Events is the number of events stepped through the kernel.
	Events             int64   `json:"events"`
	EventsPerExecution float64 `json:"events_per_execution"`
	// Rejected counts events the kernel rejected; always 0 unless the
	// simulator has a bug.
	Rejected int64 `json:"rejected,omitempty"`
	// Assumptions are what the profile left to defaults.
	Assumptions []string `json:"assumptions,omitempty"`

	samples [numEndings][]int64
}

// OutcomeStats is how many executions ended one way.
type OutcomeStats struct {
	Outcome string     `json:"outcome"`
	Count   int64      `json:"count"`
	Rate    float64    `json:"rate"`
	CI      [2]float64 `json:"ci95"`
}

// LatencyStats summarises end-to-end latencies (start to end, the
// compensation included), in milliseconds.
type LatencyStats struct {
	Outcome string     `json:"outcome"`
	Count   int64      `json:"count"`
	MeanMS  float64    `json:"mean_ms"`
	MeanCI  [2]float64 `json:"mean_ci95_ms"`
	MinMS   float64    `json:"min_ms"`
	P50MS   float64    `json:"p50_ms"`
	P90MS   float64    `json:"p90_ms"`
	P99MS   float64    `json:"p99_ms"`
	MaxMS   float64    `json:"max_ms"`
	P50CI   [2]float64 `json:"p50_ci95_ms"`
	P90CI   [2]float64 `json:"p90_ci95_ms"`
	P99CI   [2]float64 `json:"p99_ci95_ms"`
}

// StateStats is what the executions did in one state. Per-execution
// figures are averages over all executions (an execution that never
// entered the state counts as zero). Times of parallel branches overlap.
type StateStats struct {
	State    string `json:"state"`
	Attempts int64  `json:"attempts"`
	Retries  int64  `json:"retries"`
	// Per execution: retries; milliseconds waiting for calls (run),
	// backing off before retries, in wait states, compensating.
	RetriesPerExecution float64 `json:"retries_per_execution"`
	RunMS               float64 `json:"run_ms_per_execution"`
	BackoffMS           float64 `json:"backoff_ms_per_execution"`
	WaitMS              float64 `json:"wait_ms_per_execution"`
	CompensationMS      float64 `json:"compensation_ms_per_execution"`
	// Compensation (or on-failure handler) attempts and failed ones.
	CompensationAttempts int64 `json:"compensation_attempts"`
	CompensationFailures int64 `json:"compensation_failures"`
	// Failures of the state's attempts and decisions, by error.
	Failures []ErrorCount `json:"failures,omitempty"`
}

// ErrorCount is how often an error happened.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// FunctionStats is what happened to one function's calls.
type FunctionStats struct {
	Function string `json:"function"`
	// Calls that ran; throttled by the concurrency limit; refused by an
	// open breaker; times the breaker opened; calls that hung.
	Calls         int64 `json:"calls"`
	ColdStarts    int64 `json:"cold_starts"`
	Throttled     int64 `json:"throttled"`
	Refused       int64 `json:"breaker_refused"`
	BreakerOpened int64 `json:"breaker_opened"`
	Hangs         int64 `json:"hangs"`
	// Busy: function time per execution (ms); cost of its calls per
	// execution.
	BusyMS           float64 `json:"busy_ms_per_execution"`
	CostPerExecution float64 `json:"cost_per_execution"`
}

// CostStats is what the executions cost.
type CostStats struct {
	PerExecution float64    `json:"per_execution"`
	CI           [2]float64 `json:"per_execution_ci95"`
	PerMillion   float64    `json:"per_million"`
	// Transitions per execution and what they cost; what the calls cost.
	TransitionsPerExecution float64 `json:"transitions_per_execution"`
	Transitions             float64 `json:"transitions_per_execution_cost"`
	Functions               float64 `json:"functions_per_execution_cost"`
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// report builds the report of a run from its chunks' tallies.
func (b *bound) report(ts []*tally, n int, seed uint64) *Report {
	t, samples := b.merge(ts)
	r := &Report{Workflow: b.m.Name, Profile: b.p.File, Executions: n, Seed: seed, Load: b.p.Load.String(),
		Events: t.events, EventsPerExecution: float64(t.events) / float64(n), Rejected: t.rejected,
		Assumptions: b.notes, samples: samples}
	for e := range numEndings {
		k := t.counts[e]
		if e > EndCompensationFailed && k == 0 {
			continue
		}
		lo, hi := Wilson(k, int64(n), z95)
		r.Outcomes = append(r.Outcomes, OutcomeStats{Outcome: e.String(), Count: k, Rate: float64(k) / float64(n),
			CI: [2]float64{lo, hi}})
	}
	r.Latency = latencyStats("all", r.Samples())
	for e := range EndStuck {
		if len(samples[e]) > 0 {
			r.ByOutcome = append(r.ByOutcome, latencyStats(e.String(), samples[e]))
		}
	}
	nf := float64(n)
	for i := range b.m.States {
		sp := &b.m.States[i]
		st := &t.states[i]
		s := StateStats{State: sp.Name, Attempts: st.attempts, Retries: st.retries,
			RetriesPerExecution: float64(st.retries) / nf, RunMS: ms(st.runNS) / nf, BackoffMS: ms(st.backoffNS) / nf,
			WaitMS: ms(st.waitNS) / nf, CompensationMS: ms(st.compNS) / nf,
			CompensationAttempts: st.compAttempts, CompensationFailures: st.compFailures}
		for e, name := range b.errs {
			if k := t.fails[i*t.nerr+e]; k > 0 {
				s.Failures = append(s.Failures, ErrorCount{Error: name, Count: k})
			}
		}
		slices.SortFunc(s.Failures, func(a, b ErrorCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Error, b.Error))
		})
		if *st == (stateTally{}) && len(s.Failures) == 0 {
			continue
		}
		r.States = append(r.States, s)
	}
	var fnCost float64
	for i, name := range b.m.Functions {
		ft := &t.fns[i]
		fnCost += ft.cost
		r.Functions = append(r.Functions, FunctionStats{Function: name, Calls: ft.calls, ColdStarts: ft.cold,
			Throttled: ft.throttled, Refused: ft.refused, BreakerOpened: ft.opened, Hangs: ft.hangs,
			BusyMS: ms(ft.busy) / nf, CostPerExecution: ft.cost / nf})
	}
	mean, lo, hi := meanCI(t.cost, t.costSq, int64(n))
	r.Cost = CostStats{PerExecution: mean, CI: [2]float64{lo, hi}, PerMillion: mean * 1e6,
		TransitionsPerExecution: float64(t.transitions) / nf,
		Transitions:             float64(t.transitions) * b.cost.Transition / nf, Functions: fnCost / nf}
	return r
}

func latencyStats(name string, sorted []int64) LatencyStats {
	s := LatencyStats{Outcome: name, Count: int64(len(sorted))}
	if len(sorted) == 0 {
		return s
	}
	var sum, sumSq float64
	for _, x := range sorted {
		f := ms(x)
		sum += f
		sumSq += f * f
	}
	mean, lo, hi := meanCI(sum, sumSq, int64(len(sorted)))
	s.MeanMS, s.MeanCI = mean, [2]float64{lo, hi}
	s.MinMS, s.MaxMS = ms(sorted[0]), ms(sorted[len(sorted)-1])
	s.P50MS, s.P90MS, s.P99MS = ms(quantile(sorted, 0.5)), ms(quantile(sorted, 0.9)), ms(quantile(sorted, 0.99))
	for _, q := range []struct {
		q   float64
		dst *[2]float64
	}{{0.5, &s.P50CI}, {0.9, &s.P90CI}, {0.99, &s.P99CI}} {
		l, h := quantileCI(sorted, q.q)
		*q.dst = [2]float64{ms(l), ms(h)}
	}
	return s
}

// Samples returns the end-to-end latencies of the executions that ended
// one of the given ways (every finished execution when none is given),
// sorted.
func (r *Report) Samples(endings ...Ending) []int64 {
	if len(endings) == 0 {
		endings = []Ending{EndSucceeded, EndCompensated, EndFailed, EndCompensationFailed, EndTimedOut, EndCancelled}
	}
	var out []int64
	for _, e := range endings {
		if e < numEndings {
			out = append(out, r.samples[e]...)
		}
	}
	if len(endings) > 1 {
		slices.Sort(out)
	}
	return out
}

// Rate returns the fraction of executions that ended e, and its 95%
// Wilson interval.
func (r *Report) Rate(e Ending) (rate, lo, hi float64) {
	for _, o := range r.Outcomes {
		if o.Outcome == e.String() {
			return o.Rate, o.CI[0], o.CI[1]
		}
	}
	lo, hi = Wilson(0, int64(r.Executions), z95)
	return 0, lo, hi
}

// String describes the load in words.
func (l Load) String() string {
	if l.Rate > 0 {
		return fmt.Sprintf("open loop, Poisson arrivals at %s/s", trimFloat(l.Rate))
	}
	c := max(l.Clients, 1)
	if c == 1 {
		return "closed loop, 1 execution at a time"
	}
	return fmt.Sprintf("closed loop, %d executions at a time", c)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s executions, seed %d", r.Workflow, group(int64(r.Executions)), r.Seed)
	if r.Profile != "" {
		fmt.Fprintf(&b, ", profile %s", r.Profile)
	}
	fmt.Fprintf(&b, "\nload: %s\n\n", r.Load)

	tb := table{{"outcome", "count", "rate", "95% CI"}}
	for _, o := range r.Outcomes {
		tb = append(tb, []string{o.Outcome, group(o.Count), pct(o.Rate), fmt.Sprintf("[%s, %s]", pct(o.CI[0]), pct(o.CI[1]))})
	}
	tb.write(&b)

	b.WriteString("\nlatency (start to end, compensation included)\n")
	tb = table{{"", "count", "mean", "p50", "p90", "p99", "max"}}
	for _, l := range append([]LatencyStats{r.Latency}, r.ByOutcome...) {
		if l.Count == 0 {
			continue
		}
		tb = append(tb, []string{l.Outcome, group(l.Count), msString(l.MeanMS), msString(l.P50MS), msString(l.P90MS),
			msString(l.P99MS), msString(l.MaxMS)})
	}
	tb.write(&b)
	if r.Latency.Count > 0 {
		fmt.Fprintf(&b, "  95%% CI: mean [%s, %s], p50 [%s, %s], p99 [%s, %s]\n",
			msString(r.Latency.MeanCI[0]), msString(r.Latency.MeanCI[1]), msString(r.Latency.P50CI[0]),
			msString(r.Latency.P50CI[1]), msString(r.Latency.P99CI[0]), msString(r.Latency.P99CI[1]))
	}

	if len(r.States) > 0 {
		b.WriteString("\nper state (retries and times per execution)\n")
		tb = table{{"state", "attempts", "retries", "run", "backoff", "wait", "compensation", "failures"}}
		for _, s := range r.States {
			var failures int64
			for _, f := range s.Failures {
				failures += f.Count
			}
			tb = append(tb, []string{s.State, group(s.Attempts), trimFloat(s.RetriesPerExecution), msString(s.RunMS),
				msString(s.BackoffMS), msString(s.WaitMS), msString(s.CompensationMS), group(failures)})
		}
		tb.write(&b)
		tb = table{{"state", "error", "count", "per execution"}}
		for _, s := range r.States {
			for _, f := range s.Failures {
				tb = append(tb, []string{s.State, f.Error, group(f.Count), trimFloat(float64(f.Count) / float64(r.Executions))})
			}
		}
		if len(tb) > 1 {
			b.WriteString("\nfailures (of attempts and decisions; retried ones included)\n")
			tb.write(&b)
		}
	}

	if len(r.Functions) > 0 {
		b.WriteString("\nper function (busy and cost per execution)\n")
		tb = table{{"function", "calls", "cold", "throttled", "breaker", "hangs", "busy", "cost"}}
		for _, f := range r.Functions {
			br := group(f.Refused)
			if f.BreakerOpened > 0 {
				br = fmt.Sprintf("%s (opened %s×)", group(f.Refused), group(f.BreakerOpened))
			}
			tb = append(tb, []string{f.Function, group(f.Calls), group(f.ColdStarts), group(f.Throttled), br,
				group(f.Hangs), msString(f.BusyMS), dollars(f.CostPerExecution)})
		}
		tb.write(&b)
	}

	fmt.Fprintf(&b, "\ncost: %s per execution (95%% CI [%s, %s]), %s per million executions\n",
		dollars(r.Cost.PerExecution), dollars(r.Cost.CI[0]), dollars(r.Cost.CI[1]), dollarsShort(r.Cost.PerMillion))
	fmt.Fprintf(&b, "  %s transitions per execution (%s), functions %s\n", trimFloat(r.Cost.TransitionsPerExecution),
		dollars(r.Cost.Transitions), dollars(r.Cost.Functions))
	fmt.Fprintf(&b, "events: %s stepped through the kernel (%s per execution)\n", group(r.Events),
		trimFloat(r.EventsPerExecution))
	if r.Rejected > 0 {
		fmt.Fprintf(&b, "warning: the kernel rejected %s events (a simulator bug)\n", group(r.Rejected))
	}
	if len(r.Assumptions) > 0 {
		b.WriteString("\nassumptions:\n")
		for _, a := range r.Assumptions {
			fmt.Fprintf(&b, "  - %s\n", a)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// group writes an integer with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + group(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pct(x float64) string { return fmt.Sprintf("%.3f%%", 100*x) }

// msString formats milliseconds with three significant digits and a
// fitting unit.
func msString(x float64) string {
	switch {
	case x == 0:
		return "0"
	case math.IsNaN(x):
		return "-"
	}
	return durString(time.Duration(math.Round(x * 1e6)))
}

func durString(d time.Duration) string {
	x := float64(d)
	var v float64
	var unit string
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		v, unit = x/1e3, "µs"
	case d < time.Second:
		v, unit = x/1e6, "ms"
	case d < time.Minute:
		v, unit = x/1e9, "s"
	case d < time.Hour:
		v, unit = x/6e10, "min"
	default:
		v, unit = x/3.6e12, "h"
	}
	return trimFloat(sig3(v)) + unit
}

// sig3 rounds to three significant digits.
func sig3(v float64) float64 {
	if v == 0 {
		return 0
	}
	e := math.Floor(math.Log10(math.Abs(v)))
	p := math.Pow(10, 2-e)
	return math.Round(v*p) / p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.4g", v)
	if strings.ContainsAny(s, "e") {
		return fmt.Sprintf("%.3g", v)
	}
	return s
}

func dollars(x float64) string {
	if x == 0 {
		return "$0"
	}
	return "$" + fmt.Sprintf("%.4g", x)
}

func dollarsShort(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("$%.2f", x)
	}
	return dollars(x)
}

// table is rows of cells, the first row a header; write aligns the first
// column left and the others right.
type table [][]string

func (t table) write(b *strings.Builder) {
	var width []int
	for _, row := range t {
		for i, c := range row {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, row := range t {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				line.WriteString("  " + c + pad)
			default:
				line.WriteString("  " + pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}
