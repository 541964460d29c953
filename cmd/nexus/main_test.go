package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
	"github.com/nexus-workflows/nexus/schema"
)

// nexus runs the command line in-process and returns its exit code and
// output streams.
func nexus(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateSpecificationExample(t *testing.T) {
	code, _, stderr := nexus(t, "validate", "../../corpus/examples/payment-reconciliation.yaml")
	if code != exitFindings {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "../../corpus/examples/payment-reconciliation.yaml:17:9: ") ||
		!strings.Contains(lines[0], "LogTransaction") || strings.TrimSpace(lines[2]) != "^" {
		t.Errorf("want exactly one finding at 17:9 with source and caret, got:\n%s", stderr)
	}
	code, stdout, stderr := nexus(t, "validate", "../../corpus/examples/payment-reconciliation-fixed.yaml")
	if code != exitOK || !strings.Contains(stdout, "1 file(s) valid") {
		t.Errorf("corrected example: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestValidateJSONAndExitCodes(t *testing.T) {
	code, stdout, _ := nexus(t, "validate", "-o", "json", "../../corpus/examples/payment-reconciliation.yaml")
	if code != exitFindings || !strings.Contains(stdout, `"line": 17`) || !strings.Contains(stdout, `"code": "unknown-state"`) {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	if code, _, _ := nexus(t, "validate", "no-such-file.yaml"); code != exitUsage {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code, _, _ := nexus(t, "validate"); code != exitUsage {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
	if code, _, _ := nexus(t, "validate", "--bogus", "x"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: \"1.0\"\nstates: [\n"), 0o644)
	if code, _, stderr := nexus(t, "validate", bad); code != exitFindings || !strings.Contains(stderr, "bad.yaml:2:9: syntax error") {
		t.Errorf("malformed YAML: exit %d\n%s", code, stderr)
	}
}

func TestHelpEverywhere(t *testing.T) {
	root := newRoot(nil, &bytes.Buffer{}, &bytes.Buffer{})
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		code, stdout, _ := nexus(t, c.Name(), "--help")
		if code != exitOK || !strings.Contains(stdout, "Usage:") || c.Short == "" {
			t.Errorf("%s --help: exit %d\n%s", c.Name(), code, stdout)
		}
	}
}

// TestGraphEveryExample writes an SVG for every workflow in
// corpus/examples, the invalid specification example included.
func TestGraphEveryExample(t *testing.T) {
	files, _ := filepath.Glob("../../corpus/examples/*.yaml")
	dir := t.TempDir()
	n := 0
	for _, f := range files {
		if strings.Contains(f, ".test.") || strings.Contains(f, ".profile.") || strings.Contains(f, ".bindings.") {
			continue
		}
		out := filepath.Join(dir, filepath.Base(f)+".svg")
		code, _, stderr := nexus(t, "graph", f, "-o", out)
		svg, err := os.ReadFile(out)
		if code != exitOK || err != nil || !bytes.Contains(svg, []byte("</svg>")) {
			t.Errorf("%s: exit %d, %v\n%s", f, code, err, stderr)
		}
		n++
	}
	if n < 2 {
		t.Fatalf("only %d examples", n)
	}
	for _, format := range []string{"dot", "mermaid"} {
		code, stdout, _ := nexus(t, "graph", "--format", format, "../../corpus/examples/payment-reconciliation-fixed.yaml")
		if code != exitOK || !strings.Contains(stdout, "ValidateUser") {
			t.Errorf("%s: exit %d\n%s", format, code, stdout)
		}
	}
}

// TestMigrateCorpus converts every Step Functions definition of the shared
// corpus that imports cleanly: the written YAML validates (against the
// JSON Schema too) and compiles to the same machine as the definition.
func TestMigrateCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/corpus/asl/*.json")
	if len(files) == 0 {
		t.Skip("../shared/corpus/asl not found (the shared corpus is not part of the repository)")
	}
	sch, err := schema.Compile()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	converted := 0
	for _, f := range files {
		src, _ := os.ReadFile(f)
		w, fs := asl.Import(f, src)
		if w == nil || fs.Errors() > 0 {
			continue
		}
		m1, _ := model.Compile(w)
		if m1 == nil {
			continue
		}
		out := filepath.Join(dir, "out.yaml")
		code, _, stderr := nexus(t, "migrate", "stepfunctions", "--input", f, "-o", out)
		if code != exitOK {
			t.Errorf("%s: exit %d\n%s", f, code, stderr)
			continue
		}
		yaml, _ := os.ReadFile(out)
		if code, _, stderr := nexus(t, "validate", out); code != exitOK {
			t.Errorf("%s: migrated file does not validate:\n%s", f, stderr)
			continue
		}
		n, _ := model.ParseNode(out, yaml)
		if err := sch.Validate(n.Value()); err != nil {
			t.Errorf("%s: migrated file fails the JSON Schema: %v", f, err)
		}
		w2, _ := model.Parse(out, yaml)
		m2, _ := model.Compile(w2)
		if !sameMachine(m1, m2) {
			t.Errorf("%s: migrated file compiles to another machine", f)
		}
		converted++
	}
	if converted < 400 {
		t.Errorf("only %d corpus files converted", converted)
	}
}

// sameMachine compares two machines: the same tables, and states that
// print the same (positions aside).
func sameMachine(a, b *model.Machine) bool {
	if a == nil || b == nil || len(a.States) != len(b.States) || !slices.Equal(a.Functions, b.Functions) ||
		!reflect.DeepEqual(a.Graphs, b.Graphs) {
		return false
	}
	for i := range a.States {
		x, y := a.States[i], b.States[i]
		x.Src, y.Src = nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	fa, err1 := model.Format(a.Workflow)
	fb, err2 := model.Format(b.Workflow)
	return err1 == nil && err2 == nil && bytes.Equal(fa, fb)
}

// TestStepFunctionsFilesDirectly: every command that takes a workflow
// takes an ASL definition as it is.
func TestStepFunctionsFilesDirectly(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "order.asl.json")
	os.WriteFile(def, []byte(`{
  "StartAt": "Charge",
  "States": {
    "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:eu-north-1:123456789012:function:Charge",
               "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}], "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`), 0o644)
	if code, stdout, stderr := nexus(t, "validate", def); code != exitOK {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := nexus(t, "graph", "--format", "dot", def); code != exitOK || !strings.Contains(stdout, "Charge") {
		t.Errorf("graph: exit %d\n%s", code, stdout)
	}
	suite := filepath.Join(dir, "order.test.yaml")
	os.WriteFile(suite, []byte(`workflow: order.asl.json
cases:
  - name: charge times out once
    input: {order: 1}
    functions:
      charge: [{timeout: true}, {output: {charged: true}}]
    expect: {status: succeeded, output: {charged: true}, calls: [charge, charge]}
`), 0o644)
	if code, stdout, stderr := nexus(t, "test", suite); code != exitOK || !strings.Contains(stdout, "1 passed, 0 failed") {
		t.Errorf("test: exit %d\n%s%s", code, stdout, stderr)
	}
	bad := filepath.Join(dir, "bad.asl.json")
	os.WriteFile(bad, []byte(`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "Next": "Nowhere"}}}`), 0o644)
	if code, _, stderr := nexus(t, "validate", bad); code != exitFindings || !strings.Contains(stderr, "bad.asl.json:1:") || !strings.Contains(stderr, "Nowhere") {
		t.Errorf("invalid ASL: exit %d\n%s", code, stderr)
	}
}

// TestVectorsThroughCLI runs the conformance vectors as a user would.
func TestVectorsThroughCLI(t *testing.T) {
	dirs := []string{"../../../shared/corpus/vectors", "../../../shared/corpus/aws-recorded"}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Skip("shared corpus not found")
	}
	code, stdout, _ := nexus(t, append([]string{"test"}, dirs...)...)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := lines[len(lines)-1]
	var pass, fail int
	if _, err := fmt.Sscanf(last, "%d passed, %d failed", &pass, &fail); err != nil {
		t.Fatalf("last line %q: %v", last, err)
	}
	if pass+fail != 703 || pass*100 < 95*703 || (fail > 0) != (code == exitFindings) {
		t.Errorf("exit %d: %s", code, last)
	}
}
