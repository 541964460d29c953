package main

import (
	"fmt"
	"strings"
)

// TransientError is the error a step of the benchmark family fails with
// and retries; any other error (the checker's undeclared one) is
// permanent.
const TransientError = "Transient.Error"

// Chain writes the peers' benchmark model as a nexus workflow: a chain of
// s mutating steps, each retried up to r times on a transient failure and
// failing for good on any other error, which compensates the completed
// steps in reverse order; each compensation is retried up to r times on a
// transient failure too. The kernel appends every step's intent to the
// log before it invokes the step. The number of concurrent instances (K)
// is a bound of the check (--instances), not part of the workflow.
//
// It is the nexus form of ../shared/peers/checkers/Workflow.tla and
// workflow.pml. The state spaces differ in two ways: there the K
// instances append to one shared log, whose order is part of the state,
// while each nexus execution has its own log (the executions share
// nothing); and here a retry waits for a backoff timer and every effect
// is a command the engine performs, which may be interrupted by a crash.
func Chain(s, r int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The benchmark family of ../shared/peers/checkers (S=%d steps, R=%d retries),\n", s, r)
	b.WriteString("# written by benchmarks/checker. Check it with --instances K --no-symmetry.\n")
	b.WriteString("version: \"1.0\"\n")
	fmt.Fprintf(&b, "name: chain-s%d-r%d\n", s, r)
	b.WriteString("states:\n")
	for i := 1; i <= s; i++ {
		fmt.Fprintf(&b, "- name: Step%d\n", i)
		fmt.Fprintf(&b, "  action: do-%d\n", i)
		b.WriteString("  mutates: true\n")
		fmt.Fprintf(&b, "  compensate:\n    action: undo-%d\n", i)
		fmt.Fprintf(&b, "    retry: [{errors: [%s], max_attempts: %d, interval: 1s, backoff_rate: 1}]\n", TransientError, r)
		if r > 0 {
			fmt.Fprintf(&b, "  retry: [{errors: [%s], max_attempts: %d, interval: 1s, backoff_rate: 1}]\n", TransientError, r)
		}
		if i < s {
			fmt.Fprintf(&b, "  next: Step%d\n", i+1)
		} else {
			b.WriteString("  end: true\n")
		}
	}
	return b.String()
}

// Fanout writes a workflow of 50 states with a parallel state of three
// branches and a map state (checked with the default map size of 3): the
// size of workflow the issue asks `nexus check` to finish in under 2 s.
// Its steps mutate and compensate, retry transient errors once, and the
// branches and the item processor run chains of tasks concurrently.
func Fanout() string {
	var b strings.Builder
	b.WriteString("# 50 states: a parallel state of 3 branches and a map state, written by\n")
	b.WriteString("# benchmarks/checker to time nexus check on a workflow of this size.\n")
	b.WriteString("version: \"1.0\"\n")
	b.WriteString("name: fanout-50\n")
	b.WriteString("states:\n")
	n := 0
	task := func(indent, name, next string, mutates bool) {
		n++
		fmt.Fprintf(&b, "%s- name: %s\n", indent, name)
		fmt.Fprintf(&b, "%s  action: fn-%s\n", indent, strings.ToLower(name))
		if mutates {
			fmt.Fprintf(&b, "%s  mutates: true\n", indent)
			fmt.Fprintf(&b, "%s  compensate: undo-%s\n", indent, strings.ToLower(name))
		}
		fmt.Fprintf(&b, "%s  retry: [{errors: [%s], max_attempts: 1}]\n", indent, TransientError)
		if next == "" {
			fmt.Fprintf(&b, "%s  end: true\n", indent)
		} else {
			fmt.Fprintf(&b, "%s  next: %s\n", indent, next)
		}
	}
	pass := func(indent, name, next string) {
		n++
		if next == "" {
			fmt.Fprintf(&b, "%s- {name: %s, type: pass, end: true}\n", indent, name)
		} else {
			fmt.Fprintf(&b, "%s- {name: %s, type: pass, next: %s}\n", indent, name, next)
		}
	}
	// Top level: 5 tasks, the parallel state (3 branches of 8 states), 4
	// tasks, the map (an item processor of 10 states), a choice, 2 tasks,
	// a fail and a succeed state.
	for i := 1; i <= 5; i++ {
		next := fmt.Sprintf("Prepare%d", i+1)
		if i == 5 {
			next = "FanOut"
		}
		task("", fmt.Sprintf("Prepare%d", i), next, i%2 == 1)
	}
	n++
	b.WriteString("- name: FanOut\n  type: parallel\n  next: Collect1\n")
	b.WriteString("  catch: [{errors: [States.ALL], next: Failed}]\n")
	b.WriteString("  branches:\n")
	for br := 1; br <= 3; br++ {
		b.WriteString("  - states:\n")
		for i := 1; i <= 8; i++ {
			next := fmt.Sprintf("B%dS%d", br, i+1)
			if i == 8 {
				next = ""
			}
			if i%4 != 1 {
				pass("    ", fmt.Sprintf("B%dS%d", br, i), next)
			} else {
				task("    ", fmt.Sprintf("B%dS%d", br, i), next, false)
			}
		}
	}
	for i := 1; i <= 4; i++ {
		next := fmt.Sprintf("Collect%d", i+1)
		if i == 4 {
			next = "PerItem"
		}
		task("", fmt.Sprintf("Collect%d", i), next, i == 2)
	}
	n++
	b.WriteString("- name: PerItem\n  type: map\n  max_concurrency: 2\n  next: Route\n")
	b.WriteString("  processor:\n    states:\n")
	for i := 1; i <= 10; i++ {
		next := fmt.Sprintf("Item%d", i+1)
		if i == 10 {
			next = ""
		}
		if i%5 != 1 {
			pass("      ", fmt.Sprintf("Item%d", i), next)
		} else {
			task("      ", fmt.Sprintf("Item%d", i), next, false)
		}
	}
	n++
	b.WriteString("- name: Route\n  type: choice\n  choices:\n  - {variable: $.ok, boolean_equals: true, next: Finish1}\n  default: Failed\n")
	task("", "Finish1", "Finish2", true)
	task("", "Finish2", "Done", false)
	n++
	b.WriteString("- {name: Failed, type: fail, error: Fanout.Failed}\n")
	n++
	b.WriteString("- {name: Done, type: succeed}\n")
	if n != 50 {
		panic(fmt.Sprintf("Fanout: %d states, want 50", n))
	}
	return b.String()
}
