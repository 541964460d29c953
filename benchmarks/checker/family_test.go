package main

import (
	"context"
	"testing"

	"github.com/nexus-workflows/nexus/checker"
)

// TestFamilyCompiles checks that the generated workflows are valid: the
// chains of the benchmark family and the 50-state fan-out workflow.
func TestFamilyCompiles(t *testing.T) {
	for s := 1; s <= 3; s++ {
		for r := 0; r <= 2; r++ {
			m, err := compile(Chain(s, r))
			if err != nil {
				t.Fatalf("Chain(%d, %d): %v", s, r, err)
			}
			if len(m.States) != s {
				t.Errorf("Chain(%d, %d): %d states", s, r, len(m.States))
			}
		}
	}
	m, err := compile(Fanout())
	if err != nil {
		t.Fatalf("Fanout: %v", err)
	}
	if n := len(m.States); n != 50 {
		t.Errorf("Fanout: %d states, want 50", n)
	}
}

// TestChainCounts pins one execution's state count for small members of
// the family (TLC on the export found the same numbers).
func TestChainCounts(t *testing.T) {
	for _, c := range []struct{ s, r, n int }{{1, 0, 6}, {2, 1, 41}, {2, 2, 61}, {3, 1, 68}} {
		m, err := compile(Chain(c.s, c.r))
		if err != nil {
			t.Fatal(err)
		}
		g, err := checker.Explore(context.Background(), m, checker.Options{Instances: 1, NoSymmetry: true})
		if err != nil {
			t.Fatal(err)
		}
		if g.NumStates() != c.n {
			t.Errorf("S=%d R=%d: %d states, want %d", c.s, c.r, g.NumStates(), c.n)
		}
	}
}
