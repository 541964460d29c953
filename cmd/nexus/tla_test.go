package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/tla"
)

var tlaCountLine = regexp.MustCompile(`: (\d+) distinct states \(nexus check --no-symmetry`)

// exportTLA runs nexus tla on file into a new directory and returns the
// directory, the module name and the checker's count.
func exportTLA(t *testing.T, file string, flags ...string) (dir, module string, states int64) {
	t.Helper()
	dir = t.TempDir()
	code, stdout, stderr := nexus(t, append([]string{"tla", file, "-o", dir}, flags...)...)
	if code != exitOK {
		t.Fatalf("nexus tla %s %v: exit %d\n%s%s", file, flags, code, stdout, stderr)
	}
	m := tlaCountLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("nexus tla %s: no count in %q", file, stdout)
	}
	states, _ = strconv.ParseInt(m[1], 10, 64)
	cfgs, _ := filepath.Glob(filepath.Join(dir, "*.cfg"))
	if len(cfgs) != 1 {
		t.Fatalf("nexus tla %s: %d configurations written", file, len(cfgs))
	}
	module = strings.TrimSuffix(filepath.Base(cfgs[0]), ".cfg")
	if _, err := os.Stat(filepath.Join(dir, module+".tla")); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(cfgs[0])
	if !strings.Contains(string(cfg), fmt.Sprintf("finds %d distinct states", states)) {
		t.Errorf("%s: the configuration's comment does not carry the count %d:\n%s", file, states, cfg)
	}
	return dir, module, states
}

