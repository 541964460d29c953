package dataflow

import (
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

func js(t testing.TB, text string) any {
	t.Helper()
	v, err := expr.ParseJSON(text)
	if err != nil {
		t.Fatalf("bad test JSON %q: %v", text, err)
	}
	return v
}

func testEnv(t testing.TB) *expr.Env {
	return &expr.Env{
		Context: ContextObject(ContextInfo{ExecutionName: "exec", StateName: "S", StateMachineName: "sm",
			ExecutionInput: js(t, `{"orig": true}`), StartTime: time.Unix(0, 0)}),
		Vars: map[string]any{"x": int64(42), "name": "Ada"},
		Now:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Seed: 1,
	}
}

// errIs checks that err is an *expr.Error named name whose cause contains
// cause.
func errIs(t *testing.T, what string, err error, name, cause string) {
	t.Helper()
	e, ok := err.(*expr.Error)
	if !ok || e.Name != name || !strings.Contains(e.Cause, cause) {
		t.Errorf("%s: error %v, want %s containing %q", what, err, name, cause)
	}
}

func TestInput(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"a": {"b": 1}, "c": 2}`)
	tests := []struct {
		st   *model.State
		ql   string
		want string
	}{
		{&model.State{Kind: model.KindTask}, model.JSONPath, `{"a": {"b": 1}, "c": 2}`},
		{&model.State{Kind: model.KindTask, InputPath: model.PathOf("$.a")}, model.JSONPath, `{"b": 1}`},
		{&model.State{Kind: model.KindTask, InputPath: model.NullPath()}, model.JSONPath, `{}`},
		{&model.State{Kind: model.KindTask, InputPath: model.PathOf("$.a"),
			Parameters: js(t, `{"v.$": "$.b", "k": "lit", "x.$": "$x", "n.$": "$$.Execution.Name"}`)}, model.JSONPath,
			`{"v": 1, "k": "lit", "x": 42, "n": "exec"}`},
		{&model.State{Kind: model.KindTask, Arguments: js(t, `{"v": "{% $states.input.c + $x %}"}`)}, model.JSONata, `{"v": 44}`},
		{&model.State{Kind: model.KindTask}, model.JSONata, `{"a": {"b": 1}, "c": 2}`},
	}
	for i, tt := range tests {
		got, err := Input(tt.st, tt.ql, raw, env)
		if err != nil || !expr.Equal(got, js(t, tt.want)) {
			t.Errorf("%d: Input = %s, %v; want %s", i, expr.JSON(got), err, tt.want)
		}
	}
	_, err := Input(&model.State{Parameters: js(t, `{"x.$": "$.nope"}`)}, model.JSONPath, raw, env)
	errIs(t, "missing parameter path", err, expr.ErrRuntime, "specified for the field 'x.$' could not be found")
}

func TestResultJSONPath(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"in": 1}`)
	result := js(t, `{"Payload": {"v": 7}, "Meta": 0}`)
	tests := []struct {
		name     string
		st       *model.State
		want     string
		assigned string
	}{
		{"task default", &model.State{Kind: model.KindTask}, `{"Payload": {"v": 7}, "Meta": 0}`, `null`},
		{"task selector+path", &model.State{Kind: model.KindTask, ResultSelector: js(t, `{"v.$": "$.Payload.v"}`),
			ResultPath: model.PathOf("$.r")}, `{"in": 1, "r": {"v": 7}}`, `null`},
		{"task result null", &model.State{Kind: model.KindTask, ResultPath: model.NullPath()}, `{"in": 1}`, `null`},
		{"task output path", &model.State{Kind: model.KindTask, ResultPath: model.PathOf("$.r"), OutputPath: model.PathOf("$.r.Meta")}, `0`, `null`},
		{"task output null", &model.State{Kind: model.KindTask, OutputPath: model.NullPath()}, `{}`, `null`},
		{"task assign sees the raw result and old vars", &model.State{Kind: model.KindTask,
			ResultSelector: js(t, `{"only.$": "$.Meta"}`), Assign: js(t, `{"p.$": "$.Payload", "old.$": "$x", "x": 1}`)},
			`{"only": 0}`, `{"p": {"v": 7}, "old": 42, "x": 1}`},
		{"pass result", &model.State{Kind: model.KindPass, Result: js(t, `{"r": 1}`), HasResult: true, ResultPath: model.PathOf("$.res")},
			`{"in": 1, "res": {"r": 1}}`, `null`},
		{"pass falsy result", &model.State{Kind: model.KindPass, Result: int64(0), HasResult: true, ResultPath: model.PathOf("$.i")},
			`{"in": 1, "i": 0}`, `null`},
		{"pass false result", &model.State{Kind: model.KindPass, Result: false, HasResult: true}, `false`, `null`},
		{"pass literal .$", &model.State{Kind: model.KindPass, Result: js(t, `{"k.$": "ConditionTrue"}`), HasResult: true},
			`{"k.$": "ConditionTrue"}`, `null`},
		{"pass parameters", &model.State{Kind: model.KindPass, Parameters: js(t, `{"v.$": "$.in"}`), Assign: js(t, `{"a.$": "$.v"}`)},
			`{"v": 1}`, `{"a": 1}`},
		{"pass input path", &model.State{Kind: model.KindPass, InputPath: model.PathOf("$x"), ResultPath: model.PathOf("$.answer")},
			`{"in": 1, "answer": 42}`, `null`},
		{"wait", &model.State{Kind: model.KindWait, Assign: js(t, `{"seen.$": "$.in"}`)}, `{"in": 1}`, `{"seen": 1}`},
		{"succeed output path", &model.State{Kind: model.KindSucceed, OutputPath: model.PathOf("$.in")}, `1`, `null`},
	}
	for _, tt := range tests {
		out, assigned, err := Result(tt.st, model.JSONPath, raw, result, env)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !expr.Equal(out, js(t, tt.want)) {
			t.Errorf("%s: output %s, want %s", tt.name, expr.JSON(out), tt.want)
		}
		var a any
		if assigned != nil {
			a = assigned
		}
		if !expr.Equal(a, js(t, tt.assigned)) {
			t.Errorf("%s: assigned %s, want %s", tt.name, expr.JSON(assigned), tt.assigned)
		}
	}
	if !expr.Equal(raw, js(t, `{"in": 1}`)) {
		t.Errorf("Result modified the raw input: %s", expr.JSON(raw))
	}
	_, _, err := Result(&model.State{Kind: model.KindPass, ResultPath: model.PathOf("$.x")}, model.JSONPath, js(t, `[1]`), nil, env)
	errIs(t, "result path on an array", err, expr.ErrResultPathMatchFailure, "$.x")
	_, _, err = Result(&model.State{Kind: model.KindPass, OutputPath: model.PathOf("$.missing")}, model.JSONPath, raw, nil, env)
	errIs(t, "output path", err, expr.ErrRuntime, "Invalid path '$.missing' : No results for path: $['missing']")
	big := &model.State{Name: "Big", Kind: model.KindPass, Result: strings.Repeat("a", MaxPayloadBytes), HasResult: true}
	_, _, err = Result(big, model.JSONPath, raw, nil, env)
	errIs(t, "size", err, expr.ErrDataLimitExceeded, "The state/task 'Big' returned a result with a size exceeding")
}

