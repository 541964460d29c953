package sim

import "github.com/nexus-workflows/nexus/model"

// Ending is how a simulated execution ended.
type Ending uint8

// Endings, in report order. The first six are the kernel's terminal
// statuses; the last two are the simulator's limits.
const (
	EndSucceeded Ending = iota
	EndCompensated
	EndFailed
	EndCompensationFailed
	EndTimedOut
	EndCancelled
	// EndStuck: the execution waits for something that never happens (a
	// call that hangs with no timeout to end it).
	EndStuck
	// EndEventLimit: the execution stepped more than Options.MaxEvents
	// events (a loop without end?).
	EndEventLimit
	numEndings
)

var endingNames = [...]string{"succeeded", "compensated", "failed", "compensation_failed", "timed_out", "cancelled",
	"stuck", "event_limit"}

func (e Ending) String() string {
	if int(e) < len(endingNames) {
		return endingNames[e]
	}
	return "invalid"
}

// ParseEnding maps an ending's name back to it.
func ParseEnding(name string) (Ending, bool) {
	for i, n := range endingNames {
		if n == name {
			return Ending(i), true
		}
	}
	return 0, false
}

func endOf(s *model.Execution) Ending {
	switch s.Status {
	case model.Succeeded:
		return EndSucceeded
	case model.Compensated:
		return EndCompensated
	case model.Failed:
		return EndFailed
	case model.CompensationFailed:
		return EndCompensationFailed
	case model.TimedOut:
		return EndTimedOut
	case model.Cancelled:
		return EndCancelled
	}
	return EndStuck
}

// tally is what one chunk of executions did. Tallies are added up in
// chunk order, so a report does not depend on which goroutine ran which
// chunk.
type tally struct {
	counts [numEndings]int64
	// lat and end: every execution's latency (ns) and ending, in the
	// order they ended.
	lat []int64
	end []Ending
	// events stepped; rejected events (a simulator bug if not 0).
	events, rejected int64
	transitions      int64
	cost, costSq     float64
	states           []stateTally
	fns              []fnTally
	// fails[state*nerr+err] counts failed attempts by state and error.
	fails []int64
	nerr  int
}

type stateTally struct {
	attempts, retries          int64
	compAttempts, compFailures int64
	runNS, backoffNS, waitNS   int64
	compNS                     int64
}

type fnTally struct {
	calls, cold, throttled, refused, opened, hangs int64
	// busy is the time calls ran (ns), cost what they cost.
	busy int64
	cost float64
}

func newTally(b *bound, n int) *tally {
	return &tally{
		lat: make([]int64, 0, n), end: make([]Ending, 0, n),
		states: make([]stateTally, len(b.m.States)), fns: make([]fnTally, len(b.fns)),
		fails: make([]int64, len(b.m.States)*len(b.errs)), nerr: len(b.errs),
	}
}

func (t *tally) fail(state int32, err uint16) {
	if state >= 0 {
		t.fails[int(state)*t.nerr+int(err)]++
	}
}

func (t *tally) record(e Ending, latency int64, cost float64, transitions int) {
	t.counts[e]++
	t.lat = append(t.lat, latency)
	t.end = append(t.end, e)
	t.cost += cost
	t.costSq += cost * cost
	t.transitions += int64(transitions)
}

// add adds u to t (everything but the samples).
func (t *tally) add(u *tally) {
	for i := range t.counts {
		t.counts[i] += u.counts[i]
	}
	t.events += u.events
	t.rejected += u.rejected
	t.transitions += u.transitions
	t.cost += u.cost
	t.costSq += u.costSq
	for i := range t.states {
		a, b := &t.states[i], &u.states[i]
		a.attempts += b.attempts
		a.retries += b.retries
		a.compAttempts += b.compAttempts
		a.compFailures += b.compFailures
		a.runNS += b.runNS
		a.backoffNS += b.backoffNS
		a.waitNS += b.waitNS
		a.compNS += b.compNS
	}
	for i := range t.fns {
		a, b := &t.fns[i], &u.fns[i]
		a.calls += b.calls
		a.cold += b.cold
		a.throttled += b.throttled
		a.refused += b.refused
		a.opened += b.opened
		a.hangs += b.hangs
		a.busy += b.busy
		a.cost += b.cost
	}
	for i := range t.fails {
		t.fails[i] += u.fails[i]
	}
}