func TestTLACommand(t *testing.T) {
	file := "../../corpus/examples/payment-reconciliation-fixed.yaml"
	dir, module, states := exportTLA(t, file)
	if module != "Betalningsrekoncilering" {
		t.Errorf("module %q", module)
	}
	// The count is what nexus check --no-symmetry reports.
	_, m, _, err := load(file)
	if err != nil || m == nil {
		t.Fatal(err)
	}
	r, err := checker.Check(context.Background(), m, checker.Options{NoSymmetry: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Product.StatesNoSymmetry != states {
		t.Errorf("nexus tla says %d states, nexus check --no-symmetry %d", states, r.Product.StatesNoSymmetry)
	}
	// For every example, the configuration's count is nexus check's.
	examples, _ := filepath.Glob("../../corpus/examples/*.yaml")
	for _, f := range examples {
		_, m, _, _ := load(f)
		if m == nil || isTestSuite(f) {
			continue
		}
		_, _, n := exportTLA(t, f, "--no-termination")
		if n > 1e9 {
			// Over ~30,000 states per execution: exploring it a second
			// time costs a minute under -race; TestTLCAgreesWithChecker
			// covers these files with TLC.
			continue
		}
		r, err := checker.Check(context.Background(), m, checker.Options{NoSymmetry: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Product.StatesNoSymmetry != n {
			t.Errorf("%s: nexus tla says %d states, nexus check --no-symmetry %d", f, n, r.Product.StatesNoSymmetry)
		}
	}
	text, _ := os.ReadFile(filepath.Join(dir, module+".tla"))
	for _, inv := range checker.Invariants() {
		if !strings.Contains(string(text), "\n"+inv.String()+" ==") {
			t.Errorf("the module does not define %s", inv)
		}
	}

	// Same bounds, same defaults, same names.
	if tla.DefaultInstances != checker.DefaultInstances || tla.DefaultMapSize != checker.DefaultMapSize {
		t.Errorf("tla defaults %d/%d, checker's %d/%d", tla.DefaultInstances, tla.DefaultMapSize, checker.DefaultInstances, checker.DefaultMapSize)
	}
	var names []string
	for _, inv := range checker.Invariants() {
		names = append(names, inv.String())
	}
	if !slices.Equal(names, tla.Invariants) {
		t.Errorf("invariant names differ: checker %v, tla %v", names, tla.Invariants)
	}
	if tla.UndeclaredError != checker.UndeclaredError {
		t.Errorf("undeclared error %q, checker's %q", tla.UndeclaredError, checker.UndeclaredError)
	}

	// Bounds and options reach the configuration; the count follows them.
	_, _, k3 := exportTLA(t, file, "--instances", "3", "--no-termination")
	n := int64(167) // one execution of the example
	if k3 != n*n*n {
		t.Errorf("3 instances: %d states, want %d", k3, n*n*n)
	}
	dir = t.TempDir()
	if code, _, stderr := nexus(t, "tla", file, "-o", dir, "--no-count", "--map-size", "2", "--data-errors", "--cancel"); code != exitOK {
		t.Fatalf("--no-count: exit %d\n%s", code, stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, module+".cfg"))
	for _, want := range []string{"not computed", "MapSize = 2", "DataErrors = TRUE", "Cancel = TRUE", "PROPERTIES\n  Termination"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}

	// Step Functions definitions are read directly.
	asl := filepath.Join(t.TempDir(), "flow.asl.json")
	os.WriteFile(asl, []byte(`{"StartAt": "Charge", "States": {
  "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:eu-north-1:123456789012:function:charge",
             "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}], "Next": "Done"},
  "Done": {"Type": "Succeed"}}}`), 0o644)
	exportTLA(t, asl)

	// Usage and input errors exit 2.
	for _, args := range [][]string{
		{"tla", "no-such-file.yaml", "-o", t.TempDir()},
		{"tla", "../../corpus/examples/payment-reconciliation.yaml", "-o", t.TempDir()}, // invalid workflow
		{"tla", file, "-o", t.TempDir(), "--instances", "0"},
		{"tla", file, "-o", t.TempDir(), "--map-size", "0"},
		{"tla", "-o", t.TempDir()},
	} {
		if code, _, _ := nexus(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// tlcResult is what TLC said about a module.
type tlcResult struct {
	states   int64
	violated []string
	log      string
}

var (
	tlcStates    = regexp.MustCompile(`(\d+) distinct states found`)
	tlcInvariant = regexp.MustCompile(`Error: Invariant (\w+) is violated`)
)

// runTLC model-checks module in dir with TLC, continuing past violations
// so that the count covers the whole state space.
func runTLC(t *testing.T, jar, dir, module string) tlcResult {
	t.Helper()
	cmd := exec.Command("java", "-Xmx1g", "-XX:+UseParallelGC", "-cp", jar, "tlc2.TLC", "-workers", "1", "-deadlock", "-continue",
		"-metadir", filepath.Join(dir, "states"), "-config", module+".cfg", module)
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	res := tlcResult{log: string(out)}
	m := tlcStates.FindAllStringSubmatch(res.log, -1)
	if m == nil {
		t.Fatalf("%s: TLC gave no state count:\n%s", module, res.log)
	}
	res.states, _ = strconv.ParseInt(m[len(m)-1][1], 10, 64)
	for _, v := range tlcInvariant.FindAllStringSubmatch(res.log, -1) {
		if !slices.Contains(res.violated, v[1]) {
			res.violated = append(res.violated, v[1])
		}
	}
	if strings.Contains(res.log, "Temporal properties were violated") {
		res.violated = append(res.violated, "Termination")
	}
	if strings.Contains(res.log, "Error: TLC threw an unexpected exception") || strings.Contains(res.log, "Error: The error occurred when TLC was evaluating") {
		t.Fatalf("%s: TLC failed to evaluate the module:\n%s", module, res.log)
	}
	sort.Strings(res.violated)
	return res
}

// expressible are the invariants whose TLA+ definition decides exactly
// what the checker decides (NoDanglingState is only partly expressible:
// a state never entered is a property of the whole graph).
var expressible = []string{"LoggedBeforeExecuted", "MutationsCompensable", "CompensationComplete", "NoDeadlock",
	"Termination", "AtMostOnceEffect"}

// checkerViolations returns the invariants nexus check finds violated
// with the given options.
func checkerViolations(t *testing.T, m *model.Machine, opts checker.Options) []string {
	t.Helper()
	r, err := checker.Check(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, res := range r.Results {
		if res.Verdict == checker.Violated {
			out = append(out, res.Invariant.String())
		}
	}
	sort.Strings(out)
	return out
}

// bugHeader reads a corpus/bugs file's "# expect:", "# fault:" and
// "# check:" lines (the last: the options the bug needs, as flags).
func bugHeader(t *testing.T, file string) (expect string, fault bool, flags []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		if v, ok := strings.CutPrefix(line, "# expect:"); ok {
			expect = strings.TrimSpace(v)
		}
		if strings.HasPrefix(line, "# fault: invoke-before-intent") {
			fault = true
		}
		if v, ok := strings.CutPrefix(line, "# check:"); ok {
			for _, o := range strings.Fields(v) {
				flags = append(flags, "--"+o)
			}
		}
	}
	return expect, fault, flags
}

// TestTLCAgreesWithChecker runs TLC on the export of every example, of
// every seeded bug and of the handmade workflows of tla/testdata (under
// every combination of the model's options), and checks that TLC finds
// exactly as many distinct states as nexus check --no-symmetry, and the
// same violated invariants. It needs NEXUS_TLC_JAR (a tla2tools.jar) and
// java.
func TestTLCAgreesWithChecker(t *testing.T) {
	jar := os.Getenv("NEXUS_TLC_JAR")
	if jar == "" {
		t.Skip("NEXUS_TLC_JAR is not set: set it to a tla2tools.jar to run TLC on the exports")
	}
	type tc struct {
		file  string
		flags []string
		bug   bool
	}
	var cases []tc
	examples, _ := filepath.Glob("../../corpus/examples/*.yaml")
	for _, f := range examples {
		if isTestSuite(f) || strings.HasSuffix(f, ".profile.yaml") {
			continue
		}
		if _, m, _, _ := load(f); m == nil {
			continue // the specification's original, invalid example
		}
		// The default bounds (2 executions) where TLC takes seconds.
		cases = append(cases, tc{file: f, flags: []string{"--instances", "1"}}, tc{file: f, flags: []string{"--max-product", "200000"}})
	}
	bugs, _ := filepath.Glob("../../corpus/bugs/*.yaml")
	for _, f := range bugs {
		cases = append(cases, tc{file: f, flags: []string{"--instances", "1"}, bug: true})
	}
	hand, _ := filepath.Glob("../../tla/testdata/*.yaml")
	for _, f := range hand {
		for _, fl := range [][]string{nil, {"--data-errors"}, {"--cancel"}, {"--compensation-failures"},
			{"--data-errors", "--cancel", "--compensation-failures", "--map-size", "2"}} {
			cases = append(cases, tc{file: f, flags: append([]string{"--instances", "1"}, fl...)})
		}
		cases = append(cases, tc{file: f, flags: []string{"--instances", "2", "--map-size", "1", "--no-termination"}})
	}
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c.file), ".yaml") + strings.Join(c.flags, "")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			flags := c.flags
			// --max-product N: two executions when TLC can do it quickly.
			if len(flags) == 2 && flags[0] == "--max-product" {
				limit, _ := strconv.ParseInt(flags[1], 10, 64)
				_, _, n := exportTLA(t, c.file, "--instances", "1", "--no-termination")
				if n*n > limit {
					t.Skipf("%d states with 2 executions: too many for a test", n*n)
				}
				flags = []string{"--instances", "2", "--no-termination"}
			}
			expect, fault := "", false
			if c.bug {
				var check []string
				expect, fault, check = bugHeader(t, c.file)
				flags = append(slices.Clip(flags), check...)
				if fault {
					flags = append(flags, "--fault-invoke-before-intent")
				}
			}
			dir, module, states := exportTLA(t, c.file, flags...)
			res := runTLC(t, jar, dir, module)
			if res.states != states {
				t.Fatalf("TLC: %d distinct states, nexus check --no-symmetry: %d\n%s", res.states, states, lastLog(res.log))
			}
			// The same verdicts, for the invariants TLA+ decides exactly.
			_, m, _, _ := load(c.file)
			m.FaultInvokeBeforeIntent = fault
			opts := checker.Options{Instances: 1, NoSymmetry: true, MapSize: checker.DefaultMapSize}
			for i, f := range flags {
				switch f {
				case "--data-errors":
					opts.DataErrors = true
				case "--cancel":
					opts.Cancel = true
				case "--compensation-failures":
					opts.CompensationFailures = true
				case "--map-size":
					opts.MapSize, _ = strconv.Atoi(flags[i+1])
				}
			}
			want := checkerViolations(t, m, opts)
			termination := !slices.Contains(flags, "--no-termination")
			for _, inv := range expressible {
				if inv == "Termination" && !termination {
					continue
				}
				if slices.Contains(want, inv) != slices.Contains(res.violated, inv) {
					t.Errorf("%s: nexus check finds %v violated, TLC %v", inv, want, res.violated)
				}
			}
			if slices.Contains(res.violated, "NoDanglingState") && !slices.Contains(want, "NoDanglingState") {
				t.Errorf("TLC finds NoDanglingState violated, nexus check does not")
			}
			if expect != "" && slices.Contains(expressible, expect) && !slices.Contains(res.violated, expect) {
				t.Errorf("seeded bug %s: TLC does not report it (it reports %v)", expect, res.violated)
			}
		})
	}
}

func lastLog(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
