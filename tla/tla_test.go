package tla

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// machines compiles the workflows the tests export: the handmade ones of
// testdata and the valid ones of corpus/examples and corpus/bugs.
func machines(t *testing.T) map[string]*model.Machine {
	t.Helper()
	var files []string
	for _, pat := range []string{"testdata/*.yaml", "../corpus/examples/*.yaml", "../corpus/bugs/*.yaml"} {
		fs, _ := filepath.Glob(pat)
		files = append(files, fs...)
	}
	out := map[string]*model.Machine{}
	for _, f := range files {
		if strings.HasSuffix(f, ".test.yaml") || strings.HasSuffix(f, ".profile.yaml") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, fs := model.Parse(f, src)
		if fs.Errors() > 0 {
			continue
		}
		if m, _ := model.Compile(w); m != nil {
			out[f] = m
		}
	}
	if len(out) < 4 {
		t.Fatalf("only %d workflows compiled", len(out))
	}
	return out
}

// TestExportHasInvariantsAndTables checks, for every workflow, that the
// module defines every invariant under its stable name, that the
// configuration lists each one, and that the machine's tables are there:
// every state by name, the graphs' starts, the world.
func TestExportHasInvariantsAndTables(t *testing.T) {
	for f, m := range machines(t) {
		mod, err := Export(m, Options{States: 42})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		text, cfg := string(mod.TLA), string(mod.Config)
		if !strings.HasPrefix(text, strings.Repeat("-", 4)) || !strings.Contains(text, " MODULE "+mod.Name+" ") {
			t.Errorf("%s: no module header for %s", f, mod.Name)
		}
		if !strings.HasSuffix(text, strings.Repeat("=", 77)+"\n") {
			t.Errorf("%s: module does not end with its closing line", f)
		}
		for _, inv := range Invariants {
			if !regexp.MustCompile(`(?m)^` + inv + ` ==`).MatchString(text) {
				t.Errorf("%s: no definition of %s", f, inv)
			}
			if !regexp.MustCompile(`(?m)^  ` + inv + `$`).MatchString(cfg) {
				t.Errorf("%s: configuration does not list %s", f, inv)
			}
		}
		if !strings.Contains(cfg, "INVARIANTS\n  TypeOK\n  LoggedBeforeExecuted") || !strings.Contains(cfg, "PROPERTIES\n  Termination") {
			t.Errorf("%s: configuration sections:\n%s", f, cfg)
		}
		if !strings.Contains(cfg, "finds 42 distinct states") {
			t.Errorf("%s: configuration does not carry the count:\n%s", f, cfg)
		}
		for _, def := range []string{"States == <<", "World == <<", "GraphStart == <<", "NumRetriers ==", "HasTimeout ==",
			"DecisionLoops ==", "FaultInvokeBeforeIntent == FALSE", "Spec == Init /\\ [][Next]_vars"} {
			if !strings.Contains(text, def) {
				t.Errorf("%s: no %q", f, def)
			}
		}
		for i := range m.States {
			if !strings.Contains(text, "[name |-> "+str(m.States[i].Name)+", kind |-> "+str(m.States[i].Kind.String())) {
				t.Errorf("%s: state %d %q is not in the States table", f, i, m.States[i].Name)
			}
		}
		for _, fn := range m.Functions {
			if !strings.Contains(text, str(fn)) {
				t.Errorf("%s: function %q is not named in the tables", f, fn)
			}
		}
		if strings.Count(text, "\n  [errs |-> ") != len(m.States) {
			t.Errorf("%s: World has %d entries, want %d", f, strings.Count(text, "\n  [errs |-> "), len(m.States))
		}
		for _, r := range text {
			if r > 0x7e || (r < 0x20 && r != '\n') {
				t.Fatalf("%s: module has a character outside printable ASCII: %q", f, r)
			}
		}
	}
}

