package asl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// machine wraps states in a definition starting at the first of them.
func machine(states string) string {
	return `{"StartAt": "A", "States": {` + states + `}}`
}

func codes(fs model.Findings) []string {
	var cs []string
	for _, f := range fs {
		cs = append(cs, f.Code)
	}
	return cs
}

func state(t *testing.T, w *model.Workflow, name string) *model.State {
	t.Helper()
	var found *model.State
	w.AllStates(func(s *model.State) {
		if s.Name == name {
			found = s
		}
	})
	if found == nil {
		t.Fatalf("no state %q", name)
	}
	return found
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestImport imports one construct per case and checks what the model
// holds and which findings (by code, in source order) are reported.
func TestImport(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		codes []string
		check func(t *testing.T, w *model.Workflow)
	}{
		{"top level", `{"Comment": "c", "Version": "1.1", "TimeoutSeconds": 3600, "QueryLanguage": "JSONata",
			"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}`, nil, func(t *testing.T, w *model.Workflow) {
			eq(t, "Comment", w.Comment, "c")
			eq(t, "Version", w.Version, "1.1")
			eq(t, "Timeout", w.Timeout, time.Hour)
			eq(t, "QueryLanguage", w.QueryLanguage, model.JSONata)
			eq(t, "StartAt", w.StartAt, "A")
			eq(t, "Kind", state(t, w, "A").Kind, model.KindSucceed)
		}},
		{"default version", machine(`"A": {"Type": "Pass", "End": true}`), nil, func(t *testing.T, w *model.Workflow) {
			eq(t, "Version", w.Version, DefaultVersion)
			eq(t, "Name", w.Name, "")
		}},
		{"task", machine(`"A": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:ProcessOrder",
			"TimeoutSeconds": 30, "HeartbeatSeconds": 10, "Credentials": {"RoleArn": "r"}, "InputPath": "$.in",
			"Parameters": {"a.$": "$.b"}, "ResultSelector": {"c.$": "$.d"}, "ResultPath": null, "OutputPath": "$.out",
			"Comment": "hello", "Next": "B"},
			"B": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:ProcessOrder",
			"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h", "End": true}`), nil,
			func(t *testing.T, w *model.Workflow) {
				a, b := state(t, w, "A"), state(t, w, "B")
				eq(t, "Kind", a.Kind, model.KindTask)
				eq(t, "Action", a.Action, "process-order")
				eq(t, "shared Action", b.Action, "process-order")
				eq(t, "functions", len(w.Functions), 1)
				eq(t, "URI", w.Function("process-order").URI, "arn:aws:lambda:eu-west-1:123456789012:function:ProcessOrder")
				eq(t, "Timeout", a.Timeout, 30*time.Second)
				eq(t, "Heartbeat", a.Heartbeat, 10*time.Second)
				eq[any](t, "Credentials", a.Credentials, map[string]any{"RoleArn": "r"})
				eq(t, "InputPath", a.InputPath, model.PathOf("$.in"))
				eq[any](t, "Parameters", a.Parameters, map[string]any{"a.$": "$.b"})
				eq[any](t, "ResultSelector", a.ResultSelector, map[string]any{"c.$": "$.d"})
				eq(t, "ResultPath", a.ResultPath, model.NullPath())
				eq(t, "OutputPath", a.OutputPath, model.PathOf("$.out"))
				eq(t, "Comment", a.Comment, "hello")
				eq(t, "Next", a.Next, "B")
				eq(t, "TimeoutPath", b.TimeoutPath, "$.t")
				eq(t, "HeartbeatPath", b.HeartbeatPath, "$.h")
				eq(t, "End", b.End, true)
				eq(t, "unset InputPath", b.InputPath, model.OptPath{})
			}},
		{"callback and name clash", machine(`"A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "Next": "B"},
			"B": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessage.waitForTaskToken", "End": true}`), nil,
			func(t *testing.T, w *model.Workflow) {
				eq(t, "Callback", state(t, w, "A").Callback, true)
				eq(t, "Action A", state(t, w, "A").Action, "sqs-send-message-callback")
				eq(t, "Action B", state(t, w, "B").Action, "sqs-send-message-callback-2")
			}},
		{"jsonata task", machine(`"A": {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
			"Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"}, "Output": "{% $states.result.Payload %}",
			"Assign": {"x": "{% $states.result %}"}, "TimeoutSeconds": "{% $t %}", "HeartbeatSeconds": "{% $h %}", "End": true}`), nil,
			func(t *testing.T, w *model.Workflow) {
				a := state(t, w, "A")
				eq(t, "QueryLanguage", a.QueryLanguage, model.JSONata)
				eq(t, "Action", a.Action, "lambda-invoke")
				eq[any](t, "Arguments", a.Arguments, map[string]any{"FunctionName": "f", "Payload": "{% $states.input %}"})
				eq[any](t, "Output", a.Output, "{% $states.result.Payload %}")
				eq[any](t, "Assign", a.Assign, map[string]any{"x": "{% $states.result %}"})
				eq(t, "TimeoutExpr", a.TimeoutExpr, "{% $t %}")
				eq(t, "HeartbeatExpr", a.HeartbeatExpr, "{% $h %}")
			}},
		{"retry", machine(`"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [
			{"ErrorEquals": ["States.Timeout", "Lambda.ServiceException"], "IntervalSeconds": 3, "MaxAttempts": 5,
			 "BackoffRate": 1.5, "MaxDelaySeconds": 60, "JitterStrategy": "FULL", "Comment": "c"},
			{"ErrorEquals": ["States.ALL"]}]}`), nil, func(t *testing.T, w *model.Workflow) {
			r := state(t, w, "A").Retry
			eq(t, "retriers", len(r), 2)
			got := *r[0]
			got.Src = model.Src{}
			eq(t, "first", got, model.Retrier{Errors: []string{"States.Timeout", "Lambda.ServiceException"},
				Interval: 3 * time.Second, MaxAttempts: 5, BackoffRate: 1.5, MaxDelay: time.Minute, Jitter: model.JitterFull, Comment: "c"})
			got = *r[1]
			got.Src = model.Src{}
			eq(t, "defaults", got, model.Retrier{Errors: []string{model.ErrAll}, Interval: model.DefaultInterval,
				MaxAttempts: model.DefaultMaxAttempts, BackoffRate: model.DefaultBackoffRate, Jitter: model.JitterNone})
		}},
		{"catch", machine(`"A": {"Type": "Task", "Resource": "r", "End": true, "Catch": [
			{"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$.err", "Comment": "c", "Assign": {"e": 1}, "Output": {"o": 2}}]},
			"B": {"Type": "Fail", "Error": "E", "Cause": "C"}`), nil, func(t *testing.T, w *model.Workflow) {
			c := *state(t, w, "A").Catch[0]
			c.Src = model.Src{}
			eq(t, "catcher", c, model.Catcher{Errors: []string{model.ErrAll}, Next: "B", ResultPath: model.PathOf("$.err"),
				Comment: "c", Assign: map[string]any{"e": int64(1)}, Output: map[string]any{"o": int64(2)}})
			b := state(t, w, "B")
			eq(t, "Error", b.Error, "E")
			eq(t, "Cause", b.Cause, "C")
		}},
		{"choice", machine(`"A": {"Type": "Choice", "Default": "D", "Assign": {"v": 1}, "Choices": [
			{"Variable": "$.n", "NumericGreaterThanPath": "$.limit", "Next": "B", "Comment": "c", "Assign": {"a": true}},
			{"And": [{"Variable": "$.s", "StringMatches": "a*"}, {"Not": {"Variable": "$.b", "IsNull": true}}], "Next": "B"},
			{"Or": [{"Variable": "$.x", "BooleanEquals": false}, {"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:00Z"}], "Next": "B"}]},
			"B": {"Type": "Succeed"}, "D": {"Type": "Succeed"}`), nil, func(t *testing.T, w *model.Workflow) {
			a := state(t, w, "A")
			eq(t, "Default", a.Default, "D")
			eq[any](t, "Assign", a.Assign, map[string]any{"v": int64(1)})
			cs := a.Choices
			eq(t, "choices", len(cs), 3)
			eq(t, "Variable", cs[0].Variable, "$.n")
			eq(t, "Op", cs[0].Op, "NumericGreaterThanPath")
			eq[any](t, "Value", cs[0].Value, "$.limit")
			eq(t, "Next", cs[0].Next, "B")
			eq(t, "Comment", cs[0].Comment, "c")
			eq[any](t, "Assign", cs[0].Assign, map[string]any{"a": true})
			eq(t, "And", len(cs[1].And), 2)
			eq(t, "And[0].Op", cs[1].And[0].Op, "StringMatches")
			eq(t, "And[1].Not.Op", cs[1].And[1].Not.Op, "IsNull")
			eq[any](t, "And[1].Not.Value", cs[1].And[1].Not.Value, true)
			eq(t, "Or[1].Op", cs[2].Or[1].Op, "TimestampLessThan")
		}},
		{"jsonata choice", machine(`"A": {"Type": "Choice", "QueryLanguage": "JSONata", "Output": {"x": 1}, "Choices": [
			{"Condition": "{% $states.input.n > 1 %}", "Next": "B", "Output": "{% 1 %}"},
			{"Condition": true, "Next": "B"}]}, "B": {"Type": "Succeed"}`), nil, func(t *testing.T, w *model.Workflow) {
			cs := state(t, w, "A").Choices
			eq(t, "Condition", cs[0].Condition, "{% $states.input.n > 1 %}")
			eq[any](t, "Output", cs[0].Output, "{% 1 %}")
			eq(t, "constant Condition", cs[1].Condition, "{% true %}")
		}},
		{"every operator", func() string {
			var rules []string
			for _, op := range model.Operators {
				v := `"x"`
				switch {
				case strings.HasPrefix(op, "Is"), op == "BooleanEquals":
					v = "true"
				case strings.HasPrefix(op, "Numeric") && !strings.HasSuffix(op, "Path"):
					v = "1"
				}
				rules = append(rules, `{"Variable": "$.v", "`+op+`": `+v+`, "Next": "B"}`)
			}
			return machine(`"A": {"Type": "Choice", "Choices": [` + strings.Join(rules, ",") + `]}, "B": {"Type": "Succeed"}`)
		}(), nil, func(t *testing.T, w *model.Workflow) {
			var ops []string
			for _, c := range state(t, w, "A").Choices {
				ops = append(ops, c.Op)
			}
			eq(t, "operators", ops, model.Operators)
		}},
		{"parallel", machine(`"A": {"Type": "Parallel", "End": true, "ResultSelector": {"r.$": "$[0]"}, "ResultPath": "$.p",
			"Branches": [{"Comment": "one", "StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
			{"StartAt": "B2", "States": {"B2": {"Type": "Wait", "Seconds": 5, "End": true}}}]}`), nil,
			func(t *testing.T, w *model.Workflow) {
				a := state(t, w, "A")
				eq(t, "branches", len(a.Branches), 2)
				eq(t, "Comment", a.Branches[0].Comment, "one")
				eq(t, "StartAt", a.Branches[1].StartAt, "B2")
				eq[any](t, "Seconds", state(t, w, "B2").Seconds, int64(5))
				eq(t, "ResultPath", a.ResultPath, model.PathOf("$.p"))
			}},
		{"distributed map", machine(`"A": {"Type": "Map", "End": true, "ItemsPath": "$.items", "ItemSelector": {"v.$": "$$.Map.Item.Value"},
			"MaxConcurrency": 10, "Label": "L", "ToleratedFailurePercentage": 5, "ToleratedFailureCount": 2,
			"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}},
			"ItemBatcher": {"MaxItemsPerBatch": 10}, "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"},
			"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
			"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}`), nil, func(t *testing.T, w *model.Workflow) {
			a := state(t, w, "A")
			eq(t, "Processor.StartAt", a.Processor.StartAt, "P")
			eq(t, "ProcessorMode", a.ProcessorMode, "DISTRIBUTED")
			eq(t, "ExecutionType", a.ExecutionType, "EXPRESS")
			eq(t, "ItemsPath", a.ItemsPath, model.PathOf("$.items"))
			eq[any](t, "ItemSelector", a.ItemSelector, map[string]any{"v.$": "$$.Map.Item.Value"})
			eq(t, "MaxConcurrency", a.MaxConcurrency, 10)
			eq(t, "Label", a.Label, "L")
			eq[any](t, "ToleratedFailurePercentage", a.ToleratedFailurePercentage, int64(5))
			eq[any](t, "ToleratedFailureCount", a.ToleratedFailureCount, int64(2))
			eq[any](t, "ItemBatcher", a.ItemBatcher, map[string]any{"MaxItemsPerBatch": int64(10)})
			eq(t, "ItemReader set", a.ItemReader != nil && a.ResultWriter != nil, true)
			eq(t, "no functions", len(w.Functions), 0)
		}},
		{"legacy map", machine(`"A": {"Type": "Map", "End": true, "MaxConcurrencyPath": "$.mc", "Parameters": {"i.$": "$$.Map.Item.Index"},
			"Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}`), nil, func(t *testing.T, w *model.Workflow) {
			a := state(t, w, "A")
			eq(t, "Processor.StartAt", a.Processor.StartAt, "P")
			eq[any](t, "Parameters", a.Parameters, nil)
			eq[any](t, "ItemSelector", a.ItemSelector, map[string]any{"i.$": "$$.Map.Item.Index"})
			eq(t, "position", a.At("item_selector").Line, 1)
			eq(t, "MaxConcurrencyPath", a.MaxConcurrencyPath, "$.mc")
		}},
		{"jsonata map", machine(`"A": {"Type": "Map", "End": true, "QueryLanguage": "JSONata", "Items": "{% $states.input.xs %}",
			"MaxConcurrency": "{% $n %}", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}`), nil,
			func(t *testing.T, w *model.Workflow) {
				a := state(t, w, "A")
				eq[any](t, "Items", a.Items, "{% $states.input.xs %}")
				eq(t, "MaxConcurrencyExpr", a.MaxConcurrencyExpr, "{% $n %}")
			}},
		{"wait", machine(`"A": {"Type": "Wait", "Timestamp": "2024-01-01T00:00:00Z", "Next": "B"},
			"B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"}, "C": {"Type": "Wait", "TimestampPath": "$.t", "End": true}`), nil,
			func(t *testing.T, w *model.Workflow) {
				eq[any](t, "Timestamp", state(t, w, "A").Timestamp, "2024-01-01T00:00:00Z")
				eq(t, "SecondsPath", state(t, w, "B").SecondsPath, "$.s")
				eq(t, "TimestampPath", state(t, w, "C").TimestampPath, "$.t")
			}},
		{"pass", machine(`"A": {"Type": "Pass", "Result": {"x": [1, 2.5, "s", null]}, "ResultPath": "$.r", "Next": "B"},
			"B": {"Type": "Pass", "Result": null, "End": true}`), nil, func(t *testing.T, w *model.Workflow) {
			a, b := state(t, w, "A"), state(t, w, "B")
			eq(t, "HasResult", a.HasResult, true)
			eq[any](t, "Result", a.Result, map[string]any{"x": []any{int64(1), 2.5, "s", nil}})
			eq(t, "null HasResult", b.HasResult, true)
			eq[any](t, "null Result", b.Result, nil)
		}},
		{"fail paths", machine(`"A": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}`), nil, func(t *testing.T, w *model.Workflow) {
			eq(t, "ErrorPath", state(t, w, "A").ErrorPath, "$.e")
			eq(t, "CausePath", state(t, w, "A").CausePath, "$.c")
		}},
		{"positions under schema keys", "{\"StartAt\": \"A\",\n \"States\": {\n  \"A\": {\"Type\": \"Pass\",\n   \"Next\": \"A\"}}}", nil,
			func(t *testing.T, w *model.Workflow) {
				a := state(t, w, "A")
				eq(t, "name", a.At("name"), model.Pos{Line: 3, Col: 3})
				eq(t, "next", a.At("next"), model.Pos{Line: 4, Col: 12})
				eq(t, "type", a.At("type"), model.Pos{Line: 3, Col: 17})
			}},

		// Errors.
		{"not an object", `["StartAt"]`, []string{CodeNotASL}, nil},
		{"bad json", "{\"StartAt\": \"A\",\n \"States\": {\"A\": {\"Type\": \"Pass\" \"End\": true}}}", []string{CodeSyntax}, nil},
		{"no StartAt", `{"States": {"A": {"Type": "Succeed"}}}`, []string{CodeMissing}, nil},
		{"no Type", machine(`"A": {"End": true}`), []string{CodeUnknownType}, nil},
		{"unknown Type", machine(`"A": {"Type": "Taks", "Resource": "r", "End": true}`), []string{CodeUnknownType},
			func(t *testing.T, w *model.Workflow) { eq(t, "End kept", state(t, w, "A").End, true) }},
		{"state not an object", machine(`"A": "Pass"`), []string{CodeType}, nil},
		{"unknown fields", `{"StartAt": "A", "Extra": 1, "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Nxt": "B",
			"Retry": [{"ErrorEquals": ["E"], "Backoff": 2}], "Catch": [{"ErrorEquals": ["E"], "Next": "A", "X": 1}]},
			"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "P", "States": {}, "Mode": "INLINE", "ProcessorConfig": {"Modes": "X"}}},
			"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "Q", "States": {}, "ProcessorConfig": {}}]},
			"C": {"Type": "Choice", "Choices": [{"Variable": "$", "StringEquals": "x", "Next": "A", "Bogus": 1}]}}}`,
			[]string{CodeUnknownField, CodeUnknownField, CodeUnknownField, CodeUnknownField, CodeUnknownField, CodeUnknownField,
				CodeUnknownField, CodeUnknownField}, nil},
		{"wrong types", machine(`"A": {"Type": "Task", "Resource": 1, "Next": 2, "End": "yes", "TimeoutSeconds": "10",
			"InputPath": 3, "Retry": {}, "Catch": "x"}`), []string{CodeType, CodeType, CodeType, CodeType, CodeType, CodeType, CodeType}, nil},
		{"bad values", machine(`"A": {"Type": "Task", "Resource": "r", "End": true, "QueryLanguage": "XPath", "TimeoutSeconds": 0,
			"Retry": [{"ErrorEquals": [], "MaxAttempts": -1, "BackoffRate": 0.5, "JitterStrategy": "HALF", "IntervalSeconds": 1.5e300}]}`),
			[]string{CodeValue, CodeValue, CodeValue, CodeValue, CodeValue, CodeValue, CodeValue}, nil},
		{"conflicts", machine(`"A": {"Type": "Map", "End": true, "Parameters": {}, "ItemSelector": {},
			"Iterator": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}},
			"ItemProcessor": {"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}}}`), []string{CodeConflict, CodeConflict},
			func(t *testing.T, w *model.Workflow) {
				eq(t, "first processor kept", state(t, w, "A").Processor.StartAt, "P")
			}},
		{"bad rules", machine(`"A": {"Type": "Choice", "Choices": [
			{"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "B"},
			{"Next": "B"},
			{"Variable": "$.a", "Next": "B"},
			{"StringEquals": "x", "Next": "B"},
			{"Variable": "$.a", "IsNull": true},
			{"And": [], "Next": "B"},
			{"Condition": "{% true %}", "Not": {"Variable": "$", "IsNull": true}, "Next": "B"}]}, "B": {"Type": "Succeed"}`),
			[]string{CodeValue, CodeMissing, CodeMissing, CodeMissing, CodeMissing, CodeValue, CodeValue}, nil},
		{"empty strings", `{"StartAt": "A", "Version": "", "States": {"A": {"Type": "Choice", "Choices": [
			{"Condition": "", "Next": "A"}, {"Variable": "", "IsNull": true, "Next": "A"}, {"Variable": "$", "IsNull": true, "Next": ""}]}}}`,
			[]string{CodeValue, CodeValue, CodeMissing, CodeMissing}, nil},
		{"empty resource", machine(`"A": {"Type": "Task", "Resource": "", "End": true}`), []string{CodeValue},
			func(t *testing.T, w *model.Workflow) { eq(t, "functions", len(w.Functions), 0) }},
		{"bad catchers", machine(`"A": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"Next": "A"}, {"ErrorEquals": ["E", 1]}]}`),
			[]string{CodeMissing, CodeMissing, CodeType}, nil},
		{"branch without StartAt", machine(`"A": {"Type": "Parallel", "End": true, "Branches": [{"States": {"B": {"Type": "Succeed"}}}]}`),
			[]string{CodeMissing}, nil},

		// Warnings.
		{"not carried", machine(`"A": {"Type": "Map", "End": true, "ToleratedFailureCountPath": "$.c", "ToleratedFailurePercentagePath": "$.p",
			"Output": null, "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}},
			"B": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$", "IsNull": true, "Comment": "lost"}, "Next": "A"}]}`),
			[]string{CodeNotCarried}, func(t *testing.T, w *model.Workflow) {
				eq(t, "count path", state(t, w, "A").ToleratedFailureCountPath, "$.c")
				eq(t, "percentage path", state(t, w, "A").ToleratedFailurePercentagePath, "$.p")
				eq(t, "nested comment", state(t, w, "B").Choices[0].Not.Comment, "lost")
			}},
		{"placeholders", machine(`"A": {"Type": "Task", "Resource": "${ProcessFunctionArn}", "Next": "B",
			"Parameters": {"Url": "https://${Api}.example.com/${Stage}"}},
			"B": {"Type": "Task", "Resource": "arn:${AWS::Partition}:states:::sns:publish", "End": true}`),
			[]string{CodePlaceholder, CodePlaceholder, CodePlaceholder, CodePlaceholder}, func(t *testing.T, w *model.Workflow) {
				eq(t, "Action A", state(t, w, "A").Action, "process-function")
				eq(t, "URI", w.Function("process-function").URI, "${ProcessFunctionArn}")
				eq(t, "Action B", state(t, w, "B").Action, "sns-publish")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, fs := Import("m.asl.json", []byte(tt.src))
			if got := codes(fs); !slices.Equal(got, tt.codes) {
				t.Errorf("finding codes %v, want %v\n%v", got, tt.codes, fs)
			}
			for _, f := range fs {
				if f.File != "m.asl.json" || !f.Pos.IsValid() || f.Message == "" {
					t.Errorf("incomplete finding %#v", f)
				}
				if f.Code != CodeSyntax && f.Code != CodeNotASL && f.Pointer == "" && f.Code != CodeMissing {
					t.Errorf("finding without a pointer: %v", f)
				}
			}
			if tt.check != nil {
				if w == nil {
					t.Fatal("no workflow")
				}
				tt.check(t, w)
			}
		})
	}
}