func TestResultJSONata(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"in": 1}`)
	result := js(t, `{"v": 7}`)
	tests := []struct {
		name     string
		st       *model.State
		want     string
		assigned string
	}{
		{"task default output is the result", &model.State{Kind: model.KindTask}, `{"v": 7}`, `null`},
		{"task output", &model.State{Kind: model.KindTask, Output: js(t, `{"sum": "{% $states.result.v + $states.input.in %}", "k": "lit"}`)},
			`{"sum": 8, "k": "lit"}`, `null`},
		{"assign and output see the old variables", &model.State{Kind: model.KindTask,
			Assign: js(t, `{"x": "{% $x + 1 %}", "r": "{% $states.result %}"}`), Output: "{% $x %}"}, `42`, `{"x": 43, "r": {"v": 7}}`},
		{"pass keeps its input", &model.State{Kind: model.KindPass}, `{"in": 1}`, `null`},
		{"pass output", &model.State{Kind: model.KindPass, Output: "{% $states.input.in * 10 %}"}, `10`, `null`},
		{"wait keeps its input", &model.State{Kind: model.KindWait, Assign: js(t, `{"w": "{% $states.context.State.Name %}"}`)}, `{"in": 1}`, `{"w": "S"}`},
	}
	for _, tt := range tests {
		out, assigned, err := Result(tt.st, model.JSONata, raw, result, env)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var a any
		if assigned != nil {
			a = assigned
		}
		if !expr.Equal(out, js(t, tt.want)) || !expr.Equal(a, js(t, tt.assigned)) {
			t.Errorf("%s: output %s assigned %s, want %s and %s", tt.name, expr.JSON(out), expr.JSON(assigned), tt.want, tt.assigned)
		}
	}
	_, _, err := Result(&model.State{Kind: model.KindPass, Assign: js(t, `{"result": "{% $doesNotExist %}"}`)}, model.JSONata, raw, nil, env)
	errIs(t, "undefined", err, expr.ErrQueryEvaluation,
		"The JSONata expression '$doesNotExist' specified for the field 'Assign/result' returned nothing (undefined).")
}

func TestChoose(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"a": 2, "b": "x", "n": null, "t": "2024-01-01T00:00:00Z", "limit": 3}`)
	rule := func(variable, op string, value any) model.Rule {
		return model.Rule{Variable: variable, Op: op, Value: value}
	}
	tests := []struct {
		name   string
		rules  []model.Rule
		branch int
	}{
		{"first match wins", []model.Rule{rule("$.a", "NumericGreaterThan", int64(0)), rule("$.a", "NumericGreaterThan", int64(1))}, 0},
		{"type mismatch is false", []model.Rule{rule("$.b", "NumericEquals", int64(1))}, -1},
		{"and", []model.Rule{{And: []*model.Rule{{Variable: "$.a", Op: "NumericEquals", Value: int64(2)}, {Variable: "$.b", Op: "StringEquals", Value: "x"}}}}, 0},
		{"or", []model.Rule{{Or: []*model.Rule{{Variable: "$.a", Op: "NumericEquals", Value: int64(9)}, {Variable: "$.n", Op: "IsNull", Value: true}}}}, 0},
		{"not", []model.Rule{{Not: &model.Rule{Variable: "$.zz", Op: "IsPresent", Value: true}}}, 0},
		{"path operand", []model.Rule{rule("$.a", "NumericLessThanPath", "$.limit")}, 0},
		{"variable operand", []model.Rule{rule("$x", "NumericEquals", int64(42))}, 0},
		{"timestamp", []model.Rule{rule("$.t", "TimestampGreaterThan", "2023-12-31T23:59:59Z")}, 0},
		{"cel", []model.Rule{{Condition: `input.a == 2 && vars.x == 42 && context.State.Name == "S"`}}, 0},
		{"cel false", []model.Rule{{Condition: `input.b == "y"`}}, -1},
		{"jsonata in a JSONPath state", []model.Rule{{Condition: `{% $states.input.a = 2 %}`}}, 0},
	}
	for _, tt := range tests {
		st := &model.State{Name: "C", Kind: model.KindChoice, Default: "D"}
		for i := range tt.rules {
			st.Choices = append(st.Choices, &model.Choice{Rule: tt.rules[i], Next: "N"})
		}
		branch, out, _, err := Choose(st, model.JSONPath, raw, env)
		if err != nil || branch != tt.branch || !expr.Equal(out, raw) {
			t.Errorf("%s: branch %d, output %s, %v; want %d", tt.name, branch, expr.JSON(out), err, tt.branch)
		}
	}

	// Assign: the matched rule's, or the state's on Default; OutputPath.
	st := &model.State{Name: "C", Kind: model.KindChoice, Default: "D", Assign: js(t, `{"status": "default", "g.$": "$.a"}`),
		OutputPath: model.PathOf("$.b"), Choices: []*model.Choice{
			{Rule: rule("$.zz", "IsPresent", false), Next: "N", Assign: js(t, `{"status": "missing"}`)}}}
	_, out, assigned, err := Choose(st, model.JSONPath, raw, env)
	if err != nil || out != "x" || !expr.Equal(assigned, js(t, `{"status": "missing"}`)) {
		t.Errorf("rule assign: %v %v %v", out, assigned, err)
	}
	st.Choices[0].Rule = rule("$.a", "IsPresent", false)
	_, _, assigned, err = Choose(st, model.JSONPath, raw, env)
	if err != nil || !expr.Equal(assigned, js(t, `{"status": "default", "g": 2}`)) {
		t.Errorf("default assign: %v %v", assigned, err)
	}

	// No match without Default.
	st.Default = ""
	_, _, _, err = Choose(st, model.JSONPath, raw, env)
	errIs(t, "no match", err, expr.ErrNoChoiceMatched, "No Choice rule")

	// A comparison on a missing variable fails.
	st = &model.State{Kind: model.KindChoice, Default: "D", Choices: []*model.Choice{{Rule: rule("$.zz", "StringEquals", "x"), Next: "N"}}}
	_, _, _, err = Choose(st, model.JSONPath, raw, env)
	errIs(t, "missing variable", err, expr.ErrRuntime, "Invalid path '$.zz': The choice state's condition path references an invalid value.")

	// JSONata: the rule's Output, the state's Output on Default.
	st = &model.State{Kind: model.KindChoice, Default: "D", Output: "{% 'default' %}", Choices: []*model.Choice{
		{Rule: model.Rule{Condition: "{% $states.input.a > 1 %}"}, Next: "N", Output: "{% $states.input.b %}", Assign: js(t, `{"y": "{% $x %}"}`)},
		{Rule: model.Rule{Condition: "{% $states.input.a > 100 %}"}, Next: "M"},
	}}
	branch, out, assigned, err := Choose(st, model.JSONata, raw, env)
	if err != nil || branch != 0 || out != "x" || !expr.Equal(assigned, js(t, `{"y": 42}`)) {
		t.Errorf("jsonata rule: %d %v %v %v", branch, out, assigned, err)
	}
	st.Choices = st.Choices[1:]
	branch, out, _, err = Choose(st, model.JSONata, raw, env)
	if err != nil || branch != -1 || out != "default" {
		t.Errorf("jsonata default: %d %v %v", branch, out, err)
	}
	st.Choices = []*model.Choice{{Rule: model.Rule{Condition: "{% $states.input.b %}"}, Next: "N"}}
	_, _, _, err = Choose(st, model.JSONata, raw, env)
	errIs(t, "non-boolean condition", err, expr.ErrQueryEvaluation, "Expected 'boolean', but was 'string'")
}

