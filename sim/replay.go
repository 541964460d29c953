package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// A Trace is a sequence of moves to replay through the kernel: a
// counterexample of the model checker, or a hand-written list of events.
//
// Two JSON forms are read. The checker's (nexus check -o json): the
// output array, one file's result, a report or a bare trace; its moves are
// the "event" texts of the trace's steps, and the answers to the kernel's
// questions are read from the steps' "details". And a plain list of
// events:
//
//	{"events": [
//	  {"kind": "start"},
//	  {"kind": "decided", "state": "Route", "branch": 1},
//	  {"kind": "failed", "id": 3, "error": "States.TaskFailed"},
//	  {"kind": "timed_out", "id": 5},
//	  {"kind": "timer_fired", "id": 6},
//	  {"kind": "succeeded", "id": 7},
//	  {"kind": "crash"},
//	  {"kind": "cancel"}
//	]}
//
// Event kinds are the kernel's names (model.EventKind: start, succeeded,
// failed, timed_out, heartbeat_timeout, timer_fired, cancel) plus crash
// (the engine restarts and recovers the execution from its log) and
// decided (an answer queued for the next question about that state:
// branch, with -1 the default; count, the items of a map; delay, a Go
// duration; error, a failed decision). A question with no answer queued is
// answered from the profile. An "execution" field (1-based, default 1)
// says which execution moves.
type Trace struct {
	Moves []Move
	// Violation describes the counterexample, when the trace is one.
	Violation string
}

// MoveKind is what a move of a trace does.
type MoveKind uint8

// Move kinds.
const (
	// MoveEvent steps a kernel event.
	MoveEvent MoveKind = iota + 1
	// MoveCrash crashes the engine and recovers the execution from its
	// log (model.Machine.Recover).
	MoveCrash
	// MoveEngine is a command the engine performs (an append, an
	// invocation, a timer start); the simulator performs commands as
	// they come, so it only prints it.
	MoveEngine
	// MoveAnswer only answers questions.
	MoveAnswer
	// MoveUnanswered is the checker's world deciding that a callback is
	// never answered: nothing happens, then or later, for that
	// invocation.
	MoveUnanswered
)

// Move is one move of a trace.
type Move struct {
	Kind      MoveKind
	Execution int
	Event     model.Event
	// Answers to the questions the move raises, in order.
	Answers []TraceAnswer
	// Text is the move as the trace wrote it; After how the trace
	// describes the execution after it ("" when it does not).
	Text, After string
}

// TraceAnswer is the answer to one question about State.
type TraceAnswer struct {
	State  string
	Decide model.DecideKind // 0: whatever the question is
	Branch int32
	Count  uint32
	Delay  time.Duration
	Err    string
	Null   bool
	Text   string
}

// ReadTrace reads a trace in either JSON form. Of a checker output with
// several violations, it takes number violation (1-based, in output
// order).
func ReadTrace(src []byte, violation int) (*Trace, error) {
	var probe any
	if err := json.Unmarshal(src, &probe); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if m, ok := probe.(map[string]any); ok {
		if _, ok := m["events"]; ok {
			return readEventList(src)
		}
	}
	traces := collectTraces(probe, "")
	if len(traces) == 0 {
		return nil, errors.New("trace: no counterexample trace (steps) and no events list in the file")
	}
	if violation < 1 || violation > len(traces) {
		return nil, fmt.Errorf("trace: violation %d asked; the file has %d", violation, len(traces))
	}
	return readCheckerTrace(traces[violation-1])
}

type foundTrace struct {
	steps []any
	what  string
}

// collectTraces finds every object with a "steps" list, in document
// order, with the violation it belongs to.
func collectTraces(v any, what string) []foundTrace {
	switch x := v.(type) {
	case []any:
		var out []foundTrace
		for _, it := range x {
			out = append(out, collectTraces(it, what)...)
		}
		return out
	case map[string]any:
		if steps, ok := x["steps"].([]any); ok {
			return []foundTrace{{steps: steps, what: what}}
		}
		if inv, ok := x["invariant"].(string); ok {
			if msg, ok := x["message"].(string); ok {
				what = inv + ": " + msg
			}
		}
		var out []foundTrace
		// Keys in a fixed order: the checker's report puts traces under
		// results → violations → trace.
		for _, k := range []string{"report", "results", "violations", "trace"} {
			if c, ok := x[k]; ok {
				out = append(out, collectTraces(c, what)...)
			}
		}
		return out
	}
	return nil
}

