package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/dataflow"
)

// An execution is driven by one goroutine, its actor, which owns its
// state: it takes what arrived (completions, timers, signals), steps the
// kernel, answers the kernel's questions at once, makes every record of
// the round durable in one Append (which the store commits together with
// the other executions' appends), then performs the effects in order.
//
// Decisions (Decide) are pure computations with no effect outside the
// engine, so a run of steps linked by decisions is committed once, before
// the first real effect: a crash before that commit loses only records
// whose effects never happened, which is a crash the kernel's protocol
// already allows for (between an append and the next command).

// msg is what arrives in an execution's mailbox.
type msg struct {
	ev     model.Event
	signal *store.Signal
}

type execution struct {
	e     *Engine
	id    string
	m     *model.Machine
	binds map[string]string
	ident Identity

	s         model.Execution
	seq       uint64
	head      [32]byte
	sinceSnap int
	status    model.Status // as last written to the store's index
	create    *store.Execution
	recovery  []model.Command
	cmds      []model.Command

	mu   sync.Mutex
	box  []msg
	wake chan struct{}

	ctx     context.Context // of invocations; cancelled when the actor stops
	cancel  context.CancelFunc
	stop    chan struct{}
	halted  sync.Once
	exited  chan struct{}
	started chan error
	begun   bool

	calls   map[uint32]*call
	timers  map[uint32]func() bool
	due     map[uint32]int64
	signals map[int64]bool
	num     numbering

	steps  int         // events stepped by this engine (for test seeds)
	over   atomic.Bool // finished or failed: the actor stops
	result *Result
	err    error
}

// numbering gives each state a thread enters a history event number, the
// way the in-memory runner (and Step Functions) numbers them, for the
// wording of error causes.
type numbering struct {
	next    int
	entered map[uint32]int
	state   map[uint32]int32
}

// call is one invocation in flight.
type call struct {
	id       uint32
	fn       string
	callback bool
	hb       time.Duration
	br       *breaker
	trial    bool
	cancel   context.CancelFunc

	settled atomic.Bool // an outcome was delivered (or the call abandoned)
	counted atomic.Bool // the breaker was told
	beat    atomic.Int64

	mu    sync.Mutex
	stops []func() bool
}

func (c *call) addStop(stop func() bool) {
	c.mu.Lock()
	c.stops = append(c.stops, stop)
	c.mu.Unlock()
}

func (c *call) release() {
	c.mu.Lock()
	for _, s := range c.stops {
		s()
	}
	c.stops = nil
	c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *call) count(o outcome, now time.Time) {
	if c.counted.CompareAndSwap(false, true) {
		c.br.done(c.trial, o, now)
	}
}

func (e *Engine) newExecution(id string, m *model.Machine, binds map[string]string) *execution {
	x := &execution{e: e, id: id, m: m, binds: binds, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		exited: make(chan struct{}), started: make(chan error, 1), calls: map[uint32]*call{},
		timers: map[uint32]func() bool{}, due: map[uint32]int64{}, signals: map[int64]bool{},
		num: numbering{next: 2, entered: map[uint32]int{}, state: map[uint32]int32{}}}
	x.ctx, x.cancel = context.WithCancel(e.ctx)
	if e.opts.Identity != nil {
		x.ident = e.opts.Identity(id, m)
	} else {
		x.ident = DefaultIdentity(id, m)
	}
	return x
}

func (x *execution) push(m msg) {
	x.mu.Lock()
	x.box = append(x.box, m)
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *execution) take() []msg {
	x.mu.Lock()
	defer x.mu.Unlock()
	b := x.box
	x.box = nil
	return b
}

// halt stops the actor where it is (engine closing).
func (x *execution) halt() { x.halted.Do(func() { close(x.stop) }) }

func (x *execution) finished() bool { return x.result != nil }

func (x *execution) run() {
	defer close(x.exited)
	defer x.e.unregister(x)
	defer x.cleanup()
	if x.create == nil {
		x.begin()
	}
	for !x.over.Load() {
		ins := x.take()
		if len(ins) == 0 {
			if x.e.opts.idle != nil && len(x.calls) == 0 {
				x.e.opts.idle(x.id)
			}
			select {
			case <-x.wake:
			case <-x.stop:
				x.over.Store(true)
			}
			continue
		}
		select {
		case <-x.stop:
			x.over.Store(true)
			continue
		default:
		}
		x.process(ins)
	}
	if !x.begun {
		x.begun = true
		x.started <- errors.New("engine closed")
	}
}

