package dataflow

import (
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
	"github.com/nexus-workflows/nexus/model/expr"
)

// drive runs an ASL definition on the kernel, answering its questions
// with Decide, tasks echoing their input: the loop every data driver runs.
func drive(t *testing.T, definition, input string) (*model.Execution, []model.Event) {
	t.Helper()
	w, fs := asl.Import("test.json", []byte(definition))
	if w == nil || fs.Errors() > 0 {
		t.Fatalf("import: %v", fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		t.Fatalf("compile: %v", fs)
	}
	s := &model.Execution{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	queue := []model.Event{{Kind: model.EvStart, Data: []byte(input), Time: now.UnixNano()}}
	var decided []model.Event
	var out []model.Command
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("no end")
		}
		e := queue[0]
		queue = queue[1:]
		var err error
		if out, err = m.Step(s, e, out[:0]); err != nil {
			t.Fatalf("step %v: %v", e, err)
		}
		for _, c := range out {
			switch c.Kind {
			case model.Decide:
				d := Decide(m, s, c, &Env{ExecutionName: "exec", StateMachineName: "sm", Now: now, Seed: uint64(steps),
					CEL: &expr.CELCache{}, EnteredEvent: func(uint32) int { return 2 }})
				decided = append(decided, d)
				queue = append([]model.Event{d}, queue...)
			case model.Invoke:
				queue = append(queue, model.Event{Kind: model.EvSucceeded, ID: c.ID, Data: c.Input})
			case model.StartTimer:
				queue = append(queue, model.Event{Kind: model.EvTimerFired, ID: c.ID})
			}
		}
	}
	return s, decided
}

func TestDecide(t *testing.T) {
	s, _ := drive(t, `{"StartAt": "P", "States": {
		"P": {"Type": "Pass", "Assign": {"n": 2}, "Result": [1, 2, 3], "ResultPath": "$.items", "Next": "M"},
		"M": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"v.$": "$$.Map.Item.Value", "n.$": "$n"},
			"ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:fn", "End": true}}},
			"ResultPath": "$.out", "Next": "C"},
		"C": {"Type": "Choice", "Choices": [{"Variable": "$.out[0].v", "NumericEquals": 1, "Next": "W",
			"Assign": {"chosen.$": "$.out[0].n"}}], "Default": "F"},
		"W": {"Type": "Wait", "Seconds": 1, "Next": "S"},
		"S": {"Type": "Pass", "Parameters": {"chosen.$": "$chosen", "ctx.$": "$$.StateMachine.Name"}, "End": true},
		"F": {"Type": "Fail", "Error": "Nope"}}}`, `{"in": true}`)
	if s.Status != model.Succeeded {
		t.Fatalf("status %s: %s %s", s.Status, s.Err, s.Cause)
	}
	if got := decode(s.Data.Output); !expr.Equal(got, js(t, `{"chosen": 2, "ctx": "sm"}`)) {
		t.Errorf("output %s", expr.JSON(got))
	}

	// An evaluation error is an error answer, worded with the state, and
	// States.Runtime is not caught.
	s, _ = drive(t, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.nope", "End": true}}}`, `{}`)
	if s.Status != model.Failed || s.Err != expr.ErrRuntime ||
		s.Cause != "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.nope' : No results for path: $['nope']" {
		t.Errorf("runtime error: %s %s %q", s.Status, s.Err, s.Cause)
	}

	// A Fail state without fields ends with null error and cause.
	s, _ = drive(t, `{"StartAt": "N", "States": {"N": {"Type": "Fail"}}}`, `{}`)
	if s.Status != model.Failed || !s.Data.ErrNull || !s.Data.CauseNull {
		t.Errorf("fail without fields: %s %q %q %v %v", s.Status, s.Err, s.Cause, s.Data.ErrNull, s.Data.CauseNull)
	}
	s, _ = drive(t, `{"StartAt": "T", "QueryLanguage": "JSONata", "States": {
		"T": {"Type": "Task", "Resource": "arn:fn", "Arguments": "{% $error('boom') %}", "End": true,
			"Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "N"}]},
		"N": {"Type": "Succeed"}}}`, `{}`)
	if s.Status != model.Succeeded || !strings.Contains(string(s.Data.Output), "States.QueryEvaluationError") {
		t.Errorf("caught query error: %s %s", s.Status, s.Data.Output)
	}
}

func TestDecideJitterAndNoData(t *testing.T) {
	m, _ := model.Compile(&model.Workflow{Graph: model.Graph{States: []*model.State{{Name: "S", Kind: model.KindSucceed}}}})
	if m == nil {
		t.Skip("minimal workflow does not compile")
	}
	s := &model.Execution{Threads: []model.Thread{{ID: 1, State: 0}}}
	ev := Decide(m, s, model.Command{Kind: model.Decide, Thread: 1, State: 0, Decide: model.DecideOutput}, nil)
	if ev.Err != expr.ErrRuntime {
		t.Errorf("no data: %+v", ev)
	}
	s.Data = &model.ExecData{}
	s.Threads[0].Data = &model.ThreadData{}
	for seed := range uint64(50) {
		ev = Decide(m, s, model.Command{Kind: model.Decide, Thread: 1, State: 0, Decide: model.DecideJitter, Delay: time.Second},
			&Env{Seed: seed})
		if ev.Delay < 0 || ev.Delay > time.Second || ev.Err != "" {
			t.Fatalf("jitter %v %q", ev.Delay, ev.Err)
		}
	}
}
