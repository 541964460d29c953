package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimReplaysCheckerCounterexample(t *testing.T) {
	// The contract between nexus check and nexus sim is the JSON file:
	// a counterexample the checker prints replays through the kernel to
	// the status the checker's trace ends in.
	for _, bug := range []string{"choice-without-default", "parallel-retried-by-catch", "catch-back-edge-retries-forever"} {
		t.Run(bug, func(t *testing.T) {
			file := "../../corpus/bugs/" + bug + ".yaml"
			code, out, stderr := nexus(t, "check", file, "-o", "json")
			if code != exitFindings {
				t.Fatalf("check: exit %d\n%s", code, stderr)
			}
			trace := filepath.Join(t.TempDir(), "check.json")
			if err := os.WriteFile(trace, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			code, replay, stderr := nexus(t, "sim", file, "--replay", trace)
			if code != exitOK {
				t.Fatalf("replay: exit %d\n%s%s", code, replay, stderr)
			}
			if !strings.Contains(replay, "execution 1 ends ") || strings.Contains(replay, "MISMATCH") {
				t.Errorf("replay:\n%s", replay)
			}
		})
	}
}