// cleanup stops every timer and abandons every call when the actor stops.
func (x *execution) cleanup() {
	for id, stop := range x.timers {
		stop()
		delete(x.timers, id)
	}
	for id, c := range x.calls {
		c.settled.Store(true)
		c.count(outcomeNone, x.e.clock.Now())
		c.release()
		delete(x.calls, id)
	}
	x.cancel()
}

// batch is what one commit makes durable and what follows it.
type batch struct {
	records []*store.Record
	entries []*Entry
	effects []effect
	acks    []int64
}

type effect struct {
	c    model.Command
	time int64
}

// begin resumes an execution: it appends what the log lacks and performs
// what Recover returned.
func (x *execution) begin() {
	now := x.e.clock.Now().UnixNano()
	b := &batch{}
	var answers []model.Event
	for _, c := range x.recovery {
		switch c.Kind {
		case model.AppendIntent:
			x.addIntent(b, c, now)
		case model.Decide:
			answers = append(answers, x.answer(c))
		default:
			b.effects = append(b.effects, effect{c, now})
		}
	}
	x.recovery = nil
	for _, a := range answers {
		b = x.chain(a, b)
	}
	x.flush(b)
}

func (x *execution) process(ins []msg) {
	b := &batch{}
	for _, in := range ins {
		if x.over.Load() {
			return
		}
		if in.signal != nil {
			ev, ok := x.fromSignal(in.signal, b)
			if !ok {
				continue
			}
			in.ev = ev
		}
		b = x.chain(in.ev, b)
	}
	x.flush(b)
}

// chain steps event first and, at once, the answers to the questions the
// kernel asks on the way. It returns the batch to go on with (a full
// batch is committed on the way).
func (x *execution) chain(first model.Event, b *batch) *batch {
	queue := []model.Event{first}
	for len(queue) > 0 && !x.over.Load() {
		ev := queue[0]
		queue = queue[1:]
		var began time.Time
		if x.e.opts.Metrics != nil {
			began = time.Now()
		}
		ev.Time = x.e.clock.Now().UnixNano()
		rec := x.eventRecord(&ev)
		cmds, err := x.m.Step(&x.s, ev, x.cmds[:0])
		x.cmds = cmds
		if err != nil {
			var rej *model.RejectError
			if !errors.As(err, &rej) {
				x.fail(fmt.Errorf("step %v: %w", ev, err))
				return b
			}
			x.e.log.Debug("event rejected", "execution", x.id, "event", ev.String(), "reason", rej.Reason)
			x.settle(ev)
			continue
		}
		x.steps++
		x.number()
		x.settle(ev)
		var answers []model.Event
		for _, c := range cmds {
			switch c.Kind {
			case model.AppendEvent:
				x.add(b, rec, &ev, nil)
			case model.AppendIntent:
				x.addIntent(b, c, ev.Time)
			case model.Decide:
				answers = append(answers, x.answer(c))
			case model.CancelTimer:
				delete(x.due, c.ID)
				b.effects = append(b.effects, effect{c, ev.Time})
			default:
				b.effects = append(b.effects, effect{c, ev.Time})
			}
		}
		// Answers go first, ahead of anything queued, each in front of the
		// previous one: the in-memory runner's order, so that both number
		// threads and invocations alike.
		for _, a := range answers {
			queue = append([]model.Event{a}, queue...)
		}
		if x.e.opts.Metrics != nil {
			x.e.opts.Metrics.Transition(time.Since(began))
		}
		if len(b.records) >= x.e.opts.MaxBatchRecords {
			x.flush(b)
			b = &batch{}
		}
	}
	return b
}

// settle forgets the call or timer an event completes.
func (x *execution) settle(ev model.Event) {
	switch ev.Kind {
	case model.EvSucceeded, model.EvFailed, model.EvTimedOut, model.EvHeartbeatTimeout:
		if c := x.calls[ev.ID]; c != nil {
			c.settled.Store(true)
			c.release()
			delete(x.calls, ev.ID)
		}
	case model.EvTimerFired:
		if stop := x.timers[ev.ID]; stop != nil {
			stop()
			delete(x.timers, ev.ID)
		}
		delete(x.due, ev.ID)
	}
}

