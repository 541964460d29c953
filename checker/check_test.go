package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/model"
)

func compile(t testing.TB, src string) *model.Machine {
	t.Helper()
	w, fs := model.Parse("test.yaml", []byte(src))
	if fs.Errors() > 0 {
		t.Fatalf("parse: %v", fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatalf("compile: %v", fs)
	}
	return m
}

func check(t testing.TB, m *model.Machine, opts Options) *Report {
	t.Helper()
	r, err := Check(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// violated lists the violated invariants of r.
func violated(r *Report) []Invariant {
	var out []Invariant
	for _, res := range r.Results {
		if res.Verdict == Violated {
			out = append(out, res.Invariant)
		}
	}
	return out
}

// corpusFile is a workflow of corpus/bugs with what it must violate.
type corpusFile struct {
	path         string
	expect       string // an invariant name, or "policy"
	fault        bool   // # fault: invoke-before-intent
	compFailures bool   // # check: compensation-failures
}

func readCorpus(t *testing.T, dir string) []corpusFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusFile
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := corpusFile{path: p}
		for _, line := range strings.Split(string(src), "\n") {
			if !strings.HasPrefix(line, "#") {
				break
			}
			if v, ok := strings.CutPrefix(line, "# expect: "); ok {
				f.expect = strings.TrimSpace(v)
			}
			if strings.TrimSpace(line) == "# fault: invoke-before-intent" {
				f.fault = true
			}
			if strings.TrimSpace(line) == "# check: compensation-failures" {
				f.compFailures = true
			}
		}
		out = append(out, f)
	}
	return out
}

func load(t *testing.T, path string) *model.Machine {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, fs := model.Parse(path, src)
	if fs.Errors() > 0 {
		t.Fatalf("%v", fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatalf("%v", fs)
	}
	return m
}

// TestCorpusBugs checks that every seeded bug is reported as the
// invariant (or policy) its header names, with a trace, and that nothing
// else is.
func TestCorpusBugs(t *testing.T) {
	files := readCorpus(t, "../corpus/bugs")
	if len(files) < 14 {
		t.Fatalf("corpus/bugs has %d workflows, want at least 14", len(files))
	}
	seen := map[string]int{}
	for _, f := range files {
		t.Run(filepath.Base(f.path), func(t *testing.T) {
			if f.expect == "" {
				t.Fatal("no '# expect: NAME' header")
			}
			seen[f.expect]++
			m := load(t, f.path)
			m.FaultInvokeBeforeIntent = f.fault
			pfs := policy.Evaluate(m, policy.FromWorkflow(m.Workflow))
			r := check(t, m, Options{CompensationFailures: f.compFailures})
			got := violated(r)
			if f.expect == "policy" {
				if pfs.Errors() == 0 {
					t.Fatalf("no policy finding; findings %v", pfs)
				}
				if len(got) != 0 {
					t.Errorf("invariants violated too: %v", got)
				}
				return
			}
			if pfs.Errors() > 0 {
				t.Errorf("policy findings: %v", pfs)
			}
			inv, ok := ParseInvariant(f.expect)
			if !ok {
				t.Fatalf("unknown invariant %q", f.expect)
			}
			if len(got) != 1 || got[0] != inv {
				t.Fatalf("violated %v, want exactly %s", got, inv)
			}
			res := r.Result(inv)
			v := res.Violations[0]
			if v.Trace == nil || len(v.Trace.Steps) == 0 {
				t.Fatalf("%s: no trace", inv)
			}
			if v.State.Line == 0 || v.Message == "" {
				t.Errorf("violation without position or message: %+v", v)
			}
			for _, s := range v.Trace.Steps {
				if s.Event == "" || s.After == "" || strings.Contains(s.Event, "could not be replayed") {
					t.Errorf("bad trace step %+v", s)
				}
			}
		})
	}
	if seen["LoggedBeforeExecuted"] == 0 || seen["Termination"] == 0 || seen["CompensationComplete"] == 0 ||
		seen["AtMostOnceEffect"] == 0 || seen["NoDanglingState"] == 0 || seen["MutationsCompensable"] == 0 || seen["NoDeadlock"] == 0 ||
		seen["policy"] == 0 {
		t.Errorf("the corpus misses an invariant: %v", seen)
	}
}

// TestExamplesHold checks that every valid example holds every invariant
// and policy, completely.
func TestExamplesHold(t *testing.T) {
	paths, _ := filepath.Glob("../corpus/examples/*.yaml")
	n := 0
	for _, p := range paths {
		if strings.HasSuffix(p, ".test.yaml") {
			continue
		}
		src, _ := os.ReadFile(p)
		w, fs := model.Parse(p, src)
		if fs.Errors() > 0 {
			continue // the specification's example, invalid on purpose
		}
		m, _ := model.Compile(w)
		if m == nil {
			continue
		}
		n++
		t.Run(filepath.Base(p), func(t *testing.T) {
			if fs := policy.Evaluate(m, policy.FromWorkflow(w)); fs.Errors() > 0 {
				t.Errorf("policies: %v", fs)
			}
			r := check(t, m, Options{})
			if got := violated(r); len(got) > 0 || !r.Complete {
				t.Errorf("violated %v, complete %v", got, r.Complete)
				for _, res := range r.Results {
					for _, v := range res.Violations {
						t.Logf("%s: %s", v.Invariant, v.Message)
					}
				}
			}
			for _, w := range r.Witnesses {
				if !w.Reached {
					t.Errorf("witness %s never reached", w.Name)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no valid example")
	}
}

const oneTask = `
version: "1.0"
states:
- {name: A, action: a, next: B}
- {name: B, action: b, end: true}
`

// TestInvokeBeforeIntentIsCaught runs the kernel with its protocol bug:
// LoggedBeforeExecuted must fail with a short trace, and hold without it.
func TestInvokeBeforeIntentIsCaught(t *testing.T) {
	m := compile(t, oneTask)
	r := check(t, m, Options{})
	if got := r.Result(LoggedBeforeExecuted).Verdict; got != Holds {
		t.Fatalf("correct kernel: %s", got)
	}
	m.FaultInvokeBeforeIntent = true
	r = check(t, m, Options{})
	res := r.Result(LoggedBeforeExecuted)
	if res.Verdict != Violated {
		t.Fatalf("faulty kernel: %s", res.Verdict)
	}
	v := res.Violations[0]
	if v.State.Name != "A" || v.Trace == nil || len(v.Trace.Steps) > 3 {
		t.Fatalf("want a trace of at most 3 steps at A, got %s with %+v", v.State.Name, v.Trace)
	}
	last := v.Trace.Steps[len(v.Trace.Steps)-1]
	if !strings.Contains(last.Event, "invokes #") {
		t.Errorf("last step is %q, want the engine invoking", last.Event)
	}
}

// TestInvariantSemantics pins down what each invariant means on small
// workflows, with and without the options that widen the world.
func TestInvariantSemantics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		want map[Invariant]Verdict
	}{
		{"a timed-out mutation with an on-failure handler is undone", `
version: "1.0"
states:
- name: Pay
  action: pay
  mutates: true
  compensate: refund
  idempotency: input.id
  timeout: 5s
  retry: [{errors: [States.Timeout], max_attempts: 1}]
  on_failure: {compensate: void-payment}
  end: true
`, Options{}, map[Invariant]Verdict{CompensationComplete: Holds, AtMostOnceEffect: Holds, MutationsCompensable: Holds}},
		{"a timed-out mutation is compensated as uncertain", `
version: "1.0"
states:
- name: Pay
  action: pay
  mutates: true
  compensate: refund
  timeout: 5s
  end: true
`, Options{}, map[Invariant]Verdict{CompensationComplete: Holds, AtMostOnceEffect: NotChecked}},
		{"an idempotency key makes retries after a timeout safe", `
version: "1.0"
functions:
  pay: {uri: "https://x", idempotent: true}
states:
- name: Pay
  action: pay
  idempotency: input.id
  timeout: 5s
  retry: [{errors: [States.Timeout], max_attempts: 3}]
  end: true
`, Options{}, map[Invariant]Verdict{AtMostOnceEffect: Holds}},
		{"a loop with a choice can end", `
version: "1.0"
states:
- {name: Poll, action: poll, next: Check}
- name: Check
  choices: [{variable: $.done, boolean_equals: true, next: Done}]
  default: Wait
- {name: Wait, type: wait, seconds: 10, next: Poll}
- {name: Done, type: succeed}
`, Options{}, map[Invariant]Verdict{Termination: Holds, NoDanglingState: Holds}},
		{"a catch loop under an execution timeout ends when it fires", `
version: "1.0"
timeout: 1h
states:
- name: Try
  action: try
  catch: [{errors: [States.ALL], next: Try}]
  end: true
`, Options{}, map[Invariant]Verdict{Termination: Holds}},
		{"a catch loop without one does not", `
version: "1.0"
states:
- name: Try
  action: try
  catch: [{errors: [States.ALL], next: Try}]
  end: true
`, Options{}, map[Invariant]Verdict{Termination: Violated}},
		{"compensations that can fail for good leave mutations", `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Charge}
- {name: Charge, action: charge, end: true}
`, Options{CompensationFailures: true}, map[Invariant]Verdict{CompensationComplete: Violated}},
		{"by default they eventually succeed", `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Charge}
- {name: Charge, action: charge, end: true}
`, Options{}, map[Invariant]Verdict{CompensationComplete: Holds, MutationsCompensable: Holds}},
		{"a mutation abandoned in flight by a cancel is compensated as uncertain", `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, end: true}
`, Options{Cancel: true}, map[Invariant]Verdict{CompensationComplete: Holds}},
		{"an irreversible last step is a pivot done right", `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Send}
- {name: Send, action: send, mutates: true, irreversible: true, end: true}
`, Options{}, map[Invariant]Verdict{MutationsCompensable: Holds}},
		{"data errors make a path fail", `
version: "1.0"
states:
- name: A
  action: a
  input_path: $.order
  catch: [{errors: [States.ALL], next: B}]
  end: true
- {name: B, type: pass, end: true}
`, Options{DataErrors: true}, map[Invariant]Verdict{NoDanglingState: Holds}},
		{"without data errors a handler only they reach is dangling", `
version: "1.0"
states:
- name: A
  type: pass
  input_path: $.order
  next: C
- {name: C, type: succeed}
`, Options{}, map[Invariant]Verdict{NoDanglingState: Holds, AtMostOnceEffect: NotChecked, MutationsCompensable: NotChecked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, compile(t, tt.src), tt.opts)
			for inv, want := range tt.want {
				if got := r.Result(inv).Verdict; got != want {
					t.Errorf("%s: %s, want %s", inv, got, want)
					for _, v := range r.Result(inv).Violations {
						t.Logf("  %s", v.Message)
					}
				}
			}
		})
	}
}

// TestProductCounts checks the K-execution exploration against the
// closed form (the executions share nothing), with and without symmetry,
// on one worker and many.
func TestProductCounts(t *testing.T) {
	srcs := map[string]string{"two tasks": oneTask, "saga": `
version: "1.0"
states:
- {name: A, action: a, mutates: true, compensate: undo-a, retry: [{errors: [X], max_attempts: 1}], next: P}
- name: P
  branches:
  - states: [{name: B, action: b, end: true}]
  - states: [{name: C, type: wait, seconds: 1, end: true}]
  end: true
`}
	for name, src := range srcs {
		g, err := Explore(context.Background(), compile(t, src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := int64(g.NumStates())
		for k := 1; k <= 3; k++ {
			for _, sym := range []bool{false, true} {
				want, _ := ExpectedProduct(n, k, sym)
				wantFull, _ := ExpectedProduct(n, k, false)
				var prev ProductStats
				for _, workers := range []int{1, 4} {
					ps := g.Product(context.Background(), k, sym, workers, 1<<30)
					if !ps.Complete || !ps.Exact || ps.States != want || ps.StatesNoSymmetry != wantFull {
						t.Errorf("%s k=%d sym=%v workers=%d: %d states (%d without symmetry), want %d (%d)",
							name, k, sym, workers, ps.States, ps.StatesNoSymmetry, want, wantFull)
					}
					if workers > 1 && (ps.Transitions != prev.Transitions || ps.Depth != prev.Depth) {
						t.Errorf("%s k=%d sym=%v: %d workers gave %d transitions depth %d, one gave %d depth %d",
							name, k, sym, workers, ps.Transitions, ps.Depth, prev.Transitions, prev.Depth)
					}
					prev = ps
				}
			}
		}
	}
}

func TestExpectedProduct(t *testing.T) {
	tests := []struct {
		n    int64
		k    int
		sym  bool
		want int64
	}{{10, 2, false, 100}, {10, 2, true, 55}, {5, 3, true, 35}, {7, 1, true, 7}, {1, 8, false, 1}}
	for _, tt := range tests {
		if got, ok := ExpectedProduct(tt.n, tt.k, tt.sym); !ok || got != tt.want {
			t.Errorf("ExpectedProduct(%d, %d, %v) = %d, want %d", tt.n, tt.k, tt.sym, got, tt.want)
		}
	}
	if _, ok := ExpectedProduct(1<<40, 3, false); ok {
		t.Error("2^120 fits in an int64?")
	}
}

// TestBoundsEndIncomplete checks that every bound ends the check with an
// explicit incomplete verdict, never a pass.
func TestBoundsEndIncomplete(t *testing.T) {
	m := compile(t, `
version: "1.0"
states:
- {name: A, action: a, retry: [{errors: [X], max_attempts: 5}], next: B}
- {name: B, action: b, retry: [{errors: [X], max_attempts: 5}], end: true}
`)
	tests := []struct {
		name string
		opts Options
		stop string
	}{
		{"max states", Options{MaxStates: 10}, "max-states"},
		{"memory", Options{MaxMemory: 1}, "max-memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, m, tt.opts)
			if r.Complete || r.Verdict() != "incomplete" || !strings.Contains(r.Execution.Stop, tt.stop) {
				t.Fatalf("complete %v verdict %s stop %q", r.Complete, r.Verdict(), r.Execution.Stop)
			}
			for _, res := range r.Results {
				if res.Verdict == Holds {
					t.Errorf("%s holds in an incomplete check", res.Invariant)
				}
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	r, err := Check(ctx, m, Options{})
	if err != nil || r.Complete || r.Execution.Stop != "timeout" {
		t.Fatalf("expired context: err %v complete %v stop %q", err, r.Complete, r.Execution.Stop)
	}
}

// TestReportIsDeterministic checks that two runs give the same verdicts
// and the same traces.
func TestReportIsDeterministic(t *testing.T) {
	m := load(t, "../corpus/bugs/choice-without-default.yaml")
	results := func() []byte {
		r := check(t, m, Options{Workers: 3})
		b, err := json.Marshal(r.Results)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := results(), results()
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs differ:\n%s\n%s", a, b)
	}
}

// TestTraceNamesIDsStably checks that a trace names an invocation by the
// same number from the step that starts it to the step that completes it,
// although states are stored renumbered.
func TestTraceNamesIDsStably(t *testing.T) {
	m := load(t, "../corpus/bugs/idempotent-function-without-key.yaml")
	r := check(t, m, Options{})
	v := r.Result(AtMostOnceEffect).Violations[0]
	var text []string
	for _, s := range v.Trace.Steps {
		text = append(text, s.Event)
	}
	joined := strings.Join(text, "\n")
	// The retry's invocation comes after the timer, with a higher number.
	for _, want := range []string{"engine invokes #2", "invocation #2 (charge-card of Charge, attempt 1) times out after taking effect",
		"engine starts timer #3", "timer #3 fires", "engine invokes #4", "invocation #4 (charge-card of Charge, attempt 2) succeeds"} {
		if !strings.Contains(joined, want) {
			t.Errorf("trace lacks %q:\n%s", want, joined)
		}
	}
	// The same moves as data.
	var moves []string
	for _, s := range v.Trace.Steps {
		m := s.Move
		moves = append(moves, fmt.Sprintf("%s %d %s%s effect=%v answers=%d", m.Kind, m.ID, m.Command, m.Outcome, m.Effect, len(m.Answers)))
	}
	want := []string{"start 0  effect=false answers=1", "perform 2 invoke effect=false answers=0", "deliver 2 timed_out effect=true answers=0",
		"perform 3 start_timer effect=false answers=0", "fire 3  effect=false answers=1", "perform 4 invoke effect=false answers=0",
		"deliver 4 succeeded effect=false answers=1"}
	if !slices.Equal(moves, want) {
		t.Errorf("moves\n%s\nwant\n%s", strings.Join(moves, "\n"), strings.Join(want, "\n"))
	}
}

func TestTextReport(t *testing.T) {
	m := load(t, "../corpus/bugs/choice-without-default.yaml")
	r := check(t, m, Options{})
	r.File = "choice.yaml"
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`choice.yaml: workflow "choice-without-default": 1 violation(s)`,
		"  NoDanglingState       violated",
		"  LoggedBeforeExecuted  holds",
		"violation 1: NoDanglingState at choice.yaml:9:9 (state Route)",
		"States.NoChoiceMatched",
		"states: Route choice.yaml:9:9",
		"abstraction:\n  - executions: 2 concurrent executions",
		"bounds: instances 2, map-size 3",
		"2 executions:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestWitnessNeverReached(t *testing.T) {
	m := compile(t, `
version: "1.0"
states:
- {name: A, action: a, next: F}
- {name: F, type: fail, error: Always}
`)
	r := check(t, m, Options{})
	for _, w := range r.Witnesses {
		if w.Name == "Succeeds" && w.Reached {
			t.Error("a workflow that always fails succeeds")
		}
		if w.Name == "Fails" && !w.Reached {
			t.Error("it never fails")
		}
	}
	var b bytes.Buffer
	_ = r.WriteText(&b)
	if !strings.Contains(b.String(), "warning: never reached") {
		t.Errorf("no warning:\n%s", b.String())
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{Instances: -1}, {Instances: MaxInstances + 1}, {MapSize: -2}, {MapSize: MaxMapSize + 1}, {MaxStates: -1}, {Timeout: -1}} {
		if _, err := Check(context.Background(), compile(t, oneTask), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestInstEncoding checks that every state of a graph decodes back to its
// encoding and that its execution verifies against the machine.
func TestInstEncoding(t *testing.T) {
	m := load(t, "../corpus/examples/payment-reconciliation-fixed.yaml")
	g, err := Explore(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < g.NumStates(); i++ {
		var a inst
		if err := a.decode(g.Encoding(i)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.appendEncoding(nil), g.Encoding(i)) {
			t.Fatalf("state %d: encoding does not round-trip", i)
		}
		if err := m.Verify(&a.exec); err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		enc := a.exec.AppendEncoding(nil)
		if slow, err := model.DecodeExecution(enc); err != nil || !bytes.Equal(slow.AppendEncoding(nil), enc) {
			t.Fatalf("state %d: %v", i, err)
		}
	}
	if err := (&inst{}).decode([]byte{5, 1}); err == nil {
		t.Error("a truncated encoding decoded")
	}
}

// TestItemSymmetry checks that putting map items in canonical order
// (part of the symmetry reduction) shrinks the graph of one execution
// and changes no verdict.
func TestItemSymmetry(t *testing.T) {
	paths, _ := filepath.Glob("../corpus/bugs/*.yaml")
	paths = append(paths, "../corpus/examples/order-saga.yaml")
	srcs := map[string]string{}
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		srcs[p] = string(b)
	}
	srcs["map with retries and a mutation"] = `
version: "1.0"
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Items}
- name: Items
  processor:
    states:
    - {name: Send, action: send, timeout: 5s, retry: [{errors: [States.Timeout, Busy], max_attempts: 2}], next: Log}
    - {name: Log, action: log, end: true}
  end: true
`
	for name, src := range srcs {
		m := compile(t, src)
		if strings.Contains(src, "# fault: invoke-before-intent") {
			m.FaultInvokeBeforeIntent = true
		}
		sym := check(t, m, Options{MaxProductStates: 1})
		full := check(t, m, Options{NoSymmetry: true, MaxProductStates: 1})
		t.Logf("%s: %d states, %d without symmetry", filepath.Base(name), sym.Execution.States, full.Execution.States)
		if a, b := violated(sym), violated(full); !slices.Equal(a, b) {
			t.Errorf("%s: violated %v with symmetry, %v without", name, a, b)
		}
		if sym.Execution.States > full.Execution.States {
			t.Errorf("%s: %d states with symmetry, %d without", name, sym.Execution.States, full.Execution.States)
		}
		if strings.Contains(src, "processor:") && sym.Execution.States == full.Execution.States {
			t.Errorf("%s: the items of its map are not reduced (%d states)", name, sym.Execution.States)
		}
	}
}

// TestNoDeadlockDetectsLostInvocation feeds the expander a state no
// correct engine reaches: an invocation the execution waits for that is
// neither in flight nor queued. The execution then has no move of its
// own (only a crash, whose recovery re-issues the invocation).
func TestNoDeadlockDetectsLostInvocation(t *testing.T) {
	m := compile(t, oneTask)
	g, err := Explore(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := newExpander(m, g.opts)
	found := false
	for i := 0; i < g.NumStates(); i++ {
		var a inst
		if err := a.decode(g.Encoding(i)); err != nil {
			t.Fatal(err)
		}
		if len(a.queue) != 0 || len(a.sent) != 1 || a.exec.Status != model.Running {
			continue
		}
		found = true
		if n := x.expand(&a); n == 0 {
			t.Fatalf("state %d: no move with its invocation in flight", i)
		}
		a.sent = nil
		x.curEnc = a.appendEncoding(nil)
		if n := x.expand(&a); n != 0 {
			t.Errorf("state %d: %d moves with its invocation lost, want 0 (a deadlock)", i, n)
		}
		if len(x.succ) != 1 || x.succ[0].flags&fCrash == 0 || len(x.succ[0].in.queue) != 1 {
			t.Errorf("state %d: the crash does not re-issue the invocation", i)
		}
		break
	}
	if !found {
		t.Fatal("no state with one invocation in flight")
	}
	if r := check(t, m, Options{}); r.Result(NoDeadlock).Verdict != Holds {
		t.Errorf("NoDeadlock: %s", r.Result(NoDeadlock).Verdict)
	}
}

// TestMemoryBoundNamesItself checks that a check with both a timeout and
// a memory bound says which one stopped it.
func TestMemoryBoundNamesItself(t *testing.T) {
	r := check(t, compile(t, oneTask), Options{MaxMemory: 1, Timeout: time.Hour})
	if r.Complete || !strings.HasPrefix(r.Execution.Stop, "max-memory") {
		t.Errorf("stop %q", r.Execution.Stop)
	}
}

// TestUncertainEffectsHold: workflows whose steps may take effect without
// completing (an attempt timed out, a branch was abandoned in flight, the
// execution timed out or was cancelled) are safe, because the kernel keeps
// such effects on the compensation stack as uncertain. Each of these was a
// seeded CompensationComplete bug before the kernel did so.
func TestUncertainEffectsHold(t *testing.T) {
	files := readCorpus(t, "testdata/uncertain")
	if len(files) < 5 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f.path), func(t *testing.T) {
			r := check(t, load(t, f.path), Options{Cancel: true})
			if got := r.Result(CompensationComplete).Verdict; got != Holds {
				t.Errorf("CompensationComplete %s", got)
				for _, v := range r.Result(CompensationComplete).Violations {
					t.Logf("  %s", v.Message)
				}
			}
		})
	}
}
