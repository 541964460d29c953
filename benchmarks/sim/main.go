// Command sim measures the simulator: executions and events per second
// of the five-step saga (workflow.go), with every core and with one.
//
//	go run ./benchmarks/sim -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/sim"
)

func main() {
	n := flag.Int("n", 1_000_000, "executions per run")
	flag.Parse()
	m, p, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("five-step saga, %d executions, %s, GOMAXPROCS %d\n", *n, runtime.Version(), runtime.GOMAXPROCS(0))
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		start := time.Now()
		r, err := sim.Run(context.Background(), m, p, sim.Options{N: *n, Seed: 1, Workers: workers})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		el := time.Since(start)
		succ, _, _ := r.Rate(sim.EndSucceeded)
		comp, _, _ := r.Rate(sim.EndCompensated)
		fmt.Printf("workers %d: %.2fs, %.0f executions/s, %.0f events/s (%.1f events per execution); succeeded %.2f%%, compensated %.2f%%\n",
			workers, el.Seconds(), float64(*n)/el.Seconds(), float64(r.Events)/el.Seconds(), r.EventsPerExecution,
			100*succ, 100*comp)
	}
}

func setup() (*model.Machine, *sim.Profile, error) {
	w, fs := model.Parse("five-step.yaml", []byte(fiveStep))
	if w == nil || fs.Errors() > 0 {
		return nil, nil, fs
	}
	m, fs := model.Compile(w)
	if m == nil {
		return nil, nil, fs
	}
	p, fs := sim.ParseProfile("five-step.profile.yaml", []byte(fiveStepProfile))
	if p == nil {
		return nil, nil, fs
	}
	return m, p, nil
}
