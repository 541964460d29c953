package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

const sagaYAML = `version: "1.0"
name: cli-saga
functions:
  charge: {uri: "builtin:echo"}
  refund: {uri: "builtin:echo"}
states:
- name: Charge
  action: charge
  mutates: true
  compensate: refund
  next: Ship
- name: Ship
  action: ship
  end: true
`

// runDB runs nexus with --db db and returns the exit code and streams.
func runDB(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	return nexus(t, append(args, "--db", db)...)
}

func TestRunExampleOutOfTheBox(t *testing.T) {
	db := filepath.Join(t.TempDir(), "nexus.db")
	code, stdout, stderr := runDB(t, db, "run", "../../corpus/examples/payment-reconciliation-fixed.yaml",
		"--input", `{"transferId": "t-1", "amount": 42}`)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out["transferId"] != "t-1" {
		t.Fatalf("output %q: %v", stdout, err)
	}
	for _, want := range []string{"bindings from ../../corpus/examples/payment-reconciliation-fixed.bindings.yaml",
		"ValidateUser", "call validate-user-function", "log-transaction-function returned", "succeeded"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	id := regexp.MustCompile(`execution (\S+) succeeded`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("no execution id in\n%s", stderr)
	}
	// History, trace and verify read the same database.
	code, stdout, _ = runDB(t, db, "history")
	if code != exitOK || !strings.Contains(stdout, id[1]) || !strings.Contains(stdout, "succeeded") {
		t.Errorf("history list: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runDB(t, db, "history", id[1])
	if code != exitOK || !strings.Contains(stdout, "intent invoke") || !strings.Contains(stdout, id[1]+"/2") {
		t.Errorf("history: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runDB(t, db, "history", id[1], "-o", "json")
	var hist []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &hist) != nil || len(hist) < 10 || hist[0]["type"] != "start" {
		t.Errorf("history -o json: exit %d\n%.300s", code, stdout)
	}
	code, stdout, _ = runDB(t, db, "trace", id[1])
	if code != exitOK || !strings.Contains(stdout, "succeeded") || !strings.Contains(stdout, "ExecuteTransfer") {
		t.Errorf("trace: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runDB(t, db, "log", "verify")
	if code != exitOK || !strings.Contains(stdout, "log intact") {
		t.Errorf("log verify: exit %d\n%s", code, stdout)
	}
	// The live view, as a terminal would get it.
	code, _, stderr = runDB(t, db, "run", "../../corpus/examples/payment-reconciliation-fixed.yaml", "--progress", "live",
		"--input", `{"transferId": "t-2"}`)
	if code != exitOK || !strings.Contains(stderr, "\033[K") || !strings.Contains(stderr, "✓ ValidateUser") ||
		!strings.Contains(stderr, "log-transaction-function") {
		t.Errorf("live view: exit %d\n%q", code, stderr)
	}
	if code, _, stderr := runDB(t, db, "history", "nope"); code != exitFindings || !strings.Contains(stderr, "no execution nope") {
		t.Errorf("history of a missing execution: exit %d %s", code, stderr)
	}
}

func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nexus.db")
	wf := filepath.Join(dir, "saga.yaml")
	os.WriteFile(wf, []byte(sagaYAML), 0o644)
	// An unbound function: nothing runs, the message says how to bind.
	code, _, stderr := runDB(t, db, "run", wf)
	if code != exitUsage || !strings.Contains(stderr, `function "ship" has no binding`) ||
		!strings.Contains(stderr, "--bindings FILE") {
		t.Fatalf("unbound: exit %d\n%s", code, stderr)
	}
	// Bound to a failing function: the charge is compensated, exit 1.
	binds := filepath.Join(dir, "fail.yaml")
	os.WriteFile(binds, []byte("ship: \"builtin:fail?error=Ship.Down&cause=no+trucks\"\n"), 0o644)
	code, stdout, stderr := runDB(t, db, "run", wf, "--bindings", binds, "-o", "json", "--input", `{"order": 1}`)
	var res map[string]any
	if code != exitFindings || json.Unmarshal([]byte(stdout), &res) != nil || res["status"] != "compensated" ||
		res["error"] != "Ship.Down" || res["cause"] != "no trucks" {
		t.Fatalf("failing run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "compensate with refund") {
		t.Errorf("no compensation in the progress:\n%s", stderr)
	}
	code, stdout, _ = runDB(t, db, "trace", res["execution"].(string))
	if code != exitOK || !strings.Contains(stdout, "root cause (step 2): Ship calling ship, attempt 1, failed: Ship.Down: no trucks") {
		t.Errorf("trace: exit %d\n%s", code, stdout)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"run", wf, "--input", "{not json"},
		{"run", filepath.Join(dir, "missing.yaml")},
		{"run", wf, "--bindings", filepath.Join(dir, "missing.yaml")},
		{"run", wf, "-o", "xml"},
	} {
		if code, _, stderr := runDB(t, db, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: \"1.0\"\nstates:\n- {name: A, next: Nowhere}\n"), 0o644)
	if code, _, stderr := runDB(t, db, "run", bad); code != exitUsage || !strings.Contains(stderr, "bad.yaml:3") {
		t.Errorf("invalid workflow: exit %d\n%s", code, stderr)
	}
	// Reading commands want an existing database.
	if code, _, stderr := runDB(t, filepath.Join(dir, "none.db"), "log", "verify"); code != exitUsage ||
		!strings.Contains(stderr, "no engine database") {
		t.Errorf("verify without a database: exit %d %s", code, stderr)
	}
}

func TestLogVerifyTampered(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nexus.db")
	wf := filepath.Join(dir, "saga.yaml")
	os.WriteFile(wf, []byte(strings.Replace(sagaYAML, "action: ship", "action: charge", 1)), 0o644)
	if code, _, stderr := runDB(t, db, "run", wf, "--log-key", "k1"); code != exitOK {
		t.Fatalf("run: %d %s", code, stderr)
	}
	if code, stdout, _ := runDB(t, db, "log", "verify", "--log-key", "k1"); code != exitOK || !strings.Contains(stdout, "signatures checked") {
		t.Errorf("verify with the key: %d %s", code, stdout)
	}
	if code, stdout, _ := runDB(t, db, "log", "verify", "--log-key", "k2"); code != exitFindings || !strings.Contains(stdout, "signature does not match") {
		t.Errorf("verify with another key: %d %s", code, stdout)
	}
	// Rewrite a record's content in place: verify names it.
	st, err := store.OpenSQLite(db, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw := st.DB()
	var pos int64
	raw.QueryRow(`SELECT pos FROM records ORDER BY pos LIMIT 1 OFFSET 3`).Scan(&pos)
	st.Close()
	w, err := openRaw(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`UPDATE records SET rec = CAST(replace(CAST(rec AS TEXT), 'Charge', 'Charga') AS BLOB) WHERE pos = ?`, pos); err != nil {
		t.Fatal(err)
	}
	w.Close()
	code, stdout, _ := runDB(t, db, "log", "verify", "-o", "json")
	var rep struct {
		Intact   bool
		Problems []struct{ Record int64 }
	}
	if code != exitFindings || json.Unmarshal([]byte(stdout), &rep) != nil || rep.Intact || rep.Problems[0].Record != pos {
		t.Errorf("tampered: exit %d\n%s", code, stdout)
	}
}

func TestCompleteAndCancel(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nexus.db")
	// An execution waiting on a callback, left by an engine that stopped.
	src := []byte(`version: "1.0"
name: approval
functions:
  ask: {uri: "builtin:echo"}
states:
- {name: Ask, action: ask, callback: true, end: true}
`)
	_, m, _, err := loadSource(filepath.Join(dir, "approval.yaml"), src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(db, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := engine.Open(ctx, engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.Start(ctx, &engine.Workflow{File: "approval.yaml", Source: src, Machine: m}, []byte(`{}`), engine.StartOptions{ID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	token := e.Token(id, 2)
	e.Close()
	st.Close()

	if code, _, stderr := runDB(t, db, "complete", "nxt1.bogus.1.x", "--output", "1"); code != exitFindings || !strings.Contains(stderr, "bad task token") {
		t.Errorf("bad token: %d %s", code, stderr)
	}
	if code, _, _ := runDB(t, db, "complete", token, "--output", "1", "--heartbeat"); code != exitUsage {
		t.Errorf("two kinds of completion: exit %d", code)
	}
	code, stdout, stderr := runDB(t, db, "complete", token, "--output", `{"approved": true}`)
	if code != exitOK || !strings.Contains(stdout, "completion of execution a1 call #2 recorded") {
		t.Fatalf("complete: %d %s %s", code, stdout, stderr)
	}
	// nexus resume applies the completion the stopped engine missed.
	code, stdout, stderr = runDB(t, db, "resume")
	if code != exitOK || !strings.Contains(stdout, `execution a1 succeeded {"approved":true}`) {
		t.Fatalf("resume: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runDB(t, db, "cancel", "a1"); code != exitFindings || !strings.Contains(stderr, "is over") {
		t.Errorf("cancel a finished execution: %d %s", code, stderr)
	}
	if code, _, stderr := runDB(t, db, "cancel", "zz"); code != exitFindings || !strings.Contains(stderr, "no execution zz") {
		t.Errorf("cancel a missing execution: %d %s", code, stderr)
	}
}

// loadSource writes src to path and loads it as nexus run does.
func loadSource(path string, src []byte) (*source, *model.Machine, model.Findings, error) {
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return nil, nil, nil, err
	}
	return load(path)
}

// openRaw opens the database for writing, behind the store's back.
func openRaw(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
}

// TestRunSubWorkflow runs a workflow whose step is another workflow file,
// bound with workflow:PATH: the child runs as an execution of its own and
// its output becomes the step's result; a missing child file is refused
// before anything runs.
func TestRunSubWorkflow(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child.yaml")
	write := func(path, src string) {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(child, "version: \"1.0\"\nname: child\nstates:\n- {name: Mark, type: pass, result: done, result_path: $.child, end: true}\n")
	parent := filepath.Join(dir, "parent.yaml")
	write(parent, "version: \"1.0\"\nname: parent\nfunctions:\n  sub: {uri: \"workflow:"+child+"\"}\n"+
		"states:\n- {name: Call, workflow: sub, end: true}\n")
	db := filepath.Join(dir, "nexus.db")
	code, stdout, stderr := nexus(t, "run", parent, "--db", db, "--input", `{"order": 7}`)
	if code != exitOK || !strings.Contains(stdout, `"child"`) || !strings.Contains(stdout, `"order"`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	missing := filepath.Join(dir, "orphan.yaml")
	write(missing, "version: \"1.0\"\nname: orphan\nfunctions:\n  sub: {uri: \"workflow:"+filepath.Join(dir, "none.yaml")+"\"}\n"+
		"states:\n- {name: Call, workflow: sub, end: true}\n")
	code, _, stderr = nexus(t, "run", missing, "--db", db, "--input", `{}`)
	if code == exitOK || !strings.Contains(stderr, "none.yaml") {
		t.Errorf("missing child: exit %d\n%s", code, stderr)
	}
}
