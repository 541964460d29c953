package expr

import (
	"regexp"
	"strings"
	"testing"
)

func TestIntrinsic(t *testing.T) {
	input := mustJSON(t, `{"arr": [1, 2, 2, 3, 3, 4], "s": "Hello World", "obj": {"Arg1": 1, "Arg2": []},
		"j1": {"a": {"a1": 1}, "b": 2, "d": 3}, "j2": {"a": {"a3": 1}, "c": 3, "d": 4}, "f": 1.49, "g": 1.5,
		"csv": "a,b,,c", "tpl": "It's {}!", "n": null, "big": 1e300}`)
	env := &Env{Context: mustJSON(t, `{"StateMachine": {"Id": "arn:sm", "Name": "my-machine"}}`),
		Vars: map[string]any{"v": int64(5)}}
	tests := []struct{ call, want string }{
		{"States.Format('Hello {}, you are {}', $.s, 42)", `"Hello Hello World, you are 42"`},
		{"States.Format('{} {} {} {}', $.obj, $.arr, $.n, 1.5)", `"{Arg1=1, Arg2=[]} [1, 2, 2, 3, 3, 4] null 1.5"`},
		{`States.Format('a\{b\}c\\d\'{}', 1)`, `"a{b}c\\d'1"`},
		{"States.Format($.tpl, 'Pikachu')", `"It's Pikachu!"`},
		{"States.Format('{}', $$.StateMachine)", `"{Id=arn:sm, Name=my-machine}"`},
		{"States.Format('{}', $.big)", `"1.0E300"`},
		{"States.StringToJson('{\"a\": [1, 2.5]}')", `{"a": [1, 2.5]}`},
		{"States.StringToJson(' ')", `null`},
		{"States.StringToJson('-0')", `0`},
		{"States.JsonToString($.obj)", `"{\"Arg1\":1,\"Arg2\":[]}"`},
		{"States.JsonToString('x')", `"\"x\""`},
		{"States.Array()", `[]`},
		{"States.Array(1, 'a', true, null, $.obj, States.Array(2))", `[1, "a", true, null, {"Arg1": 1, "Arg2": []}, [2]]`},
		{"States.ArrayPartition($.arr, 4)", `[[1, 2, 2, 3], [3, 4]]`},
		{"States.ArrayPartition(States.Array(), 3)", `[]`},
		{"States.ArrayPartition($.arr, 100)", `[[1, 2, 2, 3, 3, 4]]`},
		{"States.ArrayContains($.arr, 3)", `true`},
		{"States.ArrayContains($.arr, 3.0)", `true`},
		{"States.ArrayContains(States.Array($.obj), $.obj)", `true`},
		{"States.ArrayContains($.arr, '3')", `false`},
		{"States.ArrayRange(1, 9, 2)", `[1, 3, 5, 7, 9]`},
		{"States.ArrayRange(0, 10, 3)", `[0, 3, 6, 9]`},
		{"States.ArrayRange(1, 9, 9)", `[1]`},
		{"States.ArrayRange(5, 1, -2)", `[5, 3, 1]`},
		{"States.ArrayRange(5, 1, 2)", `[]`},
		{"States.ArrayGetItem($.arr, 5)", `4`},
		{"States.ArrayLength($.arr)", `6`},
		{"States.ArrayUnique($.arr)", `[1, 2, 3, 4]`},
		{"States.ArrayUnique(States.Array(1, 1.0, $.obj, $.obj, null, null))", `[1, {"Arg1": 1, "Arg2": []}, null]`},
		{"States.Base64Encode('Data to encode')", `"RGF0YSB0byBlbmNvZGU="`},
		{"States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", `"Data to encode"`},
		{"States.Hash('input data', 'MD5')", `"812f45842bc6d66ee14572ce20db8e86"`},
		{"States.Hash('input data', 'SHA-1')", `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{"States.Hash('input data', 'SHA-256')", `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},
		{"States.Hash('', 'SHA-384')", `"38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"`},
		{"States.Hash('', 'SHA-512')", `"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"`},
		{"States.JsonMerge($.j1, $.j2, false)", `{"a": {"a3": 1}, "b": 2, "c": 3, "d": 4}`},
		{"States.MathAdd($.f, $.g)", `3`},
		{"States.MathAdd(-1.5, 0)", `-1`},
		{"States.MathAdd(-2.5, 0)", `-2`},
		{"States.MathAdd(-0.5, 0.5)", `1`},
		{"States.MathAdd($v, -1)", `4`},
		{"States.MathRandom(7, 8)", `7`},
		{"States.StringSplit($.csv, ',')", `["a", "b", "c"]`},
		{"States.StringSplit('a.b+c', '.+')", `["a", "b", "c"]`},
		{"States.StringSplit('', ',')", `[]`},
		{"States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))", `"machine"`},
		{"  States.ArrayLength( $.arr )  ", `6`},
	}
	for _, tt := range tests {
		got, err := Intrinsic(tt.call, input, env)
		if err != nil {
			t.Errorf("%s: %v", tt.call, err)
			continue
		}
		if !Equal(got, mustJSON(t, tt.want)) {
			t.Errorf("%s = %s, want %s", tt.call, JSON(got), tt.want)
		}
	}
}