func TestCatch(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"in": 1}`)
	st := &model.State{Kind: model.KindTask}
	tests := []struct {
		c        *model.Catcher
		ql       string
		want     string
		assigned string
	}{
		{&model.Catcher{}, model.JSONPath, `{"Error": "E", "Cause": "C"}`, `null`},
		{&model.Catcher{ResultPath: model.PathOf("$.err")}, model.JSONPath, `{"in": 1, "err": {"Error": "E", "Cause": "C"}}`, `null`},
		{&model.Catcher{ResultPath: model.NullPath(), Assign: js(t, `{"e.$": "$.Error"}`)}, model.JSONPath, `{"in": 1}`, `{"e": "E"}`},
		{&model.Catcher{}, model.JSONata, `{"Error": "E", "Cause": "C"}`, `null`},
		{&model.Catcher{Output: js(t, `{"why": "{% $states.errorOutput.Cause %}", "in": "{% $states.input.in %}"}`),
			Assign: js(t, `{"last": "{% $states.errorOutput.Error %}"}`)}, model.JSONata, `{"why": "C", "in": 1}`, `{"last": "E"}`},
	}
	for i, tt := range tests {
		out, assigned, err := Catch(st, tt.c, tt.ql, raw, "E", "C", env)
		var a any
		if assigned != nil {
			a = assigned
		}
		if err != nil || !expr.Equal(out, js(t, tt.want)) || !expr.Equal(a, js(t, tt.assigned)) {
			t.Errorf("%d: %s %s %v; want %s %s", i, expr.JSON(out), expr.JSON(assigned), err, tt.want, tt.assigned)
		}
	}
}

func TestFail(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"Error": "error string", "Cause": "cause string", "n": 1}`)
	s := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	tests := []struct {
		st          *model.State
		ql          string
		name, cause string
	}{
		{&model.State{Kind: model.KindFail}, model.JSONPath, "<nil>", "<nil>"},
		{&model.State{Kind: model.KindFail, Error: "E", Cause: "C"}, model.JSONPath, "E", "C"},
		{&model.State{Kind: model.KindFail, Error: "E"}, model.JSONPath, "E", "<nil>"},
		{&model.State{Kind: model.KindFail, ErrorPath: "$.Error", CausePath: "$.Cause"}, model.JSONPath, "error string", "cause string"},
		{&model.State{Kind: model.KindFail, ErrorPath: "$name",
			CausePath: "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)"}, model.JSONPath,
			"Ada", "This is a custom error message for error string, caused by cause string."},
		{&model.State{Kind: model.KindFail, Cause: "{% $states.input.Cause %}"}, model.JSONata, "<nil>", "cause string"},
		{&model.State{Kind: model.KindFail, Error: "{% 'E' & $x %}", Cause: "plain"}, model.JSONata, "E42", "plain"},
	}
	for i, tt := range tests {
		name, cause, err := Fail(tt.st, tt.ql, raw, env)
		if err != nil || s(name) != tt.name || s(cause) != tt.cause {
			t.Errorf("%d: %s / %s / %v; want %s / %s", i, s(name), s(cause), err, tt.name, tt.cause)
		}
	}
	_, _, err := Fail(&model.State{Kind: model.KindFail, ErrorPath: "$.ErrorX"}, model.JSONPath, raw, env)
	errIs(t, "missing error path", err, expr.ErrRuntime, "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input")
	_, _, err = Fail(&model.State{Kind: model.KindFail, CausePath: "$.n"}, model.JSONPath, raw, env)
	errIs(t, "non-string cause", err, expr.ErrRuntime, "must be a string")
}

