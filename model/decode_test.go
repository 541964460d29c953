package model

import (
	"os"
	"strings"
	"testing"
)

func TestSpecificationExample(t *testing.T) {
	src, err := os.ReadFile("../corpus/examples/payment-reconciliation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, fs := Parse("payment-reconciliation.yaml", src)
	if len(fs) != 0 {
		t.Fatalf("parse findings: %v", fs)
	}
	fs = Validate(w)
	if len(fs) != 1 {
		t.Fatalf("want exactly one finding, got %d:\n%v", len(fs), fs)
	}
	f := fs[0]
	if f.Pos != (Pos{17, 9}) || f.Code != "unknown-state" || !strings.Contains(f.Message, `"LogTransaction"`) {
		t.Errorf("finding = %v (code %s), want LogTransaction at 17:9", f, f.Code)
	}
	want := "payment-reconciliation.yaml:17:9: next \"LogTransaction\" of state \"ExecuteTransfer\" names no state\n" +
		"    next: LogTransaction\n" +
		"          ^\n"
	if got := f.Render(src); got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}

	// The short forms expand to the full ones.
	s := w.States[0]
	if len(s.Retry) != 1 || s.Retry[0].MaxAttempts != 3 || s.Retry[0].BackoffRate != 2 || s.Retry[0].Errors[0] != ErrAll {
		t.Errorf("on_failure retry: %+v", s.Retry)
	}
	if c := w.States[1].OnFailure; c == nil || c.Action != "refund-user" {
		t.Errorf("on_failure compensate: %+v", c)
	}
}