// TestCallbackWorld checks that the World table marks exactly the
// callback states, and that a callback with no timeout or heartbeat (the
// seeded bug parallel-join-waits-forever) is one the world may leave
// unanswered: the driver has the move and NoDeadlock does not count it.
func TestCallbackWorld(t *testing.T) {
	seeded := false
	for f, m := range machines(t) {
		mod, err := Export(m, Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		text := string(mod.TLA)
		n, unanswerable := 0, 0
		for _, w := range m.Worlds() {
			if w.Callback {
				n++
			}
			if w.Unanswerable() {
				unanswerable++
			}
		}
		if got := strings.Count(text, "callback |-> TRUE"); got != n {
			t.Errorf("%s: %d states marked callback, want %d", f, got, n)
		}
		if strings.HasSuffix(f, "parallel-join-waits-forever.yaml") {
			seeded = true
			if unanswerable == 0 {
				t.Errorf("%s: no callback without a timeout or heartbeat", f)
			}
		}
		for _, def := range []string{"UnansweredNext(i) ==", "\\cup UnansweredNext(i)", "t.wait \\in sent[i] \\ silent[i]"} {
			if !strings.Contains(text, def) {
				t.Errorf("%s: no %q", f, def)
			}
		}
	}
	if !seeded {
		t.Error("corpus/bugs/parallel-join-waits-forever.yaml was not exported")
	}
}

// TestExportOptions checks that the bounds land in the configuration.
func TestExportOptions(t *testing.T) {
	m := model.MustCompile("version: \"1.0\"\nname: opts\nstates:\n- {name: A, action: a, end: true}\n")
	mod, err := Export(m, Options{Instances: 3, MapSize: 5, DataErrors: true, Cancel: true, NoTermination: true,
		Note: []string{"one *) note"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(mod.Config)
	for _, want := range []string{"K = 3", "MapSize = 5", "DataErrors = TRUE", "Cancel = TRUE", "CompensationFailures = FALSE",
		"not computed", "\\* one * ) note"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "PROPERTIES") {
		t.Errorf("NoTermination still lists properties:\n%s", cfg)
	}
	mod, _ = Export(m, Options{})
	if cfg := string(mod.Config); !strings.Contains(cfg, "K = 2") || !strings.Contains(cfg, "MapSize = 3") {
		t.Errorf("defaults are not the checker's (2 instances, map size 3):\n%s", cfg)
	}
	if _, err := Export(nil, Options{}); err == nil {
		t.Error("no error for a nil machine")
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"payment-reconciliation":  "PaymentReconciliation",
		"Betalningsrekoncilering": "Betalningsrekoncilering",
		"order saga v2":           "OrderSagaV2",
		"3d-render":               "Workflow3dRender",
		"":                        "Workflow",
		"räksmörgås":              "RKsmRgS",
		"a_b":                     "AB",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStringsOneToOne checks that TLA+ string literals keep distinct Go
// strings distinct and stay ASCII.
func TestStringsOneToOne(t *testing.T) {
	ins := []string{"a", `a"b`, `a\b`, `a\\b`, "å", `\xc3\xa5`, "tab\there", "new\nline", ""}
	seen := map[string]string{}
	for _, s := range ins {
		q := str(s)
		if prev, ok := seen[q]; ok {
			t.Errorf("%q and %q both give %s", prev, s, q)
		}
		seen[q] = s
		for i := 0; i < len(q); i++ {
			if q[i] < 0x20 || q[i] > 0x7e {
				t.Errorf("str(%q) = %q is not printable ASCII", s, q)
			}
		}
	}
}

func TestDelays(t *testing.T) {
	r := model.RetrySpec{MaxAttempts: 6, Interval: time.Second, BackoffRate: 2, MaxDelay: 5 * time.Second}
	got := delays(r)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("delays = %v, want %v", got, want)
		}
	}
	if got := delays(model.RetrySpec{MaxAttempts: 0}); len(got) != 1 || got[0] != 0 {
		t.Errorf("no retries: %v", got)
	}
	if got := delays(model.RetrySpec{MaxAttempts: 100, Interval: time.Second, BackoffRate: 1}); len(got) != 1 {
		t.Errorf("constant backoff: %v", got)
	}
}

func TestDecisionLoops(t *testing.T) {
	loop := model.MustCompile(`version: "1.0"
name: loop
states:
- {name: A, action: a, next: B}
- name: B
  choices: [{variable: $.x, boolean_equals: true, next: C}]
  default: D
- {name: C, type: pass, next: B}
- {name: D, type: succeed}
`)
	if !decisionLoops(loop) {
		t.Error("choice → pass → choice is a decision loop")
	}
	task := model.MustCompile(`version: "1.0"
name: task-loop
states:
- {name: A, action: a, next: B}
- name: B
  choices: [{variable: $.x, boolean_equals: true, next: A}]
  default: D
- {name: D, type: succeed}
`)
	if decisionLoops(task) {
		t.Error("a loop through a task is not a decision loop")
	}
}

// TestSANY parses the export of every workflow with SANY, TLC's parser,
// when NEXUS_TLC_JAR points at tla2tools.jar.
func TestSANY(t *testing.T) {
	jar := os.Getenv("NEXUS_TLC_JAR")
	if jar == "" {
		t.Skip("NEXUS_TLC_JAR is not set: set it to a tla2tools.jar to parse the exports with SANY")
	}
	dir := t.TempDir()
	for f, m := range machines(t) {
		mod, err := Export(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".yaml"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sub, mod.Name+".tla")
		if err := os.WriteFile(p, mod.TLA, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("java", "-cp", jar, "tla2sany.SANY", mod.Name+".tla")
		cmd.Dir = sub
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "*** Errors") || strings.Contains(string(out), "***Parse Error***") {
			t.Errorf("%s: SANY: %v\n%s", f, err, out)
		}
	}
}
