package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

func machine(t *testing.T, src string) *model.Machine {
	t.Helper()
	w, fs := model.Parse("flow.yaml", []byte(src))
	if fs.Errors() > 0 {
		t.Fatal(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatal(fs)
	}
	return m
}

const payment = `version: "1.0"
name: pay
functions:
  transfer: {uri: "https://bank.example.com/transfer", idempotent: true}
states:
- name: Validate
  action: validate
  next: Check
  on_failure: {retry: 3, backoff: exponential}
- name: Check
  action: check-balance
  next: Transfer
  on_failure: {compensate: refund-user}
- name: Transfer
  action: transfer
  mutates: true
  compensate: reverse-transfer
  retry: [{errors: [Throttled], max_attempts: 5}, {errors: [States.ALL], max_attempts: 2}]
  end: true
`

func rules(file string, ps ...model.Policy) []Source {
	var out []Source
	for i := range ps {
		p := ps[i]
		if p.Severity == "" {
			p.Severity = "error"
		}
		out = append(out, Source{File: file, Policy: &p})
	}
	return out
}

// TestEvaluate pins down what rules range over and what they report.
func TestEvaluate(t *testing.T) {
	m := machine(t, payment)
	tests := []struct {
		name   string
		policy model.Policy
		want   []string // "LINE:COL severity: message fragment", in order
	}{
		{"the specification's rule, verbatim", model.Policy{Rule: "function.retry_count >= 3", Severity: "error"}, []string{
			`11:11 error: policy "function.retry_count >= 3" fails for function "check-balance" (action of state "Check")`,
			`15:11 error: policy "function.retry_count >= 3" fails for function "transfer" (action of state "Transfer")`,
		}},
		{"compensations count with their default retries", model.Policy{Rule: "function.role == 'action' || function.retry_count >= 5"}, nil},
		{"bindings are visible", model.Policy{Rule: "!state.mutates || function.idempotent", Name: "idempotent-mutations"}, []string{
			`17:15 error: policy "idempotent-mutations" fails for function "reverse-transfer" (compensate of state "Transfer")`,
		}},
		{"state scope", model.Policy{Rule: "state.type != 'task' || size(state.catch) > 0 || state.retry_max > 0", Severity: "warning",
			Message: "every task handles its errors"}, []string{
			`10:9 warning: policy "state.type != 'task' || size(state.catch) > 0 || state.retry_max > 0" fails for state "Check": every task handles its errors`,
		}},
		{"workflow scope", model.Policy{Rule: "workflow.state_count <= 2", Severity: "info"}, []string{
			`2:7 info: policy "workflow.state_count <= 2" fails for the workflow`,
		}},
		{"a field named function is not the variable", model.Policy{Rule: "!has(state.function) && 'function' != ''"}, nil},
		{"holds everywhere", model.Policy{Rule: "state.name != ''"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Evaluate(m, rules("flow.yaml", tt.policy))
			var got []string
			for _, f := range fs {
				got = append(got, f.Pos.String()+" "+f.Severity.String()+": "+f.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("finding %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestRuleErrors checks that a rule that cannot compile or evaluate, or
// does not give a boolean, is an error finding, never a silent pass.
func TestRuleErrors(t *testing.T) {
	m := machine(t, payment)
	for _, rule := range []string{"function.retry_count >=", "state.no_such_field", "function.name", "1 + 'a'"} {
		p := model.Policy{Rule: rule, Severity: "warning", Src: model.Src{Pos: model.Pos{Line: 4, Col: 3}, Keys: map[string]model.Pos{"rule": {Line: 4, Col: 9}}}}
		fs := Evaluate(m, rules("org.yaml", p))
		if fs.Errors() == 0 {
			t.Errorf("%q: no error finding: %v", rule, fs)
			continue
		}
		for _, f := range fs {
			if f.Code != "policy-invalid" || strings.Contains(f.Message, functionVar) {
				t.Errorf("%q: %v", rule, f)
			}
		}
	}
	// A rule that does not compile is reported in its own file.
	fs := Evaluate(m, rules("org.yaml", model.Policy{Rule: "function.", Src: model.Src{Keys: map[string]model.Pos{"rule": {Line: 4, Col: 9}}}}))
	if len(fs) != 1 || fs[0].File != "org.yaml" || fs[0].Pos.Line != 4 {
		t.Errorf("compile error: %v", fs)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, src string
		rules     int
		errors    int
	}{
		{"mapping", "policies:\n  - rule: \"function.retry_count >= 3\"\n    severity: error\n  - {rule: \"true\", severity: warning, name: x, message: y}\n", 2, 0},
		{"list", "- rule: \"true\"\n", 1, 0},
		{"json", `{"policies": [{"rule": "true", "severity": "info"}]}`, 1, 0},
		{"bad severity", "- {rule: \"true\", severity: fatal}\n", 0, 1},
		{"no rule", "- {severity: error}\n", 0, 1},
		{"unknown key", "policies: []\nrules: []\n", 0, 1},
		{"not a list", "policies: 3\n", 0, 1},
		{"syntax", "policies: [\n", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, fs := Load("p.yaml", []byte(tt.src))
			if len(ps) != tt.rules || fs.Errors() != tt.errors {
				t.Errorf("%d rules, findings %v; want %d rules, %d errors", len(ps), fs, tt.rules, tt.errors)
			}
			for _, p := range ps {
				if p.File != "p.yaml" || p.Policy.At("rule").Line == 0 {
					t.Errorf("source %+v", p)
				}
			}
		})
	}
}

// TestWorkflowPolicies evaluates the policies a workflow declares, as
// nexus check does.
func TestWorkflowPolicies(t *testing.T) {
	src, err := os.ReadFile("../../corpus/bugs/policy-min-retries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, fs := model.Parse("policy-min-retries.yaml", src)
	m, _ := model.Compile(w)
	if m == nil {
		t.Fatal(fs)
	}
	got := Evaluate(m, FromWorkflow(w))
	if got.Errors() != 2 || got[0].File != "policy-min-retries.yaml" {
		t.Errorf("findings %v", got)
	}
}

func TestRewriteReserved(t *testing.T) {
	tests := map[string]string{
		"function.retry_count >= 3":        functionVar + ".retry_count >= 3",
		"state.function == 'function'":     "state.function == 'function'",
		`"a function" + function.name`:     `"a function" + ` + functionVar + ".name",
		"r'function' == function.name":     "r'function' == " + functionVar + ".name",
		`'''x 'function' y''' != ''`:       `'''x 'function' y''' != ''`,
		"functions.size() > 0 && function": "functions.size() > 0 && " + functionVar,
	}
	for in, want := range tests {
		if got := rewriteReserved(in); got != want {
			t.Errorf("rewriteReserved(%q) = %q, want %q", in, got, want)
		}
	}
}