func TestCorrectedExampleCompiles(t *testing.T) {
	src, err := os.ReadFile("../corpus/examples/payment-reconciliation-fixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, fs := Parse("fixed.yaml", src)
	if len(fs) != 0 {
		t.Fatal(fs)
	}
	m, fs := Compile(w)
	if m == nil || fs.Errors() != 0 {
		t.Fatal(fs)
	}
	if got := len(m.States); got != 4 {
		t.Errorf("states = %d, want 4", got)
	}
	if sp := m.States[2]; !sp.Mutates || sp.Compensate == No || sp.OnFailure == No || m.Functions[sp.Compensate] != "reverse-transfer" {
		t.Errorf("ExecuteTransfer compiled to %+v", sp)
	}
}

// TestFindings runs small bad workflows and checks each finding's code
// and position: one table row per kind of mistake.
func TestFindings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col code" of each error, in order
	}{
		{"syntax", "version: \"1.0\"\nstates: [\n", []string{"2:9 syntax"}},
		{"not a mapping", "- a\n- b\n", []string{"1:1 type"}},
		{"no states", "version: \"1.0\"\nname: x\n", []string{"1:1 missing"}},
		{"unknown key suggests", "version: \"1.0\"\nstates:\n- name: A\n  type: succeed\n  nxet: B\n", []string{"5:3 unknown-key"}},
		{"duplicate key", "version: \"1.0\"\nstates:\n- name: A\n  name: B\n  type: succeed\n", []string{"4:3 syntax"}},
		{"unknown type", "version: \"1.0\"\nstates:\n- name: A\n  type: sucseed\n", []string{"4:9 value"}},
		{"duplicate state", "version: \"1.0\"\nstates:\n- {name: A, type: pass, next: A2}\n- {name: A2, type: pass, next: A}\n- {name: A, type: succeed}\n",
			[]string{"3:10 no-exit", "5:10 duplicate"}},
		{"unreachable", "version: \"1.0\"\nstates:\n- {name: A, type: succeed}\n- {name: B, type: succeed}\n", []string{"4:10 unreachable"}},
		{"neither next nor end", "version: \"1.0\"\nstates:\n- name: A\n  action: f\n", []string{"3:9 missing"}},
		{"both next and end", "version: \"1.0\"\nstates:\n- {name: A, action: f, next: B, end: true}\n- {name: B, type: succeed}\n", []string{"3:38 field"}},
		{"cycle without exit", "version: \"1.0\"\nstates:\n- {name: A, type: pass, next: B}\n- {name: B, type: pass, next: A}\n", []string{"3:10 no-exit"}},
		{"cycle with exit is fine", "version: \"1.0\"\nstates:\n- {name: A, type: pass, next: B}\n- name: B\n  choices:\n  - {condition: 'input.done', next: C}\n  default: A\n- {name: C, type: succeed}\n", nil},
		{"mutates without undo", "version: \"1.0\"\nstates:\n- {name: A, action: charge, mutates: true, end: true}\n", []string{"3:38 saga"}},
		{"irreversible is an answer", "version: \"1.0\"\nstates:\n- {name: A, action: charge, mutates: true, irreversible: true, end: true}\n", nil},
		{"field of another kind", "version: \"1.0\"\nstates:\n- {name: A, type: pass, choices: [], end: true}\n", []string{"3:34 field"}},
		{"catch to unknown suggests", "version: \"1.0\"\nstates:\n- name: A\n  action: f\n  end: true\n  catch:\n  - {errors: [X], next: Recovr}\n- {name: Recover, type: succeed}\n",
			[]string{"7:25 unknown-state", "8:10 unreachable"}},
		{"transition leaves branch", "version: \"1.0\"\nstates:\n- name: P\n  branches:\n  - states:\n    - {name: B1, type: pass, next: After}\n  next: After\n- {name: After, type: succeed}\n",
			[]string{"6:36 unknown-state"}},
		{"bad duration", "version: \"1.0\"\nstates:\n- {name: A, action: f, timeout: soon, end: true}\n", []string{"3:33 type"}},
		{"retry all not last", "version: \"1.0\"\nstates:\n- name: A\n  action: f\n  end: true\n  retry:\n  - {errors: [States.ALL]}\n  - {errors: [X]}\n", []string{"7:5 value"}},
		{"choice needs a condition", "version: \"1.0\"\nstates:\n- name: C\n  choices:\n  - {next: D}\n- {name: D, type: succeed}\n", []string{"5:5 missing"}},
		{"two comparisons", "version: \"1.0\"\nstates:\n- name: C\n  choices:\n  - {variable: $.x, string_equals: a, numeric_equals: 1, next: D}\n- {name: D, type: succeed}\n", []string{"5:39 value"}},
		{"malformed JSON", "{\"version\": \"1.0\",\n \"a\": \"b\": \"c\"}", []string{"2:10 syntax"}},
		{"jsonata state with jsonpath field", "version: \"1.0\"\nquery_language: jsonata\nstates:\n- {name: A, type: pass, result_path: $.x, end: true}\n", []string{"4:38 field"}},
		{"bad JSONPath", "version: \"1.0\"\nstates:\n- {name: A, type: pass, input_path: \"a.b\", end: true}\n", []string{"3:37 expression"}},
		{"bad CEL condition", "version: \"1.0\"\nstates:\n- name: C\n  choices: [{condition: \"input.x >\", next: D}]\n- {name: D, type: succeed}\n", []string{"4:25 expression"}},
		{"bad JSONata", "version: \"1.0\"\nquery_language: jsonata\nstates:\n- {name: A, type: pass, output: \"{% $x + %}\", end: true}\n", []string{"4:33 expression"}},
		{"bad operand", "version: \"1.0\"\nstates:\n- name: C\n  choices: [{variable: $.x, numeric_equals: abc, next: D}]\n- {name: D, type: succeed}\n", []string{"4:45 expression"}},
		{"bad idempotency key", "version: \"1.0\"\nstates:\n- {name: A, action: f, idempotency: \"input.\", end: true}\n", []string{"3:37 expression"}},
		{"no version", "name: x\nstates:\n- {name: A, type: succeed}\n", []string{"1:1 missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, fs := Parse("t.yaml", []byte(tt.src))
			if w != nil && fs.Errors() == 0 {
				fs = append(fs, Validate(w)...)
			}
			fs.Sort()
			var got []string
			for _, f := range fs {
				if f.Severity == SeverityError {
					got = append(got, f.Pos.String()+" "+f.Code)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v\n%v", got, tt.want, fs)
			}
		})
	}
}

