package expr

import (
	"strings"
	"sync"
	"testing"
)

func TestCEL(t *testing.T) {
	vars := map[string]any{
		"input":   mustJSON(t, `{"orderId": "o-1", "n": 1.0, "items": [1, 2, 3], "ok": true, "nested": {"k": null}}`),
		"vars":    map[string]any{"limit": int64(2)},
		"context": mustJSON(t, `{"Execution": {"Name": "e"}}`),
	}
	tests := []struct{ src, want string }{
		{`input.orderId`, `"o-1"`},
		{`input.n == 1`, `true`},
		{`input.n > vars.limit`, `false`},
		{`size(input.items) > vars.limit && input.ok`, `true`},
		{`input.items.map(x, x * 2)`, `[2, 4, 6]`},
		{`{"a": input.orderId, "b": [1, 2.5, null]}`, `{"a": "o-1", "b": [1, 2.5, null]}`},
		{`context.Execution.Name + "-" + input.orderId`, `"e-o-1"`},
		{`has(input.nested.k)`, `true`},
		{`input.nested.k == null`, `true`},
		{`3u`, `3`},
		{`timestamp("2024-01-01T00:00:00Z")`, `"2024-01-01T00:00:00Z"`},
	}
	var cache CELCache
	for _, tt := range tests {
		got, err := cache.Eval(tt.src, vars)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if !Equal(got, mustJSON(t, tt.want)) {
			t.Errorf("%s = %s, want %s", tt.src, JSON(got), tt.want)
		}
		if once, err := CEL(tt.src, vars); err != nil || !Equal(once, got) {
			t.Errorf("CEL(%s) = %v, %v; the cache gave %v", tt.src, once, err, got)
		}
	}
	if len(cache.progs) != len(tests) {
		t.Errorf("cache holds %d programs, want %d", len(cache.progs), len(tests))
	}
}

func TestCELErrors(t *testing.T) {
	for _, src := range []string{`input.missing.x`, `1/0`, `input +`, `unknownVar`, `[1, 2].map(x, [x, x]).map(y, y.map(z, [z, z, z, z]))[5]`} {
		_, err := CEL(src, map[string]any{"input": map[string]any{}})
		if e, ok := err.(*Error); !ok || e.Name != ErrQueryEvaluation {
			t.Errorf("%s: %v, want States.QueryEvaluationError", src, err)
		}
	}
	if err := CheckCEL(`input.a == 1 && vars.b`); err != nil {
		t.Errorf("CheckCEL: %v", err)
	}
	if err := CheckCEL(`input.a ==`); err == nil {
		t.Error("CheckCEL accepted a syntax error")
	}
	if err := CheckCEL(`other.a`); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("CheckCEL of an undeclared variable: %v", err)
	}
	// The cost limit stops runaway comprehensions.
	big := `[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10].map(c, [1,2,3,4,5,6,7,8,9,10].map(d, [1,2,3,4,5,6,7,8,9,10].map(e, [1,2,3,4,5,6,7,8,9,10].map(f, a+b+c+d+e+f))))))`
	if _, err := CEL(big, nil); err == nil {
		t.Error("a million-element comprehension must exceed the cost limit")
	}
}

func TestCELCacheConcurrent(t *testing.T) {
	var cache CELCache
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := cache.Eval(`input + 1`, map[string]any{"input": int64(i)})
			if err != nil || v != int64(i+1) {
				t.Errorf("input %d: %v, %v", i, v, err)
			}
		}()
	}
	wg.Wait()
}

func FuzzCEL(f *testing.F) {
	for _, s := range []string{`input.a`, `size(input.l) > 1`, `vars.x + 1`, `[1, 2].map(x, x * 2)`, `"a" + "b"`} {
		f.Add(s)
	}
	vars := map[string]any{"input": mustJSON(f, `{"a": 1, "l": [1, "x"]}`), "vars": map[string]any{"x": int64(1)}}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckCEL(s) != nil {
			return
		}
		_, _ = CEL(s, vars)
	})
}
