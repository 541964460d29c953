package expr

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestCompare(t *testing.T) {
	const ts0, ts1 = "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z"
	tests := []struct {
		op      string
		value   string // JSON; "" means absent
		operand string
		want    bool
	}{
		{"StringEquals", `"Hello"`, `"Hello"`, true},
		{"StringEquals", `" "`, `"     "`, false},
		{"StringEquals", `1`, `"1"`, false},
		{"StringEqualsPath", `"a"`, `"a"`, true},
		{"StringEqualsPath", `"a"`, `1`, false},
		{"StringLessThan", `"A"`, `"AB"`, true},
		{"StringLessThan", `"AB"`, `"A"`, false},
		{"StringGreaterThan", `"A"`, `"A "`, false},
		{"StringGreaterThanEquals", `""`, `""`, true},
		{"StringLessThanEquals", `"A"`, `"AB"`, true},
		{"StringLessThan", `"\uffff"`, `"😀"`, false}, // UTF-16: U+FFFF > surrogate U+D83D
		{"StringMatches", `"log-2024.txt"`, `"log-*.txt"`, true},
		{"StringMatches", `"a*b"`, `"a\\*b"`, true},
		{"StringMatches", `"axb"`, `"a\\*b"`, false},
		{"StringMatches", `"a\\b"`, `"a\\\\b"`, true},
		{"StringMatches", `"abc"`, `"*"`, true},
		{"StringMatches", `""`, `"*"`, true},
		{"StringMatches", `"abcabd"`, `"*ab?"`, false},
		{"StringMatches", `"xaaab"`, `"*a*b"`, true},
		{"StringMatches", `5`, `"*"`, false},
		{"NumericEquals", `1`, `1.0`, true},
		{"NumericEquals", `1.1`, `1`, false},
		{"NumericEquals", `true`, `1`, false},
		{"NumericEquals", `"1"`, `1`, false},
		{"NumericEqualsPath", `0`, `0.0`, true},
		{"NumericLessThan", `-0.5`, `0`, true},
		{"NumericGreaterThan", `2`, `1`, true},
		{"NumericGreaterThanEquals", `1`, `1`, true},
		{"NumericLessThanEquals", `1`, `0`, false},
		{"NumericLessThanPath", `1`, `"2"`, false},
		{"BooleanEquals", `true`, `true`, true},
		{"BooleanEquals", `"true"`, `true`, false},
		{"BooleanEquals", `false`, `false`, true},
		{"BooleanEqualsPath", `false`, `true`, false},
		{"TimestampEquals", `"` + ts0 + `"`, `"` + ts0 + `"`, true},
		{"TimestampEquals", `"2012-10-09T20:00:55+01:00"`, `"` + ts0 + `"`, true},
		{"TimestampEquals", `"2023-02-24 12:15:56.832957"`, `"` + ts0 + `"`, false},
		{"TimestampEquals", `0`, `"` + ts0 + `"`, false},
		{"TimestampLessThan", `"` + ts0 + `"`, `"` + ts1 + `"`, true},
		{"TimestampGreaterThan", `"2024-01-01T00:30:00+01:00"`, `"2024-01-01T00:00:00Z"`, false},
		{"TimestampGreaterThanEquals", `"` + ts1 + `"`, `"` + ts0 + `"`, true},
		{"TimestampLessThanEquals", `"` + ts1 + `"`, `"` + ts0 + `"`, false},
		{"TimestampEqualsPath", `"` + ts0 + `"`, `"nope"`, false},
		{"TimestampLessThan", `"2012-10-09T19:00:55.5Z"`, `"` + ts1 + `"`, true},
		{"IsNull", `null`, `true`, true},
		{"IsNull", `0`, `false`, true},
		{"IsNull", `null`, `false`, false},
		{"IsPresent", `null`, `true`, true},
		{"IsPresent", ``, `true`, false},
		{"IsPresent", ``, `false`, true},
		{"IsNumeric", `1.5`, `true`, true},
		{"IsNumeric", `"1.5"`, `true`, false},
		{"IsNumeric", `"abc"`, `false`, true},
		{"IsString", `""`, `true`, true},
		{"IsString", `null`, `false`, true},
		{"IsBoolean", `false`, `true`, true},
		{"IsBoolean", `"false"`, `false`, true},
		{"IsTimestamp", `"2024-01-01T00:00:00Z"`, `true`, true},
		{"IsTimestamp", `"2012-10-09T19:00:55"`, `true`, false},
		{"IsTimestamp", `"2023-02-24"`, `false`, true},
		{"IsTimestamp", `"2012-10-09t19:00:55z"`, `true`, false},
	}
	for _, tt := range tests {
		var value any
		present := tt.value != ""
		if present {
			value = mustJSON(t, tt.value)
		}
		got, err := Compare(tt.op, value, present, mustJSON(t, tt.operand))
		if err != nil || got != tt.want {
			t.Errorf("Compare(%s, %s, %s) = %v, %v; want %v", tt.op, tt.value, tt.operand, got, err, tt.want)
		}
	}
}

