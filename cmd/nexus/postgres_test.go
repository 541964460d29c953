package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
)

func TestDBFlags(t *testing.T) {
	t.Setenv("NEXUS_DB", "")
	t.Setenv("NEXUS_POSTGRES", "")
	pg := "postgres://nexus:hunter2@db:5432/nexus"
	for _, tc := range []struct {
		db, postgres, envDB, envPG string
		wantPG, wantFlag           string
	}{
		{wantFlag: "--db nexus.db"},
		{db: "a.db", wantFlag: "--db a.db"},
		{envDB: "e.db", wantFlag: "--db e.db"},
		{postgres: pg, wantPG: pg, wantFlag: "--postgres postgres://nexus:xxxxx@db:5432/nexus"},
		{db: pg, wantPG: pg, wantFlag: "--postgres postgres://nexus:xxxxx@db:5432/nexus"},
		{envPG: pg, envDB: "e.db", wantPG: pg, wantFlag: "--postgres postgres://nexus:xxxxx@db:5432/nexus"},
		{envPG: pg, db: "a.db", wantFlag: "--db a.db"}, // a flag beats the environment
	} {
		t.Setenv("NEXUS_DB", tc.envDB)
		t.Setenv("NEXUS_POSTGRES", tc.envPG)
		f := &dbFlags{db: tc.db, postgres: tc.postgres}
		if got := f.postgresURL(); got != tc.wantPG {
			t.Errorf("%+v: postgres %q, want %q", tc, got, tc.wantPG)
		}
		if got := f.flag(); got != tc.wantFlag {
			t.Errorf("%+v: flag %q, want %q", tc, got, tc.wantFlag)
		}
	}
	if code, _, stderr := nexus(t, "history", "--db", "a.db", "--postgres", pg); code != exitUsage ||
		!strings.Contains(stderr, "not both") {
		t.Errorf("--db and --postgres: exit %d %s", code, stderr)
	}
}

// TestPostgresCommands: the engine commands on a PostgreSQL database, as
// on an SQLite file.
func TestPostgresCommands(t *testing.T) {
	u := pgtest.Schema(t)
	pg := func(args ...string) (int, string, string) {
		t.Helper()
		return nexus(t, append(args, "--postgres", u)...)
	}
	code, stdout, stderr := pg("run", "../../corpus/examples/payment-reconciliation-fixed.yaml",
		"--input", `{"transferId": "t-1", "amount": 42}`)
	if code != exitOK || !strings.Contains(stdout, `"transferId":"t-1"`) {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	id := regexp.MustCompile(`execution (\S+) succeeded`).FindStringSubmatch(stderr)
	if id == nil {
		t.Fatalf("no execution id in\n%s", stderr)
	}
	if code, stdout, _ := pg("history"); code != exitOK || !strings.Contains(stdout, id[1]) {
		t.Errorf("history list: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := pg("history", id[1]); code != exitOK || !strings.Contains(stdout, "intent invoke") {
		t.Errorf("history: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := pg("trace", id[1]); code != exitOK || !strings.Contains(stdout, "ExecuteTransfer") {
		t.Errorf("trace: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := pg("log", "verify"); code != exitOK || !strings.Contains(stdout, "log intact") {
		t.Errorf("log verify: exit %d\n%s", code, stdout)
	}
	// The environment names the database when no flag does.
	t.Setenv("NEXUS_POSTGRES", u)
	if code, stdout, _ := nexus(t, "history", id[1]); code != exitOK || !strings.Contains(stdout, "intent invoke") {
		t.Errorf("history with NEXUS_POSTGRES: exit %d\n%s", code, stdout)
	}

	// A callback left by an engine that stopped: complete, resume, cancel.
	dir := t.TempDir()
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
	ctx := context.Background()
	st, err := engine.OpenStore(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(ctx, &engine.Workflow{File: "approval.yaml", Source: src, Machine: m}, []byte(`{}`),
		engine.StartOptions{ID: "a1"}); err != nil {
		t.Fatal(err)
	}
	token := e.Token("a1", 2)
	e.Close()
	st.Close()
	if code, stdout, stderr := pg("complete", token, "--output", `{"approved": true}`); code != exitOK ||
		!strings.Contains(stdout, "recorded") {
		t.Fatalf("complete: %d %s %s", code, stdout, stderr)
	}
	if code, stdout, stderr := pg("resume"); code != exitOK || !strings.Contains(stdout, `execution a1 succeeded {"approved":true}`) {
		t.Fatalf("resume: %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := pg("cancel", "a1"); code != exitFindings || !strings.Contains(stderr, "is over") {
		t.Errorf("cancel a finished execution: %d %s", code, stderr)
	}
}
