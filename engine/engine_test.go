package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

var bg = context.Background()

// harness is an engine on a fresh SQLite file.
type harness struct {
	t    *testing.T
	path string
	st   *store.SQLite
	e    *Engine
	reg  *invoke.Registry
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "nexus.db")}
	h.open(opts)
	return h
}

func (h *harness) open(opts Options) {
	h.t.Helper()
	st, err := store.OpenSQLite(h.path, store.SQLiteOptions{Synchronous: "NORMAL"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	opts.Store = st
	if opts.Invokers == nil {
		h.reg = &invoke.Registry{}
		opts.Invokers = h.reg
	}
	e, err := Open(bg, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.e = e
	h.t.Cleanup(h.close)
}

func (h *harness) close() {
	if h.e != nil {
		h.e.Close()
		h.st.Close()
		h.e = nil
	}
}

func compile(t *testing.T, src string) *Workflow {
	t.Helper()
	w, fs := model.Parse("test.yaml", []byte(src))
	if w == nil || fs.Errors() > 0 {
		t.Fatalf("parse: %v", fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatalf("compile: %v", fs)
	}
	return &Workflow{File: "test.yaml", Source: []byte(src), Machine: m}
}

func (h *harness) run(wf *Workflow, input string) *Result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	res, err := h.e.Run(ctx, wf, []byte(input), StartOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) verify() {
	h.t.Helper()
	rep, err := store.Verify(bg, h.st, nil)
	if err != nil || !rep.OK() {
		h.t.Fatalf("verify: %v %v", err, rep.First())
	}
}

const threeSteps = `
version: "1.0"
name: three
functions:
  a: {uri: "builtin:echo"}
  b: {uri: "builtin:echo"}
states:
  - name: A
    action: a
    next: B
  - name: B
    action: b
    next: C
  - name: C
    action: a
    end: true
`

func TestRunThreeSteps(t *testing.T) {
	h := newHarness(t, Options{})
	res := h.run(compile(t, threeSteps), `{"x": 1}`)
	if res.Status != model.Succeeded || string(res.Output) != `{"x":1}` {
		t.Fatalf("result %+v %s", res, res.Output)
	}
	hist, err := History(bg, h.st, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range hist {
		t.Logf("%d %s %s %s %s %d %s", en.Seq, en.Kind, en.Type, en.State, en.Function, en.Attempt, en.Key)
	}
	h.verify()
	_ = json.Valid
}
