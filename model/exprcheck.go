package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nexus-workflows/nexus/model/expr"
)

// exprs checks the expressions of one state: JSONPath paths and payload
// templates, JSONata "{% %}" expressions, CEL conditions and idempotency
// keys, and comparison operators with their operands. Each finding points
// at the field that holds the expression.
func (v *validator) exprs(s *State, ql string) {
	bad := func(key string, err error) {
		v.errorf(s.At(key), "expression", "state %q: %s: %v", s.Name, key, err)
	}
	check := func(key string, f func(string) error, p string) {
		if p == "" {
			return
		}
		if err := f(p); err != nil {
			bad(key, err)
		}
	}
	opt := func(key string, f func(string) error, p OptPath) {
		if p.Set && !p.Null {
			check(key, f, p.Path)
		}
	}
	// JSONPath data flow.
	opt("input_path", expr.CheckPath, s.InputPath)
	opt("output_path", expr.CheckPath, s.OutputPath)
	opt("items_path", expr.CheckPath, s.ItemsPath)
	opt("result_path", expr.CheckReferencePath, s.ResultPath)
	for key, p := range map[string]string{"seconds_path": s.SecondsPath, "timestamp_path": s.TimestampPath,
		"timeout_path": s.TimeoutPath, "heartbeat_path": s.HeartbeatPath, "max_concurrency_path": s.MaxConcurrencyPath,
		"tolerated_failure_percentage_path": s.ToleratedFailurePercentagePath, "tolerated_failure_count_path": s.ToleratedFailureCountPath} {
		check(key, expr.CheckPath, p)
	}
	check("error_path", expr.CheckPathOrIntrinsic, s.ErrorPath)
	check("cause_path", expr.CheckPathOrIntrinsic, s.CausePath)
	if ql == JSONPath {
		for key, tpl := range map[string]any{"parameters": s.Parameters, "result_selector": s.ResultSelector,
			"item_selector": s.ItemSelector, "assign": s.Assign} {
			if tpl == nil {
				continue
			}
			if ptr, err := expr.CheckTemplate(tpl); err != nil {
				bad(key, fmt.Errorf("at %s: %w", cmpOr(ptr, "/"), err))
			}
		}
	}
	// JSONata, wherever a "{% %}" string stands.
	for key, val := range map[string]any{"arguments": s.Arguments, "output": s.Output, "assign": s.Assign, "items": s.Items,
		"seconds": s.Seconds, "timestamp": s.Timestamp, "error": s.Error, "cause": s.Cause, "timeout": s.TimeoutExpr,
		"heartbeat": s.HeartbeatExpr, "max_concurrency": s.MaxConcurrencyExpr, "result": s.Result} {
		v.jsonata(s, key, val)
	}
	if s.Idempotency != "" {
		check("idempotency", expr.CheckCEL, s.Idempotency)
	}
	for i, c := range s.Choices {
		v.rule(s, &c.Rule, fmt.Sprintf("choice %d", i+1))
		v.jsonata(s, "choices", c.Output)
		v.jsonata(s, "choices", c.Assign)
	}
	for _, c := range s.Catch {
		if c.ResultPath.Set && !c.ResultPath.Null {
			if err := expr.CheckReferencePath(c.ResultPath.Path); err != nil {
				v.errorf(c.At("result_path"), "expression", "state %q: catcher result_path: %v", s.Name, err)
			}
		}
		v.jsonata(s, "catch", c.Output)
		v.jsonata(s, "catch", c.Assign)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsonata checks every "{% %}" string inside val, in a stable order.
func (v *validator) jsonata(s *State, key string, val any) {
	var walk func(ptr string, x any)
	walk = func(ptr string, x any) {
		switch x := x.(type) {
		case string:
			if src, ok := expr.IsJSONataExpr(x); ok {
				if err := expr.CheckJSONata(src); err != nil {
					where := key
					if ptr != "" {
						where += " at " + ptr
					}
					v.errorf(s.At(key), "expression", "state %q: %s: JSONata: %v", s.Name, where, err)
				}
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(ptr+"/"+EscapePointer(k), x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", ptr, i), e)
			}
		}
	}
	walk("", val)
}

// rule checks a choice rule: its condition (JSONata or CEL), or its
// variable and comparison, and the rules inside it.
func (v *validator) rule(s *State, r *Rule, what string) {
	fail := func(key, format string, args ...any) {
		pos := r.At(key)
		if !pos.IsValid() {
			pos = s.At("choices")
		}
		v.errorf(pos, "expression", "state %q: %s: %s", s.Name, what, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Condition != "":
		if src, ok := expr.IsJSONataExpr(r.Condition); ok {
			if err := expr.CheckJSONata(src); err != nil {
				fail("condition", "condition: JSONata: %v", err)
			}
		} else if strings.HasPrefix(strings.TrimSpace(r.Condition), "{%") {
			fail("condition", "condition %q: a JSONata condition is written {%% ... %%} with nothing around it", r.Condition)
		} else if err := expr.CheckCEL(r.Condition); err != nil {
			fail("condition", "condition: CEL: %v", err)
		}
	case r.Op != "":
		if err := expr.CheckPath(r.Variable); err != nil {
			fail("variable", "variable: %v", err)
		}
		if err := expr.CheckOperator(r.Op, r.Value); err != nil {
			fail(OperatorKey(r.Op), "%s: %v", OperatorKey(r.Op), err)
		}
	}
	for _, sub := range r.And {
		v.rule(s, sub, what)
	}
	for _, sub := range r.Or {
		v.rule(s, sub, what)
	}
	if r.Not != nil {
		v.rule(s, r.Not, what)
	}
}
