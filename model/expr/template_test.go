package expr

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestTemplate(t *testing.T) {
	input := mustJSON(t, `{"a": 1, "b": {"c": [1, 2]}, "s": "x"}`)
	env := &Env{Context: mustJSON(t, `{"Map": {"Item": {"Value": "v", "Index": 3}}}`), Vars: map[string]any{"var": "V"}}
	tests := []struct{ tpl, want string }{
		{`{"k": "lit", "p.$": "$.a"}`, `{"k": "lit", "p": 1}`},
		{`{"nested": {"x.$": "$.b.c[1]", "y": [{"z.$": "$.s"}, "$.s"]}}`, `{"nested": {"x": 2, "y": [{"z": "x"}, "$.s"]}}`},
		{`{"ctx.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "v.$": "$var"}`, `{"ctx": "v", "i": 3, "v": "V"}`},
		{`{"f.$": "States.Format('{}-{}', $.s, $var)"}`, `{"f": "x-V"}`},
		{`{"all.$": "$"}`, `{"all": {"a": 1, "b": {"c": [1, 2]}, "s": "x"}}`},
		{`{"none.$": "$.b.c[5:]"}`, `{"none": []}`},
		{`"plain"`, `"plain"`},
		{`[{"a.$": "$.a"}]`, `[{"a": 1}]`},
		{`{"x": 1, "x.$": "$.a"}`, `{"x": 1}`},
	}
	for _, tt := range tests {
		got, err := Template(mustJSON(t, tt.tpl), input, env)
		if err != nil {
			t.Errorf("Template(%s): %v", tt.tpl, err)
			continue
		}
		if !Equal(got, mustJSON(t, tt.want)) {
			t.Errorf("Template(%s) = %s, want %s", tt.tpl, JSON(got), tt.want)
		}
	}
	_, err := Template(mustJSON(t, `{"value.$": "$$.Execution.Input.no_such_jsonpath"}`), input, &Env{Context: map[string]any{}})
	if e, ok := err.(*Error); !ok || e.Name != ErrRuntime || e.Cause !=
		`The JSONPath '$$.Execution.Input.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{"a":1,"b":{"c":[1,2]},"s":"x"}'` {
		t.Errorf("missing path: %v", err)
	}
	if _, err := Template(mustJSON(t, `{"x.$": 5}`), input, nil); err == nil {
		t.Error("a non-string \".$\" value must fail")
	}
}

func TestPathOrIntrinsic(t *testing.T) {
	input := mustJSON(t, `{"Error": "E", "Cause": "C"}`)
	v, err := PathOrIntrinsic("States.Format('custom {} / {}', $.Error, $.Cause)", "CausePath", input, nil)
	if err != nil || v != "custom E / C" {
		t.Errorf("intrinsic: %v, %v", v, err)
	}
	_, err = PathOrIntrinsic("$.ErrorX", "ErrorPath", input, nil)
	if err == nil || !strings.Contains(err.Error(), "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input") {
		t.Errorf("missing: %v", err)
	}
}

func TestCheckTemplate(t *testing.T) {
	tests := []struct{ tpl, ptr string }{
		{`{"a": 1, "b.$": "$.x", "c": [{"d.$": "States.UUID()"}]}`, ""},
		{`{"a": {"b.$": "x"}}`, "/a/b.$"},
		{`{"a": [1, {"b.$": 3}]}`, "/a/1/b.$"},
		{`{"a/b": {"c~d.$": "States.Nope()"}}`, "/a~1b/c~0d.$"},
		{`{"x": 1, "x.$": "$.a"}`, "/x.$"},
		{`"$.a"`, ""},
	}
	for _, tt := range tests {
		ptr, err := CheckTemplate(mustJSON(t, tt.tpl))
		if ptr != tt.ptr || (err == nil) != (tt.ptr == "") {
			t.Errorf("CheckTemplate(%s) = %q, %v; want pointer %q", tt.tpl, ptr, err, tt.ptr)
		}
	}
}

