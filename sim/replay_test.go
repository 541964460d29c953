package sim

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

func loadMachine(t *testing.T, path string) *model.Machine {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, fs := model.Parse(path, src)
	if w == nil {
		t.Fatal(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatal(fs)
	}
	return m
}

func TestReplayCheckerTrace(t *testing.T) {
	// testdata/check-refund-can-fail.json is nexus check -o json
	// --compensation-failures --instances 1 on testdata/refund-can-fail.yaml:
	// the charge completes, the shipment fails, the refund fails for good.
	m := loadMachine(t, "testdata/refund-can-fail.yaml")
	src, err := os.ReadFile("testdata/check-refund-can-fail.json")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tr.Violation, "CompensationComplete") {
		t.Errorf("violation %q", tr.Violation)
	}
	var out bytes.Buffer
	res, err := Replay(m, nil, tr, 1, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final[1] != model.CompensationFailed || len(res.Mismatch) != 0 || res.Rejected != 0 {
		t.Errorf("final %v, mismatches %v, rejected %d\n%s", res.Final, res.Mismatch, res.Rejected, out.String())
	}
	for _, want := range []string{"invoke #2 charge (Charge) attempt 1", "invoke #3 ship (Ship) attempt 1",
		"invoke compensation #5 refund (Charge) attempt 1", "finish compensation_failed (Undeclared.Error)", "+300ms",
		"execution 1 ends compensation_failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("replay output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := ReadTrace(src, 2); err == nil {
		t.Error("violation 2 of a file with one was accepted")
	}
}

func TestReplayEventList(t *testing.T) {
	m := model.MustCompile(`
version: "1.0"
states:
- name: C
  type: choice
  choices: [{condition: "input.x > 1", next: A}]
  default: B
- {name: A, action: a, mutates: true, compensate: undo, next: B}
- name: B
  action: b
  retry: [{errors: [States.ALL], max_attempts: 1, interval: 2s, jitter: full}]
  end: true
`)
	tests := []struct {
		name   string
		events string
		final  model.Status
		want   []string
		reject int
	}{
		{"branch, failure, jitter, compensation", `{"events": [
			{"kind": "decided", "state": "C", "branch": 0},
			{"kind": "start"},
			{"kind": "succeeded", "id": 2},
			{"kind": "decided", "state": "B", "delay": "1.5s"},
			{"kind": "failed", "id": 3, "error": "Boom"},
			{"kind": "timer_fired", "id": 4},
			{"kind": "timed_out", "id": 5},
			{"kind": "failed", "id": 7, "error": "Undo.Failed"},
			{"kind": "timer_fired", "id": 8},
			{"kind": "succeeded", "id": 9}]}`,
			model.Compensated, []string{"rule 1 (from the trace)", "1.5s (from the trace)", "invoke compensation #7 undo (A)",
				"finish compensated"}, 0},
		{"default branch from the profile, a crash, a duplicate", `{"events": [
			{"kind": "decided", "state": "C", "branch": -1},
			{"kind": "start"},
			{"kind": "crash"},
			{"kind": "succeeded", "id": 2},
			{"kind": "succeeded", "id": 2}]}`,
			model.Succeeded, []string{"recovered from the log: running", "invoke #2 b (B) attempt 1", "rejected"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ReadTrace([]byte(tt.events), 1)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := Replay(m, nil, tr, 1, &out)
			if err != nil {
				t.Fatal(err)
			}
			if res.Final[1] != tt.final || res.Rejected != tt.reject {
				t.Errorf("final %v rejected %d, want %v and %d\n%s", res.Final[1], res.Rejected, tt.final, tt.reject, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	for _, bad := range []string{`{"events": [{"kind": "explode"}]}`, `{"events": [{"kind": "decided"}]}`,
		`{"events": [{"kind": "start", "bogus": 1}]}`, `{"steps": [{"event": "something unheard of"}]}`, `[]`, `nope`} {
		if _, err := ReadTrace([]byte(bad), 1); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// FuzzReadTrace: no input makes the trace reader panic, and a trace it
// reads replays without panicking.
func FuzzReadTrace(f *testing.F) {
	src, err := os.ReadFile("testdata/check-refund-can-fail.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	f.Add([]byte(`{"events": [{"kind": "start"}, {"kind": "succeeded", "id": 2}, {"kind": "crash"}]}`))
	m := loadMachine(&testing.T{}, "testdata/refund-can-fail.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ReadTrace(b, 1)
		if err != nil {
			return
		}
		_, _ = Replay(m, nil, tr, 1, &bytes.Buffer{})
	})
}

// TestReplayUnansweredCallback replays a NoDeadlock trace: the checker's
// world leaves a callback unanswered, and the replayed execution ends the
// trace still running, waiting at the join.
func TestReplayUnansweredCallback(t *testing.T) {
	// testdata/check-parallel-join-waits-forever.json is nexus check -o
	// json --instances 1 on testdata/parallel-join-waits-forever.yaml.
	m := loadMachine(t, "testdata/parallel-join-waits-forever.yaml")
	src, err := os.ReadFile("testdata/check-parallel-join-waits-forever.json")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tr.Violation, "NoDeadlock") {
		t.Errorf("violation %q", tr.Violation)
	}
	var out bytes.Buffer
	res, err := Replay(m, nil, tr, 1, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final[1] != model.Running || len(res.Mismatch) != 0 || res.Rejected != 0 {
		t.Errorf("final %v, mismatches %v, rejected %d\n%s", res.Final, res.Mismatch, res.Rejected, out.String())
	}
	if !strings.Contains(out.String(), "is never answered") || !strings.Contains(out.String(), "(nothing happens)") {
		t.Errorf("replay output lacks the unanswered callback:\n%s", out.String())
	}
}