func TestWait(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"s": 5, "neg": -1, "frac": -1.5, "ts": "2026-11-22T04:24:33Z", "bad": "2016-13-05T21:29:29Z", "far": "2094-12-11T04:24:33.000Z"}`)
	ts, _ := time.Parse(time.RFC3339, "2026-11-22T04:24:33Z")
	tests := []struct {
		st    *model.State
		ql    string
		after time.Duration
		until time.Time
	}{
		{&model.State{Kind: model.KindWait, Seconds: int64(10)}, model.JSONPath, 10 * time.Second, time.Time{}},
		{&model.State{Kind: model.KindWait, SecondsPath: "$.s"}, model.JSONPath, 5 * time.Second, time.Time{}},
		{&model.State{Kind: model.KindWait, Timestamp: "2026-11-22T04:24:33Z"}, model.JSONPath, 0, ts},
		{&model.State{Kind: model.KindWait, TimestampPath: "$.ts"}, model.JSONPath, 0, ts},
		{&model.State{Kind: model.KindWait, Seconds: "{% $states.input.s * 2 %}"}, model.JSONata, 10 * time.Second, time.Time{}},
		{&model.State{Kind: model.KindWait, Timestamp: "{% $states.input.ts %}"}, model.JSONata, 0, ts},
	}
	for i, tt := range tests {
		after, until, err := Wait(tt.st, tt.ql, raw, env)
		if err != nil || after != tt.after || !until.Equal(tt.until) {
			t.Errorf("%d: Wait = %v, %v, %v; want %v, %v", i, after, until, err, tt.after, tt.until)
		}
	}
	errs := []struct {
		st          *model.State
		ql          string
		name, cause string
	}{
		{&model.State{Kind: model.KindWait, SecondsPath: "$.frac"}, model.JSONPath, expr.ErrRuntime,
			"The SecondsPath parameter cannot be parsed as a long value: $.frac == -1.5"},
		{&model.State{Kind: model.KindWait, SecondsPath: "$.neg"}, model.JSONPath, expr.ErrRuntime, "references a negative value"},
		{&model.State{Kind: model.KindWait, SecondsPath: "$.none"}, model.JSONPath, expr.ErrRuntime, "does not reference an input value"},
		{&model.State{Kind: model.KindWait, TimestampPath: "$.bad"}, model.JSONPath, expr.ErrRuntime,
			"The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.bad == 2016-13-05T21:29:29Z"},
		{&model.State{Kind: model.KindWait, TimestampPath: "$.far"}, model.JSONPath, expr.ErrRuntime, "Wait state delay is too long."},
		{&model.State{Kind: model.KindWait, Timestamp: "{% $states.input.bad %}"}, model.JSONata, expr.ErrQueryEvaluation,
			"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 2016-13-05T21:29:29Z"},
		{&model.State{Kind: model.KindWait, Seconds: "{% $states.input.frac %}"}, model.JSONata, expr.ErrQueryEvaluation,
			"The JSONata expression '$states.input.frac' specified for the field 'Seconds' returned an unexpected result type. Expected 'integer', but was 'number' for value: -1.5"},
		{&model.State{Kind: model.KindWait, Seconds: "{% $states.input.neg %}"}, model.JSONata, expr.ErrQueryEvaluation, "out of range"},
		{&model.State{Kind: model.KindWait, Timestamp: "{% $states.input.s %}"}, model.JSONata, expr.ErrQueryEvaluation, "Expected 'string'"},
	}
	for _, tt := range errs {
		_, _, err := Wait(tt.st, tt.ql, raw, env)
		errIs(t, tt.cause, err, tt.name, tt.cause)
	}
}

func TestMapItems(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"detail": {"partner": "UQS", "shipped": ["A", "B"]}, "mc": "2", "bad": {}}`)
	st := &model.State{Kind: model.KindMap, InputPath: model.PathOf("$.detail"), ItemsPath: model.PathOf("$.shipped"),
		ItemSelector:       js(t, `{"orig.$": "$", "v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "p.$": "$.partner", "k": 1}`),
		MaxConcurrencyPath: "$.mc"}
	items, mc, err := MapItems(st, model.JSONPath, raw, env)
	want := js(t, `[{"orig": {"partner": "UQS", "shipped": ["A", "B"]}, "v": "A", "i": 0, "p": "UQS", "k": 1},
		{"orig": {"partner": "UQS", "shipped": ["A", "B"]}, "v": "B", "i": 1, "p": "UQS", "k": 1}]`)
	if err != nil || mc != 2 || !expr.Equal(items, want) {
		t.Errorf("MapItems = %s, %d, %v", expr.JSON(items), mc, err)
	}
	if _, ok := env.Context.(map[string]any)["Map"]; ok {
		t.Error("MapItems modified the Context Object")
	}
	legacy := &model.State{Kind: model.KindMap, Parameters: js(t, `{"v.$": "$$.Map.Item.Value"}`), MaxConcurrency: 1}
	items, mc, err = MapItems(legacy, model.JSONPath, js(t, `[1, 2]`), env)
	if err != nil || mc != 1 || !expr.Equal(items, js(t, `[{"v": 1}, {"v": 2}]`)) {
		t.Errorf("legacy Parameters: %s %d %v", expr.JSON(items), mc, err)
	}
	jst := &model.State{Kind: model.KindMap, Items: "{% $states.input.detail.shipped %}",
		ItemSelector: js(t, `{"v": "{% $states.context.Map.Item.Value %}", "x": "{% $x %}"}`), MaxConcurrencyExpr: "{% 3 %}"}
	items, mc, err = MapItems(jst, model.JSONata, raw, env)
	if err != nil || mc != 3 || !expr.Equal(items, js(t, `[{"v": "A", "x": 42}, {"v": "B", "x": 42}]`)) {
		t.Errorf("JSONata: %s %d %v", expr.JSON(items), mc, err)
	}
	items, _, err = MapItems(&model.State{Kind: model.KindMap, Items: js(t, `[1, "{% $x %}", 3]`)}, model.JSONata, raw, env)
	if err != nil || !expr.Equal(items, js(t, `[1, 42, 3]`)) {
		t.Errorf("JSONata literal items: %s %v", expr.JSON(items), err)
	}

	_, _, err = MapItems(&model.State{Kind: model.KindMap}, model.JSONPath, js(t, `{"foo": "bar"}`), env)
	errIs(t, "not an array", err, expr.ErrQueryEvaluation, `Map state input must be an array but was: {"foo":"bar"}`)
	_, _, err = MapItems(&model.State{Kind: model.KindMap, Items: "{% 'string' %}"}, model.JSONata, raw, env)
	errIs(t, "items type", err, expr.ErrQueryEvaluation,
		`The JSONata expression ''string'' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'string' for value: "string"`)
	_, _, err = MapItems(&model.State{Kind: model.KindMap, MaxConcurrencyPath: "$.bad"}, model.JSONPath, raw, env)
	errIs(t, "max concurrency", err, expr.ErrRuntime, `The MaxConcurrencyPath field refers to value "{}" which is not a valid integer: $.bad`)
}

