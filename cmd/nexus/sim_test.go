package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/store"
)

const (
	payment        = "../../corpus/examples/payment-reconciliation-fixed.yaml"
	paymentProfile = "../../corpus/examples/payment-reconciliation.profile.yaml"
)

func TestSimPaymentExample(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := nexus(t, "sim", payment, "--profile", paymentProfile, "-n", "20000", "--plot", dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"Betalningsrekoncilering: 20,000 executions, seed 1", "succeeded", "compensated",
		"95% CI", "p99", "ExecuteTransfer", "execute-transfer-function", "per million", "closed loop, 25 executions"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"latency-histogram", "latency-cdf", "states"} {
		for _, ext := range []string{".svg", ".png"} {
			if fi, err := os.Stat(filepath.Join(dir, f+ext)); err != nil || fi.Size() == 0 {
				t.Errorf("plot %s%s: %v", f, ext, err)
			}
		}
	}
	if !strings.Contains(stderr, "executions/s") {
		t.Errorf("no speed on stderr: %s", stderr)
	}
	// The same seed gives the same report; another seed another.
	_, again, _ := nexus(t, "sim", payment, "--profile", paymentProfile, "-n", "20000", "--workers", "1")
	if again != stdout {
		t.Error("the same seed gave another report")
	}
	_, other, _ := nexus(t, "sim", payment, "--profile", paymentProfile, "-n", "20000", "--seed", "2")
	if other == stdout {
		t.Error("another seed gave the same report")
	}
}