func TestFindingDetails(t *testing.T) {
	src := "{\"StartAt\": \"a/b\",\n \"States\": {\n  \"a/b\": {\"Type\": \"Pass\", \"End\": true,\n   \"Reslt\": 1}}}"
	_, fs := Import("f.json", []byte(src))
	if len(fs) != 1 {
		t.Fatalf("findings %v", fs)
	}
	f := fs[0]
	want := model.Finding{File: "f.json", Pos: model.Pos{Line: 4, Col: 4}, Severity: model.SeverityError, Code: CodeUnknownField,
		Message: `state "a/b": unknown field "Reslt"; did you mean "Result"?`, Pointer: "/States/a~1b/Reslt"}
	eq(t, "finding", f, want)

	_, fs = Import("f.json", []byte("{\"StartAt\": \"A\",\n  \"States\": {,}}"))
	eq(t, "syntax position", fs[0].Pos, model.Pos{Line: 2, Col: 14})
}

func TestFunctionName(t *testing.T) {
	for res, want := range map[string]string{
		"arn:aws:lambda:us-east-1:123456789012:function:ProcessOrder":                                          "process-order",
		"arn:aws:lambda:us-east-1:123456789012:function:ProcessOrder:prod":                                     "process-order-prod",
		"arn:aws:states:::lambda:invoke":                                                                       "lambda-invoke",
		"arn:aws:states:::sns:publish.waitForTaskToken":                                                        "sns-publish-callback",
		"arn:aws:states:::aws-sdk:s3:listObjectsV2":                                                            "s3-list-objects-v2",
		"arn:aws:states:::states:startExecution.sync:2":                                                        "states-start-execution-sync-2",
		"arn:aws:states:us-east-1:123456789012:activity:ReviewOrder":                                           "review-order",
		"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:aws-sdk:transcribe:getTranscriptionJob": "transcribe-get-transcription-job",
		"${DDBUpdateItem}":                  "ddb-update-item",
		"${sellFnArn}":                      "sell-fn",
		"${Handler4FunctionArn}":            "handler4-function",
		"__tbd__":                           "tbd",
		"":                                  "function",
		"https://example.com/api/v1/charge": "example-com-api-v1-charge",
		"日本語:関数":                            "日本語-関数",
	} {
		if got := functionName(res); got != want {
			t.Errorf("functionName(%q) = %q, want %q", res, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	for src, want := range map[string]bool{
		`{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}`:                   true,
		`{"Comment": {"x": [1, {"y": 2}]}, "States": {"A": {}}, "StartAt": "A"}`:   true,
		"\n  {\"States\": {}, \"StartAt\": \"A\", \"broken\": }":                   true,
		"StartAt: A\nStates:\n  A:\n    Type: Succeed\n":                           true,
		`{"StartAt": "A", "States": []}`:                                           false,
		`{"StartAt": 1, "States": {}}`:                                             false,
		`{"States": {}}`:                                                           false,
		"version: \"1.0\"\nstart_at: A\nstates:\n  - name: A\n    type: succeed\n": false,
		`[1, 2]`:   false,
		``:         false,
		`{`:        false,
		"\x00\xff": false,
	} {
		if got := Detect([]byte(src)); got != want {
			t.Errorf("Detect(%q) = %v, want %v", src, got, want)
		}
	}
}

// corpusDir is the Step Functions corpus beside the repository.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "asl")

// TestCorpus imports every definition of the corpus: at least 95% of
// those that are valid JSON must import without an error finding, and
// every finding must name its place.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no ASL corpus at %s (it lives beside the repository, in ../shared/corpus/asl)", corpusDir)
	}
	valid, clean := 0, 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if !Detect(src) {
			t.Errorf("%s: not detected as ASL", name)
		}
		w, fs := Import(name, src)
		if !json.Valid(src) {
			if fs.Errors() == 0 {
				t.Errorf("%s: invalid JSON imported without an error", name)
			}
			continue
		}
		valid++
		if w == nil {
			t.Errorf("%s: valid JSON gave no workflow: %v", name, fs)
			continue
		}
		if fs.Errors() == 0 {
			clean++
		}
		for _, f := range fs {
			if !f.Pos.IsValid() || f.Pointer == "" && f.Code != CodeMissing {
				t.Errorf("%s: finding without a place: %#v", name, f)
			}
		}
	}
	t.Logf("%d files, %d valid JSON, %d import without error (%.1f%%)", len(files), valid, clean, 100*float64(clean)/float64(valid))
	if clean*100 < valid*95 {
		t.Errorf("%d of %d valid files import without error; want at least 95%%", clean, valid)
	}
}