// answer answers a question of the kernel with package dataflow, and
// turns data over the payload limit into States.DataLimitExceeded.
func (x *execution) answer(c model.Command) model.Event {
	ev := dataflow.Decide(x.m, &x.s, c, x.e.env(x, c))
	size := len(ev.Data) + len(ev.Vars)
	for _, it := range ev.Items {
		size += len(it)
	}
	if ev.Err == "" && size > x.e.maxBytes {
		name := ""
		if c.State >= 0 {
			name = x.m.States[c.State].Name
		}
		ev = model.Event{Kind: model.EvDecided, Thread: ev.Thread, Decide: ev.Decide, Time: ev.Time, Err: model.ErrDataLimit,
			Cause: fmt.Sprintf("state %s: its data is %d bytes, over the %d-byte payload limit", name, size, x.e.maxBytes)}
	}
	return ev
}

func (x *execution) addIntent(b *batch, c model.Command, t int64) {
	if c.Effect == model.StartTimer {
		x.due[c.ID] = dueOf(c, t)
	}
	cc := c
	x.add(b, x.intentRecord(&cc, t), nil, &cc)
}

// dueOf is when a timer whose intent was recorded at t fires.
func dueOf(c model.Command, t int64) int64 {
	if c.Until != 0 {
		return c.Until
	}
	return t + int64(c.Delay)
}

// add seals a record onto the execution's chain and adds it to the batch.
func (x *execution) add(b *batch, r *store.Record, ev *model.Event, c *model.Command) {
	r.Exec = x.id
	r.Seq = x.seq + 1
	r.Seal(x.head, x.e.opts.LogKey)
	x.seq, x.head = r.Seq, r.Hash
	b.records = append(b.records, r)
	if x.e.opts.Observer != nil {
		b.entries = append(b.entries, entryOf(r, ev, c))
	}
}

// eventRecord is the record of event ev, with the audit columns filled
// from the state before ev is stepped.
func (x *execution) eventRecord(ev *model.Event) *store.Record {
	r := &store.Record{Time: ev.Time, Kind: store.KindEvent, Type: ev.Kind.String(), Error: ev.Err}
	switch ev.Kind {
	case model.EvDecided:
		r.Type = "decided:" + ev.Decide.String()
		if t := x.s.Thread(ev.Thread); t != nil {
			r.State, r.Attempt = x.stateName(t.State), t.Attempt
			if ev.Decide == model.DecideInput && ev.Err == "" {
				r.Attempt++ // the attempt this input starts
			}
		}
	case model.EvSucceeded, model.EvFailed, model.EvTimedOut, model.EvHeartbeatTimeout:
		if t := x.waiting(ev.ID, model.PhaseRun); t != nil {
			r.State, r.Function, r.Attempt, r.Key = x.stateName(t.State), x.fnOf(t), t.Attempt, x.keyOf(t, ev.ID)
		}
	case model.EvTimerFired:
		if t := x.waiting(ev.ID, model.PhaseBackoff, model.PhaseTimer); t != nil {
			r.State = x.stateName(t.State)
		}
	}
	r.Body = AppendEvent(nil, ev)
	return r
}

func (x *execution) intentRecord(c *model.Command, t int64) *store.Record {
	r := &store.Record{Time: t, Kind: store.KindIntent, Type: c.Effect.String(), State: x.stateName(c.State),
		Attempt: c.Attempt}
	if c.Effect == model.Invoke {
		r.Function = x.m.Functions[c.Fn]
		r.Key = c.Key
		if r.Key == "" {
			r.Key = model.DefaultKey(x.id, c.ID)
		}
	}
	r.Body = AppendCommand(nil, c)
	return r
}

func (x *execution) stateName(i int32) string {
	if i < 0 || int(i) >= len(x.m.States) {
		return ""
	}
	return x.m.States[i].Name
}

func (x *execution) fnOf(t *model.Thread) string {
	sp := &x.m.States[t.State]
	fn := sp.Fn
	if t.Comp {
		fn = sp.Compensate
		if t.OnFail {
			fn = sp.OnFailure
		}
	}
	if fn < 0 {
		return ""
	}
	return x.m.Functions[fn]
}

func (x *execution) keyOf(t *model.Thread, id uint32) string {
	if t.Data != nil && t.Data.Key != "" {
		return t.Data.Key
	}
	return model.DefaultKey(x.id, id)
}

func (x *execution) waiting(id uint32, phases ...model.Phase) *model.Thread {
	for i := range x.s.Threads {
		t := &x.s.Threads[i]
		if t.Wait != id {
			continue
		}
		for _, p := range phases {
			if t.Phase == p {
				return t
			}
		}
	}
	return nil
}

