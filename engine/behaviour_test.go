package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

var t0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// virtualHarness is a harness on virtual time that advances whenever
// the execution has nothing to do but wait.
func virtualHarness(t *testing.T, opts Options) (*harness, *virtualClock) {
	clock := newVirtualClock(t0)
	opts.Clock = clock
	if opts.idle == nil {
		opts.idle = func(string) { clock.advance() }
	}
	return newHarness(t, opts), clock
}

func history(t *testing.T, st store.Store, id string) []*Entry {
	t.Helper()
	hist, err := History(bg, st, id)
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

const saga = `
version: "1.0"
name: saga
functions:
  charge: {uri: "test:charge"}
  refund: {uri: "test:refund"}
  ship: {uri: "test:ship"}
states:
- name: Charge
  action: charge
  mutates: true
  compensate: {action: refund, retry: [{errors: [States.ALL], max_attempts: 2, interval: 1s}]}
  next: Ship
- name: Ship
  action: ship
  end: true
`

func TestCompensation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ship       invoke.Response
		refundFail bool
		status     model.Status
		err        string
		refunds    int
	}{
		{"succeeds", invoke.Response{Output: []byte(`{"shipped":true}`)}, false, model.Succeeded, "", 0},
		{"compensated", invoke.Response{Error: "Ship.Down", Cause: "no trucks"}, false, model.Compensated, "Ship.Down", 1},
		{"compensation fails", invoke.Response{Error: "Ship.Down"}, true, model.CompensationFailed, "Ship.Down", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var refundInputs []string
			funcs := map[string]invoke.Func{
				"test:charge": func(_ context.Context, r invoke.Request) (invoke.Response, error) {
					return invoke.Response{Output: []byte(`{"charged":42}`)}, nil
				},
				"test:ship": func(context.Context, invoke.Request) (invoke.Response, error) { return tc.ship, nil },
				"test:refund": func(_ context.Context, r invoke.Request) (invoke.Response, error) {
					mu.Lock()
					refundInputs = append(refundInputs, string(r.Input))
					mu.Unlock()
					if tc.refundFail {
						return invoke.Response{Error: "Refund.Failed"}, nil
					}
					return invoke.Response{Output: []byte(`{}`)}, nil
				},
			}
			h, _ := virtualHarness(t, Options{Inline: funcs})
			res := h.run(compile(t, saga), `{"order":7}`)
			if res.Status != tc.status || res.Error != tc.err {
				t.Fatalf("status %s error %q, want %s %q", res.Status, res.Error, tc.status, tc.err)
			}
			if len(refundInputs) != tc.refunds {
				t.Fatalf("%d refunds, want %d", len(refundInputs), tc.refunds)
			}
			if tc.refunds > 0 && refundInputs[0] != `{"input":{"order":7},"result":{"charged":42}}` {
				t.Errorf("refund input %s", refundInputs[0])
			}
			row, _ := h.st.Execution(bg, res.ID)
			if row.Status != tc.status.String() || row.Owner != "" {
				t.Errorf("index: status %s owner %q", row.Status, row.Owner)
			}
			h.verify()
		})
	}
}

const retrying = `
version: "1.0"
name: retrying
functions:
  f: {uri: "test:f"}
states:
- name: F
  action: f
  retry: [{errors: [States.ALL], max_attempts: 4, interval: 10s, backoff_rate: 2, jitter: full}]
  end: true
`