func TestLimitsAndIdempotency(t *testing.T) {
	env := testEnv(t)
	raw := js(t, `{"t": 30, "h": "x", "order": {"id": "o-7"}}`)
	to, hb, err := Limits(&model.State{Timeout: time.Minute, HeartbeatPath: "$.t"}, model.JSONPath, raw, env)
	if err != nil || to != time.Minute || hb != 30*time.Second {
		t.Errorf("Limits = %v %v %v", to, hb, err)
	}
	to, _, err = Limits(&model.State{TimeoutExpr: "{% $states.input.t * 2 %}"}, model.JSONata, raw, env)
	if err != nil || to != time.Minute {
		t.Errorf("JSONata timeout = %v %v", to, err)
	}
	_, _, err = Limits(&model.State{HeartbeatPath: "$.h"}, model.JSONPath, raw, env)
	errIs(t, "bad heartbeat", err, expr.ErrRuntime, "positive integer")

	key, err := IdempotencyKey(&model.State{Idempotency: `input.order.id + "-" + string(vars.x)`}, raw, env)
	if err != nil || key != "o-7-42" {
		t.Errorf("IdempotencyKey = %q, %v", key, err)
	}
	key, err = IdempotencyKey(&model.State{Idempotency: `input.order`}, raw, &expr.Env{CEL: &expr.CELCache{}})
	if err != nil || key != `{"id":"o-7"}` {
		t.Errorf("IdempotencyKey of an object = %q, %v", key, err)
	}
	if key, err := IdempotencyKey(&model.State{}, raw, env); key != "" || err != nil {
		t.Errorf("unset key = %q, %v", key, err)
	}
}

