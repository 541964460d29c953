package expr

import (
	"errors"
	"strings"
	"testing"
)

// mustJSON decodes JSON text in tests.
func mustJSON(t testing.TB, text string) any {
	t.Helper()
	v, err := ParseJSON(text)
	if err != nil {
		t.Fatalf("bad test JSON %q: %v", text, err)
	}
	return v
}

func TestQuery(t *testing.T) {
	input := `{"a": {"b": 1, "n": null}, "items": [{"v": 1}, {"v": 2}, {"v": 3}],
		"delivery-partner": "UQS", "d e": 5, "Test\\\"\"Name\"": "esc", "nums": [5, 1, 7]}`
	env := &Env{
		Context: mustJSON(t, `{"Execution": {"Name": "x"}, "Map": {"Item": {"Index": 2}}}`),
		Vars:    map[string]any{"v": mustJSON(t, `{"x": [10, 20]}`), "s": "str"},
	}
	tests := []struct {
		path, want string
	}{
		{"$", ""}, // whole input, checked below
		{"$.a.b", `1`},
		{"$.a.n", `null`},
		{"$['a']['b']", `1`},
		{`$["a"].b`, `1`},
		{"$.items[1].v", `2`},
		{"$.items[-1].v", `3`},
		{"$.items[*].v", `[1,2,3]`},
		{"$.items[1:].v", `[2,3]`},
		{"$.items[:1]", `[{"v":1}]`},
		{"$.items[0,2].v", `[1,3]`},
		{"$..v", `[1,2,3]`},
		{"$.items[?(@.v > 1)].v", `[2,3]`},
		{"$.nums[?(@ >= 5)]", `[5,7]`},
		{"$.missing[*]", `[]`},
		{"$.missing[1:5].x", `[]`},
		{"$.delivery-partner", `"UQS"`},
		{"$.d e", `5`},
		{`$['Test\""Name"']`, `"esc"`},
		{"$.[0]", ``}, // "$.[" is "$[": the input is an object, so nothing
		{"$$.Execution.Name", `"x"`},
		{"$$.Map.Item.Index", `2`},
		{"$v.x[1]", `20`},
		{"$s", `"str"`},
		{"$v", `{"x":[10,20]}`},
	}
	in := mustJSON(t, input)
	for _, tt := range tests {
		got, err := Query(tt.path, in, env)
		switch {
		case tt.path == "$":
			if err != nil || !Equal(got, in) {
				t.Errorf("Query($) = %v, %v", got, err)
			}
		case tt.want == "":
			if err == nil {
				t.Errorf("Query(%s) = %s, want an error", tt.path, JSON(got))
			}
		case err != nil:
			t.Errorf("Query(%s): %v", tt.path, err)
		case !Equal(got, mustJSON(t, tt.want)):
			t.Errorf("Query(%s) = %s, want %s", tt.path, JSON(got), tt.want)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	in := mustJSON(t, `{"a": 1}`)
	_, err := Query("$.NoSuchInputPath", in, nil)
	var e *Error
	if !errors.As(err, &e) || e.Name != ErrRuntime ||
		e.Cause != "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']" {
		t.Errorf("missing path: %v", err)
	}
	if _, err := Query("$undefinedVar", in, &Env{}); err == nil || !strings.Contains(err.Error(), "undefinedVar") {
		t.Errorf("undefined variable: %v", err)
	}
	if _, err := Query("a.b", in, nil); err == nil {
		t.Error("a path without '$' must fail")
	}
	if _, err := Query("$.a.b", in, nil); err == nil {
		t.Error("a path through a number must not be found")
	}
}

func TestCheckPath(t *testing.T) {
	good := []string{"$", "$$", "$.a", "$.a[0]", "$..x", "$.a[*].b", "$.a[1:2]", "$x", "$x.y", "$$.Map.Item.Value",
		"$.pets[?(@.species == 'dog' && @.age>=5)]", "$['a b']", "$.[*].['bucket', 'key']", "$.a-b"}
	bad := []string{"", "a", "$.", "$[", "$.a[", "$.a[]", "$['a]", "$..", "$.a.", "$[?(@.x==dog)]", "$)", "$.a[0"}
	for _, p := range good {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := CheckPath(p); err == nil {
			t.Errorf("CheckPath(%q) = nil, want an error", p)
		}
	}
	for p, ok := range map[string]bool{"$": true, "$.a.b": true, "$.a[0]": true, "$['x']": true,
		"$.a[*]": false, "$..a": false, "$$.a": false, "$v": false, "$.a[?(@.x)]": false} {
		if err := CheckReferencePath(p); (err == nil) != ok {
			t.Errorf("CheckReferencePath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

func TestLookup(t *testing.T) {
	in := mustJSON(t, `{"a": null}`)
	if v, found, err := Lookup("$.a", in, nil); err != nil || !found || v != nil {
		t.Errorf("Lookup($.a) = %v, %v, %v", v, found, err)
	}
	if _, found, err := Lookup("$.b", in, nil); err != nil || found {
		t.Errorf("Lookup($.b) found=%v err=%v", found, err)
	}
}

// FuzzPath checks that no path text makes parsing or evaluation panic.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"$", "$$.a", "$.a[0]", "$..x", "$.a[?(@.v > 1)]", "$['a\\'b']", "$x.y[*]", "$.a[1:3:2]",
		"$.[0]", "$.a-b", "$[?(@ in [1])]", `$["x"]`, "$.a[0,1]"} {
		f.Add(s)
	}
	data := mustJSON(f, `{"a": [1, {"b": [2, null]}, "x"], "x": {"y": [true]}}`)
	env := &Env{Context: data, Vars: map[string]any{"x": data}}
	f.Fuzz(func(t *testing.T, s string) {
		if err := CheckPath(s); err != nil {
			return
		}
		_, _ = Query(s, data, env)
		_ = CheckReferencePath(s)
		_, _ = SetResult(data, s, 1)
	})
}
