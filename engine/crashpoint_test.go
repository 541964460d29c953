package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// sink is an idempotent effect in memory: a call with a key already seen
// returns the first answer and applies nothing.
type sink struct {
	mu      sync.Mutex
	applied map[string]int
	calls   map[string]int
	answers map[string]invoke.Response
}

func newSink() *sink {
	return &sink{applied: map[string]int{}, calls: map[string]int{}, answers: map[string]invoke.Response{}}
}

// fn is an in-process function that applies its effect once per key and
// answers with answer(req).
func (s *sink) fn(answer func(req invoke.Request) invoke.Response) invoke.Func {
	return func(_ context.Context, req invoke.Request) (invoke.Response, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls[req.Key]++
		if r, ok := s.answers[req.Key]; ok {
			return r, nil
		}
		s.applied[req.Key]++
		r := answer(req)
		s.answers[req.Key] = r
		return r, nil
	}
}

func echo(req invoke.Request) invoke.Response { return invoke.Response{Output: req.Input} }

// crashStore passes calls through to a store until a chosen Append, at
// which the process "dies": the append is lost (before) or made durable
// without the engine learning it (after), and every later write fails.
type crashStore struct {
	store.Store
	mu      sync.Mutex
	left    int
	after   bool
	crashed bool
	appends int
}

var errCrash = errors.New("simulated crash")

func (c *crashStore) Append(ctx context.Context, bs ...*store.Batch) ([]error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return nil, errCrash
	}
	if c.left == 0 {
		c.crashed = true
		if c.after {
			c.Store.Append(ctx, bs...)
		}
		return nil, errCrash
	}
	c.left--
	c.appends++
	return c.Store.Append(ctx, bs...)
}

func (c *crashStore) Ack(ctx context.Context, ids ...int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return errCrash
	}
	return c.Store.Ack(ctx, ids...)
}

const crashyWorkflow = `
version: "1.0"
name: crashy
functions:
  a: {uri: "test:a"}
  b: {uri: "test:b"}
  c: {uri: "test:c"}
  flaky: {uri: "test:flaky"}
states:
- name: A
  action: a
  next: P
- name: P
  type: parallel
  result_path: $.par
  branches:
  - states: [{name: B1, action: b, end: true}]
  - states: [{name: B2, action: b, end: true}]
  next: M
- name: M
  type: map
  items_path: $.items
  max_concurrency: 2
  result_path: $.mapped
  processor:
    states: [{name: Item, action: c, end: true}]
  next: W
- name: W
  seconds: 1
  next: F
- name: F
  action: flaky
  retry: [{errors: [States.ALL], max_attempts: 3, interval: 2s, jitter: full}]
  result_path: $.f
  end: true
`

// crashyFuncs are the functions of crashyWorkflow on a sink; flaky fails
// its first attempt.
func crashyFuncs(s *sink) map[string]invoke.Func {
	return map[string]invoke.Func{
		"test:a": s.fn(echo),
		"test:b": s.fn(func(req invoke.Request) invoke.Response {
			return invoke.Response{Output: []byte(fmt.Sprintf(`{"b":%q}`, req.State))}
		}),
		"test:c": s.fn(func(req invoke.Request) invoke.Response {
			return invoke.Response{Output: []byte(`{"item":` + string(req.Input) + `}`)}
		}),
		"test:flaky": s.fn(func(req invoke.Request) invoke.Response {
			if req.Attempt == 1 {
				return invoke.Response{Error: "Flaky", Cause: "first attempt"}
			}
			return invoke.Response{Output: []byte(`"ok"`)}
		}),
	}
}

const crashyInput = `{"items": [1, 2, 3, 4, 5]}`