func TestIntrinsicRandom(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, err := Intrinsic("States.UUID()", nil, &Env{Seed: 1})
	if err != nil || !uuid.MatchString(a.(string)) {
		t.Fatalf("UUID = %v, %v", a, err)
	}
	b, _ := Intrinsic("States.UUID()", nil, &Env{Seed: 1})
	c, _ := Intrinsic("States.UUID()", nil, &Env{Seed: 2})
	if a != b || a == c {
		t.Errorf("UUID must be a function of the seed: %v %v %v", a, b, c)
	}
	two, _ := Intrinsic("States.Array(States.UUID(), States.UUID())", nil, &Env{Seed: 1})
	if l := two.([]any); l[0] == l[1] {
		t.Errorf("two UUIDs of one evaluation are equal: %v", l)
	}
	for seed := range uint64(200) {
		v, err := Intrinsic("States.MathRandom(12.5, 44.51)", nil, &Env{Seed: seed})
		if n, ok := v.(int64); err != nil || !ok || n < 13 || n >= 45 {
			t.Fatalf("MathRandom(12.5, 44.51) = %v, %v; want an integer in [13, 45)", v, err)
		}
	}
	s1, _ := Intrinsic("States.MathRandom(1, 1000, 42)", nil, &Env{Seed: 1})
	s2, _ := Intrinsic("States.MathRandom(1, 1000, 42)", nil, &Env{Seed: 2})
	if s1 != s2 {
		t.Errorf("seeded MathRandom depends on Env.Seed: %v %v", s1, s2)
	}
	// Reference values printed by Java: new Random(42).nextInt(100) three
	// times, new Random(7).nextDouble().
	r := newJavaRandom(42)
	if got := []int32{r.nextInt(100), r.nextInt(100), r.nextInt(100)}; got[0] != 30 || got[1] != 63 || got[2] != 48 {
		t.Errorf("java.util.Random(42).nextInt(100) = %v, want [30 63 48]", got)
	}
	if d := newJavaRandom(7).nextDouble(); d != 0.7306990420600421 {
		t.Errorf("java.util.Random(7).nextDouble() = %v", d)
	}
}