func (x *execution) number() {
	for _, t := range x.s.Threads {
		if prev, ok := x.num.state[t.ID]; !ok || prev != t.State {
			x.num.state[t.ID] = t.State
			x.num.entered[t.ID] = x.num.next
			x.num.next += 2
		}
	}
}

func (x *execution) enteredEvent(thread uint32) int { return x.num.entered[thread] }

// flush makes the batch durable, then performs its effects.
func (x *execution) flush(b *batch) {
	if x.over.Load() {
		return
	}
	if len(b.records) == 0 && x.create == nil {
		if len(b.acks) > 0 {
			if err := x.e.st.Ack(context.Background(), b.acks...); err != nil {
				x.e.log.Warn("ack signals", "execution", x.id, "err", err)
			}
		}
		x.markStarted(nil)
		x.perform(b.effects)
		return
	}
	sb := &store.Batch{Exec: x.id, Create: x.create, Records: b.records, Consumed: b.acks}
	if x.s.Status != x.status {
		sb.Status = x.s.Status.String()
		if x.s.Status.Terminal() {
			sb.Release = true
			sb.Error, sb.Cause = x.s.Err, x.s.Cause
			if x.s.Status == model.Succeeded && x.s.Data != nil {
				sb.Output = x.s.Data.Output
			}
		}
	}
	x.sinceSnap += len(b.records)
	if x.sinceSnap >= x.e.opts.SnapshotEvery && !x.s.Status.Terminal() {
		sb.Snapshot = x.snapshot()
		x.sinceSnap = 0
	}
	var began time.Time
	if x.e.opts.Metrics != nil {
		began = time.Now()
	}
	errs, err := x.e.st.Append(context.Background(), sb)
	if err == nil {
		err = errs[0]
	}
	if x.e.opts.Metrics != nil {
		x.e.opts.Metrics.Commit(len(sb.Records), time.Since(began))
	}
	if err != nil {
		x.fail(fmt.Errorf("append to the log: %w", err))
		return
	}
	x.create = nil
	x.status = x.s.Status
	x.markStarted(nil)
	if x.e.opts.Observer != nil && len(b.entries) > 0 {
		x.e.opts.Observer.Committed(x.id, b.entries)
	}
	x.perform(b.effects)
}

func (x *execution) markStarted(err error) {
	if !x.begun {
		x.begun = true
		x.started <- err
	}
}

// fail stops an execution whose log cannot be written: what it did is in
// the log, and a resume continues from there.
func (x *execution) fail(err error) {
	x.err = fmt.Errorf("execution %s stopped: %w (its log is intact up to the last commit; nexus resume continues it)", x.id, err)
	x.e.log.Error("execution stopped", "execution", x.id, "err", err)
	x.markStarted(x.err)
	x.over.Store(true)
	x.e.st.Release(context.Background(), x.id, x.e.owner)
}

// perform carries out effects in order. An invocation or timer cancelled
// later in the same list is not started at all.
func (x *execution) perform(effects []effect) {
	cancelAt := map[uint32]int{}
	for i, ef := range effects {
		if ef.c.Kind == model.CancelInvoke || ef.c.Kind == model.CancelTimer {
			cancelAt[ef.c.ID] = i
		}
	}
	for i, ef := range effects {
		c := ef.c
		switch c.Kind {
		case model.Invoke, model.StartTimer:
			if k, ok := cancelAt[c.ID]; ok && k > i {
				continue
			}
			if c.Kind == model.Invoke {
				x.invoke(c)
			} else {
				due, ok := x.due[c.ID]
				if !ok {
					due = dueOf(c, ef.time)
					x.due[c.ID] = due
				}
				x.schedule(c.ID, due)
			}
		case model.CancelInvoke:
			if cl := x.calls[c.ID]; cl != nil {
				cl.settled.Store(true)
				cl.count(outcomeNone, x.e.clock.Now())
				cl.release()
				delete(x.calls, c.ID)
			}
		case model.CancelTimer:
			if stop := x.timers[c.ID]; stop != nil {
				stop()
				delete(x.timers, c.ID)
			}
		case model.Finish:
			x.finish(c)
		}
	}
}

func (x *execution) schedule(id uint32, due int64) {
	if stop := x.timers[id]; stop != nil {
		stop()
	}
	d := time.Unix(0, due).Sub(x.e.clock.Now())
	x.timers[id] = x.e.clock.AfterFunc(d, func() {
		x.push(msg{ev: model.Event{Kind: model.EvTimerFired, ID: id}})
	})
}