func FuzzImport(f *testing.F) {
	for _, s := range []string{
		machine(`"A": {"Type": "Task", "Resource": "${F}", "Retry": [{"ErrorEquals": ["States.ALL"]}], "Next": "B"}, "B": {"Type": "Succeed"}`),
		machine(`"A": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.a", "IsNull": true}], "Next": "A"}]}`),
		machine(`"A": {"Type": "Map", "Parameters": {}, "Iterator": {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}, "End": true}`),
		machine(`"A": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "End": true}}}], "End": true}`),
		"StartAt: A\nStates:\n  A: {Type: Pass, End: true}\n",
		`{"StartAt": "A", "States": {"A": {"Type": "Pass" "End": true}}}`,
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	for i, file := range files {
		if i%20 == 0 {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		Detect(src)
		w, fs := Import("fuzz.json", src)
		for _, f := range fs {
			if f.File != "fuzz.json" || f.Message == "" || f.Code == "" {
				t.Fatalf("incomplete finding %#v", f)
			}
		}
		if w == nil {
			if fs.Errors() == 0 {
				t.Fatal("no workflow and no error")
			}
			return
		}
		if fs.Errors() > 0 {
			return
		}
		// A workflow imported without error is written out as a nexus file
		// that reads back to the same workflow: formatting that again gives
		// the same text.
		out, err := model.Format(w)
		if err != nil {
			if !strings.Contains(err.Error(), "cannot write the key") {
				t.Fatalf("Format: %v", err)
			}
			return
		}
		back, fs := model.Parse("fuzz.yaml", out)
		if fs.Errors() > 0 {
			t.Fatalf("Parse(Format(Import)):\n%v\n%s", fs, out)
		}
		if again, err := model.Format(back); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Format(Parse(Format(Import))) differs (%v):\n%s\n---\n%s", err, out, again)
		}
	})
}