func TestIntrinsicErrors(t *testing.T) {
	input := mustJSON(t, `{"arr": [1], "s": "x", "o": {}}`)
	tests := []struct{ call, cause string }{
		{"States.MathAdd($.s, 1)", "expected argument 1 to be of type 'number', but received string"},
		{"States.ArrayGetItem($.arr, 5)", "out of bounds"},
		{"States.ArrayGetItem($.arr, 1.5)", "type 'integer'"},
		{"States.ArrayPartition($.arr, 0)", "positive"},
		{"States.ArrayRange(1, 2000, 1)", "limit is 1000"},
		{"States.ArrayRange(1, 2, 0)", "step"},
		{"States.Hash('x', 'SHA-3')", "not one of"},
		{"States.JsonMerge($.o, $.o, true)", "shallow"},
		{"States.JsonMerge($.o, $.arr, false)", "JSON objects"},
		{"States.StringToJson('{')", "not valid JSON"},
		{"States.Base64Decode('%%%')", "not valid Base64"},
		{"States.Format('{} {}', 1)", "placeholders"},
		{"States.Format('{}', 1, 2)", "placeholders"},
		{"States.Format('{', 1)", "unescaped"},
		{"States.MathRandom(5, 5)", "greater than"},
		{"States.ArrayLength($.nope)", "could not be found"},
		{"States.Base64Encode('" + strings.Repeat("a", maxIntrinsicInput+1) + "')", "longer than"},
	}
	for _, tt := range tests {
		_, err := Intrinsic(tt.call, input, nil)
		e, ok := err.(*Error)
		if !ok || e.Name != ErrRuntime || !strings.Contains(e.Cause, tt.cause) {
			t.Errorf("%.60s: error %v, want States.Runtime containing %q", tt.call, err, tt.cause)
		}
	}
}

func TestParseCall(t *testing.T) {
	bad := []string{"", "States", "States.Nope()", "States.UUID(", "States.UUID(1)", "States.Array(,)", "States.Array(1,)",
		"States.Array('x)", "States.Array(x)", "States.Array(1) extra", "States.MathAdd(1)", "States.Format()",
		"States.Array(1e999)", `States.Format('say \"hi\"')`, `States.Array('a\nb')`, "States.Array(" + strings.Repeat("States.Array(", 70) + strings.Repeat(")", 71)}
	for _, s := range bad {
		if err := CheckIntrinsic(s); err == nil {
			t.Errorf("CheckIntrinsic(%.50q) = nil, want an error", s)
		}
	}
	c, err := parseCall(`States.Format('a\'b\\{}', $.x[0], $$.y, $v.z, -1.5e2, 7, true, false, null)`)
	if err != nil {
		t.Fatal(err)
	}
	if c.args[0].lit != `a'b\{}` || c.args[0].raw != `a\'b\\{}` {
		t.Errorf("string literal: %q raw %q", c.args[0].lit, c.args[0].raw)
	}
	if c.args[1].path.src != "$.x[0]" || c.args[2].path.root != rootContext || c.args[3].path.name != "v" {
		t.Errorf("paths: %+v %+v %+v", c.args[1].path, c.args[2].path, c.args[3].path)
	}
	if c.args[4].lit != -150.0 || c.args[5].lit != int64(7) || c.args[6].lit != true || c.args[7].lit != false || c.args[8].lit != nil {
		t.Errorf("literals: %v %v %v %v %v", c.args[4].lit, c.args[5].lit, c.args[6].lit, c.args[7].lit, c.args[8].lit)
	}
}

// FuzzIntrinsic checks that no call text makes parsing or evaluation panic.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{"States.Format('{} {}', $.a, 1)", "States.Array()", "States.ArrayRange(1, 9, 2)",
		"States.StringSplit($.s, ',')", "States.MathAdd(1.5, -2)", "States.Hash($.s, 'MD5')", "States.JsonMerge($.o, $.o, false)",
		"States.ArrayGetItem(States.Array(1,2), 1)", "States.UUID()", "States.MathRandom(1, 10, 3)", "States.Base64Decode('eA==')",
		"States.StringToJson('[1]')", "States.ArrayPartition($.a, 2)", "States.ArrayUnique($.a)", `States.Format('\{\}', 1)`} {
		f.Add(s)
	}
	input := mustJSON(f, `{"a": [1, 2, [3]], "s": "a,b", "o": {"k": 1}}`)
	f.Fuzz(func(t *testing.T, s string) {
		if err := CheckIntrinsic(s); err != nil {
			return
		}
		_, _ = Intrinsic(s, input, &Env{Seed: 7})
	})
}