// TestRetryJitterIsLogged checks that a retry's jittered delay is chosen
// once, logged, and that the timer fires at the logged delay.
func TestRetryJitterIsLogged(t *testing.T) {
	var calls atomic.Int32
	funcs := map[string]invoke.Func{"test:f": func(context.Context, invoke.Request) (invoke.Response, error) {
		if calls.Add(1) < 4 {
			return invoke.Response{Error: "Boom"}, nil
		}
		return invoke.Response{Output: []byte(`1`)}, nil
	}}
	h, _ := virtualHarness(t, Options{Inline: funcs})
	res := h.run(compile(t, retrying), `{}`)
	if res.Status != model.Succeeded || calls.Load() != 4 {
		t.Fatalf("%+v after %d calls", res, calls.Load())
	}
	hist := history(t, h.st, res.ID)
	var jitters []time.Duration
	var fired []int64
	var timerStart []int64
	for _, en := range hist {
		switch {
		case en.Event != nil && en.Event.Kind == model.EvDecided && en.Event.Decide == model.DecideJitter:
			jitters = append(jitters, en.Event.Delay)
		case en.Command != nil && en.Command.Effect == model.StartTimer:
			timerStart = append(timerStart, en.Time)
		case en.Event != nil && en.Event.Kind == model.EvTimerFired:
			fired = append(fired, en.Time)
		}
	}
	if len(jitters) != 3 || len(fired) != 3 || len(timerStart) != 3 {
		t.Fatalf("jitters %v, timers %v fired %v", jitters, timerStart, fired)
	}
	for i, d := range jitters {
		max := 10 * time.Second << i
		if d < 0 || d > max {
			t.Errorf("jitter %d: %s not in [0, %s]", i, d, max)
		}
		if got := time.Duration(fired[i] - timerStart[i]); got != d {
			t.Errorf("timer %d fired after %s, logged delay %s", i, got, d)
		}
	}
}

const waiting = `
version: "1.0"
name: waiting
states:
- name: Wait
  seconds: 3600
  next: Done
- {name: Done, type: succeed}
`

