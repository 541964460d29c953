package model

import (
	"slices"
	"time"
)

// Status is where an execution stands.
type Status uint8

// Execution statuses. The terminal ones are those after Compensating.
const (
	// NotStarted is the zero State, before its Start event.
	NotStarted Status = iota
	Running
	// Compensating: the execution failed, was cancelled or timed out, and
	// is running the compensations of its completed mutations.
	Compensating
	Succeeded
	// Failed: failed with nothing to compensate.
	Failed
	// Compensated: failed, and every completed mutation was undone.
	Compensated
	// CompensationFailed: failed, and a compensation failed for good.
	CompensationFailed
	Cancelled
	TimedOut
)

var statusNames = [...]string{"not_started", "running", "compensating", "succeeded", "failed", "compensated",
	"compensation_failed", "cancelled", "timed_out"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "invalid"
}

// ParseStatus maps a status name back to its value.
func ParseStatus(name string) (Status, bool) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), true
		}
	}
	return 0, false
}

// Terminal reports whether an execution in this status is over.
func (s Status) Terminal() bool { return s >= Succeeded }

// Phase is what a thread is waiting for.
type Phase uint8

// Thread phases. Each names the one thing the thread waits for; the
// thread's Wait field identifies it where it is an invocation or a timer.
const (
	// PhaseDecide: a Decide command is out; the thread waits for Decided.
	PhaseDecide Phase = iota
	// PhaseRun: an invocation is in flight (Wait is its id).
	PhaseRun
	// PhaseBackoff: a retry timer is running (Wait is its id).
	PhaseBackoff
	// PhaseTimer: a wait state's timer is running (Wait is its id).
	PhaseTimer
	// PhaseFork: a parallel or map state waits for its children.
	PhaseFork
)

var phaseNames = [...]string{"decide", "run", "backoff", "timer", "fork"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "invalid"
}

// DecideKind says which data-dependent question a Decide command asks.
type DecideKind uint8

// Decide kinds.
const (
	// DecideInput: the effective input of a task, parallel or sub-workflow;
	// the items of a map (answer Count); the duration of a wait.
	DecideInput DecideKind = iota + 1
	// DecideOutput: the output of a state that has done its work (a task's
	// result, a parallel's branch outputs, a pass, a wait, a succeed).
	DecideOutput
	// DecideChoice: the branch a choice state takes (answer Branch).
	DecideChoice
	// DecideCatch: what catcher Catcher passes on.
	DecideCatch
	// DecideFail: the error and cause a fail state ends with.
	DecideFail
	// DecideJitter: the delay, at most Delay, of a retry with full jitter.
	DecideJitter
)

var decideNames = [...]string{"", "input", "output", "choice", "catch", "fail", "jitter"}

func (d DecideKind) String() string {
	if int(d) < len(decideNames) {
		return decideNames[d]
	}
	return "invalid"
}

// Thread is one strand of control in an execution: the top level, a
// parallel branch, a map item, or the compensation of the execution.
type Thread struct {
	ID uint32
	// Parent is the thread of the parallel or map state that forked this
	// one; 0 for the top-level thread and the compensation thread.
	Parent uint32
	// Index is the branch or item number within the parent.
	Index uint32
	// State is the current state (an index into Machine.States).
	State int32
	Phase Phase
	// Decide is the outstanding question while Phase is PhaseDecide.
	Decide DecideKind
	// Catcher is the index of the catcher taking the error (DecideCatch),
	// or of the retrier whose delay is being jittered (DecideJitter).
	Catcher int32
	// Wait identifies the invocation or timer the thread waits for.
	Wait uint32
	// Delay and Until of the running timer, so that a restart can announce
	// it again.
	Delay time.Duration
	Until int64
	// Attempt counts invocations of the current state, the first included.
	Attempt uint32
	// Retries counts the retries each retrier of the current state has
	// granted (ASL: every retrier keeps its own count).
	Retries [MaxRetriers]uint32
	// Fan-out of a parallel or map state: children in all, started and
	// finished, and how many may run at once (0: no limit).
	Total, Started, Finished uint32
	Limit                    uint32
	// Comp marks the compensation thread: State is then the state whose
	// compensation (or on-failure handler, when OnFail) is running.
	Comp   bool
	OnFail bool
	// Uncertain: an attempt of the current state timed out, so it may have
	// taken effect without completing.
	Uncertain bool
	// Err and Cause carry the error being handled (DecideCatch) or of a
	// fail state.
	Err, Cause string
	// Data is the concrete data of the thread, when the driver keeps data.
	Data *ThreadData
}

// ThreadData is the concrete data a thread carries. Values are JSON text.
type ThreadData struct {
	// Input is the raw input of the current state.
	Input []byte
	// Effective is the effective input of the current task (what the
	// function receives) or of a parallel's branches.
	Effective []byte
	// Result of the current task, kept for compensation records.
	Result []byte
	// Vars is a JSON object of the variables in scope; nil when none.
	Vars []byte
	// Items of a map state, one input per item.
	Items [][]byte
	// Results of children, by branch or item index.
	Results [][]byte
	// Key is the idempotency key of the current task, when the workflow
	// names one.
	Key string
	// Timeout and Heartbeat of the current task when computed from data.
	Timeout, Heartbeat time.Duration
	// Entered is when the current state was entered (Unix nanoseconds).
	Entered int64
}