var (
	reInvocation = regexp.MustCompile(`^invocation #(\d+)\b.*?\b(succeeds|fails with (\S+)|times out|misses its heartbeat|completes)`)
	reTimer      = regexp.MustCompile(`^(?:the execution's timeout \()?timer #(\d+)\)? fires`)
	reAnswer     = []struct {
		re *regexp.Regexp
		fn func(m []string, a *TraceAnswer) error
	}{
		{regexp.MustCompile(`^input ready$`), func(_ []string, a *TraceAnswer) error { a.Decide = model.DecideInput; return nil }},
		{regexp.MustCompile(`^wait$`), func(_ []string, a *TraceAnswer) error { a.Decide = model.DecideInput; return nil }},
		{regexp.MustCompile(`^output ready$`), func(_ []string, a *TraceAnswer) error { a.Decide = model.DecideOutput; return nil }},
		{regexp.MustCompile(`^map over (\d+) item`), func(m []string, a *TraceAnswer) error {
			n, err := strconv.ParseUint(m[1], 10, 32)
			a.Decide, a.Count = model.DecideInput, uint32(n)
			return err
		}},
		{regexp.MustCompile(`^choice rule (\d+) `), func(m []string, a *TraceAnswer) error {
			n, err := strconv.Atoi(m[1])
			a.Decide, a.Branch = model.DecideChoice, int32(n-1)
			return err
		}},
		{regexp.MustCompile(`^choice default`), func(_ []string, a *TraceAnswer) error {
			a.Decide, a.Branch = model.DecideChoice, model.No
			return nil
		}},
		{regexp.MustCompile(`^no choice rule matches: (\S+)`), func(m []string, a *TraceAnswer) error {
			a.Decide, a.Branch, a.Err = model.DecideChoice, model.No, m[1]
			return nil
		}},
		{regexp.MustCompile(`^catcher \d+ takes`), func(_ []string, a *TraceAnswer) error { a.Decide = model.DecideCatch; return nil }},
		{regexp.MustCompile(`^fails with (a null error|\S+)`), func(m []string, a *TraceAnswer) error {
			a.Decide = model.DecideFail
			if m[1] == "a null error" {
				a.Null = true
			} else {
				a.Err = m[1]
			}
			return nil
		}},
		{regexp.MustCompile(`^jittered delay (\S+)`), func(m []string, a *TraceAnswer) error {
			d, err := time.ParseDuration(m[1])
			a.Decide, a.Delay = model.DecideJitter, d
			return err
		}},
		{regexp.MustCompile(`^(input|output) fails with (\S+)`), func(m []string, a *TraceAnswer) error {
			a.Decide, a.Err = model.DecideInput, m[2]
			if m[1] == "output" {
				a.Decide = model.DecideOutput
			}
			return nil
		}},
	}
)

