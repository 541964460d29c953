package dataflow

import (
	"fmt"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// MapItems returns the input of each iteration of a Map state and its
// effective MaxConcurrency (0: unbounded). MaxConcurrency is resolved
// first, as AWS does, so that its errors come before those of the items.
//
// JSONPath: InputPath, then ItemsPath (default "$") must select an array;
// each item goes through ItemSelector (or the legacy Parameters), whose
// "$" is the effective input and whose "$$.Map.Item.Index/Value" name the
// item. JSONata: Items (an expression or a literal array; default the raw
// input) must be an array; ItemSelector sees $states.input and
// $states.context.Map.Item.
func MapItems(st *model.State, ql string, raw any, env *expr.Env) (items []any, maxConcurrency int, err error) {
	if maxConcurrency, err = MaxConcurrency(st, ql, raw, env); err != nil {
		return nil, 0, err
	}
	var list any
	var in any
	if jsonata(ql) {
		in = raw
		if list, err = jsonataItems(st, raw, env); err != nil {
			return nil, 0, err
		}
	} else {
		if in, err = inputPath(st, raw, env); err != nil {
			return nil, 0, err
		}
		if list, err = expr.Query(st.ItemsPath.Value(), in, env); err != nil {
			return nil, 0, err
		}
	}
	arr, ok := list.([]any)
	if !ok {
		return nil, 0, &expr.Error{Name: expr.ErrQueryEvaluation, Cause: "Map state input must be an array but was: " + expr.JSON(list)}
	}
	selector := st.ItemSelector
	if selector == nil && !jsonata(ql) {
		selector = st.Parameters // the legacy spelling
	}
	items = make([]any, len(arr))
	for i, item := range arr {
		if selector == nil {
			items[i] = item
			continue
		}
		ienv := withContext(env, WithMapItem(context(env), i, item))
		var v any
		if jsonata(ql) {
			v, err = expr.JSONataValue("ItemSelector", selector, statesVar(raw, ienv), ienv)
		} else {
			v, err = expr.Template(selector, in, ienv)
		}
		if err != nil {
			return nil, 0, err
		}
		items[i] = v
	}
	return items, maxConcurrency, nil
}

// jsonataItems evaluates Items in JSONata mode.
func jsonataItems(st *model.State, raw any, env *expr.Env) (any, error) {
	src, isExpr := "", false
	if s, ok := st.Items.(string); ok {
		src, isExpr = expr.IsJSONataExpr(s)
	}
	switch {
	case st.Items == nil:
		return raw, nil
	case !isExpr:
		return expr.JSONataValue("Items", st.Items, statesVar(raw, env), env)
	}
	v, err := expr.JSONataValue("Items", st.Items, statesVar(raw, env), env)
	if err != nil {
		return nil, err
	}
	if _, ok := v.([]any); !ok {
		return nil, expr.UnexpectedType(src, "Items", "array", v)
	}
	return v, nil
}

// MaxConcurrency resolves a Map state's MaxConcurrency: the literal, or
// MaxConcurrencyPath over the raw input (an integer, or a string holding
// one), or the JSONata expression. 0 means unbounded.
func MaxConcurrency(st *model.State, ql string, raw any, env *expr.Env) (int, error) {
	switch {
	case st.MaxConcurrencyPath != "" && !jsonata(ql):
		v, err := expr.Query(st.MaxConcurrencyPath, raw, env)
		if err != nil {
			return 0, err
		}
		n, ok := integer(v)
		if !ok || n < 0 || n > 1<<31-1 {
			text := expr.JSON(v)
			if s, isStr := v.(string); isStr {
				text = s
			}
			return 0, &expr.Error{Name: expr.ErrRuntime, Cause: fmt.Sprintf(
				"The MaxConcurrencyPath field refers to value \"%s\" which is not a valid integer: %s", text, st.MaxConcurrencyPath)}
		}
		return int(n), nil
	case st.MaxConcurrencyExpr != "":
		return jsonataInt(st.MaxConcurrencyExpr, "MaxConcurrency", 0, raw, env)
	}
	return st.MaxConcurrency, nil
}

// withContext returns a copy of env with another Context Object.
func withContext(env *expr.Env, ctx any) *expr.Env {
	e := expr.Env{Context: ctx}
	if env != nil {
		e = *env
		e.Context = ctx
	}
	return &e
}

// jsonataInt evaluates the JSONata expression of an integer field
// (MaxConcurrency, TimeoutSeconds, HeartbeatSeconds, Seconds) and checks
// that it is at least low. A literal number is taken as written.
func jsonataInt(field any, name string, low int64, raw any, env *expr.Env) (int, error) {
	v, err := expr.JSONataValue(name, field, statesVar(raw, env), env)
	if err != nil {
		return 0, err
	}
	n, isInt := v.(int64)
	if !isInt || n < low || n > 1<<31-1 {
		src, _ := field.(string)
		src, _ = expr.IsJSONataExpr(src)
		if !isInt {
			return 0, expr.UnexpectedType(src, name, "integer", v)
		}
		return 0, &expr.Error{Name: expr.ErrQueryEvaluation, Cause: fmt.Sprintf(
			"The JSONata expression '%s' specified for the field '%s' returned %d, which is out of range (%d to %d)", src, name, n, low, 1<<31-1)}
	}
	return int(n), nil
}
