package expr

import (
	"math"
	"testing"
)

func TestJavaString(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"}, {"s", "s"}, {true, "true"}, {int64(-3), "-3"},
		{1.1, "1.1"}, {100.0, "100.0"}, {0.0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1e7, "1.0E7"}, {1.5e-4, "1.5E-4"},
		{0.001, "0.001"}, {1e21, "1.0E21"}, {123456.789, "123456.789"}, {-2.5e-10, "-2.5E-10"},
		{mustJSON(t, `{"Arg1": 1, "Arg2": [], "o": {"k": "v"}}`), "{Arg1=1, Arg2=[], o={k=v}}"},
		{mustJSON(t, `[1, "a", null, [true]]`), "[1, a, null, [true]]"},
	}
	for _, tt := range tests {
		if got := javaString(tt.v); got != tt.want {
			t.Errorf("javaString(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestParseJSON(t *testing.T) {
	v, err := ParseJSON(`{"i": 1, "big": 12345678901234567890, "f": 1.5, "e": 1e2, "neg": -0, "a": [true, null]}`)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["i"] != int64(1) || m["big"] != 12345678901234567890.0 || m["f"] != 1.5 || m["e"] != 100.0 || m["neg"] != int64(0) {
		t.Errorf("numbers: %#v", m)
	}
	for _, bad := range []string{``, `{`, `1 2`, `{"a":}`} {
		if _, err := ParseJSON(bad); err == nil {
			t.Errorf("ParseJSON(%q) = nil error", bad)
		}
	}
}

func TestEqualCopyTypeName(t *testing.T) {
	a := mustJSON(t, `{"x": [1, 2.0, {"y": null}], "s": "t"}`)
	b := Copy(a)
	if !Equal(a, b) || !Equal(int64(2), 2.0) || Equal(int64(1), true) || Equal(nil, false) || Equal("1", int64(1)) {
		t.Error("Equal")
	}
	b.(map[string]any)["x"].([]any)[0] = int64(9)
	if Equal(a, b) {
		t.Error("Copy shares structure with its source")
	}
	for v, want := range map[any]string{nil: "null", true: "boolean", int64(1): "number", 1.5: "number", "s": "string"} {
		if got := TypeName(v); got != want {
			t.Errorf("TypeName(%v) = %s", v, got)
		}
	}
	if TypeName([]any{}) != "array" || TypeName(map[string]any{}) != "object" {
		t.Error("TypeName of containers")
	}
	if JSON(map[string]any{"b": "<&>", "a": 1}) != `{"a":1,"b":"<&>"}` || Size("é") != 4 {
		t.Errorf("JSON: %s", JSON(map[string]any{"b": "<&>", "a": 1}))
	}
}

func TestInState(t *testing.T) {
	e := (&Error{Name: ErrRuntime, Cause: "Boom."}).InState("S", 4)
	if e.Cause != "An error occurred while executing the state 'S' (entered at the event id #4). Boom." {
		t.Errorf("InState: %q", e.Cause)
	}
	if o := (&Error{Name: ErrDataLimitExceeded, Cause: "x"}); o.InState("S", 2) != o {
		t.Error("InState must leave other errors alone")
	}
}

func TestJSONText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{mustJSON(t, `{"b": [1, 1.0, 1.5, -0.0, 1e21, 1.5e-7], "a": "x\"\\\n\t\u0001<&>é😀"}`),
			`{"a":"x\"\\\n\t\u0001<&>é😀","b":[1,1.0,1.5,-0.0,1.0E21,1.5E-7]}`},
		{math.NaN(), "null"}, {"bad\xffutf8", `"bad\ufffdutf8"`}, {int(7), "7"}, {[]string{"a"}, `["a"]`},
	}
	for _, tt := range tests {
		if got := JSON(tt.v); got != tt.want {
			t.Errorf("JSON(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
	// The text reads back as the same value, floats staying floats.
	v := mustJSON(t, `{"f": 2.0, "i": 2, "l": [0.1, 1e300]}`)
	back, err := ParseJSON(JSON(v))
	if err != nil || !Equal(back, v) || back.(map[string]any)["f"] != 2.0 {
		t.Errorf("round trip: %#v, %v", back, err)
	}
}