// TestDurableTimerSurvivesRestart stops the engine while a one-hour wait
// runs, resumes it half an hour later, and checks that the timer fires an
// hour after it started, not an hour after the restart.
func TestDurableTimerSurvivesRestart(t *testing.T) {
	waitingNow := make(chan struct{})
	var once sync.Once
	clock := newVirtualClock(t0)
	h := newHarness(t, Options{Clock: clock, idle: func(string) { once.Do(func() { close(waitingNow) }) }})
	id, err := h.e.Start(bg, compile(t, waiting), []byte(`{}`), StartOptions{ID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	<-waitingNow
	h.close()
	clock.set(t0.Add(30 * time.Minute))
	h.open(Options{Clock: clock, idle: func(string) { clock.advance() }})
	if _, err := h.e.Resume(bg, id); err != nil {
		t.Fatal(err)
	}
	res, err := h.e.Wait(bg, id)
	if err != nil || res.Status != model.Succeeded {
		t.Fatalf("%+v %v", res, err)
	}
	for _, en := range history(t, h.st, id) {
		if en.Event != nil && en.Event.Kind == model.EvTimerFired {
			if got := time.Unix(0, en.Time).UTC(); !got.Equal(t0.Add(time.Hour)) {
				t.Errorf("timer fired at %s, want %s", got, t0.Add(time.Hour))
			}
		}
	}
	h.verify()
}

// blocking registers go:block, which reports each call on started and
// returns when its context ends.
func blocking(t *testing.T, reg *invoke.Registry) chan invoke.Request {
	started := make(chan invoke.Request, 10)
	err := reg.Register("block", invoke.Func(func(ctx context.Context, req invoke.Request) (invoke.Response, error) {
		Heartbeat(ctx)
		started <- req
		<-ctx.Done()
		return invoke.Response{}, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	return started
}

func TestTimeoutAndHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name, limit, err string
	}{
		{"timeout", "timeout: 5s", model.ErrTimeout},
		{"heartbeat", "heartbeat: 5s", model.ErrHeartbeatTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(`
version: "1.0"
name: slow
functions:
  slow: {uri: "go:block"}
states:
- name: Slow
  action: slow
  %s
  catch: [{errors: [%s], next: Late}]
  end: true
- name: Late
  type: pass
  result: late
  end: true
`, tc.limit, tc.err)
			clock := newVirtualClock(t0)
			h := newHarness(t, Options{Clock: clock})
			started := blocking(t, h.reg)
			id, err := h.e.Start(bg, compile(t, src), []byte(`{}`), StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			req := <-started
			if tc.name == "heartbeat" {
				// A heartbeat by token, as from another process, keeps the
				// call alive past its first deadline.
				if req.TaskToken == "" {
					t.Fatal("no token for a call with a heartbeat timeout")
				}
				if err := h.e.Complete(bg, req.TaskToken, Completion{Heartbeat: true}); err != nil {
					t.Fatal(err)
				}
			}
			clock.advance()
			res, err := h.e.Wait(bg, id)
			if err != nil || res.Status != model.Succeeded || string(res.Output) != `"late"` {
				t.Fatalf("%+v %v", res, err)
			}
			want := map[string]string{"timeout": "timed_out", "heartbeat": "heartbeat_timeout"}[tc.name]
			var caught bool
			for _, en := range history(t, h.st, id) {
				caught = caught || en.Type == want
			}
			if !caught {
				t.Errorf("no %s event in the log", tc.name)
			}
		})
	}
}

const approval = `
version: "1.0"
name: approval
functions:
  ask: {uri: "go:ask"}
states:
- name: Ask
  action: ask
  callback: true
  timeout: 1h
  end: true
`

func TestCallback(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        Completion
		external bool
		status   model.Status
		output   string
	}{
		{"succeed", Completion{Output: []byte(`{"approved":true}`)}, false, model.Succeeded, `{"approved":true}`},
		{"fail", Completion{Error: "Rejected", Cause: "no"}, false, model.Failed, ""},
		{"from another process", Completion{Output: []byte(`1`)}, true, model.Succeeded, `1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{PollInterval: 5 * time.Millisecond})
			tokens := make(chan invoke.Request, 1)
			h.reg.Register("ask", invoke.Func(func(_ context.Context, req invoke.Request) (invoke.Response, error) {
				tokens <- req
				return invoke.Response{Output: []byte(`"ignored"`)}, nil
			}))
			id, err := h.e.Start(bg, compile(t, approval), []byte(`{}`), StartOptions{})
			if err != nil {
				t.Fatal(err)
			}
			req := <-tokens
			if req.TaskToken == "" || req.TaskToken != h.e.Token(id, 2) {
				t.Fatalf("token %q", req.TaskToken)
			}
			if _, _, err := Complete(bg, h.st, req.TaskToken+"x", tc.c, 0); !errors.Is(err, ErrBadToken) {
				t.Errorf("forged token: %v", err)
			}
			if tc.external {
				// As nexus complete does: through the store only.
				_, _, err = Complete(bg, h.st, req.TaskToken, tc.c, 0)
			} else {
				err = h.e.Complete(bg, req.TaskToken, tc.c)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.e.Wait(bg, id)
			if err != nil || res.Status != tc.status || string(res.Output) != tc.output {
				t.Fatalf("%+v %v", res, err)
			}
			if tc.status == model.Failed && (res.Error != "Rejected" || res.Cause != "no") {
				t.Errorf("error %q %q", res.Error, res.Cause)
			}
			if err := h.e.Complete(bg, req.TaskToken, tc.c); err == nil {
				t.Errorf("completing a finished execution succeeded")
			}
			if left, _ := h.st.Signals(bg, 0, ""); len(left) != 0 {
				t.Errorf("%d signals left in the inbox", len(left))
			}
			h.verify()
		})
	}
}

func TestCancel(t *testing.T) {
	src := `
version: "1.0"
name: cancellable
functions:
  charge: {uri: "builtin:echo"}
  refund: {uri: "test:refund"}
  slow: {uri: "go:block"}
states:
- name: Charge
  action: charge
  mutates: true
  compensate: refund
  next: Slow
- name: Slow
  action: slow
  end: true
`
	var refunds atomic.Int32
	h := newHarness(t, Options{Inline: map[string]invoke.Func{"test:refund": func(context.Context, invoke.Request) (invoke.Response, error) {
		refunds.Add(1)
		return invoke.Response{Output: []byte(`{}`)}, nil
	}}})
	started := blocking(t, h.reg)
	id, err := h.e.Start(bg, compile(t, src), []byte(`{}`), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := h.e.Cancel(bg, id, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	res, err := h.e.Wait(bg, id)
	if err != nil || res.Status != model.Cancelled || res.Error != model.ErrCancelled || res.Cause != "changed my mind" {
		t.Fatalf("%+v %v", res, err)
	}
	if refunds.Load() != 1 {
		t.Errorf("%d refunds, want 1", refunds.Load())
	}
	if err := h.e.Cancel(bg, id, "again"); err == nil {
		t.Errorf("cancelling a finished execution succeeded")
	}
	h.verify()
}

func TestCircuitBreaker(t *testing.T) {
	src := `
version: "1.0"
name: breaking
functions:
  down: {uri: "test:down"}
states:
- name: Call
  action: down
  retry: [{errors: [States.ALL], max_attempts: 10, interval: 1s, backoff_rate: 1}]
  end: true
`
	var calls atomic.Int32
	h, _ := virtualHarness(t, Options{
		Breaker: BreakerPolicy{Failures: 3, OpenFor: 5 * time.Second},
		Inline: map[string]invoke.Func{"test:down": func(context.Context, invoke.Request) (invoke.Response, error) {
			calls.Add(1)
			return invoke.Response{Error: "Down"}, nil
		}}})
	res := h.run(compile(t, src), `{}`)
	// Attempts at t=0..10 s: three failures open the breaker at 2 s; it
	// fails attempts fast until 7 s, when a trial fails and opens it again
	// until 12 s.
	if res.Status != model.Failed || res.Error != ErrCircuitOpen {
		t.Fatalf("%+v", res)
	}
	if calls.Load() != 4 {
		t.Errorf("%d calls, want 4", calls.Load())
	}
	fast := 0
	for _, en := range history(t, h.st, res.ID) {
		if en.Error == ErrCircuitOpen {
			fast++
		}
	}
	if fast != 7 {
		t.Errorf("%d attempts failed fast, want 7", fast)
	}
	if st, opened := h.e.BreakerState("down"); st != BreakerOpen || opened != 2 {
		t.Errorf("breaker %s, opened %d times", st, opened)
	}
}

func TestBreakerStates(t *testing.T) {
	now := t0
	b := &breaker{fn: "f", policy: BreakerPolicy{Failures: 2, OpenFor: time.Minute, Trials: 2}.withDefaults()}
	step := func(o outcome) {
		ok, trial, _ := b.allow(now)
		if !ok {
			t.Fatalf("not allowed in state %s", b.state)
		}
		b.done(trial, o, now)
	}
	step(outcomeFailure)
	step(outcomeSuccess) // resets the count
	step(outcomeFailure)
	if b.state != BreakerClosed {
		t.Fatalf("state %s after non-consecutive failures", b.state)
	}
	step(outcomeFailure)
	if b.state != BreakerOpen {
		t.Fatalf("state %s after 2 consecutive failures", b.state)
	}
	if ok, _, cause := b.allow(now.Add(59 * time.Second)); ok || !strings.Contains(cause, "open") {
		t.Fatalf("open breaker allowed a call: %q", cause)
	}
	now = now.Add(time.Minute)
	ok, trial, _ := b.allow(now)
	if !ok || !trial || b.state != BreakerHalfOpen {
		t.Fatalf("no trial after the open period")
	}
	if ok, _, _ := b.allow(now); ok {
		t.Fatalf("a second call during a trial")
	}
	b.done(trial, outcomeNone, now) // abandoned: frees the trial
	step(outcomeSuccess)
	if b.state != BreakerHalfOpen {
		t.Fatalf("closed after 1 of 2 trials")
	}
	step(outcomeSuccess)
	if b.state != BreakerClosed {
		t.Fatalf("state %s after 2 good trials", b.state)
	}
}

func TestPayloadLimit(t *testing.T) {
	big := `"` + strings.Repeat("x", 300) + `"`
	src := `
version: "1.0"
name: big
functions:
  grow: {uri: "test:grow"}
states:
- name: Grow
  action: grow
  end: true
`
	h := newHarness(t, Options{MaxPayloadBytes: 200, Inline: map[string]invoke.Func{
		"test:grow": func(context.Context, invoke.Request) (invoke.Response, error) {
			return invoke.Response{Output: []byte(big)}, nil
		}}})
	wf := compile(t, src)
	if _, err := h.e.Start(bg, wf, []byte(big), StartOptions{}); err == nil || !strings.Contains(err.Error(), "payload limit") {
		t.Errorf("big input: %v", err)
	}
	res := h.run(wf, `{}`)
	if res.Status != model.Failed || res.Error != model.ErrDataLimit || !strings.Contains(res.Cause, "over the 200-byte payload limit") {
		t.Errorf("big output: %+v", res)
	}
}

func TestBindings(t *testing.T) {
	src := `
version: "1.0"
name: unbound
functions:
  bound: {uri: "builtin:echo"}
states:
- {name: A, action: bound, next: B}
- {name: B, action: lonely, next: C}
- {name: C, action: weird, end: true}
`
	h := newHarness(t, Options{})
	wf := compile(t, src)
	_, err := h.e.Start(bg, wf, []byte(`{}`), StartOptions{})
	var be *BindingError
	if !errors.As(err, &be) || len(be.Problems) != 2 || !strings.Contains(be.Problems[0], `function "lonely" has no binding`) ||
		!strings.Contains(err.Error(), "--bindings FILE") || len(be.Unbound) != 2 {
		t.Fatalf("error: %v", err)
	}
	wf.Bindings = map[string]string{"lonely": "builtin:echo", "weird": "nosuch:thing"}
	_, err = h.e.Start(bg, wf, []byte(`{}`), StartOptions{})
	if !errors.As(err, &be) || len(be.Problems) != 1 || !strings.Contains(be.Problems[0], `function "weird"`) ||
		!strings.Contains(be.Problems[0], "unknown scheme") {
		t.Fatalf("error: %v", err)
	}
	wf.Bindings["weird"] = "builtin:fail?error=Weird"
	res := h.run(wf, `{}`)
	if res.Status != model.Failed || res.Error != "Weird" {
		t.Fatalf("%+v", res)
	}
}

const counting = `
version: "1.0"
name: counting
functions:
  inc: {uri: "test:inc"}
states:
- name: Init
  type: pass
  result: {n: 0}
  next: Inc
- name: Inc
  action: inc
  next: Check
- name: Check
  choices:
  - {variable: $.n, numeric_less_than: 60, next: Inc}
  default: Done
- {name: Done, type: succeed}
`

func incFunc(_ context.Context, req invoke.Request) (invoke.Response, error) {
	var v struct{ N int }
	if err := json.Unmarshal(req.Input, &v); err != nil {
		return invoke.Response{}, err
	}
	return invoke.Response{Output: []byte(fmt.Sprintf(`{"n":%d}`, v.N+1))}, nil
}

// readCounter counts the records a resume reads.
type readCounter struct {
	store.Store
	read atomic.Int64
}

func (r *readCounter) Records(ctx context.Context, exec string, after uint64, fn func(*store.Record) error) error {
	return r.Store.Records(ctx, exec, after, func(rec *store.Record) error {
		r.read.Add(1)
		return fn(rec)
	})
}

// TestSnapshotBoundsResume crashes a long execution, resumes it, and
// checks the resume read only the records after the last snapshot.
func TestSnapshotBoundsResume(t *testing.T) {
	path := t.TempDir() + "/snap.db"
	st, err := store.OpenSQLite(path, store.SQLiteOptions{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	funcs := map[string]invoke.Func{"test:inc": incFunc}
	cs := &crashStore{Store: st, left: 45}
	e1, err := Open(bg, Options{Store: cs, Inline: funcs, SnapshotEvery: 20})
	if err != nil {
		t.Fatal(err)
	}
	wf := compile(t, counting)
	id, err := e1.Start(bg, wf, []byte(`{}`), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e1.Wait(bg, id); err == nil {
		t.Fatal("no crash")
	}
	e1.Close()
	rc := &readCounter{Store: st}
	e2, err := Open(bg, Options{Store: rc, Inline: funcs, SnapshotEvery: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	sn, err := st.Snapshot(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := st.Execution(bg, id)
	if _, err := e2.Resume(bg, id); err != nil {
		t.Fatal(err)
	}
	if got, want := rc.read.Load(), int64(head.Seq-sn.Seq); got != want || want >= 40 {
		t.Errorf("resume read %d records (head %d, snapshot at %d)", got, head.Seq, sn.Seq)
	}
	res, err := e2.Wait(bg, id)
	if err != nil || string(res.Output) != `{"n":60}` {
		t.Fatalf("%+v %v", res, err)
	}
	rep, err := store.Verify(bg, st, nil)
	if err != nil || !rep.OK() || rep.Snapshots != 1 {
		t.Fatalf("verify %+v %v", rep, err)
	}
}

func TestSignedLog(t *testing.T) {
	key := []byte("secret key")
	h := newHarness(t, Options{LogKey: key, SnapshotEvery: 5, Inline: map[string]invoke.Func{"test:inc": incFunc}})
	res := h.run(compile(t, counting), `{}`)
	if res.Status != model.Succeeded {
		t.Fatal(res)
	}
	for _, tc := range []struct {
		key []byte
		ok  bool
	}{{key, true}, {nil, true}, {[]byte("wrong"), false}} {
		rep, err := store.Verify(bg, h.st, tc.key)
		if err != nil || rep.OK() != tc.ok || rep.Signed != rep.Records {
			t.Errorf("verify with key %q: ok %v, %d of %d signed, %v", tc.key, rep.OK(), rep.Signed, rep.Records, err)
		}
		if !tc.ok && !errors.Is(rep.First(), store.ErrBadMAC) {
			t.Errorf("wrong key: %v", rep.First())
		}
	}
}

// TestManyConcurrentExecutions runs executions side by side on one store:
// their appends are committed together.
func TestManyConcurrentExecutions(t *testing.T) {
	h := newHarness(t, Options{Inline: map[string]invoke.Func{"test:inc": incFunc}})
	wf := compile(t, strings.Replace(counting, "60", "5", 1))
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			res, err := h.e.Run(bg, wf, []byte(`{}`), StartOptions{ID: fmt.Sprintf("c%03d", i)})
			if err == nil && string(res.Output) != `{"n":5}` {
				err = fmt.Errorf("%s: %s", res.ID, res.Output)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.e.Start(bg, wf, []byte(`{}`), StartOptions{ID: "c007"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("starting an existing id: %v", err)
	}
	h.verify()
}

// TestExecutionTimeout: a workflow's timeout ends the execution while a
// step is still running; the completed mutation is compensated.
func TestExecutionTimeout(t *testing.T) {
	src := `
version: "1.0"
name: slowpoke
timeout: 1m
functions:
  charge: {uri: "builtin:echo"}
  refund: {uri: "builtin:echo"}
  slow: {uri: "go:block"}
states:
- {name: Charge, action: charge, mutates: true, compensate: refund, next: Slow}
- {name: Slow, action: slow, end: true}
`
	clock := newVirtualClock(t0)
	h := newHarness(t, Options{Clock: clock})
	started := blocking(t, h.reg)
	id, err := h.e.Start(bg, compile(t, src), []byte(`{}`), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	clock.advance() // the minute passes
	res, err := h.e.Wait(bg, id)
	if err != nil || res.Status != model.TimedOut || res.Error != model.ErrTimeout {
		t.Fatalf("%+v %v", res, err)
	}
	var refunded bool
	for _, en := range history(t, h.st, id) {
		refunded = refunded || (en.Command != nil && en.Command.Comp && en.Function == "refund")
	}
	if !refunded {
		t.Errorf("the charge was not compensated")
	}
	h.verify()
}
