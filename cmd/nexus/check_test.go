package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckExamplesHold runs nexus check over every valid example, as CI
// would: exit 0.
func TestCheckExamplesHold(t *testing.T) {
	paths, _ := filepath.Glob("../../corpus/examples/*")
	var args []string
	for _, p := range paths {
		// The specification's original example is invalid on purpose.
		if code, _, _ := nexus(t, "validate", p); code == exitOK || sidecarKind(p) != "" {
			args = append(args, p)
		}
	}
	if len(args) < 3 {
		t.Fatalf("only %d examples", len(args))
	}
	code, stdout, stderr := nexus(t, append([]string{"check"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "every invariant holds") || strings.Contains(stdout, "violation") {
		t.Errorf("output:\n%s", stdout)
	}
}

// TestCheckBugs runs nexus check on every seeded bug: exit 1, naming the
// expected invariant (or policy) with a trace.
func TestCheckBugs(t *testing.T) {
	paths, _ := filepath.Glob("../../corpus/bugs/*.yaml")
	if len(paths) < 14 {
		t.Fatalf("%d seeded bugs", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			expect, ok := strings.CutPrefix(first, "# expect: ")
			if !ok {
				t.Fatal("no expect header")
			}
			args := []string{"check", p}
			if strings.Contains(string(src), "\n# fault: invoke-before-intent\n") {
				args = append(args, "--fault-invoke-before-intent")
			}
			if strings.Contains(string(src), "\n# check: compensation-failures\n") {
				args = append(args, "--compensation-failures")
			}
			code, stdout, stderr := nexus(t, args...)
			if code != exitFindings {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
			}
			if expect == "policy" {
				if !strings.Contains(stderr, ": policy \"") {
					t.Errorf("no policy finding:\n%s", stderr)
				}
				return
			}
			if !strings.Contains(stdout, "violation 1: "+expect+" at "+p+":") || !strings.Contains(stdout, "  trace (execution 1") ||
				!strings.Contains(stdout, "    1. ") {
				t.Errorf("no %s violation with a trace:\n%s", expect, stdout)
			}
		})
	}
}

func TestCheckJSONAndSARIF(t *testing.T) {
	bug := "../../corpus/bugs/choice-without-default.yaml"
	code, stdout, stderr := nexus(t, "check", "-o", "json", bug, "../../corpus/examples/payment-reconciliation-fixed.yaml")
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var results []struct {
		File    string
		Verdict string
		Report  struct {
			Verdict string
			Results []struct {
				Invariant  string
				Verdict    string
				Violations []struct {
					State struct{ Line int }
					Trace struct{ Steps []any }
				}
			}
			Product struct {
				States           int64 `json:"states"`
				StatesNoSymmetry int64 `json:"states_no_symmetry"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(results) != 2 || results[0].Verdict != "violated" || results[1].Verdict != "holds" || results[1].Report.Verdict != "holds" {
		t.Fatalf("results %+v", results)
	}
	for _, r := range results[0].Report.Results {
		if r.Invariant == "NoDanglingState" && (r.Verdict != "violated" || r.Violations[0].State.Line != 9 || len(r.Violations[0].Trace.Steps) == 0) {
			t.Errorf("NoDanglingState: %+v", r)
		}
	}
	if p := results[1].Report.Product; p.States <= 0 || p.StatesNoSymmetry <= p.States {
		t.Errorf("product %+v", p)
	}

	code, stdout, _ = nexus(t, "check", "-o", "sarif", bug)
	var log struct {
		Version string
		Runs    []struct{ Results []struct{ RuleID string } }
	}
	if code != exitFindings || json.Unmarshal([]byte(stdout), &log) != nil || log.Version != "2.1.0" || len(log.Runs[0].Results) == 0 ||
		log.Runs[0].Results[0].RuleID != "NoDanglingState" {
		t.Errorf("sarif: exit %d\n%s", code, stdout)
	}
}

func TestCheckTraceSVG(t *testing.T) {
	out := filepath.Join(t.TempDir(), "trace.svg")
	code, _, stderr := nexus(t, "check", "../../corpus/bugs/refund-can-fail.yaml", "--compensation-failures", "--trace-svg", out)
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, "<svg") || !strings.Contains(s, "CompensationComplete") || !strings.Contains(s, "Charge") || !strings.Contains(s, "refund()") {
		t.Errorf("svg lacks the trace: %d bytes", len(s))
	}
}

func TestCheckPolicyFile(t *testing.T) {
	dir := t.TempDir()
	strict := filepath.Join(dir, "strict.yaml")
	os.WriteFile(strict, []byte("policies:\n  - rule: \"function.retry_count >= 3\"\n    severity: error\n"), 0o644)
	lenient := filepath.Join(dir, "lenient.yaml")
	os.WriteFile(lenient, []byte("policies:\n  - rule: \"function.retry_count >= 3\"\n    severity: warning\n"), 0o644)
	ex := "../../corpus/examples/payment-reconciliation-fixed.yaml"
	code, _, stderr := nexus(t, "check", ex, "--policy", strict)
	if code != exitFindings || !strings.Contains(stderr, `policy "function.retry_count >= 3" fails for function "check-balance-function"`) {
		t.Errorf("strict: exit %d\n%s", code, stderr)
	}
	code, _, stderr = nexus(t, "check", ex, "--policy", lenient)
	if code != exitOK || !strings.Contains(stderr, "warning: policy") {
		t.Errorf("lenient: exit %d\n%s", code, stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- {rule: \"true\", severity: fatal}\n"), 0o644)
	if code, _, _ := nexus(t, "check", ex, "--policy", bad); code != exitUsage {
		t.Errorf("bad policy file: exit %d", code)
	}
}

func TestCheckUsageAndBounds(t *testing.T) {
	ex := "../../corpus/examples/payment-reconciliation-fixed.yaml"
	for _, args := range [][]string{
		{"check"},
		{"check", ex, "-o", "xml"},
		{"check", ex, "--instances", "0"},
		{"check", ex, "--map-size", "0"},
		{"check", ex, "--max-memory", "lots"},
		{"check", "no-such-file.yaml"},
		{"check", ex, "--policy", "no-such-policy.yaml"},
	} {
		if code, _, _ := nexus(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, stdout, _ := nexus(t, "check", ex, "--max-states", "20")
	if code != exitUsage || !strings.Contains(stdout, "incomplete: max-states (20)") || strings.Contains(stdout, " holds\n") {
		t.Errorf("bounded: exit %d\n%s", code, stdout)
	}
	// 53 states per execution: 53^3 = 148,877 states for three.
	code, stdout, _ = nexus(t, "check", "../../corpus/examples/expense-approval.yaml", "--instances", "3", "--no-symmetry")
	if code != exitOK || !strings.Contains(stdout, "3 executions: 148,877 states (symmetry off)") {
		t.Errorf("--instances 3 --no-symmetry: exit %d\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "bounds: instances 3, map-size 3") {
		t.Errorf("bounds not printed:\n%s", stdout)
	}
}

// TestCheckStepFunctions checks an ASL definition directly.
func TestCheckStepFunctions(t *testing.T) {
	asl := filepath.Join(t.TempDir(), "flow.asl.json")
	os.WriteFile(asl, []byte(`{
  "StartAt": "Charge",
  "States": {
    "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:eu-north-1:123456789012:function:charge",
               "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "Next": "Route"},
    "Route": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}]},
    "Failed": {"Type": "Fail", "Error": "ChargeFailed"},
    "Done": {"Type": "Succeed"}
  }
}`), 0o644)
	code, stdout, stderr := nexus(t, "check", asl)
	if code != exitFindings || !strings.Contains(stdout, "violation 1: NoDanglingState at "+asl+":") || !strings.Contains(stdout, "Route") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestParseBytesAndSidecars(t *testing.T) {
	sizes := map[string]int64{"512MiB": 512 << 20, "4GiB": 4 << 30, "2G": 2 << 30, "1500": 1500, "1.5KiB": 1536, "0": 0, "3 MB": 3e6}
	for in, want := range sizes {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "-1GiB", "GiB", ""} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
	kinds := map[string]bool{"a/flow.test.yaml": true, "flow.bindings.yaml": true, "x.failing.bindings.yml": true, "p.profile.json": true,
		"flow.yaml": false, "test.yaml": false, "flow.asl.json": false, "profile.yaml": false}
	for path, sidecar := range kinds {
		if got := sidecarKind(path) != ""; got != sidecar {
			t.Errorf("sidecarKind(%q) = %q", path, sidecarKind(path))
		}
	}
}

// TestCheckUnansweredCallback: a callback step with no timeout and no
// heartbeat can wait forever; nexus check says so as NoDeadlock at the
// step's line:col, also when the world may cancel (a cancellation is no
// move of the execution's own), and its help lists the move.
func TestCheckUnansweredCallback(t *testing.T) {
	bug := "../../corpus/bugs/parallel-join-waits-forever.yaml"
	for _, extra := range [][]string{nil, {"--cancel"}} {
		code, stdout, stderr := nexus(t, append([]string{"check", bug}, extra...)...)
		if code != exitFindings || !strings.Contains(stdout, "violation 1: NoDeadlock at "+bug+":17:13 (state ComplianceSignOff)") ||
			!strings.Contains(stdout, `callback state "ComplianceSignOff" has no timeout or heartbeat: if nobody answers, the execution waits forever`) ||
			!strings.Contains(stdout, "is never answered") || !strings.Contains(stdout, "  - callbacks: ") {
			t.Errorf("%v: exit %d\n%s\n%s", extra, code, stdout, stderr)
		}
	}
	_, stdout, _ := nexus(t, "check", "--help")
	if !strings.Contains(stdout, "nobody ever answers") {
		t.Errorf("help does not list the unanswered callback:\n%s", stdout)
	}
}