func TestSetResult(t *testing.T) {
	tests := []struct{ input, path, result, want string }{
		{`{"a": 1}`, "$", `5`, `5`},
		{`{"a": 1}`, "", `5`, `{"a": 1}`},
		{`{"a": 1}`, "$.b", `5`, `{"a": 1, "b": 5}`},
		{`{"a": 1}`, "$.a", `{"x": 0}`, `{"a": {"x": 0}}`},
		{`{"a": 1}`, "$.b.c.d", `5`, `{"a": 1, "b": {"c": {"d": 5}}}`},
		{`{"a": {"k": 1}}`, "$.a.b", `5`, `{"a": {"k": 1, "b": 5}}`},
		{`{"a": [1, {"x": 1}]}`, "$.a[1].x", `5`, `{"a": [1, {"x": 5}]}`},
		{`{"a": [1, 2]}`, "$.a[0]", `5`, `{"a": [5, 2]}`},
		{`{"a": 1}`, "$['b c']", `5`, `{"a": 1, "b c": 5}`},
	}
	for _, tt := range tests {
		in := mustJSON(t, tt.input)
		got, err := SetResult(in, tt.path, mustJSON(t, tt.result))
		if err != nil || !Equal(got, mustJSON(t, tt.want)) {
			t.Errorf("SetResult(%s, %q) = %s, %v; want %s", tt.input, tt.path, JSON(got), err, tt.want)
		}
		if !Equal(in, mustJSON(t, tt.input)) {
			t.Errorf("SetResult modified its input: %s", JSON(in))
		}
	}
	for _, tt := range []struct{ input, path string }{
		{`[1, 2]`, "$.x"}, {`"s"`, "$.x"}, {`{"a": "s"}`, "$.a.b"}, {`{"a": [1]}`, "$.a[3]"}, {`null`, "$.a"},
	} {
		_, err := SetResult(mustJSON(t, tt.input), tt.path, 1)
		if e, ok := err.(*Error); !ok || e.Name != ErrResultPathMatchFailure {
			t.Errorf("SetResult(%s, %q): %v, want States.ResultPathMatchFailure", tt.input, tt.path, err)
		}
	}
	if _, err := SetResult(map[string]any{}, "$.a[*]", 1); err == nil {
		t.Error("an indefinite ResultPath must fail")
	}
}

// jsonValue draws a JSON value of bounded depth.
func jsonValue(depth int) *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		kind := rapid.IntRange(0, 6).Draw(t, "kind")
		if depth <= 0 && kind >= 5 {
			kind = 3
		}
		switch kind {
		case 0:
			return nil
		case 1:
			return rapid.Bool().Draw(t, "b")
		case 2:
			return rapid.Int64().Draw(t, "i")
		case 3:
			return rapid.String().Draw(t, "s")
		case 4:
			return rapid.Float64Range(-1e12, 1e12).Draw(t, "f")
		case 5:
			return rapid.SliceOfN(jsonValue(depth-1), 0, 3).Draw(t, "a")
		}
		m := rapid.MapOfN(rapid.StringMatching(`[a-z]{1,3}`), jsonValue(depth-1), 0, 3).Draw(t, "m")
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	})
}

// TestSetResultQuery: placing a result at a reference path and reading
// the same path back gives the result, and leaves the input intact.
func TestSetResultQuery(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := jsonValue(3).Draw(t, "input")
		if _, ok := in.(map[string]any); !ok {
			in = map[string]any{"root": in}
		}
		before := Copy(in)
		names := rapid.SliceOfN(rapid.StringMatching(`[a-z]{1,3}`), 1, 4).Draw(t, "path")
		path := "$"
		for _, n := range names {
			if rapid.Bool().Draw(t, "bracket") {
				path += fmt.Sprintf("['%s']", n)
			} else {
				path += "." + n
			}
		}
		result := jsonValue(2).Draw(t, "result")
		out, err := SetResult(in, path, result)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Name != ErrResultPathMatchFailure {
				t.Fatalf("SetResult(%s): %v", path, err)
			}
			return // the path runs through a non-object
		}
		got, err := Query(path, out, nil)
		if err != nil || !Equal(got, result) {
			t.Fatalf("Query(%s) after SetResult = %v, %v; want %v", path, got, err, result)
		}
		if !Equal(in, before) {
			t.Fatalf("SetResult modified its input")
		}
	})
}

// FuzzTemplate checks that no template makes checking or evaluation panic.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`{"a.$": "$.x"}`, `{"a": [{"b.$": "States.Array($.x, 1)"}]}`, `{"a.$": 1}`, `[1, "x"]`,
		`{"a.$": "$$.Map.Item.Value", "b": {"c.$": "$v"}}`, `{"x": 1, "x.$": "$"}`} {
		f.Add(s)
	}
	input := mustJSON(f, `{"x": [1, {"y": 2}]}`)
	env := &Env{Context: input, Vars: map[string]any{"v": input}}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseJSON(s)
		if err != nil {
			return
		}
		_, _ = CheckTemplate(tpl)
		_, _ = Template(tpl, input, env)
	})
}

// TestTemplateLiteralAndJSONRoundTrip: a template without ".$" keys is its
// own value, and JSON text reads back as the value it was written from.
func TestTemplateLiteralAndJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := jsonValue(3).Draw(t, "v")
		got, err := Template(v, map[string]any{"x": 1}, nil)
		if err != nil || !Equal(got, v) {
			t.Fatalf("Template(%s) = %s, %v", JSON(v), JSON(got), err)
		}
		back, err := ParseJSON(JSON(v))
		if err != nil || !Equal(back, v) {
			t.Fatalf("ParseJSON(JSON(%#v)) = %#v, %v", v, back, err)
		}
	})
}
