package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Observation is one call of a function seen in production: what an
// engine's history says about it.
type Observation struct {
	Function string
	// Latency from the intent of the call to its outcome.
	Latency time.Duration
	// Error of a failed call ("" on success); TimedOut for a call the
	// engine stopped waiting for.
	Error    string
	TimedOut bool
}

// derivedValues is how many latency values a derived empirical
// distribution keeps: that many evenly spaced quantiles of what was seen.
const derivedValues = 200

// DeriveProfile builds a profile from observed calls: per function, an
// empirical latency distribution (of successful calls; of failed ones
// apart when they differ), the observed rate of each error, and the rate
// of timeouts as hangs (the state's timeout then ends them, as it did).
func DeriveProfile(obs []Observation) *Profile {
	type acc struct {
		ok, fail []time.Duration
		errs     map[string]int
		timeouts int
		calls    int
	}
	by := map[string]*acc{}
	for _, o := range obs {
		a := by[o.Function]
		if a == nil {
			a = &acc{errs: map[string]int{}}
			by[o.Function] = a
		}
		a.calls++
		switch {
		case o.TimedOut:
			a.timeouts++
		case o.Error != "":
			a.errs[o.Error]++
			a.fail = append(a.fail, o.Latency)
		default:
			a.ok = append(a.ok, o.Latency)
		}
	}
	p := &Profile{Functions: map[string]*Function{}, Cost: DefaultCost}
	for _, name := range sortedKeys(by) {
		a := by[name]
		f := &Function{}
		switch {
		case len(a.ok) > 0:
			f.Latency = NewEmpirical(quantiles(a.ok, derivedValues), "")
			if len(a.fail) > 0 {
				f.FailureLatency = NewEmpirical(quantiles(a.fail, derivedValues), "")
			}
		case len(a.fail) > 0:
			f.Latency = NewEmpirical(quantiles(a.fail, derivedValues), "")
		}
		for _, e := range sortedKeys(a.errs) {
			f.Failures = append(f.Failures, Failure{Error: e, P: float64(a.errs[e]) / float64(a.calls)})
		}
		f.Hang = float64(a.timeouts) / float64(a.calls)
		p.Functions[name] = f
	}
	return p
}

// quantiles returns at most k evenly spaced quantiles of xs (all of xs,
// sorted, when there are no more than k).
func quantiles(xs []time.Duration, k int) []time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) <= k {
		return s
	}
	out := make([]time.Duration, k)
	for i := range out {
		out[i] = s[int((float64(i)+0.5)/float64(k)*float64(len(s)))]
	}
	return out
}

// Format writes the profile in the profile file syntax, so that a derived
// profile can be saved, read and edited. The comment heads the file.
func (p *Profile) Format(comment string) []byte {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(comment), "\n") {
		if l != "" {
			fmt.Fprintf(&b, "# %s\n", l)
		}
	}
	b.WriteString("version: \"1\"\n")
	writeFn := func(indent string, f *Function) {
		if f.Latency != nil {
			fmt.Fprintf(&b, "%slatency: %s\n", indent, distYAML(f.Latency))
		}
		if f.FailureLatency != nil {
			fmt.Fprintf(&b, "%sfailure_latency: %s\n", indent, distYAML(f.FailureLatency))
		}
		if len(f.Failures) > 0 {
			fmt.Fprintf(&b, "%sfailures:\n", indent)
			for _, x := range f.Failures {
				fmt.Fprintf(&b, "%s  %s: %s\n", indent, yamlKey(x.Error), fmtProb(x.P))
			}
		}
		if f.Hang > 0 {
			fmt.Fprintf(&b, "%shang: %s\n", indent, fmtProb(f.Hang))
		}
		if f.ColdStart > 0 {
			fmt.Fprintf(&b, "%scold_start: {probability: %s, latency: %s}\n", indent, fmtProb(f.ColdStart), distYAML(f.coldLatency()))
		}
		if f.MaxDuration > 0 {
			fmt.Fprintf(&b, "%smax_duration: %s\n", indent, f.MaxDuration)
			if f.MaxDurationError != "" {
				fmt.Fprintf(&b, "%smax_duration_error: %s\n", indent, yamlKey(f.MaxDurationError))
			}
		}
		if f.Concurrency > 0 {
			fmt.Fprintf(&b, "%sconcurrency: {limit: %d, error: %s, latency: %s}\n", indent, f.Concurrency,
				yamlKey(f.throttleError()), f.ThrottleLatency)
		}
		if br := f.Breaker; br != nil {
			fmt.Fprintf(&b, "%sbreaker: {failures: %d, cooldown: %s, error: %s}\n", indent, br.Failures, br.Cooldown, yamlKey(br.Error))
		}
		if f.MemoryMB > 0 {
			fmt.Fprintf(&b, "%smemory_mb: %d\n", indent, f.MemoryMB)
		}
		if f.Price != nil {
			fmt.Fprintf(&b, "%scost: {invocation: %s, gb_second: %s}\n", indent, fmtProb(f.Price.Invocation), fmtProb(f.Price.GBSecond))
		}
	}
	if !isZeroFunction(&p.Default) {
		b.WriteString("defaults:\n")
		writeFn("  ", &p.Default)
	}
	if len(p.Functions) > 0 {
		b.WriteString("functions:\n")
		for _, name := range sortedKeys(p.Functions) {
			fmt.Fprintf(&b, "  %s:\n", yamlKey(name))
			writeFn("    ", p.Functions[name])
		}
	}
	c := p.Cost
	if c != (Cost{}) {
		fmt.Fprintf(&b, "cost: {transition: %s, invocation: %s, gb_second: %s, granularity: %s}\n", fmtProb(c.Transition),
			fmtProb(c.Invocation), fmtProb(c.GBSecond), c.Granularity)
	}
	switch {
	case p.Load.Rate > 0:
		fmt.Fprintf(&b, "load: {rate: %s}\n", fmtProb(p.Load.Rate))
	case p.Load.Clients > 1:
		fmt.Fprintf(&b, "load: {clients: %d}\n", p.Load.Clients)
	}
	return []byte(b.String())
}

func isZeroFunction(f *Function) bool {
	return f.Latency == nil && f.FailureLatency == nil && len(f.Failures) == 0 && f.Hang == 0 && f.ColdStart == 0 &&
		f.MaxDuration == 0 && f.Concurrency == 0 && f.Breaker == nil && f.MemoryMB == 0 && f.Price == nil
}

func distYAML(d Dist) string {
	if e, ok := d.(*Empirical); ok {
		vs := make([]string, len(e.Values))
		for i, v := range e.Values {
			vs[i] = strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64)
		}
		return "{dist: empirical, unit: ms, values: [" + strings.Join(vs, ", ") + "]}"
	}
	return d.String()
}

func fmtProb(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// yamlKey quotes a name that plain YAML would misread.
func yamlKey(s string) string {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return s
}
