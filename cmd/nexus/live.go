package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/model"
)

// live is the terminal view of nexus run: one line per call or wait,
// redrawn in place as the steps run, finished ones with their duration
// and outcome.
type live struct {
	w    io.Writer
	m    *model.Machine
	mu   sync.Mutex
	head string
	rows []*liveRow
	keys map[string]*liveRow
	// waits: the running wait of each state.
	waits    map[string]*liveRow
	drawn    int
	frame    int
	quit     chan struct{}
	finished chan struct{}
	stopped  bool
}

type liveRow struct {
	label      string
	start, end int64
	outcome    string
	ok         bool
}

// maxLiveRows bounds the rows shown; older ones scroll away.
const maxLiveRows = 40

func newLive(w io.Writer, m *model.Machine) *live {
	l := &live{w: w, m: m, keys: map[string]*liveRow{}, waits: map[string]*liveRow{}, quit: make(chan struct{}),
		finished: make(chan struct{})}
	go l.tick()
	return l
}

func (l *live) tick() {
	defer close(l.finished)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
			l.mu.Lock()
			l.frame++
			l.draw()
			l.mu.Unlock()
		}
	}
}

func (l *live) started(id, db string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.head = fmt.Sprintf("%s: execution %s (log in %s)", l.m.Name, id, db)
	l.draw()
}

func (l *live) stop() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.mu.Unlock()
	close(l.quit)
	<-l.finished
	l.mu.Lock()
	l.draw()
	l.mu.Unlock()
}

func (l *live) Committed(exec string, entries []*engine.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, en := range entries {
		l.apply(en)
	}
	if len(l.rows) > maxLiveRows {
		l.rows = l.rows[len(l.rows)-maxLiveRows:]
	}
	l.draw()
}

func (l *live) apply(en *engine.Entry) {
	if c := en.Command; c != nil {
		switch c.Effect {
		case model.Invoke:
			label := fmt.Sprintf("%-22s %s", en.State, en.Function)
			if c.Comp {
				label = fmt.Sprintf("%-22s ↺ %s", en.State, en.Function)
			}
			if en.Attempt > 1 {
				label += fmt.Sprintf(" (attempt %d)", en.Attempt)
			}
			r := &liveRow{label: label, start: en.Time}
			l.keys[en.Key] = r
			l.rows = append(l.rows, r)
		case model.StartTimer:
			d := c.Delay
			if c.Until != 0 {
				d = time.Duration(c.Until - en.Time)
			}
			if en.State == "" {
				return // the execution's timeout: not a step
			}
			r := &liveRow{label: fmt.Sprintf("%-22s wait %s", en.State, d.Round(time.Millisecond)), start: en.Time}
			l.waits[en.State] = r
			l.rows = append(l.rows, r)
		}
		return
	}
	ev := en.Event
	switch ev.Kind {
	case model.EvSucceeded, model.EvFailed, model.EvTimedOut, model.EvHeartbeatTimeout:
		r := l.keys[en.Key]
		if r == nil {
			return
		}
		delete(l.keys, en.Key)
		r.end = en.Time
		switch ev.Kind {
		case model.EvSucceeded:
			r.ok, r.outcome = true, clip(ev.Data)
		case model.EvFailed:
			r.outcome = errText(ev.Err, ev.Cause)
		case model.EvTimedOut:
			r.outcome = "timed out"
		default:
			r.outcome = "no heartbeat"
		}
	case model.EvTimerFired:
		if r := l.waits[en.State]; r != nil {
			r.end, r.ok = en.Time, true
			delete(l.waits, en.State)
		}
	case model.EvCancel:
		l.rows = append(l.rows, &liveRow{label: "cancel requested: " + ev.Cause, start: en.Time, end: en.Time, outcome: ""})
	case model.EvDecided:
		if ev.Err != "" && ev.Decide != model.DecideFail {
			l.rows = append(l.rows, &liveRow{label: fmt.Sprintf("%-22s", en.State), start: en.Time, end: en.Time,
				outcome: errText(ev.Err, ev.Cause)})
		}
	}
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// draw redraws the view in place (the caller holds mu).
func (l *live) draw() {
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\033[%dA", l.drawn)
	}
	n := 0
	line := func(s string) {
		b.WriteString("\r\033[K")
		b.WriteString(s)
		b.WriteByte('\n')
		n++
	}
	if l.head != "" {
		line(l.head)
	}
	now := time.Now().UnixNano()
	for _, r := range l.rows {
		switch {
		case r.end == 0:
			line(fmt.Sprintf("  %s %s  %s", spinner[l.frame%len(spinner)], r.label,
				time.Duration(now-r.start).Round(100*time.Millisecond)))
		case r.ok:
			line(fmt.Sprintf("  ✓ %s  %s  %s", r.label, time.Duration(r.end-r.start).Round(time.Microsecond), r.outcome))
		default:
			line(fmt.Sprintf("  ✗ %s  %s", r.label, r.outcome))
		}
	}
	l.drawn = n
	io.WriteString(l.w, b.String())
}
