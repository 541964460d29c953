package checker

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/model"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSARIFValidates checks SARIF output against the official SARIF
// 2.1.0 schema, and that results point at the offending state's line.
func TestSARIFValidates(t *testing.T) {
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}

	// The schema is not vacuous: a log without runs, or with a result
	// without a message, is rejected.
	for _, bad := range []string{`{"version": "2.1.0"}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}`} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if schema.Validate(v) == nil {
			t.Fatalf("the schema accepts %s", bad)
		}
	}

	var files []FileResult
	for _, p := range []string{"../corpus/bugs/choice-without-default.yaml", "../corpus/bugs/catch-back-edge-retries-forever.yaml",
		"../corpus/bugs/policy-min-retries.yaml", "../corpus/examples/payment-reconciliation-fixed.yaml"} {
		m := load(t, p)
		r := check(t, m, Options{})
		r.File = p
		files = append(files, FileResult{File: p, Report: r, Findings: policy.Evaluate(m, policy.FromWorkflow(m.Workflow))})
	}
	files = append(files, FileResult{File: "dir with space/bad.yaml", Findings: model.Findings{{File: "bad.yaml", Pos: model.Pos{Line: 3, Col: 4},
		Severity: model.SeverityError, Code: "unknown-state", Message: "next names no state"}}})
	never := check(t, compile(t, "version: \"1.0\"\nstates:\n- {name: F, type: fail, error: E}\n"), Options{})
	files = append(files, FileResult{File: "never.yaml", Report: never})
	incomplete := check(t, load(t, "../corpus/examples/payment-reconciliation-fixed.yaml"), Options{MaxStates: 5})
	files = append(files, FileResult{File: "incomplete.yaml", Report: incomplete})

	var b bytes.Buffer
	if err := WriteSARIF(&b, files); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v\n%s", err, b.String())
	}

	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct{ StartLine int }
					} `json:"physicalLocation"`
				} `json:"locations"`
				CodeFlows []any `json:"codeFlows"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		uri  string
		line int
		flow bool
	}{
		"NoDanglingState":        {"../corpus/bugs/choice-without-default.yaml", 9, true},
		"Termination":            {"../corpus/bugs/catch-back-edge-retries-forever.yaml", 9, true},
		"policy":                 {"../corpus/bugs/policy-min-retries.yaml", 13, false},
		"validate/unknown-state": {"dir%20with%20space/bad.yaml", 3, false},
	}
	got := map[string]bool{}
	levels := map[string]bool{}
	for _, r := range log.Runs[0].Results {
		levels[r.Level] = true
		w, ok := want[r.RuleID]
		if !ok || got[r.RuleID] {
			continue
		}
		got[r.RuleID] = true
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != w.uri || loc.Region.StartLine != w.line || (len(r.CodeFlows) > 0) != w.flow {
			t.Errorf("%s: at %s:%d with %d code flows, want %s:%d (flow %v)", r.RuleID, loc.ArtifactLocation.URI,
				loc.Region.StartLine, len(r.CodeFlows), w.uri, w.line, w.flow)
		}
	}
	for id := range want {
		if !got[id] {
			t.Errorf("no %s result", id)
		}
	}
	if !levels["warning"] || !levels["error"] {
		t.Errorf("levels %v: want errors and warnings (unreached witness, incomplete)", levels)
	}
	if !strings.Contains(b.String(), `"Sometimes.Succeeds"`) {
		t.Error("the unreached witness is not a result")
	}
}
