package sim

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

func TestParseProfileForms(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		src  string
		sets []string
		// check inspects function f of the decoded profile.
		fn   string
		want Function
	}{
		{"constant shorthand", `functions: {f: {latency: 120ms}}`, nil, "f", Function{Latency: Constant(120 * ms)}},
		{"seconds as a number", `functions: {f: {latency: 2}}`, nil, "f", Function{Latency: Constant(2 * time.Second)}},
		{"constant", `functions: {f: {latency: {dist: constant, value: 1.5s}}}`, nil, "f",
			Function{Latency: Constant(1500 * ms)}},
		{"exponential with offset", `functions: {f: {latency: {dist: exponential, mean: 100ms, offset: 5ms}}}`, nil, "f",
			Function{Latency: Exponential{MeanD: 100 * ms, Offset: 5 * ms}}},
		{"lognormal median sigma", `functions: {f: {latency: {dist: lognormal, median: 1s, sigma: 0.5}}}`, nil, "f",
			Function{Latency: LogNormal{Mu: 0, Sigma: 0.5}}},
		{"lognormal inferred from median", `functions: {f: {latency: {median: 1s, sigma: 0.5}}}`, nil, "f",
			Function{Latency: LogNormal{Mu: 0, Sigma: 0.5}}},
		{"lognormal median p99", `functions: {f: {latency: {dist: lognormal, median: 1s, p99: 10s}}}`, nil, "f",
			Function{Latency: LogNormal{Mu: 0, Sigma: math.Log(10) / z99}}},
		{"gamma shape mean", `functions: {f: {latency: {dist: gamma, shape: 2, mean: 100ms}}}`, nil, "f",
			Function{Latency: Gamma{Shape: 2, MeanD: 100 * ms}}},
		{"gamma shape scale", `functions: {f: {latency: {dist: gamma, shape: 2, scale: 50ms}}}`, nil, "f",
			Function{Latency: Gamma{Shape: 2, MeanD: 100 * ms}}},
		{"failure total", `functions: {f: {failure: 0.1}}`, nil, "f",
			Function{Failures: []Failure{{Error: model.ErrTaskFailed, P: 0.1}}}},
		{"failure percent", `functions: {f: {failure: 10%}}`, nil, "f",
			Function{Failures: []Failure{{Error: model.ErrTaskFailed, P: 0.1}}}},
		{"failures scaled by failure", `functions: {f: {failures: {A: 0.01, B: 0.03}, failure: 0.2}}`, nil, "f",
			Function{Failures: []Failure{{Error: "A", P: 0.05}, {Error: "B", P: 0.15}}}},
		{"limits", `
functions:
  f:
    hang: 0.01
    cold_start: {probability: 0.2, latency: 1s}
    max_duration: 15m
    max_duration_error: Killed
    concurrency: {limit: 10, error: Busy, latency: 20ms}
    breaker: {failures: 3, cooldown: 1m}
    memory_mb: 512
    cost: {invocation: 0.001}
`, nil, "f", Function{Hang: 0.01, ColdStart: 0.2, ColdStartLatency: Constant(time.Second), MaxDuration: 15 * time.Minute,
			MaxDurationError: "Killed", Concurrency: 10, ThrottleError: "Busy", ThrottleLatency: 20 * ms,
			Breaker: &Breaker{Failures: 3, Cooldown: time.Minute, Error: DefaultBreakerError}, MemoryMB: 512,
			Price: &Price{Invocation: 0.001, GBSecond: DefaultCost.GBSecond}}},
		{"set a failure", `functions: {f: {latency: 10ms}}`, []string{"f.failure=0.05"}, "f",
			Function{Latency: Constant(10 * ms), Failures: []Failure{{Error: model.ErrTaskFailed, P: 0.05}}}},
		{"set through a scalar", `functions: {f: {latency: 10ms}}`, []string{"f.latency.median=1s", "f.latency.sigma=1"},
			"f", Function{Latency: LogNormal{Mu: 0, Sigma: 1}}},
		{"set a new function", ``, []string{"functions.g.latency=3s"}, "g", Function{Latency: Constant(3 * time.Second)}},
		{"set a whole distribution", ``, []string{"g.latency={dist: gamma, shape: 4, mean: 1s}"}, "g",
			Function{Latency: Gamma{Shape: 4, MeanD: time.Second}}},
		{"defaults", `defaults: {latency: 7ms}`, nil, "unlisted", Function{Latency: Constant(7 * ms)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fs := ParseProfile("p.yaml", []byte(tt.src), tt.sets...)
			if p == nil {
				t.Fatalf("findings: %v", fs)
			}
			got := *p.function(tt.fn)
			if lg, ok := got.Latency.(LogNormal); ok {
				// Compare mu with a tolerance: it went through a log.
				if wl := tt.want.Latency.(LogNormal); math.Abs(lg.Mu-wl.Mu) < 1e-12 {
					lg.Mu = wl.Mu
					got.Latency = lg
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseProfileSections(t *testing.T) {
	p, fs := ParseProfile("p.yaml", []byte(`
version: "1"
comment: whole file
states:
  Route: {branches: {A: 2, default: 1}}
  Fan: {items: {dist: uniform, min: 1, max: 5}}
  Pause: {wait: {dist: exponential, mean: 10s}}
  Read: {data_errors: {States.Runtime: 0.01}}
cost: {transition: 0.001, invocation: 0, gb_second: 0.5, granularity: 100ms}
load: {rate: 300/m}
`))
	if p == nil {
		t.Fatal(fs)
	}
	if w := p.States["Route"].Branches; w["A"] != 2 || w["default"] != 1 {
		t.Errorf("branches %v", w)
	}
	if p.States["Fan"].Items != (UniformCount{Min: 1, Max: 5}) {
		t.Errorf("items %v", p.States["Fan"].Items)
	}
	if p.States["Pause"].Wait != (Exponential{MeanD: 10 * time.Second}) {
		t.Errorf("wait %v", p.States["Pause"].Wait)
	}
	if !reflect.DeepEqual(p.States["Read"].DataErrors, []Failure{{Error: "States.Runtime", P: 0.01}}) {
		t.Errorf("data errors %v", p.States["Read"].DataErrors)
	}
	if p.Cost != (Cost{Transition: 0.001, GBSecond: 0.5, Granularity: 100 * time.Millisecond}) {
		t.Errorf("cost %+v", p.Cost)
	}
	if p.Load != (Load{Rate: 5}) {
		t.Errorf("load %+v", p.Load)
	}
	if p, fs := ParseProfile("empty.yaml", nil); p == nil || p.Cost != DefaultCost || len(fs) != 0 {
		t.Errorf("an empty profile: %+v %v", p, fs)
	}
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct {
		name, src string
		sets      []string
		want      string // a part of the message
		pos       string // FILE:LINE:COL prefix
	}{
		{"unknown top key", "functoins: {}\n", nil, `unknown key "functoins"`, "p.yaml:1:1"},
		{"unknown function key", "functions:\n  f: {latncy: 1s}\n", nil, `unknown key "latncy" in function f`, "p.yaml:2:7"},
		{"probability out of range", "functions:\n  f: {failure: 1.5}\n", nil, "must be in [0, 1]", "p.yaml:2:16"},
		{"probabilities add up", "functions:\n  f: {failures: {A: 0.6, B: 0.5}}\n", nil, "add up to 1.1", "p.yaml:2:6"},
		{"not a duration", "functions:\n  f: {latency: fast}\n", nil, `"fast" is not a duration`, "p.yaml:2:16"},
		{"negative duration", "functions:\n  f: {latency: -1s}\n", nil, "must not be negative", "p.yaml:2:16"},
		{"unknown distribution", "functions:\n  f: {latency: {dist: weibull}}\n", nil, `unknown distribution "weibull"`, "p.yaml:2:23"},
		{"lognormal without sigma", "functions:\n  f: {latency: {dist: lognormal, median: 1s}}\n", nil, "needs a sigma", "p.yaml:2:16"},
		{"gamma without shape", "functions:\n  f: {latency: {dist: gamma, mean: 1s}}\n", nil, "needs a shape", "p.yaml:2:16"},
		{"p99 below median", "functions:\n  f: {latency: {median: 1s, p99: 500ms}}\n", nil, "p99 must be above", "p.yaml:2:16"},
		{"missing csv", "functions:\n  f: {latency: {dist: empirical, csv: nope.csv}}\n", nil, "nope.csv", "p.yaml:2:39"},
		{"both loads", "load: {clients: 2, rate: 3}\n", nil, "not both", "p.yaml:1:7"},
		{"bad rate", "load: {rate: fast}\n", nil, "rate must be", "p.yaml:1:14"},
		{"breaker failures", "functions:\n  f: {breaker: {failures: 0}}\n", nil, "at least 1", "p.yaml:2:16"},
		{"not a mapping", "- a\n- b\n", nil, "must be a mapping", "p.yaml:1:1"},
		{"bad set", "", []string{"nonsense"}, "PATH=VALUE", "--set nonsense"},
		{"bad set value", "", []string{"f.failure=2"}, "must be in [0, 1]", "--set f.failure=2"},
		{"bad set key", "", []string{"f.latncy=1s"}, `unknown key "latncy"`, "--set f.latncy=1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fs := ParseProfile("p.yaml", []byte(tt.src), tt.sets...)
			if p != nil {
				t.Fatalf("accepted; findings %v", fs)
			}
			msg := fs.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.pos) {
				t.Errorf("findings %q, want %q at %s", msg, tt.want, tt.pos)
			}
		})
	}
}

func TestEmpiricalFromCSV(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lat.csv", "function,latency_ms\nf,10\nf,30\n\nf,20.5\n")
	write("bare.csv", "1.5\n2.5\n")
	write("bad.csv", "x\n10\nnot-a-number\n")
	profile := filepath.Join(dir, "p.yaml")
	tests := []struct {
		src  string
		want []time.Duration
		err  string
	}{
		{`{dist: empirical, csv: lat.csv, column: latency_ms}`, []time.Duration{10e6, 20.5e6, 30e6}, ""},
		{`{dist: empirical, csv: lat.csv, column: 1}`, []time.Duration{10e6, 20.5e6, 30e6}, ""},
		{`{csv: bare.csv, unit: s}`, []time.Duration{1.5e9, 2.5e9}, ""},
		{`{values: [5ms, 1s, 2]}`, []time.Duration{2e6, 5e6, 1e9}, ""},
		{`{dist: empirical, csv: bad.csv}`, nil, `bad.csv:3: "not-a-number" is not a number`},
		{`{dist: empirical, csv: lat.csv, column: nope}`, nil, `no column "nope"`},
		{`{dist: empirical, values: []}`, nil, "needs values"},
	}
	for _, tt := range tests {
		p, fs := ParseProfile(profile, []byte("functions: {f: {latency: "+tt.src+"}}"))
		if tt.err != "" {
			if p != nil || !strings.Contains(fs.Error(), tt.err) {
				t.Errorf("%s: findings %v, want %q", tt.src, fs, tt.err)
			}
			continue
		}
		if p == nil {
			t.Errorf("%s: %v", tt.src, fs)
			continue
		}
		e, ok := p.Functions["f"].Latency.(*Empirical)
		if !ok || !reflect.DeepEqual(e.Values, tt.want) {
			t.Errorf("%s: %v, want %v", tt.src, p.Functions["f"].Latency, tt.want)
		}
	}
}

func TestBindErrors(t *testing.T) {
	m := model.MustCompile(`
version: "1.0"
states:
- name: C
  type: choice
  choices: [{condition: "input.x > 1", next: A}]
  default: A
- {name: A, action: a, end: true}
`)
	for _, tt := range []struct{ profile, want string }{
		{`states: {C: {branches: {Nowhere: 1}}}`, "no branch leads to Nowhere"},
		{`states: {C: {branches: {A: 0}}}`, "add up to 0"},
		{`states: {C: {no_match: 0.1}}`, "has a default"},
	} {
		p, fs := ParseProfile("p.yaml", []byte(tt.profile))
		if p == nil {
			t.Fatal(fs)
		}
		if _, err := bind(m, p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.profile, err, tt.want)
		}
	}
	p, _ := ParseProfile("p.yaml", []byte(`functions: {unused: {latency: 1s}}
states: {Missing: {items: 2}}`))
	b, err := bind(m, p)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(b.notes, "\n")
	for _, want := range []string{"function unused is not called", "state Missing is not in the workflow",
		"choice state C: branches equally likely", "default profile"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
	if err := (&Profile{Functions: map[string]*Function{"f": {Failures: []Failure{{Error: "E", P: 2}}}}}).Check(); err == nil {
		t.Error("Check accepted a probability of 2")
	}
}

// FuzzParseProfile: no input makes the profile decoder panic, and what it
// accepts passes Check.
func FuzzParseProfile(f *testing.F) {
	for _, s := range []string{
		`functions: {f: {latency: {dist: lognormal, median: 1s, sigma: 0.5}, failure: 0.1}}`,
		`states: {S: {branches: {A: 1}, items: {dist: poisson, mean: 3}}}`,
		`load: {rate: 10/s}`, `cost: {transition: 1}`, `defaults: {concurrency: {limit: 1}}`,
	} {
		f.Add(s, "f.failure=0.5")
	}
	f.Fuzz(func(t *testing.T, src, set string) {
		p, _ := ParseProfile("fuzz.yaml", []byte(src), set)
		if p != nil {
			if err := p.Check(); err != nil {
				t.Fatalf("accepted profile fails Check: %v", err)
			}
		}
	})
}

func TestNewProfileSource(t *testing.T) {
	root, fs := model.ParseNode("wf.yaml", []byte("name: x\nprofiles:\n  functions: {f: {failure: 0.5}}\n"))
	if root == nil {
		t.Fatal(fs)
	}
	ps, fs := NewProfileSource("wf.yaml", root.Get("profiles"))
	if ps == nil {
		t.Fatal(fs)
	}
	p, fs := ps.Decode()
	if p == nil || p.Functions["f"].FailureP() != 0.5 {
		t.Errorf("%+v %v", p, fs)
	}
	if ps, fs := NewProfileSource("wf.yaml", root.Get("name")); ps != nil || !strings.Contains(fs.Error(), "wf.yaml:1:7") {
		t.Errorf("a scalar profile: %v", fs)
	}
}