func TestCompareErrors(t *testing.T) {
	if _, err := Compare("NumericEquals", nil, false, int64(1)); err == nil ||
		!strings.Contains(err.Error(), "condition path references an invalid value") {
		t.Errorf("missing variable: %v", err)
	}
	if _, err := Compare("IsNull", nil, false, true); err == nil {
		t.Error("IsNull on a missing variable must fail")
	}
	if _, err := Compare("Bogus", 1, true, 1); err == nil {
		t.Error("unknown operator must fail")
	}
	if _, err := Compare("IsString", "x", true, "yes"); err == nil {
		t.Error("a non-boolean Is* operand must fail")
	}
}

func TestCheckOperator(t *testing.T) {
	good := map[string]any{"StringEquals": "x", "StringMatches": "a*", "NumericLessThan": int64(1), "NumericEquals": 1.5,
		"BooleanEquals": true, "TimestampEquals": "2016-03-14T01:59:00Z", "IsPresent": false, "NumericEqualsPath": "$.a",
		"StringEqualsPath": "$$.x", "TimestampLessThanPath": "$v"}
	bad := map[string]any{"StringEquals": 1, "NumericLessThan": "1", "BooleanEquals": "true", "TimestampEquals": "2016-03-14",
		"IsNull": nil, "NumericEqualsPath": "a", "StringLessThanPath": 3, "Nope": 1}
	for op, v := range good {
		if err := CheckOperator(op, v); err != nil {
			t.Errorf("CheckOperator(%s, %v) = %v", op, v, err)
		}
	}
	for op, v := range bad {
		if err := CheckOperator(op, v); err == nil {
			t.Errorf("CheckOperator(%s, %v) = nil, want an error", op, v)
		}
	}
	if n := len(Operators()); n != 39 {
		t.Errorf("%d operators, want 39", n)
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, s := range []string{"2016-03-14T01:59:00Z", "2016-03-14T01:59:00.00Z", "2016-03-05T21:29:29.243167252Z",
		"2016-03-14T01:59:00+01:00", "2016-03-14T01:59:00-12:30"} {
		if _, err := ParseTimestamp(s); err != nil {
			t.Errorf("ParseTimestamp(%q): %v", s, err)
		}
	}
	for _, s := range []string{"2016-03-14T01:59:00", "2016-13-05T21:29:29Z", "2016-12-05T25:29:29Z", "05-12-2016T21:29:29Z",
		"2016-12-05 21:29:29Z", "2026-11-22T04:24:33.000000", "2016-03-14", "2016-03-14T01:59:00+0100", ""} {
		if _, err := ParseTimestamp(s); err == nil {
			t.Errorf("ParseTimestamp(%q) = nil error", s)
		}
	}
}

// TestCompareProperties: the ordering operators agree with each other
// on any pair of strings or numbers.
func TestCompareProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a, b any
		kind := "String"
		if rapid.Bool().Draw(t, "numeric") {
			kind = "Numeric"
			a, b = rapid.Int64Range(-5, 5).Draw(t, "a"), rapid.Float64Range(-5, 5).Draw(t, "b")
		} else {
			a, b = rapid.StringN(0, 3, 3).Draw(t, "a"), rapid.StringN(0, 3, 3).Draw(t, "b")
		}
		v := map[string]bool{}
		for _, op := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
			r, err := Compare(kind+op, a, true, b)
			if err != nil {
				t.Fatal(err)
			}
			v[op] = r
		}
		if v["LessThanEquals"] != (v["LessThan"] || v["Equals"]) || v["GreaterThanEquals"] != (v["GreaterThan"] || v["Equals"]) ||
			v["LessThan"] == v["GreaterThanEquals"] || (v["LessThan"] && v["GreaterThan"]) {
			t.Fatalf("%s %v %v: inconsistent %v", kind, a, b, v)
		}
		if eq, _ := Compare(kind+"Equals", a, true, b); eq != Equal(a, b) {
			t.Fatalf("%sEquals(%v, %v) = %v, Equal = %v", kind, a, b, eq, Equal(a, b))
		}
	})
}