// crashRun runs crashyWorkflow with execution id on a fresh database; the
// first engine crashes at append number crashAt (-1: never), a second one
// resumes. It returns the result, the sink and the number of appends the
// first engine made.
func crashRun(t *testing.T, crashAt int, after bool) (*Result, *sink, *harness, int) {
	t.Helper()
	clock := newVirtualClock(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
	s := newSink()
	wf := compile(t, crashyWorkflow)
	h := &harness{t: t, path: t.TempDir() + "/crash.db"}
	st, err := store.OpenSQLite(h.path, store.SQLiteOptions{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &crashStore{Store: st, left: crashAt, after: after}
	if crashAt < 0 {
		cs.left = 1 << 30
	}
	opts := Options{Inline: crashyFuncs(s), Clock: clock, idle: func(string) { clock.advance() }}
	opts.Store = cs
	e1, err := Open(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	const id = "exec-1"
	ctx, cancel := context.WithTimeout(bg, 20*time.Second)
	defer cancel()
	var res *Result
	if _, err := e1.Start(ctx, wf, []byte(crashyInput), StartOptions{ID: id}); err == nil {
		res, err = e1.Wait(ctx, id)
		if err != nil && !cs.crashed {
			t.Fatalf("first engine: %v", err)
		}
	} else if !errors.Is(err, errCrash) {
		t.Fatalf("start: %v", err)
	}
	e1.Close()
	appends := cs.appends
	if res != nil {
		if crashAt >= 0 && !cs.crashed {
			t.Fatalf("crash point %d never reached (%d appends)", crashAt, appends)
		}
		h.st, h.e = st, nil
		return res, s, h, appends
	}
	// The second engine: as after a restart.
	opts.Store = st
	e2, err := Open(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if _, err := st.Execution(bg, id); errors.Is(err, store.ErrNotFound) {
		// The start itself was lost: the client starts again.
		if _, err := e2.Start(ctx, wf, []byte(crashyInput), StartOptions{ID: id}); err != nil {
			t.Fatalf("start again: %v", err)
		}
	} else if r, err := ResultOf(ctx, st, id); err == nil {
		// It ended with the append that crashed.
		h.st = st
		return r, s, h, appends
	} else if _, err := e2.Resume(ctx, id); err != nil {
		t.Fatalf("resume: %v", err)
	}
	res, err = e2.Wait(ctx, id)
	if err != nil {
		t.Fatalf("after resume: %v", err)
	}
	h.st = st
	return res, s, h, appends
}

// TestCrashAtEveryAppend crashes an engine at every append of a workflow
// with a task, a parallel, a map, a wait and a retry with jitter, both
// before and after the append is durable, resumes it with another engine,
// and checks the result is the one of a run without crash, the log is
// intact, and every invocation logged was applied exactly once.
func TestCrashAtEveryAppend(t *testing.T) {
	want, _, _, total := crashRun(t, -1, false)
	if want.Status != model.Succeeded {
		t.Fatalf("baseline: %+v", want)
	}
	if total < 5 {
		t.Fatalf("baseline made only %d appends", total)
	}
	for k := 0; k < total; k++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("append%d/after=%v", k, after), func(t *testing.T) {
				res, s, h, _ := crashRun(t, k, after)
				if res.Status != want.Status || string(res.Output) != string(want.Output) {
					t.Fatalf("result %s %s, want %s %s", res.Status, res.Output, want.Status, want.Output)
				}
				h.verify()
				checkExactlyOnce(t, h.st, res.ID, s)
			})
		}
	}
}

// checkExactlyOnce checks that every invocation intent in the log of exec
// was applied once by the sink, and that the sink applied nothing else.
func checkExactlyOnce(t *testing.T, st store.Store, exec string, s *sink) {
	t.Helper()
	hist, err := History(bg, st, exec)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, en := range hist {
		if en.Command != nil && en.Command.Effect == model.Invoke {
			logged[en.Key] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var bad []string
	for k := range logged {
		if s.applied[k] != 1 {
			bad = append(bad, fmt.Sprintf("%s applied %d times", k, s.applied[k]))
		}
	}
	for k := range s.applied {
		if !logged[k] {
			bad = append(bad, fmt.Sprintf("%s applied without an intent in the log", k))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("effects:\n%s", strings.Join(bad, "\n"))
	}
}