func TestTabsInPlainScalars(t *testing.T) {
	n, fs := ParseNode("t.yaml", []byte("k: a\tb\nq: \"c\\td\"\n"))
	if len(fs) != 0 || n.Get("k").Str != "a\tb" || n.Get("q").Str != "c\td" {
		t.Errorf("got %q %q %v", n.Get("k").Str, n.Get("q").Str, fs)
	}
}

func TestSuggestions(t *testing.T) {
	src := "version: \"1.0\"\nstates:\n- name: Validate\n  action: f\n  nxet: Charge\n  next: Chrage\n- {name: Charge, type: succeed}\n"
	w, fs := Parse("t.yaml", []byte(src))
	fs = append(fs, Validate(w)...)
	msgs := fs.Error()
	for _, want := range []string{`did you mean "next"?`, `did you mean "Charge"?`} {
		if !strings.Contains(msgs, want) {
			t.Errorf("findings lack %s:\n%s", want, msgs)
		}
	}
}

func TestOperatorNames(t *testing.T) {
	for _, op := range Operators {
		if got := OperatorName(OperatorKey(op)); got != op {
			t.Errorf("%s → %s → %s", op, OperatorKey(op), got)
		}
	}
	if OperatorName("string_equal") != "" || OperatorName("next") != "" {
		t.Error("non-operators map to operators")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../corpus/examples/payment-reconciliation.yaml", "../corpus/examples/payment-reconciliation-fixed.yaml"} {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("version: \"1.0\"\nstates:\n- {name: A, type: pass, next: B}\n- name: B\n  choices:\n  - {variable: $.x, numeric_equals: 1, next: A}\n  default: C\n- {name: C, type: succeed}\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\nc: {<<: {d: 1}}\n"))
	// A second, empty document once crashed goccy's DocumentNode.GetToken.
	f.Add([]byte("a: 1\n---\n"))
	f.Add([]byte("a: 1\n--- \n---\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		w, fs := Parse("fuzz.yaml", src)
		for _, x := range fs {
			if x.Message == "" || x.File != "fuzz.yaml" {
				t.Fatalf("malformed finding %+v", x)
			}
		}
		if w == nil {
			return
		}
		Validate(w)
		if fs.Errors() == 0 {
			if m, _ := Compile(w); m != nil {
				// A compiled machine runs: every state reachable by the
				// kernel without panicking.
				runAbstract(t, m, allSucceed, 200, false)
			}
		}
	})
}

func TestProfilesSection(t *testing.T) {
	src := "version: \"1.0\"\nstates:\n- {name: A, action: a, end: true}\nprofiles:\n  default:\n    functions:\n      a: {failure: 0.1}\n"
	w, fs := Parse("p.yaml", []byte(src))
	if len(fs) != 0 || w.Profiles == nil || w.Profiles.Get("default").Get("functions").Get("a").Get("failure").Float != 0.1 {
		t.Fatalf("profiles not read: %v", fs)
	}
	out, err := Format(w)
	if err != nil {
		t.Fatal(err)
	}
	back, fs := Parse("p.yaml", out)
	if len(fs) != 0 || back.Profiles == nil || back.Profiles.Get("default") == nil {
		t.Errorf("profiles lost in print:\n%s", out)
	}
	if _, fs := Parse("p.yaml", []byte("version: \"1.0\"\nstates:\n- {name: A, type: succeed}\nprofiles: [1]\n")); fs.Errors() != 1 {
		t.Errorf("profiles as a list: %v", fs)
	}
}
