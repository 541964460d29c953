package testrun

import (
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

func TestRunSaga(t *testing.T) {
	m := model.MustCompile(`
version: "1.0"
name: order
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, result_path: $.reservation, next: Charge}
- name: Charge
  action: charge
  retry: [{errors: [Busy], max_attempts: 2, interval: 2s}]
  end: true
`)
	busy := 0
	res, err := Run(m, []byte(`{"order":7}`), Options{Functions: map[string]Func{
		"reserve": func(c Call) Outcome { return Outcome{Output: map[string]any{"id": "r1"}} },
		"charge": func(c Call) Outcome {
			busy++
			return Outcome{Error: "Busy", Cause: "try later"}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != model.Compensated || *res.Error != "Busy" || busy != 3 {
		t.Fatalf("status %s error %v after %d charges", res.Status, res.Error, busy)
	}
	var calls []string
	for _, c := range res.Calls {
		calls = append(calls, c.Function)
	}
	if got := strings.Join(calls, ","); got != "reserve,charge,charge,charge,release" {
		t.Errorf("calls %s", got)
	}
	// The compensation receives the step's input and result.
	last := res.Calls[len(res.Calls)-1]
	in, _ := last.Input.(map[string]any)
	if !last.Compensation || in["result"] == nil || in["input"] == nil {
		t.Errorf("compensation input %v", last.Input)
	}
	// Backoff is virtual time: 2s then 4s.
	if res.Elapsed != 6e9 {
		t.Errorf("elapsed %v, want 6s", res.Elapsed)
	}
	// The same run twice gives the same idempotency keys.
	res2, _ := Run(m, []byte(`{"order":7}`), Options{Functions: map[string]Func{
		"charge": func(Call) Outcome { return Outcome{Error: "Busy"} }}})
	for i := range res.Calls {
		if res.Calls[i].Key != res2.Calls[i].Key {
			t.Errorf("call %d key %q then %q", i, res.Calls[i].Key, res2.Calls[i].Key)
		}
	}
}

func TestRunLoopIsBounded(t *testing.T) {
	m := model.MustCompile(`
version: "1.0"
states:
- {name: A, type: pass, next: B}
- name: B
  choices: [{variable: $.done, is_present: true, next: C}]
  default: A
- {name: C, type: succeed}
`)
	if _, err := Run(m, []byte(`{}`), Options{MaxEvents: 500}); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("err = %v", err)
	}
}

func TestSuite(t *testing.T) {
	src := `
workflow: w.yaml
cases:
  - name: one
    input: {a: 1}
    functions:
      f: [{error: X}, {output: 2}]
    expect: {status: succeeded, output: 2, calls: [f, f]}
  - name: bad
    expect: {stat: x}
`
	s, fs := ParseSuite("s.yaml", []byte(src))
	if len(fs) != 1 || fs[0].Pos.Line != 10 {
		t.Fatalf("findings %v", fs)
	}
	m := model.MustCompile("version: \"1.0\"\nstates:\n- {name: S, action: f, end: true, retry: [{errors: [X], interval: 0s}]}\n")
	diff, err := RunCase(m, s.Cases[0])
	if err != nil || diff != "" {
		t.Errorf("case one: %v %s", err, diff)
	}
	s.Cases[0].Expect.Output = 3
	if diff, _ := RunCase(m, s.Cases[0]); !strings.Contains(diff, "output 2, want 3") {
		t.Errorf("diff %q", diff)
	}
}