func (x *execution) finish(c model.Command) {
	r := &Result{ID: x.id, Status: c.Status, Error: c.Err, Cause: c.Cause}
	if d := x.s.Data; d != nil {
		if c.Status == model.Succeeded {
			r.Output = json.RawMessage(d.Output)
		}
		r.ErrorNull, r.CauseNull = d.ErrNull, d.CauseNull
	}
	x.result = r
	x.over.Store(true)
	if en, ok := x.e.opts.Observer.(Ender); ok {
		en.Ended(x.id, r)
	}
}

type heartbeatKey struct{}

// Heartbeat tells the engine that the in-process function running under
// ctx is alive, for steps with a heartbeat timeout. It does nothing for
// calls without one.
func Heartbeat(ctx context.Context) {
	if f, ok := ctx.Value(heartbeatKey{}).(func()); ok {
		f()
	}
}

// invoke calls a function for an Invoke command. The outcome comes back
// through the mailbox.
func (x *execution) invoke(c model.Command) {
	now := x.e.clock.Now()
	fn := x.m.Functions[c.Fn]
	uri := x.binds[fn]
	key := c.Key
	if key == "" {
		key = model.DefaultKey(x.id, c.ID)
	}
	if len(c.Input) > x.e.maxBytes {
		x.push(msg{ev: model.Event{Kind: model.EvFailed, ID: c.ID, Err: model.ErrDataLimit,
			Cause: fmt.Sprintf("input of %s is %d bytes, over the %d-byte payload limit; the function was not called", fn, len(c.Input), x.e.maxBytes)}})
		return
	}
	br := x.e.brk.get(fn)
	ok, trial, cause := br.allow(now)
	if !ok {
		x.push(msg{ev: model.Event{Kind: model.EvFailed, ID: c.ID, Err: ErrCircuitOpen, Cause: cause}})
		return
	}
	req := invoke.Request{Function: fn, URI: uri, Input: c.Input, Key: key, Attempt: int(c.Attempt), Execution: x.id,
		State: x.stateName(c.State), Timeout: c.Timeout}
	// A callback step's function completes the step with its token; a
	// step with a heartbeat timeout gets one too, to send heartbeats with
	// (nexus complete TOKEN --heartbeat) when it runs out of process.
	if c.Callback || c.Heartbeat > 0 {
		req.TaskToken = Token(x.e.secret, x.id, c.ID)
	}
	if x.e.opts.TraceParent != nil {
		req.TraceParent = x.e.opts.TraceParent(x.id, c.ID)
	}
	cl := &call{id: c.ID, fn: fn, callback: c.Callback, hb: c.Heartbeat, br: br, trial: trial}
	cl.beat.Store(now.UnixNano())
	x.calls[c.ID] = cl
	f := x.e.inline(uri)
	if f != nil && c.Timeout == 0 && c.Heartbeat == 0 && !c.Callback {
		resp, err := safeCall(x.ctx, f, req)
		if ev, ok := x.outcome(cl, resp, err); ok {
			x.push(msg{ev: ev})
		}
		return
	}
	ctx, cancel := context.WithCancel(x.ctx)
	cl.cancel = cancel
	ctx = context.WithValue(ctx, heartbeatKey{}, func() { cl.beat.Store(x.e.clock.Now().UnixNano()) })
	if c.Timeout > 0 {
		cl.addStop(x.e.clock.AfterFunc(c.Timeout, func() {
			x.expire(cl, model.EvTimedOut, fmt.Sprintf("%s did not complete within %s", fn, c.Timeout))
		}))
	}
	if c.Heartbeat > 0 {
		x.watchHeartbeat(cl)
	}
	go func() {
		var resp invoke.Response
		var err error
		if f != nil {
			resp, err = safeCall(ctx, f, req)
		} else {
			resp, err = x.e.inv.Invoke(ctx, req)
		}
		if ev, ok := x.outcome(cl, resp, err); ok {
			x.push(msg{ev: ev})
		}
	}()
}

// safeCall calls an in-process function, turning a panic into a failure.
func safeCall(ctx context.Context, f invoke.Func, req invoke.Request) (resp invoke.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = invoke.Response{Error: model.ErrTaskFailed, Cause: fmt.Sprintf("%s panicked: %v", req.Function, p)}, nil
		}
	}()
	return f(ctx, req)
}

