package main

import (
	"context"
	"runtime"
	"testing"

	"github.com/nexus-workflows/nexus/sim"
)

// BenchmarkSimFiveStep simulates the five-step saga; one iteration is
// one execution. It reports executions/s and events/s (kernel steps).
func BenchmarkSimFiveStep(b *testing.B) {
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(map[bool]string{true: "1-worker", false: "all-cores"}[workers == 1], func(b *testing.B) {
			m, p, err := setup()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			r, err := sim.Run(context.Background(), m, p, sim.Options{N: b.N, Seed: 1, Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/s, "executions/s")
			b.ReportMetric(float64(r.Events)/s, "events/s")
		})
	}
}

func TestSetup(t *testing.T) {
	m, p, err := setup()
	if err != nil {
		t.Fatal(err)
	}
	r, err := sim.Run(context.Background(), m, p, sim.Options{N: 20_000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The benchmark must exercise both paths it claims to.
	succ, _, _ := r.Rate(sim.EndSucceeded)
	comp, _, _ := r.Rate(sim.EndCompensated)
	if succ < 0.5 || comp < 0.02 || r.Rejected != 0 {
		t.Errorf("succeeded %.3f, compensated %.3f, rejected %d", succ, comp, r.Rejected)
	}
	var retries int64
	for _, s := range r.States {
		retries += s.Retries
	}
	if retries == 0 {
		t.Error("no retries")
	}
}