// Mutation records a completed step with something to undo if the
// execution fails: a compensation, or an on-failure handler.
type Mutation struct {
	State int32
	// OnFail marks an on-failure handler (the step failed); otherwise the
	// step completed and its compensation undoes it.
	OnFail bool
	// Uncertain marks a step that may have taken effect without completing
	// (an attempt timed out, or was abandoned in flight): its compensation
	// runs all the same and is told so.
	Uncertain bool
	// Input and Result of the step, handed to the compensation.
	Input, Result []byte
}

// Execution is the control state of one execution, with its data when the
// driver keeps data. It is a plain value: Clone copies it, Encode gives its
// canonical bytes and Hash their 64-bit hash.
type Execution struct {
	Status Status
	// Seq is the last identifier handed out to a thread, invocation or
	// timer. Identifiers are unique within an execution and never reused.
	Seq uint32
	// Threads are the live threads, parents before children.
	Threads []Thread
	// Done lists completed mutations in completion order; compensation
	// undoes them from the end.
	Done []Mutation
	// Final is the status the execution ends with once compensation is
	// over (Failed, Cancelled or TimedOut), and Err/Cause its error.
	Final      Status
	Err, Cause string
	// Stuck lists the mutations whose compensation failed for good, in the
	// order they failed: what an operator must undo by hand.
	Stuck []Mutation
	// Timer is the id of the whole-execution timeout timer, 0 when none.
	Timer uint32
	// Data is the execution's concrete data; nil in abstract mode.
	Data *ExecData
}

// ExecData is the concrete data of an execution as a whole.
type ExecData struct {
	Input  []byte
	Output []byte
	// Start is when the execution started (Unix nanoseconds).
	Start int64
	// ErrNull and CauseNull record that the final error or cause is JSON
	// null rather than a string (a fail state without them).
	ErrNull, CauseNull bool
}

// Thread returns the live thread with id, or nil.
func (s *Execution) Thread(id uint32) *Thread {
	for i := range s.Threads {
		if s.Threads[i].ID == id {
			return &s.Threads[i]
		}
	}
	return nil
}

// waiting returns the thread waiting for invocation or timer id, or nil.
func (s *Execution) waiting(id uint32, phases ...Phase) *Thread {
	for i := range s.Threads {
		t := &s.Threads[i]
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

// Clone returns a deep copy of s, sharing only immutable data bytes.
func (s *Execution) Clone() *Execution {
	c := *s
	c.Threads = append([]Thread(nil), s.Threads...)
	for i := range c.Threads {
		if d := c.Threads[i].Data; d != nil {
			dd := *d
			// slices.Clone keeps nil and empty apart, as the encoding does.
			dd.Items = slices.Clone(d.Items)
			dd.Results = slices.Clone(d.Results)
			c.Threads[i].Data = &dd
		}
	}
	c.Done = append([]Mutation(nil), s.Done...)
	c.Stuck = slices.Clone(s.Stuck)
	if s.Data != nil {
		d := *s.Data
		c.Data = &d
	}
	return &c
}

// CopyInto makes dst a deep copy of s, reusing dst's storage: the
// checker's way of cloning without allocating on every step. Only abstract
// states (without data) are supported.
func (s *Execution) CopyInto(dst *Execution) {
	threads, done, stuck := dst.Threads[:0], dst.Done[:0], dst.Stuck[:0]
	*dst = *s
	dst.Threads = append(threads, s.Threads...)
	dst.Done = append(done, s.Done...)
	dst.Stuck = append(stuck, s.Stuck...)
}

// Renumber renames the identifiers of s (threads, invocations, timers)
// to 1, 2, 3, ... in the order they appear in s, and sets Seq to the last
// one: two executions that differ only in the identifiers they handed out
// become equal, which keeps the state space of a looping workflow finite
// for a model checker. rename receives each old identifier with its new
// one, so that the caller can rename its own references (invocations in
// flight, queued events); old identifiers that no longer appear in s get
// no new name.
func (s *Execution) Renumber(rename func(old, new uint32)) {
	var next uint32
	give := func(id uint32) uint32 {
		next++
		if rename != nil {
			rename(id, next)
		}
		return next
	}
	// Threads come parents first, so a parent is renamed before its
	// children need its new identifier. Threads are few: a linear lookup
	// in a small array beats a map and allocates nothing.
	var buf [32][2]uint32
	names := buf[:0]
	for i := range s.Threads {
		t := &s.Threads[i]
		n := give(t.ID)
		names = append(names, [2]uint32{t.ID, n})
		t.ID = n
		if t.Parent != 0 {
			for _, p := range names {
				if p[0] == t.Parent {
					t.Parent = p[1]
					break
				}
			}
		}
		if t.Wait != 0 {
			w := give(t.Wait)
			t.Wait = w
		}
	}
	if s.Timer != 0 {
		s.Timer = give(s.Timer)
	}
	s.Seq = next
}

// CompFailed reports whether some compensation failed for good.
func (s *Execution) CompFailed() bool { return len(s.Stuck) > 0 }