func readCheckerTrace(ft foundTrace) (*Trace, error) {
	tr := &Trace{Violation: ft.what}
	for i, raw := range ft.steps {
		st, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("trace: step %d is not an object", i+1)
		}
		text, _ := st["event"].(string)
		mv := Move{Text: text, Execution: 1}
		if x, ok := st["execution"].(float64); ok && x >= 1 {
			mv.Execution = int(x)
		}
		mv.After, _ = st["after"].(string)
		switch {
		case strings.HasPrefix(text, "the execution starts"):
			mv.Kind, mv.Event = MoveEvent, model.Event{Kind: model.EvStart}
		case strings.HasPrefix(text, "the execution is cancelled"):
			mv.Kind, mv.Event = MoveEvent, model.Event{Kind: model.EvCancel}
		case strings.HasPrefix(text, "engine crashes"):
			mv.Kind = MoveCrash
		case strings.HasPrefix(text, "engine "):
			mv.Kind = MoveEngine
		case strings.HasPrefix(text, "the engine answers"):
			mv.Kind = MoveAnswer
		case strings.Contains(text, "is never answered"):
			mv.Kind = MoveUnanswered
		default:
			if m := reTimer.FindStringSubmatch(text); m != nil {
				id, _ := strconv.ParseUint(m[1], 10, 32)
				mv.Kind, mv.Event = MoveEvent, model.Event{Kind: model.EvTimerFired, ID: uint32(id)}
				break
			}
			m := reInvocation.FindStringSubmatch(text)
			if m == nil {
				return nil, fmt.Errorf("trace: step %d: cannot replay %q", i+1, text)
			}
			id, _ := strconv.ParseUint(m[1], 10, 32)
			mv.Kind, mv.Event = MoveEvent, model.Event{ID: uint32(id)}
			switch {
			case m[2] == "succeeds" || m[2] == "completes":
				mv.Event.Kind = model.EvSucceeded
			case strings.HasPrefix(m[2], "fails with"):
				mv.Event.Kind, mv.Event.Err = model.EvFailed, m[3]
			case m[2] == "times out":
				mv.Event.Kind = model.EvTimedOut
			default:
				mv.Event.Kind = model.EvHeartbeatTimeout
			}
		}
		details, _ := st["details"].([]any)
		for _, d := range details {
			line, _ := d.(string)
			if a, ok := parseAnswer(line); ok {
				mv.Answers = append(mv.Answers, a)
			}
		}
		tr.Moves = append(tr.Moves, mv)
	}
	return tr, nil
}

// parseAnswer reads "State: answer" from a step's details.
func parseAnswer(line string) (TraceAnswer, bool) {
	if strings.HasPrefix(line, "→") {
		return TraceAnswer{}, false
	}
	state, what, ok := strings.Cut(line, ": ")
	if !ok {
		return TraceAnswer{}, false
	}
	// The answer of a choice names its target after ": " too; cut at the
	// first separator whose rest reads as an answer.
	for {
		a := TraceAnswer{State: state, Text: line}
		for _, p := range reAnswer {
			if m := p.re.FindStringSubmatch(what); m != nil {
				if p.fn(m, &a) == nil {
					return a, true
				}
			}
		}
		s2, w2, ok := strings.Cut(what, ": ")
		if !ok {
			return TraceAnswer{}, false
		}
		state, what = state+": "+s2, w2
	}
}

type eventJSON struct {
	Kind      string  `json:"kind"`
	ID        uint32  `json:"id"`
	Error     string  `json:"error"`
	Execution int     `json:"execution"`
	State     string  `json:"state"`
	Branch    *int32  `json:"branch"`
	Count     *uint32 `json:"count"`
	Delay     string  `json:"delay"`
}

