package expr

import (
	"strings"
	"testing"
	"time"
)

func jsonataEnv(t testing.TB) (map[string]any, *Env) {
	states := mustJSON(t, `{"input": {"value": 22, "type": "Private", "items": [1, "two", true], "fst": [0, 1, 2], "snd": 2,
		"n": null, "s": "-0", "obj": "{\"Arg1\": 1}",
		"empty": [], "deep": {"empty": []}}, "context": {"Map": {"Item": {"Value": "x", "Index": 0}}}}`).(map[string]any)
	env := &Env{Vars: map[string]any{"ItemsVar": []any{"a", "b"}, "q": `"`, "nul": nil, "three": int64(3)},
		Now: time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC), Seed: 1}
	return states, env
}

func TestJSONata(t *testing.T) {
	states, env := jsonataEnv(t)
	tests := []struct{ src, want string }{
		{`$states.input.value = 22`, `true`},
		{`$states.input.value >= 20 and $states.input.value < 30`, `true`},
		{`$not($states.input.type = 'Private')`, `false`},
		{`$contains("hello$world", /^hello\$/)`, `true`},
		{`$number('2')`, `2`},
		{`$variable := 1`, `1`},
		{`$ItemsVar`, `["a", "b"]`},
		{`$q = '"'`, `true`},
		{`$nul`, `null`},
		{`$states.input.n`, `null`},
		{`$three + 0.5`, `3.5`},
		{`$states.context.Map.Item.Value`, `"x"`},
		{`$partition($states.input.fst, $states.input.snd)`, `[[0, 1], [2]]`},
		{`$partition([0], 2)`, `[[0]]`},
		{`$range(0, 9, 3)`, `[0, 3, 6, 9]`},
		{`$range(1, 9, 9)`, `1`},
		{`$parse($states.input.s)`, `0`},
		{`$parse($states.input.obj)`, `{"Arg1": 1}`},
		{`$hash('input data', 'SHA-256')`, `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},
		{`$now()`, `"2024-01-02T03:04:05.006Z"`},
		{`$millis()`, `1704164645006`},
		{`$count($states.input.items)`, `3`},
		{`{'a': 1, 'b': [1, 2.5]}`, `{"a": 1, "b": [1, 2.5]}`},
		{`[]`, `[]`},
		{`[0]`, `[0]`},
		{`$map([1, 2], function($v) {$v * 2})`, `[2, 4]`},
		{`$states.input.items[$ = 'two']`, `"two"`},
		{`$states.input.empty`, `[]`},
		{`$states.input.deep.empty`, `[]`},
		{`$keys({"b": 1, "a": 2, "c": 3})`, `["a", "b", "c"]`},
		{`$keys([{"y": 1}, {"x": 2, "y": 3}])`, `["x", "y"]`},
		{`$spread({"b": 1, "a": 2})`, `[{"a": 2}, {"b": 1}]`},
		{`$each({"b": 1, "a": 2}, function($v, $k) {$k & $v})`, `["a2", "b1"]`},
		{`$encodeUrlComponent("a b/é")`, `"a%20b%2F%C3%A9"`},
		{`$encodeUrl("https://x.org/a b?q=1&r=é")`, `"https://x.org/a%20b?q=1&r=%C3%A9"`},
		{`$decodeUrlComponent("a%20b+c")`, `"a b+c"`},
	}
	for _, tt := range tests {
		got, err := JSONata(tt.src, states, env)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if !Equal(got, mustJSON(t, tt.want)) || JSON(got) != JSON(mustJSON(t, tt.want)) {
			t.Errorf("%s = %s (%T), want %s", tt.src, JSON(got), got, tt.want)
		}
	}
}

func TestJSONataDeterministic(t *testing.T) {
	states, env := jsonataEnv(t)
	for _, src := range []string{`$uuid()`, `$random()`, `$shuffle([1, 2, 3, 4, 5, 6, 7, 8])`, `[$uuid(), $uuid()]`} {
		a, err1 := JSONata(src, states, env)
		b, err2 := JSONata(src, states, env)
		if err1 != nil || err2 != nil || !Equal(a, b) {
			t.Errorf("%s is not a function of Env: %v %v (%v %v)", src, a, b, err1, err2)
		}
	}
	two, _ := JSONata(`[$uuid(), $uuid()]`, states, env)
	if l := two.([]any); l[0] == l[1] {
		t.Error("two $uuid() of one evaluation are equal")
	}
}

func TestJSONataErrors(t *testing.T) {
	states, env := jsonataEnv(t)
	tests := []struct{ field, src, cause string }{
		{"Output", `$doesNotExist`, "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."},
		{"Output", `1/0`, "threw an error during evaluation"},
		{"Output", `function($x){$x}`, "not JSON"},
		{"Output", `$partition([1], 0)`, "positive integer"},
		{"Output", `$range(1, 5000, 1)`, "limit"},
		{"Output", `$hash('x', 'nope')`, "algorithm"},
		{"Output", `$parse('{')`, "$parse"},
		{"Output", `(`, "not valid JSONata"},
	}
	for _, tt := range tests {
		_, err := JSONataValue(tt.field, "{% "+tt.src+" %}", states, env)
		e, ok := err.(*Error)
		if !ok || e.Name != ErrQueryEvaluation || !strings.Contains(e.Cause, tt.cause) {
			t.Errorf("%s: %v, want States.QueryEvaluationError containing %q", tt.src, err, tt.cause)
		}
	}
}

func TestJSONataValue(t *testing.T) {
	states, env := jsonataEnv(t)
	v := mustJSON(t, `{"a": "{% $states.input.value %}", "b": [1, "{% $three %}", " {% 1 %} ", "$states.input"],
		"c": {"d": "{%$ItemsVar[0]%}"}, "e": null, "f": "{% %}x"}`)
	got, err := JSONataValue("Output", v, states, env)
	want := mustJSON(t, `{"a": 22, "b": [1, 3, " {% 1 %} ", "$states.input"], "c": {"d": "a"}, "e": null, "f": "{% %}x"}`)
	if err != nil || !Equal(got, want) {
		t.Errorf("JSONataValue = %s, %v; want %s", JSON(got), err, JSON(want))
	}
	_, err = JSONataValue("Output", mustJSON(t, `{"result": "{% $nope %}"}`), states, env)
	if err == nil || !strings.Contains(err.Error(), "for the field 'Output/result'") {
		t.Errorf("nested field name: %v", err)
	}
	_, err = JSONataValue("Items", mustJSON(t, `[1, "{% $nope %}"]`), states, env)
	if err == nil || !strings.Contains(err.Error(), "for the field 'Items/1'") {
		t.Errorf("array field name: %v", err)
	}
	for s, want := range map[string]string{"{% 1 %}": "1", "{%1%}": "1", " {% 1 %}": "", "{% 1 %} ": "", "{%%}": "", "x": ""} {
		got, ok := IsJSONataExpr(s)
		if ok != (want != "" || s == "{%%}") || got != want {
			t.Errorf("IsJSONataExpr(%q) = %q, %v", s, got, ok)
		}
	}
}

func TestCheckJSONata(t *testing.T) {
	for _, s := range []string{`$states.input.a`, `$x := 1`, `$partition([1], 1)`, `a.b[0]`} {
		if err := CheckJSONata(s); err != nil {
			t.Errorf("CheckJSONata(%q) = %v", s, err)
		}
	}
	for _, s := range []string{`(`, `$states.input.`, `1 +`, `[1, 2`} {
		if err := CheckJSONata(s); err == nil {
			t.Errorf("CheckJSONata(%q) = nil, want an error", s)
		}
	}
}

// FuzzJSONata checks that no expression makes checking or evaluation
// panic.
func FuzzJSONata(f *testing.F) {
	for _, s := range []string{`$states.input.a`, `$partition([1,2,3], 2)`, `$range(1, 10, 2)`, `$parse('[1]')`, `$uuid()`,
		`$hash('x', 'MD5')`, `$states.input.a[0] + 1`, `{'k': $states.context}`, `$map([1], function($v){$v})`, `$now()`} {
		f.Add(s)
	}
	states, env := jsonataEnv(f)
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "function") || strings.Contains(s, "λ") {
			return // user-defined functions can recurse without bound: see the package documentation
		}
		if CheckJSONata(s) != nil {
			return
		}
		_, _ = JSONata(s, states, env)
	})
}
