package checker

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// chainWorkflow is the benchmark family of ../shared/peers/checkers: a
// chain of s mutating steps, each retried up to r times on a transient
// error and compensated in reverse on a permanent one, the compensations
// retried the same way.
func chainWorkflow(s, r int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: \"1.0\"\nname: chain-s%d-r%d\nstates:\n", s, r)
	for i := 1; i <= s; i++ {
		next := fmt.Sprintf("next: S%d", i+1)
		if i == s {
			next = "end: true"
		}
		fmt.Fprintf(&b, `- name: S%d
  action: do-%d
  mutates: true
  compensate: {action: undo-%d, retry: [{errors: [Transient], max_attempts: %d}]}
  retry: [{errors: [Transient], max_attempts: %d}]
  %s
`, i, i, i, r, r, next)
	}
	return b.String()
}

// fanOutWorkflow has a chain, a parallel state of three branches with
// retries, a choice, a map of three and compensations: the kind of
// workflow whose one-execution graph is large (interleavings of the
// branches and items).
func fanOutWorkflow() string {
	var b strings.Builder
	b.WriteString("version: \"1.0\"\nname: fan-out\nstates:\n")
	for i := 1; i <= 6; i++ {
		extra := ""
		if i%3 == 1 {
			extra = "retry: [{errors: [Transient], max_attempts: 2}], "
		}
		if i%3 == 2 {
			extra += fmt.Sprintf("mutates: true, compensate: undo-t%d, ", i)
		}
		next := fmt.Sprintf("T%d", i+1)
		if i == 6 {
			next = "P"
		}
		fmt.Fprintf(&b, "- {name: T%d, action: t%d, %snext: %s}\n", i, i, extra, next)
	}
	b.WriteString("- name: P\n  next: C\n  branches:\n")
	for br := 0; br < 3; br++ {
		b.WriteString("  - states:\n")
		for j := 0; j < 4; j++ {
			next := fmt.Sprintf("next: B%dS%d", br, j+1)
			if j == 3 {
				next = "end: true"
			}
			extra := ""
			if j == 0 {
				extra = "retry: [{errors: [Transient], max_attempts: 1}], "
			}
			fmt.Fprintf(&b, "    - {name: B%dS%d, action: b%d-%d, %s%s}\n", br, j, br, j, extra, next)
		}
	}
	b.WriteString(`- name: C
  choices: [{variable: $.x, numeric_equals: 1, next: M}]
  default: M
- name: M
  next: Z
  processor:
    states:
    - {name: M0, action: m0, next: M1}
    - {name: M1, action: m1, end: true}
- {name: Z, action: z, end: true}
`)
	return b.String()
}

// BenchmarkExplore measures the exploration of one execution's graph,
// where every move steps the kernel: distinct states per second.
func BenchmarkExplore(b *testing.B) {
	for _, tc := range []struct {
		name string
		src  string
	}{{"chain-s5-r3", chainWorkflow(5, 3)}, {"fan-out", fanOutWorkflow()}} {
		b.Run(tc.name, func(b *testing.B) {
			m := compile(b, tc.src)
			var states int
			b.ReportAllocs()
			for b.Loop() {
				g, err := Explore(context.Background(), m, Options{})
				if err != nil || !g.Complete() {
					b.Fatal(err)
				}
				states = g.NumStates()
			}
			b.ReportMetric(float64(states)*float64(b.N)/b.Elapsed().Seconds(), "states/s")
			b.ReportMetric(float64(states), "states")
		})
	}
}

// BenchmarkProduct measures the exploration of K executions without
// symmetry: distinct states per second and bytes of visited set per
// state.
func BenchmarkProduct(b *testing.B) {
	for _, tc := range []struct {
		s, r, k int
	}{{5, 3, 2}, {3, 2, 3}, {5, 3, 3}} {
		b.Run(fmt.Sprintf("chain-s%d-r%d-k%d", tc.s, tc.r, tc.k), func(b *testing.B) {
			m := compile(b, chainWorkflow(tc.s, tc.r))
			g, err := Explore(context.Background(), m, Options{})
			if err != nil {
				b.Fatal(err)
			}
			var ps ProductStats
			for b.Loop() {
				ps = g.Product(context.Background(), tc.k, false, 0, 1<<40)
			}
			want, _ := ExpectedProduct(int64(g.NumStates()), tc.k, false)
			if ps.States != want {
				b.Fatalf("%d states, want %d", ps.States, want)
			}
			b.ReportMetric(float64(ps.States)*float64(b.N)/b.Elapsed().Seconds(), "states/s")
			b.ReportMetric(ps.BytesPerState, "bytes/state")
			b.ReportMetric(float64(ps.States), "states")
		})
	}
}
