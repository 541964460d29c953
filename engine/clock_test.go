package engine

import (
	"container/heap"
	"sync"
	"time"
)

// virtualClock is a Clock whose time moves only when advance is called:
// to the next timer, which then fires. Engines on it are driven by their
// idle hook (Options.idle), so that a workflow waiting an hour finishes at
// once, and the order of events is the order of due times.
type virtualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers vtimers
}

func newVirtualClock(start time.Time) *virtualClock { return &virtualClock{now: start} }

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

type vtimer struct {
	due     time.Time
	seq     int
	f       func()
	stopped bool
	index   int
}

type vtimers []*vtimer

func (h vtimers) Len() int { return len(h) }
func (h vtimers) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h vtimers) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *vtimers) Push(x any)   { t := x.(*vtimer); t.index = len(*h); *h = append(*h, t) }
func (h *vtimers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

func (c *virtualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &vtimer{due: c.now.Add(d), seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.stopped || t.index < 0 {
			return false
		}
		t.stopped = true
		heap.Remove(&c.timers, t.index)
		return true
	}
}

// advance moves time to the earliest timer and fires it; false when no
// timer is set.
func (c *virtualClock) advance() bool {
	c.mu.Lock()
	if c.timers.Len() == 0 {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(&c.timers).(*vtimer)
	if t.due.After(c.now) {
		c.now = t.due
	}
	c.mu.Unlock()
	t.f()
	return true
}

// set moves time to t without firing anything (a process restarted
// later).
func (c *virtualClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
