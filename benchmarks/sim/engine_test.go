package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/sim"
)

// "The simulator predicts production" (issue 5, point 7c): the real
// engine, on a real SQLite store and the real clock, runs a workflow
// whose functions are in-process fakes that draw their outcome and
// latency from a profile; the simulator runs the same workflow under the
// same profile. They must agree on the rate of each outcome (the
// simulator's rate inside the engine's 99% Wilson interval) and on the
// distribution of end-to-end latency (two-sample Kolmogorov–Smirnov test,
// p > 0.01). Latencies are a hundred milliseconds or so, so that the
// engine's own work (a few commits per step, goroutine wake-ups on a busy
// machine: a few milliseconds per execution) stays small beside them;
// at a tenth of that scale it shows in the comparison.

const engineWorkflow = `
version: "1.0"
name: sim-vs-engine
functions:
  a: {uri: "go:a"}
  b: {uri: "go:b"}
  c: {uri: "go:c"}
  undo: {uri: "go:undo"}
states:
- name: A
  action: a
  mutates: true
  compensate: undo
  on_failure: {retry: 2, backoff: exponential, interval: 100ms}
  next: B
- name: B
  action: b
  on_failure: {retry: 1, interval: 150ms}
  next: C
- name: C
  action: c
  end: true
`

const engineProfile = `
functions:
  a: {latency: {dist: lognormal, median: 100ms, sigma: 0.4}, failure: 0.25}
  b: {latency: {dist: gamma, shape: 4, mean: 150ms}, failures: {B.Busy: 0.2, B.Down: 0.1}}
  c: {latency: {dist: exponential, mean: 50ms, offset: 25ms}, failure: 0.1}
  undo: {latency: 25ms}
`

// profileFunc is a fault-injecting in-process function: it draws an
// outcome from the profile, takes its latency, and answers. The random
// numbers of a call depend only on the seed and on the call's execution,
// state, function and attempt, so that the engine's run draws the same
// outcomes whatever order its goroutines run in.
func profileFunc(f *sim.Function, seed uint64) invoke.Func {
	return func(ctx context.Context, req invoke.Request) (invoke.Response, error) {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d", req.Execution, req.State, req.Function, req.Attempt)
		o := f.Sample(rand.NewPCG(seed, h.Sum64()))
		wait := o.Latency
		if o.Hang && wait == 0 {
			wait = time.Hour // until the engine gives up on it
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return invoke.Response{}, ctx.Err()
		}
		if o.Error != "" {
			return invoke.Response{Error: o.Error, Cause: "injected by the profile"}, nil
		}
		return invoke.Response{Output: []byte(`{}`)}, nil
	}
}

func TestSimPredictsEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on the real clock for several seconds")
	}
	w, fs := model.Parse("sim-vs-engine.yaml", []byte(engineWorkflow))
	if w == nil || fs.Errors() > 0 {
		t.Fatal(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatal(fs)
	}
	prof, fs := sim.ParseProfile("sim-vs-engine.profile.yaml", []byte(engineProfile))
	if prof == nil {
		t.Fatal(fs)
	}

	// The engine.
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "nexus.db"), store.SQLiteOptions{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := &invoke.Registry{}
	for _, fn := range m.Functions {
		if err := reg.Register(fn, profileFunc(prof.Functions[fn], 42)); err != nil {
			t.Fatal(err)
		}
	}
	// The simulator's profile has no breaker; neither may the engine.
	eng, err := engine.Open(context.Background(), engine.Options{Store: st, Invokers: reg,
		Breaker: engine.BreakerPolicy{Failures: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	wf := &engine.Workflow{File: "sim-vs-engine.yaml", Source: []byte(engineWorkflow), Machine: m}

	n := 600
	if raceEnabled {
		n = 300
	}
	const inFlight = 100
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type outcome struct {
		status  model.Status
		err     string
		latency time.Duration
	}
	results := make([]outcome, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := eng.Run(ctx, wf, []byte(`{}`), engine.StartOptions{ID: fmt.Sprintf("x%04d", i)})
			if err != nil {
				errs <- err
				return
			}
			row, err := st.Execution(ctx, res.ID)
			if err != nil {
				errs <- err
				return
			}
			results[i] = outcome{res.Status, res.Error, time.Duration(row.Updated - row.Created)}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The simulator, many more executions.
	r, err := sim.Run(context.Background(), m, prof, sim.Options{N: 50_000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}

	counts := map[model.Status]int64{}
	errNames := map[string]int{}
	var engLat []float64
	for _, o := range results {
		counts[o.status]++
		errNames[o.err]++
		engLat = append(engLat, float64(o.latency)/1e6)
	}
	t.Logf("engine errors: %v", errNames)
	for _, tt := range []struct {
		status model.Status
		ending sim.Ending
	}{{model.Succeeded, sim.EndSucceeded}, {model.Compensated, sim.EndCompensated}, {model.Failed, sim.EndFailed}} {
		lo, hi := sim.Wilson(counts[tt.status], int64(n), sim.ZFor(0.99))
		rate, _, _ := r.Rate(tt.ending)
		t.Logf("%-11s engine %.3f [%.3f, %.3f] (99%%), simulator %.4f", tt.status, float64(counts[tt.status])/float64(n), lo, hi, rate)
		if rate < lo || rate > hi {
			t.Errorf("%s: the simulator's rate %.4f is outside the engine's 99%% interval [%.3f, %.3f]", tt.status, rate, lo, hi)
		}
	}

	simLat := make([]float64, 0, r.Executions)
	for _, ns := range r.Samples() {
		simLat = append(simLat, float64(ns)/1e6)
	}
	d, p := sim.KolmogorovSmirnov(engLat, simLat)
	t.Logf("latency: engine mean %.1fms, simulator mean %.1fms; KS D = %.4f, p = %.3g", mean(engLat), r.Latency.MeanMS, d, p)
	if raceEnabled {
		t.Skip("latency distributions are not compared under the race detector, which slows the engine's own work by an order of magnitude; the outcome rates agreed")
	}
	if p <= 0.01 {
		t.Errorf("latency distributions differ: KS D = %.4f, p = %.3g ≤ 0.01", d, p)
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / math.Max(1, float64(len(xs)))
}
