package dataflow

import (
	"fmt"
	"strings"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Choose evaluates a Choice state: the index of the first rule of
// st.Choices that holds, or -1 for Default; the state's output; the
// variables it assigns. No rule holding and no Default is
// States.NoChoiceMatched.
//
// A matched rule's Assign (and, in JSONata, its Output) apply; the
// state-level Assign and Output apply only when Default is taken, as in
// Step Functions. In JSONPath the rules and Assign read the effective
// input (after InputPath) and OutputPath filters it; in JSONata the
// output is the raw input unless Output says otherwise.
//
// A rule is And/Or/Not over rules, a Variable compared by Op, or a
// Condition: "{% expr %}" is JSONata (over $states), anything else is CEL
// over input, vars and context. A condition must yield a boolean.
func Choose(st *model.State, ql string, raw any, env *expr.Env) (branch int, out any, assigned map[string]any, err error) {
	in := raw
	if !jsonata(ql) {
		if in, err = inputPath(st, raw, env); err != nil {
			return 0, nil, nil, err
		}
	}
	states := statesVar(raw, env)
	branch = -1
	assignBlock, outputBlock := st.Assign, st.Output
	for i, c := range st.Choices {
		ok, err := holds(&c.Rule, ql, in, states, env)
		if err != nil {
			return 0, nil, nil, err
		}
		if ok {
			branch, assignBlock, outputBlock = i, c.Assign, c.Output
			break
		}
	}
	if branch < 0 && st.Default == "" {
		return 0, nil, nil, &expr.Error{Name: expr.ErrNoChoiceMatched,
			Cause: fmt.Sprintf("No Choice rule of state '%s' matched and it has no Default.", st.Name)}
	}
	if assigned, err = assign(assignBlock, ql, in, states, env); err != nil {
		return 0, nil, nil, err
	}
	if jsonata(ql) {
		out = raw
		if outputBlock != nil {
			out, err = expr.JSONataValue("Output", outputBlock, states, env)
		}
	} else {
		out, err = outputPath(st, in, env)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	return branch, out, assigned, nil
}

// maxRuleDepth bounds the nesting of And/Or/Not.
const maxRuleDepth = 256

// holds evaluates one rule.
func holds(r *model.Rule, ql string, in any, states map[string]any, env *expr.Env) (bool, error) {
	return holdsAt(r, ql, in, states, env, 0)
}

func holdsAt(r *model.Rule, ql string, in any, states map[string]any, env *expr.Env, depth int) (bool, error) {
	if depth > maxRuleDepth {
		return false, &expr.Error{Name: expr.ErrRuntime, Cause: fmt.Sprintf("Choice rules are nested deeper than %d levels", maxRuleDepth)}
	}
	switch {
	case r.Condition != "":
		return condition(r.Condition, ql, in, states, env)
	case len(r.And) > 0:
		for _, s := range r.And {
			if ok, err := holdsAt(s, ql, in, states, env, depth+1); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case len(r.Or) > 0:
		for _, s := range r.Or {
			if ok, err := holdsAt(s, ql, in, states, env, depth+1); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := holdsAt(r.Not, ql, in, states, env, depth+1)
		return !ok && err == nil, err
	}
	invalid := func(path string) error {
		return &expr.Error{Name: expr.ErrRuntime, Cause: fmt.Sprintf(
			"Invalid path '%s': The choice state's condition path references an invalid value.", path)}
	}
	v, found, err := expr.Lookup(r.Variable, in, env)
	if err != nil {
		return false, err
	}
	if !found && r.Op != "IsPresent" {
		return false, invalid(r.Variable)
	}
	operand := r.Value
	if strings.HasSuffix(r.Op, "Path") {
		p, ok := r.Value.(string)
		if !ok {
			return false, &expr.Error{Name: expr.ErrRuntime, Cause: fmt.Sprintf("The operand of %s must be a path", r.Op)}
		}
		var opFound bool
		if operand, opFound, err = expr.Lookup(p, in, env); err != nil {
			return false, err
		}
		if !opFound {
			return false, invalid(p)
		}
	}
	return expr.Compare(r.Op, v, found, operand)
}

// condition evaluates a Condition: JSONata when written "{% %}", CEL
// otherwise.
func condition(src, ql string, in any, states map[string]any, env *expr.Env) (bool, error) {
	var v any
	var err error
	if e, ok := expr.IsJSONataExpr(src); ok {
		if v, err = expr.JSONataValue("Condition", src, states, env); err != nil {
			return false, err
		}
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return false, expr.UnexpectedType(e, "Condition", "boolean", v)
	}
	input := in
	if jsonata(ql) {
		input = states["input"]
	}
	var vars map[string]any
	if env != nil {
		vars = env.Vars
	}
	if v, err = expr.CELIn(env, src, map[string]any{"input": input, "vars": vars, "context": states["context"]}); err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &expr.Error{Name: expr.ErrQueryEvaluation, Cause: fmt.Sprintf(
			"The condition '%s' returned %s, not a boolean", src, expr.JSON(v))}
	}
	return b, nil
}
