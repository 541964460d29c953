package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

func TestReportTextJSONAndPlots(t *testing.T) {
	m := chain([]int{2, 1}, true)
	r, err := Run(context.Background(), m, failingProfile([]float64{0.2, 0.3}), Options{N: 5000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"5,000 executions, seed 1", "succeeded", "compensated", "95% CI", "p99", "per state",
		"T0", "per function", "undo", "cost:", "per million", "failures (of attempts", "Boom", "assumptions:"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Executions != 5000 || len(back.Outcomes) < 4 || back.Outcomes[0].Outcome != "succeeded" ||
		back.Latency.P99MS != r.Latency.P99MS || len(back.States) != 2 {
		t.Errorf("JSON round trip: %+v", back)
	}
	var total int64
	for _, o := range back.Outcomes {
		total += o.Count
	}
	if total != 5000 {
		t.Errorf("outcomes add up to %d, want 5000", total)
	}
	dir := t.TempDir()
	files, err := r.WritePlots(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("wrote %v, want 3 figures in 2 formats", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".svg":
			if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("</svg>")) {
				t.Errorf("%s is not an SVG", f)
			}
		case ".png":
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("%s is not a PNG", f)
			}
		}
	}
}

func TestSweep(t *testing.T) {
	tests := []struct {
		spec   string
		values []string
		unit   string
		err    string
	}{
		{"f.failure=0..0.2:0.05", []string{"0", "0.05", "0.1", "0.15", "0.2"}, "", ""},
		{"f.failure=0..0.3:0.1", []string{"0", "0.1", "0.2", "0.3"}, "", ""},
		{"f.latency=100ms..300ms:100ms", []string{"100ms", "200ms", "300ms"}, "s", ""},
		{"f.failure=0.01,0.1,0.5", []string{"0.01", "0.1", "0.5"}, "", ""},
		{"f.failure", nil, "", "PATH=FROM..TO:STEP"},
		{"f.failure=0..1", nil, "", "needs a step"},
		{"f.failure=1..0:0.1", nil, "", "FROM ≤ TO"},
		{"f.failure=0..1s:0.1", nil, "", "numbers or all durations"},
		{"f.failure=0..1000:0.1", nil, "", "at most"},
		{"f.failure=a,b", nil, "", "neither a number nor a duration"},
	}
	for _, tt := range tests {
		s, err := ParseSweep(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(s.Values, " ") != strings.Join(tt.values, " ") || s.Unit != tt.unit {
			t.Errorf("%s: %+v %v, want %v", tt.spec, s, err, tt.values)
		}
	}

	m := model.MustCompile(oneTask)
	src, fs := ReadProfile("p.yaml", []byte(`functions: {a: {latency: 10ms}}`))
	if src == nil {
		t.Fatal(fs)
	}
	sw, _ := ParseSweep("a.failure=0..0.4:0.2")
	var mu sync.Mutex
	var last, total int
	res, _, err := RunSweep(context.Background(), m, src, nil, sw, Options{N: 20_000, Seed: 3,
		Progress: func(done, all int) {
			mu.Lock()
			defer mu.Unlock()
			last, total = max(last, done), all
		}})
	if err != nil {
		t.Fatal(err)
	}
	if last != 60_000 || total != 60_000 {
		t.Errorf("progress ended at %d/%d, want 60000/60000", last, total)
	}
	for i, want := range []float64{1, 0.8, 0.6} {
		got, lo, hi := res.Points[i].Report.Rate(EndSucceeded)
		if want < lo || want > hi {
			t.Errorf("a.failure=%s: succeeded %.4f [%.4f, %.4f], want %.1f", res.Points[i].Value, got, lo, hi, want)
		}
	}
	var b bytes.Buffer
	if err := res.WriteText(&b); err != nil || !strings.Contains(b.String(), "a.failure") || strings.Count(b.String(), "\n") < 5 {
		t.Errorf("sweep table (%v):\n%s", err, b.String())
	}
	files, err := res.WritePlot(t.TempDir())
	if err != nil || len(files) != 2 {
		t.Errorf("sweep plot: %v %v", files, err)
	}
	if _, fs, err := RunSweep(context.Background(), m, src, nil, &Sweep{Param: "a.failure", Values: []string{"7"}, X: []float64{7}},
		Options{N: 10}); err == nil || len(fs) == 0 {
		t.Errorf("an invalid sweep value was accepted: %v %v", fs, err)
	}
}

func TestDeriveProfileRoundTrip(t *testing.T) {
	var obs []Observation
	for i := range 1000 {
		o := Observation{Function: "pay", Latency: time.Duration(10+i%50) * time.Millisecond}
		switch {
		case i%10 == 0:
			o.Error = "Card.Declined"
		case i%25 == 1:
			o.TimedOut = true
		}
		obs = append(obs, o)
		obs = append(obs, Observation{Function: "log", Latency: 5 * time.Millisecond})
	}
	p := DeriveProfile(obs)
	pay := p.Functions["pay"]
	if len(pay.Failures) != 1 || pay.Failures[0].Error != "Card.Declined" || pay.Failures[0].P != 0.1 {
		t.Errorf("failures %+v, want Card.Declined 0.1", pay.Failures)
	}
	if pay.Hang != 0.04 {
		t.Errorf("hang %v, want 0.04", pay.Hang)
	}
	src := p.Format("derived for a test")
	back, fs := ParseProfile("derived.yaml", src)
	if back == nil {
		t.Fatalf("the formatted profile does not parse: %v\n%s", fs, src)
	}
	bp := back.Functions["pay"]
	if bp.Hang != pay.Hang || bp.Failures[0] != pay.Failures[0] {
		t.Errorf("round trip: %+v, want %+v", bp, pay)
	}
	if bp.Latency.Mean() != pay.Latency.Mean() || back.Functions["log"].Latency.Mean() != 5*time.Millisecond {
		t.Errorf("latency means %v and %v, want %v and 5ms", bp.Latency.Mean(), back.Functions["log"].Latency.Mean(),
			pay.Latency.Mean())
	}
	// A full profile formats and reads back the same.
	full, fs := ParseProfile("c.yaml", []byte(`
defaults: {latency: 5ms}
functions:
  "odd: name": {latency: {dist: gamma, shape: 2, mean: 1s}, cold_start: {probability: 0.5, latency: 1s},
    max_duration: 1m, max_duration_error: X, concurrency: 3, breaker: {failures: 2}, memory_mb: 256,
    cost: {invocation: 1, gb_second: 2}, failure_latency: 3ms}
load: {clients: 4}
`))
	if full == nil {
		t.Fatal(fs)
	}
	again, fs := ParseProfile("again.yaml", full.Format(""))
	if again == nil {
		t.Fatalf("%v\n%s", fs, full.Format(""))
	}
	if string(again.Format("")) != string(full.Format("")) {
		t.Errorf("format is not stable:\n%s\n---\n%s", full.Format(""), again.Format(""))
	}
}