// expire delivers a timeout of a call, unless its outcome came first.
func (x *execution) expire(cl *call, kind model.EventKind, cause string) {
	if !cl.settled.CompareAndSwap(false, true) {
		return
	}
	cl.count(outcomeFailure, x.e.clock.Now())
	if cl.cancel != nil {
		cl.cancel()
	}
	x.push(msg{ev: model.Event{Kind: kind, ID: cl.id, Cause: cause}})
}

func (x *execution) watchHeartbeat(cl *call) {
	var check func()
	check = func() {
		if cl.settled.Load() {
			return
		}
		wait := time.Unix(0, cl.beat.Load()).Add(cl.hb).Sub(x.e.clock.Now())
		if wait <= 0 {
			x.expire(cl, model.EvHeartbeatTimeout, fmt.Sprintf("%s sent no heartbeat for %s", cl.fn, cl.hb))
			return
		}
		cl.addStop(x.e.clock.AfterFunc(wait, check))
	}
	cl.addStop(x.e.clock.AfterFunc(cl.hb, check))
}

// outcome turns what a function returned into the event to step, if the
// call has not been settled otherwise (timed out, abandoned).
func (x *execution) outcome(cl *call, resp invoke.Response, err error) (model.Event, bool) {
	now := x.e.clock.Now()
	ev := model.Event{ID: cl.id}
	switch {
	case err != nil:
		ev.Kind, ev.Err, ev.Cause = model.EvFailed, model.ErrTaskFailed, err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			ev.Kind, ev.Err = model.EvTimedOut, ""
		}
	case resp.Error != "":
		ev.Kind, ev.Err, ev.Cause = model.EvFailed, resp.Error, resp.Cause
	case cl.callback:
		// The function has the token; the step waits for its completion.
		cl.count(outcomeSuccess, now)
		return ev, false
	default:
		ev = x.output(cl.id, cl.fn, resp.Output)
	}
	if ev.Kind == model.EvSucceeded {
		cl.count(outcomeSuccess, now)
	} else if ev.Err != model.ErrDataLimit {
		cl.count(outcomeFailure, now)
	} else {
		cl.count(outcomeNone, now)
	}
	if !cl.settled.CompareAndSwap(false, true) {
		return ev, false
	}
	return ev, true
}

// output is the event of a function's output: success, or a failure if
// the output is too large or not JSON.
func (x *execution) output(id uint32, fn string, out []byte) model.Event {
	if len(out) == 0 {
		out = []byte("null")
	}
	if len(out) > x.e.maxBytes {
		return model.Event{Kind: model.EvFailed, ID: id, Err: model.ErrDataLimit,
			Cause: fmt.Sprintf("output of %s is %d bytes, over the %d-byte payload limit", fn, len(out), x.e.maxBytes)}
	}
	if !json.Valid(out) {
		return model.Event{Kind: model.EvFailed, ID: id, Err: model.ErrTaskFailed,
			Cause: fmt.Sprintf("output of %s is not JSON: %.200q", fn, out)}
	}
	return model.Event{Kind: model.EvSucceeded, ID: id, Data: out}
}

// fromSignal turns an inbox signal into the event it asks for.
func (x *execution) fromSignal(sg *store.Signal, b *batch) (model.Event, bool) {
	if x.signals[sg.ID] {
		return model.Event{}, false
	}
	x.signals[sg.ID] = true
	b.acks = append(b.acks, sg.ID)
	switch sg.Kind {
	case store.SignalCancel:
		return model.Event{Kind: model.EvCancel, Cause: sg.Cause}, true
	case store.SignalHeartbeat:
		if cl := x.calls[sg.Target]; cl != nil {
			cl.beat.Store(x.e.clock.Now().UnixNano())
		}
		return model.Event{}, false
	case store.SignalSucceed, store.SignalFail:
		cl := x.calls[sg.Target]
		if cl == nil || !cl.callback || !cl.settled.CompareAndSwap(false, true) {
			x.e.log.Info("stale completion", "execution", x.id, "invocation", sg.Target)
			return model.Event{}, false
		}
		if sg.Kind == store.SignalFail {
			return model.Event{Kind: model.EvFailed, ID: sg.Target, Err: sg.Error, Cause: sg.Cause}, true
		}
		return x.output(sg.Target, cl.fn, sg.Output), true
	}
	return model.Event{}, false
}
