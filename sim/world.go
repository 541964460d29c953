package sim

import (
	"math/rand/v2"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// A world runs one chunk of executions on one virtual clock: the
// executions of the chunk overlap in time as the profile's load says, and
// share the functions' concurrency limits and circuit breakers. It is the
// engine's driver loop (model/doc.go) with the clock, the functions and
// the answers to the kernel's questions made up:
//
//   - an Invoke draws the call's outcome from the function's profile and
//     schedules the completion (EvSucceeded, EvFailed, or EvTimedOut at the
//     invocation's timeout when the call runs longer);
//   - a StartTimer schedules EvTimerFired;
//   - a Decide is answered at once, ahead of everything else, with an
//     answer drawn from the profile (choice branches, map sizes, data
//     errors, wait times, full-jitter delays uniform in [0, Delay]);
//   - CancelInvoke and CancelTimer drop what was scheduled.
//
// Everything else (retries, backoff, catchers, timeouts, compensation,
// map concurrency) is the kernel's.
type world struct {
	b   *bound
	src *rand.PCG
	now int64
	h   eventHeap
	seq uint64
	// slots are the executions in flight; free the reusable ones.
	slots []*slot
	free  []int32
	fn    []fnRuntime
	out   []model.Command
	imm   []model.Event
	t     *tally
	// Executions of this chunk: to run, and started so far.
	n, started int
	maxEvents  int
}

// fnRuntime is a function's shared state: calls in flight, breaker.
type fnRuntime struct {
	inflight int
	// Breaker: consecutive failures, open until, a probe in flight.
	fails     int
	open      bool
	openUntil int64
	probing   bool
}

// slot is one execution in flight.
type slot struct {
	exec  model.Execution
	index int32
	// gen changes when the slot is reused, so that items scheduled for
	// an execution that has ended are recognised.
	gen   uint32
	start int64
	pend  []pending
	// live counts scheduled items (completions, timers) not yet
	// delivered or cancelled.
	live        int
	events      int
	transitions int
	cost        float64
}

// pending is an invocation or timer of an execution, by id.
type pending struct {
	at    int64 // when it started
	fn    int32
	state int32
	kind  uint8
	live  bool // scheduled and neither delivered nor cancelled
	comp  bool
	// hang: the call will never answer; held: it holds a concurrency
	// slot until it is abandoned.
	hang, held bool
	// breaker: a breaker's verdict (refused, or a probe).
	refused, probe bool
}

// Pending kinds.
const (
	pInvoke uint8 = iota + 1
	pBackoff
	pWait
	pExecTimer
)

// Heap item kinds.
const (
	itemStart uint8 = iota + 1
	itemArrival
	itemOutcome
	itemTimer
	itemRelease
)

// item is one scheduled happening.
type item struct {
	at   int64
	seq  uint64
	slot int32 // the execution; for itemRelease the function
	gen  uint32
	id   uint32
	kind uint8
	ev   model.EventKind
	err  uint16
}

func newWorld(b *bound, maxEvents int) *world {
	return &world{b: b, fn: make([]fnRuntime, len(b.fns)), maxEvents: maxEvents,
		out: make([]model.Command, 0, 32), src: rand.NewPCG(0, 0)}
}

// run simulates n executions with the given seeds into t.
func (w *world) run(n int, seed1, seed2 uint64, t *tally) {
	w.src.Seed(seed1, seed2)
	w.t = t
	w.now, w.seq, w.n, w.started = 0, 0, n, 0
	w.h = w.h[:0]
	clear(w.fn)
	w.free = w.free[:0]
	for i := len(w.slots) - 1; i >= 0; i-- {
		w.free = append(w.free, int32(i))
	}
	load := w.b.p.Load
	if load.Rate > 0 {
		if n > 0 {
			w.push(item{at: 0, kind: itemArrival})
		}
	} else {
		for range min(max(load.Clients, 1), n) {
			w.push(item{at: 0, kind: itemStart})
		}
	}
	for len(w.h) > 0 {
		it := w.pop()
		w.now = it.at
		switch it.kind {
		case itemStart:
			w.startExecution()
		case itemArrival:
			w.startExecution()
			if w.started < w.n {
				gap := rand.New(w.src).ExpFloat64() / load.Rate
				w.push(item{at: w.now + int64(seconds(gap)), kind: itemArrival})
			}
		case itemRelease:
			w.fn[it.slot].inflight--
		case itemOutcome, itemTimer:
			s := w.slots[it.slot]
			if s.gen != it.gen || !s.pend[it.id].live {
				continue // cancelled, or of an execution that ended
			}
			w.deliver(s, it)
		}
	}
	// Whatever is still in flight when nothing is left to happen waits
	// for a call that never answers.
	for _, s := range w.slots {
		if s.exec.Status != model.NotStarted && !s.exec.Status.Terminal() && s.gen&1 == 1 {
			w.finish(s, EndStuck)
		}
	}
}

func (w *world) push(it item) {
	w.seq++
	it.seq = w.seq
	w.h.push(it)
}

func (w *world) pop() item { return w.h.pop() }

func (w *world) startExecution() {
	w.started++
	var s *slot
	if k := len(w.free); k > 0 {
		s = w.slots[w.free[k-1]]
		w.free = w.free[:k-1]
	} else {
		s = &slot{index: int32(len(w.slots)), gen: 0}
		w.slots = append(w.slots, s)
	}
	// gen is odd while the slot runs an execution.
	s.gen |= 1
	threads, done := s.exec.Threads[:0], s.exec.Done[:0]
	s.exec = model.Execution{Threads: threads, Done: done}
	s.start, s.live, s.events, s.transitions, s.cost = w.now, 0, 0, 0, 0
	s.pend = s.pend[:0]
	w.step(s, model.Event{Kind: model.EvStart, Time: w.now})
	w.settle(s)
}

// step applies e to s and performs the commands it returns.
func (w *world) step(s *slot, e model.Event) {
	out, err := w.b.m.Step(&s.exec, e, w.out[:0])
	w.out = out
	if err != nil {
		// The loop tracks what is live, so the kernel should never
		// reject an event; count it so that tests can tell.
		w.t.rejected++
		return
	}
	s.events++
	w.t.events++
	for i := range w.out {
		c := &w.out[i]
		switch c.Kind {
		case model.Invoke:
			w.invoke(s, c)
		case model.StartTimer:
			w.startTimer(s, c)
		case model.CancelInvoke, model.CancelTimer:
			w.cancel(s, c.ID)
		case model.Decide:
			w.imm = append(w.imm, w.answer(s, c))
		}
	}
}

// settle answers the questions the last step asked, in order, and ends
// the execution if it is over.
func (w *world) settle(s *slot) {
	for k := 0; k < len(w.imm); k++ {
		if s.events > w.maxEvents {
			break
		}
		w.step(s, w.imm[k])
	}
	w.imm = w.imm[:0]
	switch {
	case s.exec.Status.Terminal():
		w.finish(s, endOf(&s.exec))
	case s.events > w.maxEvents:
		w.finish(s, EndEventLimit)
	case s.live == 0:
		w.finish(s, EndStuck)
	}
}

func (w *world) pend(s *slot, id uint32) *pending {
	for int(id) >= len(s.pend) {
		s.pend = append(s.pend, pending{})
	}
	return &s.pend[id]
}

func (w *world) schedule(s *slot, p *pending, id uint32, at int64, kind uint8, ev model.EventKind, err uint16) {
	p.live = true
	s.live++
	w.push(item{at: at, slot: s.index, gen: s.gen, id: id, kind: kind, ev: ev, err: err})
}

func (w *world) invoke(s *slot, c *model.Command) {
	b := w.b
	f, rt, fe := b.fns[c.Fn], &w.fn[c.Fn], &b.fnErr[c.Fn]
	p := w.pend(s, c.ID)
	*p = pending{at: w.now, fn: c.Fn, state: c.State, kind: pInvoke, comp: c.Comp}
	st := &w.t.states[c.State]
	ft := &w.t.fns[c.Fn]
	if c.Comp {
		st.compAttempts++
		s.transitions++
	} else {
		st.attempts++
		if c.Attempt > 1 {
			st.retries++
		}
	}
	if f.Breaker != nil && rt.open {
		if w.now < rt.openUntil || rt.probing {
			ft.refused++
			p.refused = true
			w.schedule(s, p, c.ID, w.now, itemOutcome, model.EvFailed, fe.breaker)
			return
		}
		rt.probing, p.probe = true, true
	}
	if f.Concurrency > 0 && rt.inflight >= f.Concurrency {
		ft.throttled++
		w.schedule(s, p, c.ID, w.now+int64(f.ThrottleLatency), itemOutcome, model.EvFailed, fe.throttle)
		return
	}
	o := f.Sample(w.src)
	ft.calls++
	if o.Cold {
		ft.cold++
	}
	if o.Hang {
		ft.hangs++
	}
	// A call that hangs with no MaxDuration to kill it never answers.
	never := o.Hang && f.MaxDuration == 0
	if f.Concurrency > 0 {
		rt.inflight++
		if never {
			p.held = true
		} else {
			w.push(item{at: w.now + int64(o.Latency), slot: c.Fn, kind: itemRelease})
		}
	}
	timeout := int64(c.Timeout)
	if never {
		p.hang = true
		if timeout > 0 {
			w.schedule(s, p, c.ID, w.now+timeout, itemOutcome, model.EvTimedOut, b.timeoutErr)
		}
		return
	}
	w.bill(s, c.Fn, o.Latency)
	switch {
	case timeout > 0 && int64(o.Latency) > timeout:
		w.schedule(s, p, c.ID, w.now+timeout, itemOutcome, model.EvTimedOut, b.timeoutErr)
	case o.Error != "":
		w.schedule(s, p, c.ID, w.now+int64(o.Latency), itemOutcome, model.EvFailed, b.errIndex[o.Error])
	default:
		w.schedule(s, p, c.ID, w.now+int64(o.Latency), itemOutcome, model.EvSucceeded, 0)
	}
}

// bill charges a call of function fn that ran for d.
func (w *world) bill(s *slot, fn int32, d time.Duration) {
	c := w.b.fns[fn].cost(w.b.cost, d)
	s.cost += c
	ft := &w.t.fns[fn]
	ft.cost += c
	ft.busy += int64(d)
}

// abandon ends a call that never answers: it is billed and frees its
// concurrency slot when the engine stops waiting for it.
func (w *world) abandon(s *slot, p *pending) {
	if !p.hang {
		return
	}
	p.hang = false
	w.bill(s, p.fn, time.Duration(w.now-p.at))
	if p.held {
		p.held = false
		w.fn[p.fn].inflight--
	}
}

func (w *world) startTimer(s *slot, c *model.Command) {
	p := w.pend(s, c.ID)
	*p = pending{at: w.now, fn: model.No, state: c.State, kind: pBackoff}
	switch {
	case c.State == model.No:
		p.kind = pExecTimer
	case w.b.m.States[c.State].Kind == model.KindWait:
		p.kind = pWait
	default:
		if t := s.exec.Thread(c.Thread); t != nil && t.Comp {
			p.comp = true
		}
	}
	at := w.now + int64(c.Delay)
	w.schedule(s, p, c.ID, at, itemTimer, model.EvTimerFired, 0)
}

func (w *world) cancel(s *slot, id uint32) {
	if int(id) >= len(s.pend) {
		return
	}
	p := &s.pend[id]
	if !p.live && !p.hang {
		return
	}
	if p.live {
		p.live = false
		s.live--
	}
	w.account(p)
	w.abandon(s, p)
	if p.probe {
		w.fn[p.fn].probing = false
	}
}

// account adds the time an invocation or timer ran to its state.
func (w *world) account(p *pending) {
	if p.state == model.No {
		return
	}
	d := w.now - p.at
	st := &w.t.states[p.state]
	switch {
	case p.kind == pInvoke && p.comp:
		st.compNS += d
	case p.kind == pInvoke:
		st.runNS += d
	case p.kind == pWait:
		st.waitNS += d
	case p.comp:
		st.compNS += d
	default:
		st.backoffNS += d
	}
}

func (w *world) deliver(s *slot, it item) {
	p := &s.pend[it.id]
	p.live = false
	s.live--
	w.account(p)
	e := model.Event{Kind: it.ev, ID: it.id, Time: w.now}
	if it.kind == itemOutcome {
		if p.hang {
			w.abandon(s, p)
		}
		if it.ev != model.EvSucceeded {
			e.Err = w.b.errs[it.err]
			if it.ev == model.EvTimedOut {
				e.Err = ""
			}
			st := &w.t.states[p.state]
			if p.comp {
				st.compFailures++
			} else {
				w.t.fail(p.state, it.err)
			}
		}
		w.breaker(p, it.ev == model.EvSucceeded)
	}
	w.step(s, e)
	w.settle(s)
}

// breaker updates function p.fn's breaker with the outcome of a call.
func (w *world) breaker(p *pending, ok bool) {
	f := w.b.fns[p.fn]
	if f.Breaker == nil || p.refused {
		return
	}
	rt := &w.fn[p.fn]
	if p.probe {
		rt.probing = false
	}
	if ok {
		rt.fails, rt.open = 0, false
		return
	}
	rt.fails++
	if p.probe || rt.fails >= f.Breaker.Failures {
		if !rt.open || p.probe {
			w.t.fns[p.fn].opened++
		}
		rt.open, rt.openUntil = true, w.now+int64(f.Breaker.Cooldown)
	}
}

// answer draws the answer to a Decide command from the profile.
func (w *world) answer(s *slot, c *model.Command) model.Event {
	e := model.Event{Kind: model.EvDecided, Thread: c.Thread, Decide: c.Decide, Time: w.now}
	sa := &w.b.states[c.State]
	sp := &w.b.m.States[c.State]
	switch c.Decide {
	case model.DecideInput:
		s.transitions++
		if len(sa.dataCum) > 0 {
			u := uniform01(w.src)
			for i, cum := range sa.dataCum {
				if u < cum {
					e.Err = sa.dataErrs[i]
					w.t.fail(c.State, w.b.errIndex[e.Err])
					return e
				}
			}
		}
		switch sp.Kind {
		case model.KindMap:
			e.Count = sa.items.Sample(w.src)
		case model.KindWait:
			e.Delay = sa.wait.Sample(w.src)
		}
	case model.DecideChoice:
		s.transitions++
		u := uniform01(w.src)
		k := 0
		for k < len(sa.cum)-1 && u >= sa.cum[k] {
			k++
		}
		e.Branch = sa.branch[k]
		if e.Branch == noMatch {
			e.Branch = model.No
			e.Err = model.ErrNoChoiceMatched
			w.t.fail(c.State, w.b.noMatchErr)
		}
	case model.DecideFail:
		s.transitions++
		e.Err = sa.failName
		e.ErrNull = e.Err == ""
	case model.DecideOutput:
		if sp.Kind == model.KindPass || sp.Kind == model.KindSucceed {
			s.transitions++
		}
	case model.DecideJitter:
		if c.Delay > 0 {
			e.Delay = time.Duration(uniformIndex(w.src, int(c.Delay)+1))
		}
	}
	return e
}

// finish records an ended execution and frees its slot.
func (w *world) finish(s *slot, end Ending) {
	// Calls that will never answer are abandoned with the execution.
	for i := range s.pend {
		if p := &s.pend[i]; p.hang {
			w.account(p)
			w.abandon(s, p)
		}
	}
	cost := s.cost + float64(s.transitions)*w.b.cost.Transition
	w.t.record(end, w.now-s.start, cost, s.transitions)
	s.exec.Status = model.NotStarted
	s.gen++ // even: free
	w.free = append(w.free, s.index)
	if w.b.p.Load.Rate <= 0 && w.started < w.n {
		w.push(item{at: w.now, kind: itemStart})
	}
}

// eventHeap is a binary min-heap of items by time, then by the order they
// were scheduled, so that a run is deterministic.
type eventHeap []item

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(it item) {
	*h = append(*h, it)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *eventHeap) pop() item {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a.less(r, l) {
			m = r
		}
		if !a.less(m, i) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