func readEventList(src []byte) (*Trace, error) {
	var doc struct {
		Events []eventJSON `json:"events"`
	}
	dec := json.NewDecoder(strings.NewReader(string(src)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	tr := &Trace{}
	var pending []TraceAnswer
	for i, e := range doc.Events {
		exec := max(e.Execution, 1)
		switch e.Kind {
		case "decided":
			if e.State == "" {
				return nil, fmt.Errorf("trace: event %d: a decided event names its state", i+1)
			}
			a := TraceAnswer{State: e.State, Err: e.Error, Text: e.State + ": given answer"}
			if e.Branch != nil {
				a.Decide, a.Branch = model.DecideChoice, *e.Branch
			}
			if e.Count != nil {
				a.Decide, a.Count = model.DecideInput, *e.Count
			}
			if e.Delay != "" {
				d, err := time.ParseDuration(e.Delay)
				if err != nil {
					return nil, fmt.Errorf("trace: event %d: delay: %w", i+1, err)
				}
				a.Delay = d
			}
			pending = append(pending, a)
			continue
		case "crash":
			tr.Moves = append(tr.Moves, Move{Kind: MoveCrash, Execution: exec, Text: "engine crashes and restarts",
				Answers: pending})
			pending = nil
			continue
		}
		k, ok := model.ParseEventKind(e.Kind)
		if !ok || k == model.EvDecided {
			return nil, fmt.Errorf("trace: event %d: unknown kind %q (start, succeeded, failed, timed_out, heartbeat_timeout, timer_fired, cancel, crash, decided)", i+1, e.Kind)
		}
		ev := model.Event{Kind: k, ID: e.ID, Err: e.Error}
		tr.Moves = append(tr.Moves, Move{Kind: MoveEvent, Execution: exec, Event: ev, Text: ev.String(), Answers: pending})
		pending = nil
	}
	if len(pending) > 0 {
		tr.Moves = append(tr.Moves, Move{Kind: MoveAnswer, Execution: 1, Text: "answers", Answers: pending})
	}
	return tr, nil
}

// ReplayResult is how a replay ended.
type ReplayResult struct {
	// Final status of each execution, by number (1-based).
	Final map[int]model.Status
	// Rejected counts events the kernel rejected (stale or duplicate
	// deliveries the trace contains on purpose, or a trace that does not
	// fit the workflow).
	Rejected int
	// Mismatch lists moves after which the trace's own description
	// starts with another status than the replay's.
	Mismatch []string
}

// replayer holds the executions of a replay.
type replayer struct {
	b    *bound
	w    *world
	out  io.Writer
	now  int64
	exec map[int]*replayExec
}

type replayExec struct {
	s   slot
	log []model.Record
	// due: when each invocation or timer completes on the virtual clock;
	// timeout: when an invocation times out.
	due, timeout map[uint32]int64
}

// Replay steps trace tr through m's kernel in abstract mode, printing
// every move, the answers given, the commands returned and the status
// after. Questions the trace does not answer, and the latencies on the
// virtual clock, are drawn from profile p (nil: the default) with seed.
func Replay(m *model.Machine, p *Profile, tr *Trace, seed uint64, w io.Writer) (*ReplayResult, error) {
	if p == nil {
		p = &Profile{}
	}
	b, err := bind(m, p)
	if err != nil {
		return nil, err
	}
	wd := newWorld(b, DefaultMaxEvents)
	s1, s2 := chunkSeeds(seed, 0)
	wd.src.Seed(s1, s2)
	wd.t = newTally(b, 0)
	r := &replayer{b: b, w: wd, out: w, exec: map[int]*replayExec{}}
	res := &ReplayResult{Final: map[int]model.Status{}}
	if tr.Violation != "" {
		fmt.Fprintf(w, "replaying: %s\n\n", tr.Violation)
	}
	for i, mv := range tr.Moves {
		x := r.exec[mv.Execution]
		if x == nil {
			x = &replayExec{due: map[uint32]int64{}, timeout: map[uint32]int64{}}
			r.exec[mv.Execution] = x
		}
		answers := append([]TraceAnswer(nil), mv.Answers...)
		var lines []string
		head := fmt.Sprintf("%3d  %-9s", i+1, "+"+durString(time.Duration(r.now)))
		if len(r.exec) > 1 || mv.Execution > 1 {
			head += fmt.Sprintf(" execution %d:", mv.Execution)
		}
		switch mv.Kind {
		case MoveEngine:
			fmt.Fprintf(w, "%s %s (performed with the step before)\n", head, mv.Text)
			continue
		case MoveUnanswered:
			fmt.Fprintf(w, "%s %s (nothing happens)\n", head, mv.Text)
			continue
		case MoveCrash:
			fmt.Fprintf(w, "%s %s\n", head, mv.Text)
			rec, cmds, err := m.Recover(x.log)
			if err != nil {
				return res, fmt.Errorf("move %d: %w", i+1, err)
			}
			x.s.exec = *rec
			lines = append(lines, "recovered from the log: "+x.s.exec.Status.String())
			lines = r.perform(x, cmds, &answers, lines)
		case MoveAnswer:
			fmt.Fprintf(w, "%s %s\n", head, mv.Text)
			if q := m.Pending(&x.s.exec, func(uint32) bool { return true }); len(q) > 0 {
				var decides []model.Command
				for _, c := range q {
					if c.Kind == model.Decide {
						decides = append(decides, c)
					}
				}
				lines = r.perform(x, decides, &answers, lines)
			}
		case MoveEvent:
			e := mv.Event
			d, ok := x.due[e.ID]
			if to, has := x.timeout[e.ID]; has && (e.Kind == model.EvTimedOut || e.Kind == model.EvHeartbeatTimeout) {
				d = to
			}
			if ok && (e.Kind != model.EvStart && e.Kind != model.EvCancel) {
				r.now = max(r.now, d)
				head = fmt.Sprintf("%3d  %-9s", i+1, "+"+durString(time.Duration(r.now)))
				if len(r.exec) > 1 || mv.Execution > 1 {
					head += fmt.Sprintf(" execution %d:", mv.Execution)
				}
			}
			fmt.Fprintf(w, "%s %s\n", head, mv.Text)
			lines = r.step(x, e, &answers, lines, res)
		}
		for _, l := range lines {
			fmt.Fprintf(w, "       %s\n", l)
		}
		fmt.Fprintf(w, "       status: %s\n", r.describe(&x.s.exec))
		if mv.After != "" {
			want, _, _ := strings.Cut(mv.After, ";")
			if want != x.s.exec.Status.String() {
				msg := fmt.Sprintf("move %d: the trace says %q, the replay %s", i+1, want, x.s.exec.Status)
				res.Mismatch = append(res.Mismatch, msg)
				fmt.Fprintf(w, "       MISMATCH: %s\n", msg)
			}
		}
	}
	for k, x := range r.exec {
		res.Final[k] = x.s.exec.Status
	}
	fmt.Fprintln(w)
	for k := 1; k <= len(r.exec); k++ {
		if x := r.exec[k]; x != nil {
			fmt.Fprintf(w, "execution %d ends %s", k, x.s.exec.Status)
			if x.s.exec.Status.Terminal() && x.s.exec.Err != "" {
				fmt.Fprintf(w, " (%s)", x.s.exec.Err)
			}
			fmt.Fprintln(w)
		}
	}
	if len(res.Mismatch) > 0 {
		fmt.Fprintf(w, "%d move(s) where the replay and the trace disagree\n", len(res.Mismatch))
	}
	return res, nil
}

// step applies e, answering the questions it raises, and returns the
// lines describing what happened.
func (r *replayer) step(x *replayExec, e model.Event, answers *[]TraceAnswer, lines []string, res *ReplayResult) []string {
	e.Time = r.now
	out, err := r.b.m.Step(&x.s.exec, e, nil)
	if err != nil {
		res.Rejected++
		return append(lines, "rejected: "+err.Error())
	}
	ev := e
	x.log = append(x.log, model.Record{Event: &ev})
	return r.perform(x, out, answers, lines)
}

// perform does what commands say: answers questions at once (from the
// trace's answers, else from the profile), puts invocations and timers on
// the clock.
func (r *replayer) perform(x *replayExec, cmds []model.Command, answers *[]TraceAnswer, lines []string) []string {
	var decides []model.Command
	for _, c := range cmds {
		switch c.Kind {
		case model.AppendEvent:
			continue
		case model.AppendIntent:
			cc := c
			x.log = append(x.log, model.Record{Intent: &cc})
			continue
		case model.Decide:
			decides = append(decides, c)
			continue
		case model.Invoke:
			o := r.b.fns[c.Fn].Sample(r.w.src)
			x.due[c.ID] = r.now + int64(o.Latency)
			if c.Timeout > 0 {
				x.timeout[c.ID] = r.now + int64(c.Timeout)
			}
		case model.StartTimer:
			x.due[c.ID] = r.now + int64(c.Delay)
		}
		lines = append(lines, "→ "+r.command(&c))
	}
	for _, c := range decides {
		e, how := r.answer(x, c, answers)
		lines = append(lines, fmt.Sprintf("%s asks %s: %s", r.stateName(c.State), c.Decide, how))
		out, err := r.b.m.Step(&x.s.exec, e, nil)
		if err != nil {
			lines = append(lines, "rejected: "+err.Error())
			continue
		}
		ev := e
		x.log = append(x.log, model.Record{Event: &ev})
		lines = r.perform(x, out, answers, lines)
	}
	return lines
}

// answer finds the trace's answer to question c, or draws one.
func (r *replayer) answer(x *replayExec, c model.Command, answers *[]TraceAnswer) (model.Event, string) {
	name := r.stateName(c.State)
	for i, a := range *answers {
		if a.State != name || (a.Decide != 0 && a.Decide != c.Decide) {
			continue
		}
		*answers = append((*answers)[:i:i], (*answers)[i+1:]...)
		e := model.Event{Kind: model.EvDecided, Thread: c.Thread, Decide: c.Decide, Time: r.now, Err: a.Err}
		switch c.Decide {
		case model.DecideChoice:
			e.Branch = a.Branch
		case model.DecideInput:
			e.Count, e.Delay = a.Count, a.Delay
		case model.DecideJitter:
			e.Delay = a.Delay
		case model.DecideFail:
			e.ErrNull = a.Null
		}
		return e, describeAnswer(e) + " (from the trace)"
	}
	e := r.w.answer(&x.s, &c)
	return e, describeAnswer(e) + " (from the profile)"
}

func describeAnswer(e model.Event) string {
	switch {
	case e.Err != "":
		return "error " + e.Err
	case e.Decide == model.DecideChoice && e.Branch == model.No:
		return "default"
	case e.Decide == model.DecideChoice:
		return fmt.Sprintf("rule %d", e.Branch+1)
	case e.Count > 0:
		return fmt.Sprintf("%d items", e.Count)
	case e.Delay > 0:
		return e.Delay.String()
	}
	return "ready"
}

func (r *replayer) stateName(i int32) string {
	if i < 0 || int(i) >= len(r.b.m.States) {
		return "-"
	}
	return r.b.m.States[i].Name
}

func (r *replayer) command(c *model.Command) string {
	state := ""
	if c.State >= 0 {
		state = " (" + r.stateName(c.State) + ")"
	}
	fn := ""
	if c.Fn >= 0 && int(c.Fn) < len(r.b.m.Functions) {
		fn = " " + r.b.m.Functions[c.Fn]
	}
	switch c.Kind {
	case model.Invoke:
		kind := "invoke"
		if c.Comp {
			kind = "invoke compensation"
		}
		return fmt.Sprintf("%s #%d%s%s attempt %d", kind, c.ID, fn, state, c.Attempt)
	case model.StartTimer:
		if c.State < 0 {
			return fmt.Sprintf("start timer #%d (execution timeout) %s", c.ID, c.Delay)
		}
		return fmt.Sprintf("start timer #%d%s %s", c.ID, state, c.Delay)
	case model.CancelInvoke:
		return fmt.Sprintf("abandon invocation #%d%s", c.ID, state)
	case model.CancelTimer:
		return fmt.Sprintf("cancel timer #%d%s", c.ID, state)
	case model.Finish:
		if c.Err != "" {
			return fmt.Sprintf("finish %s (%s)", c.Status, c.Err)
		}
		return "finish " + c.Status.String()
	}
	return c.String()
}

// describe says where an execution stands.
func (r *replayer) describe(s *model.Execution) string {
	parts := []string{s.Status.String()}
	for i := range s.Threads {
		t := &s.Threads[i]
		what := r.stateName(t.State)
		if t.Comp {
			what = "compensating " + what
		}
		switch t.Phase {
		case model.PhaseRun:
			parts = append(parts, fmt.Sprintf("%s: invocation #%d in flight", what, t.Wait))
		case model.PhaseBackoff:
			parts = append(parts, fmt.Sprintf("%s: retry timer #%d", what, t.Wait))
		case model.PhaseTimer:
			parts = append(parts, fmt.Sprintf("%s: wait timer #%d", what, t.Wait))
		case model.PhaseFork:
			parts = append(parts, fmt.Sprintf("%s: %d/%d children done", what, t.Finished, t.Total))
		case model.PhaseDecide:
			parts = append(parts, fmt.Sprintf("%s: asks %s", what, t.Decide))
		}
	}
	if len(s.Done) > 0 {
		var d []string
		for _, mu := range s.Done {
			d = append(d, r.stateName(mu.State))
		}
		parts = append(parts, "completed mutations: "+strings.Join(d, ", "))
	}
	if s.Status.Terminal() && s.Err != "" {
		parts = append(parts, "error "+s.Err)
	}
	return strings.Join(parts, "; ")
}