func TestSimJSONSetAndSweep(t *testing.T) {
	code, stdout, stderr := nexus(t, "sim", payment, "--profile", paymentProfile, "-n", "5000", "-o", "json",
		"--set", "check-balance-function.failure=0.5")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r struct {
		Executions int `json:"executions"`
		Outcomes   []struct {
			Outcome string  `json:"outcome"`
			Rate    float64 `json:"rate"`
		} `json:"outcomes"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	// Half the balance checks fail for good: about half compensated.
	if r.Executions != 5000 || r.Outcomes[1].Outcome != "compensated" || r.Outcomes[1].Rate < 0.45 || r.Outcomes[1].Rate > 0.55 {
		t.Errorf("with the override: %+v", r)
	}

	dir := t.TempDir()
	code, stdout, stderr = nexus(t, "sim", payment, "--profile", paymentProfile, "-n", "2000",
		"--sweep", "execute-transfer-function.failure=0..0.3:0.1", "--plot", dir)
	if code != exitOK {
		t.Fatalf("sweep: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"execute-transfer-function.failure", "0.1", "0.3", "succeeded", "p99"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("sweep table lacks %q:\n%s", want, stdout)
		}
	}
	if lines := strings.Count(stdout, "\n"); lines < 6 {
		t.Errorf("sweep table of %d lines:\n%s", lines, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "sweep.svg")); err != nil {
		t.Error(err)
	}
}

func TestSimErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.profile.yaml")
	if err := os.WriteFile(bad, []byte("functions:\n  f: {failure: 2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim", payment, "--profile", bad}, exitUsage, bad + ":2:16: function f: failure is a probability"},
		{[]string{"sim", payment, "--profile", filepath.Join(dir, "missing.yaml")}, exitUsage, "no such file"},
		{[]string{"sim", payment, "--set", "x.failure=oops"}, exitUsage, "--set x.failure=oops"},
		{[]string{"sim", payment, "--sweep", "x.failure=1..0:1"}, exitUsage, "FROM ≤ TO"},
		{[]string{"sim", payment, "-o", "xml"}, exitUsage, "-o must be text or json"},
		{[]string{"sim", "../../corpus/examples/payment-reconciliation.yaml"}, exitUsage, "not a valid workflow"},
		{[]string{"sim", payment, "--replay", filepath.Join(dir, "none.json")}, exitUsage, "no such file"},
		{[]string{"sim", payment, "--write-profile", "x.yaml"}, exitUsage, "needs --profile-from"},
		{[]string{"sim", payment, "--profile-from", filepath.Join(dir, "none.db")}, exitUsage, "no such file"},
		{[]string{"sim", payment, "-n", "-5"}, exitUsage, "executions"},
	}
	for _, tt := range tests {
		code, _, stderr := nexus(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tt.args, code, tt.code, tt.want, stderr)
		}
	}
}

func TestSimProfileFromDatabase(t *testing.T) {
	// A database with a history, written through the store's API the way
	// the engine writes it: the intent of each invocation, then its
	// outcome, with the audit columns filled.
	path := filepath.Join(t.TempDir(), "nexus.db")
	st, err := store.OpenSQLite(path, store.SQLiteOptions{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range 40 {
		exec := fmt.Sprintf("e%d", i)
		var recs []*store.Record
		var prev [32]byte
		add := func(kind store.Kind, typ, state, fn string, attempt uint32, errName string, at time.Duration) {
			r := &store.Record{Exec: exec, Seq: uint64(len(recs) + 1), Time: base + int64(at), Kind: kind, Type: typ,
				State: state, Function: fn, Attempt: attempt, Error: errName, Body: []byte("{}")}
			r.Seal(prev, nil)
			prev = r.Hash
			recs = append(recs, r)
		}
		add(store.KindEvent, "start", "", "", 0, "", 0)
		add(store.KindIntent, "invoke", "ValidateUser", "validate-user-function", 1, "", time.Millisecond)
		if i%4 == 0 {
			add(store.KindEvent, "failed", "ValidateUser", "validate-user-function", 1, "Lambda.ServiceException", 21*time.Millisecond)
			add(store.KindIntent, "invoke", "ValidateUser", "validate-user-function", 2, "", 1021*time.Millisecond)
			add(store.KindEvent, "succeeded", "ValidateUser", "validate-user-function", 2, "", 1051*time.Millisecond)
		} else {
			add(store.KindEvent, "succeeded", "ValidateUser", "validate-user-function", 1, "", 41*time.Millisecond)
		}
		errs, err := st.Append(ctx, &store.Batch{Exec: exec, Records: recs, Create: &store.Execution{ID: exec, Workflow: "wf",
			Status: "running", Created: base}})
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	st.Close()
	out := filepath.Join(t.TempDir(), "derived.profile.yaml")
	code, stdout, stderr := nexus(t, "sim", payment, "--profile-from", path, "--write-profile", out, "-n", "2000")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	derived, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// 50 calls: 10 failed, 40 succeeded (30 in 40ms, 10 in 30ms).
	for _, want := range []string{"from 50 calls in 40 executions", "validate-user-function:", "Lambda.ServiceException: 0.2",
		"values: [30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 40"} {
		if !strings.Contains(string(derived), want) {
			t.Errorf("derived profile lacks %q:\n%s", want, derived)
		}
	}
	if !strings.Contains(stdout, "ValidateUser") {
		t.Errorf("report:\n%s", stdout)
	}
	// The saved profile reads back.
	if code, _, stderr := nexus(t, "sim", payment, "--profile", out, "-n", "100"); code != exitOK {
		t.Errorf("the derived profile: exit %d\n%s", code, stderr)
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{0, 100, 3 * time.Second, "[>         ]   0% 0/100 executions, ? left"},
		{50, 100, 4 * time.Second, "[=====>    ]  50% 50/100 executions, 4s left"},
		{100, 100, 9 * time.Second, "[==========] 100% 100/100 executions, 0s left"},
		{150, 100, time.Second, "[==========] 100% 100/100 executions, 0s left"},
		{1, 0, time.Second, ""},
	}
	for _, tt := range tests {
		if got := progressBar(tt.done, tt.total, tt.elapsed, 10); got != tt.want {
			t.Errorf("progressBar(%d, %d, %v) = %q, want %q", tt.done, tt.total, tt.elapsed, got, tt.want)
		}
	}
}

// TestSimProfilesSection reads profiles from the workflow's own
// profiles: section: "default" when none is named, another by name.
func TestSimProfilesSection(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "flow.yaml")
	os.WriteFile(wf, []byte(`version: "1.0"
name: flow
states:
- {name: A, action: a, end: true}
profiles:
  default:
    functions:
      a: {failure: 0}
  broken:
    functions:
      a: {failure: 1}
`), 0o644)
	code, stdout, stderr := nexus(t, "sim", wf, "-n", "2000", "-o", "json")
	if code != exitOK || !strings.Contains(stdout, `"succeeded"`) {
		t.Fatalf("default: exit %d\n%s%s", code, stdout, stderr)
	}
	type report struct {
		Outcomes []struct {
			Outcome string
			Rate    float64
		} `json:"outcomes"`
	}
	var def, broken report
	rate := func(r report, o string) float64 {
		for _, x := range r.Outcomes {
			if x.Outcome == o {
				return x.Rate
			}
		}
		return -1
	}
	json.Unmarshal([]byte(stdout), &def)
	code, stdout, stderr = nexus(t, "sim", wf, "--profile", "broken", "-n", "2000", "-o", "json")
	if code != exitOK {
		t.Fatalf("broken: exit %d\n%s%s", code, stdout, stderr)
	}
	json.Unmarshal([]byte(stdout), &broken)
	if rate(def, "succeeded") != 1 || rate(broken, "succeeded") != 0 || rate(broken, "failed") != 1 {
		t.Errorf("succeeded: default %v, broken %v\n%s", rate(def, "succeeded"), rate(broken, "succeeded"), stdout)
	}
}

// TestSimProfileFromEngineRun derives a profile from a database the engine
// itself wrote: three executions that succeed and one whose transfer fails
// on every attempt (three attempts). The derived failure rate of the
// transfer is what the engine recorded, 3 of 6 calls.
func TestSimProfileFromEngineRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "nexus.db")
	failing := "../../corpus/examples/payment-reconciliation-fixed.failing.bindings.yaml"
	for i, bindings := range []string{"", "", "", failing} {
		args := []string{"run", payment, "--db", db, "--input", fmt.Sprintf(`{"transferId": "t-%d", "amount": 42}`, i)}
		want := exitOK
		if bindings != "" {
			args = append(args, "--bindings", bindings)
			want = exitFindings
		}
		if code, _, stderr := nexus(t, args...); code != want {
			t.Fatalf("run %d: exit %d, want %d\n%s", i, code, want, stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "derived.profile.yaml")
	code, stdout, stderr := nexus(t, "sim", payment, "--profile-from", db, "--write-profile", out, "-n", "2000")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	derived, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in 4 executions", "execute-transfer-function:", "Bank.Unavailable: 0.5"} {
		if !strings.Contains(string(derived), want) {
			t.Errorf("derived profile lacks %q:\n%s", want, derived)
		}
	}
	// The report reflects the derived failure: some executions compensate.
	if !strings.Contains(stdout, "compensated") {
		t.Errorf("report:\n%s", stdout)
	}
}