func TestContextObject(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))
	c := ContextObject(ContextInfo{ExecutionID: "arn:e", ExecutionName: "e", ExecutionInput: js(t, `{"a": 1}`), StartTime: start,
		RoleArn: "arn:r", StateMachineID: "arn:sm", StateMachineName: "sm", StateName: "S", EnteredTime: start,
		RetryCount: 2, HasRetryCount: true, TaskToken: "tok"})
	want := js(t, `{"Execution": {"Id": "arn:e", "Input": {"a": 1}, "Name": "e", "RoleArn": "arn:r",
		"StartTime": "2024-01-02T02:04:05.006Z", "RedriveCount": 0}, "StateMachine": {"Id": "arn:sm", "Name": "sm"},
		"State": {"Name": "S", "EnteredTime": "2024-01-02T02:04:05.006Z", "RetryCount": 2}, "Task": {"Token": "tok"}}`)
	if !expr.Equal(c, want) {
		t.Errorf("ContextObject = %s", expr.JSON(c))
	}
	c = ContextObject(ContextInfo{NoRedriveCount: true})
	if _, ok := c["Execution"].(map[string]any)["RedriveCount"]; ok {
		t.Error("NoRedriveCount")
	}
	m := WithMapItem(c, 3, "v")
	if !expr.Equal(m["Map"], js(t, `{"Item": {"Index": 3, "Value": "v"}}`)) || c["Map"] != nil {
		t.Errorf("WithMapItem = %s", expr.JSON(m))
	}
}
