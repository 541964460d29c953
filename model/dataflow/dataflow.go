// Package dataflow computes the data semantics of workflow states exactly
// as AWS Step Functions defines them: what a state receives, what it
// produces, which variables it assigns, which Choice branch it takes, what
// a Fail state or a catcher reports, how long a Wait state waits.
//
// The kernel (package model) decides control flow only; every decision
// that depends on data is made by a driver calling these pure functions
// and feeding the answer back as an event. They read no clock and draw no
// random number: time and entropy come in expr.Env.
//
// Each function takes the state, its effective query language ql
// (model.JSONPath or model.JSONata, inheritance already resolved by the
// caller), the state's raw input and an Env whose Context is the Context
// Object of this state entry and whose Vars are the variables in scope
// before the state. Failures are *expr.Error values with AWS's error names;
// their causes are the message proper, which the driver turns into AWS's
// full wording with (*expr.Error).InState.
//
// The data flow of a JSONPath state is
//
//	raw input → InputPath → Parameters → (work) → ResultSelector → ResultPath (into raw input) → OutputPath
//
// and of a JSONata state
//
//	raw input ($states.input) → Arguments → (work, $states.result) → Output
//
// with Assign evaluated, in both, against the variables as they were
// before the state, all names at once.
package dataflow

import (
	"fmt"
	"strconv"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// MaxPayloadBytes is AWS's limit on the JSON text of a state's input or
// output (256 KiB).
const MaxPayloadBytes = 256 << 10

// jsonata reports whether ql selects JSONata.
func jsonata(ql string) bool { return ql == model.JSONata }

// statesVar builds the $states binding of a JSONata expression; callers
// add "result" and "errorOutput" where they exist.
func statesVar(raw any, env *expr.Env) map[string]any {
	return map[string]any{"input": raw, "context": context(env)}
}

func context(env *expr.Env) any {
	if env == nil {
		return nil
	}
	return env.Context
}

// inputPath applies InputPath: the raw input when unset, {} when null.
func inputPath(st *model.State, raw any, env *expr.Env) (any, error) {
	p := st.InputPath.Value()
	if p == "" {
		return map[string]any{}, nil
	}
	return expr.Query(p, raw, env)
}

// outputPath applies OutputPath: the value when unset, {} when null.
func outputPath(st *model.State, v any, env *expr.Env) (any, error) {
	p := st.OutputPath.Value()
	if p == "" {
		return map[string]any{}, nil
	}
	return expr.Query(p, v, env)
}

// Input returns the effective input of a Task, Parallel or sub-workflow
// state: InputPath then Parameters (JSONPath), or Arguments (JSONata).
func Input(st *model.State, ql string, raw any, env *expr.Env) (any, error) {
	if jsonata(ql) {
		if st.Arguments == nil {
			return raw, nil
		}
		return expr.JSONataValue("Arguments", st.Arguments, statesVar(raw, env), env)
	}
	v, err := inputPath(st, raw, env)
	if err != nil || st.Parameters == nil {
		return v, err
	}
	return expr.Template(st.Parameters, v, env)
}

// assign evaluates an Assign block. In JSONPath it is a payload template
// over in (the state's result, or its input for Choice, Wait and Succeed,
// or the error output for a catcher); in JSONata its expressions see
// states. Both see the variables of env, which are those before the state.
func assign(block any, ql string, in any, states map[string]any, env *expr.Env) (map[string]any, error) {
	if block == nil {
		return nil, nil
	}
	var v any
	var err error
	if jsonata(ql) {
		v, err = expr.JSONataValue("Assign", block, states, env)
	} else {
		v, err = expr.Template(block, in, env)
	}
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &expr.Error{Name: expr.ErrRuntime, Cause: "The Assign field must be an object, but was " + expr.JSON(v)}
	}
	return m, nil
}

// checkSize enforces MaxPayloadBytes on what a state passes on.
func checkSize(st *model.State, v any) error {
	if expr.Size(v) > MaxPayloadBytes {
		return &expr.Error{Name: expr.ErrDataLimitExceeded, Cause: fmt.Sprintf(
			"The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.Name)}
	}
	return nil
}

// Result returns the output of a state after its work, and the variables
// it assigns. result is the work's result: the function's output for a
// Task, the array of branch or item outputs for Parallel and Map; it is
// ignored for Pass (whose result is Result, or Parameters over the
// effective input), Wait and Succeed.
//
// JSONPath: ResultSelector shapes result, ResultPath places it into the raw
// input, OutputPath filters; Assign's "$" is the result before
// ResultSelector (the effective input for Wait and Succeed). JSONata:
// Output (default: the result, or the input for Pass, Wait and Succeed)
// and Assign see $states.input and $states.result.
func Result(st *model.State, ql string, raw, result any, env *expr.Env) (out any, assigned map[string]any, err error) {
	if jsonata(ql) {
		out, assigned, err = jsonataResult(st, raw, result, env)
	} else {
		out, assigned, err = jsonpathResult(st, raw, result, env)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := checkSize(st, out); err != nil {
		return nil, nil, err
	}
	return out, assigned, nil
}

func jsonataResult(st *model.State, raw, result any, env *expr.Env) (any, map[string]any, error) {
	states := statesVar(raw, env)
	out := raw
	switch st.Kind {
	case model.KindPass:
		if st.HasResult {
			out = st.Result
		}
	case model.KindWait, model.KindSucceed, model.KindChoice, model.KindFail:
	default:
		states["result"] = result
		out = result
	}
	assigned, err := assign(st.Assign, model.JSONata, nil, states, env)
	if err != nil {
		return nil, nil, err
	}
	if st.Output != nil {
		if out, err = expr.JSONataValue("Output", st.Output, states, env); err != nil {
			return nil, nil, err
		}
	}
	return out, assigned, nil
}

func jsonpathResult(st *model.State, raw, result any, env *expr.Env) (any, map[string]any, error) {
	switch st.Kind {
	case model.KindWait, model.KindSucceed, model.KindChoice, model.KindFail:
		in, err := inputPath(st, raw, env)
		if err != nil {
			return nil, nil, err
		}
		assigned, err := assign(st.Assign, model.JSONPath, in, nil, env)
		if err != nil {
			return nil, nil, err
		}
		out, err := outputPath(st, in, env)
		return out, assigned, err
	case model.KindPass:
		if st.HasResult {
			result = st.Result
		} else {
			in, err := inputPath(st, raw, env)
			if err != nil {
				return nil, nil, err
			}
			result = in
			if st.Parameters != nil {
				if result, err = expr.Template(st.Parameters, in, env); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	assigned, err := assign(st.Assign, model.JSONPath, result, nil, env)
	if err != nil {
		return nil, nil, err
	}
	if st.ResultSelector != nil && st.Kind != model.KindPass {
		if result, err = expr.Template(st.ResultSelector, result, env); err != nil {
			return nil, nil, err
		}
	}
	out, err := expr.SetResult(raw, st.ResultPath.Value(), result)
	if err != nil {
		return nil, nil, err
	}
	out, err = outputPath(st, out, env)
	return out, assigned, err
}

// Catch returns what catcher c of state st passes to its Next state when
// st failed with errName and cause, and the variables it assigns. The
// error output is {"Error": errName, "Cause": cause}. JSONPath: ResultPath
// (default "$") places it into the raw input, Assign's "$" is the error
// output. JSONata: Output (default: the error output) and Assign see
// $states.input and $states.errorOutput.
func Catch(st *model.State, c *model.Catcher, ql string, raw any, errName, cause string, env *expr.Env) (out any, assigned map[string]any, err error) {
	errOut := map[string]any{"Error": errName, "Cause": cause}
	if jsonata(ql) {
		states := statesVar(raw, env)
		states["errorOutput"] = errOut
		if assigned, err = assign(c.Assign, ql, nil, states, env); err != nil {
			return nil, nil, err
		}
		out = errOut
		if c.Output != nil {
			if out, err = expr.JSONataValue("Output", c.Output, states, env); err != nil {
				return nil, nil, err
			}
		}
		return out, assigned, nil
	}
	if assigned, err = assign(c.Assign, ql, errOut, nil, env); err != nil {
		return nil, nil, err
	}
	out, err = expr.SetResult(raw, c.ResultPath.Value(), errOut)
	if err != nil {
		return nil, nil, err
	}
	return out, assigned, nil
}

// Fail returns the error and cause a Fail state ends with; nil when the
// state gives none (AWS then reports null, not ""). JSONPath: Error and
// Cause, or ErrorPath and CausePath (a path or an intrinsic function call
// over the raw input). JSONata: Error and Cause, literal or "{% %}".
func Fail(st *model.State, ql string, raw any, env *expr.Env) (errName, cause *string, err error) {
	field := func(lit, path, name string) (*string, error) {
		var v any
		var err error
		switch {
		case path != "" && !jsonata(ql):
			v, err = expr.PathOrIntrinsic(path, name+"Path", raw, env)
		case lit == "":
			return nil, nil
		case jsonata(ql):
			v, err = expr.JSONataValue(name, lit, statesVar(raw, env), env)
		default:
			v = lit
		}
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, &expr.Error{Name: failName(ql), Cause: fmt.Sprintf("The %s field must be a string, but was %s", name, expr.JSON(v))}
		}
		return &s, nil
	}
	if errName, err = field(st.Error, st.ErrorPath, "Error"); err != nil {
		return nil, nil, err
	}
	if cause, err = field(st.Cause, st.CausePath, "Cause"); err != nil {
		return nil, nil, err
	}
	return errName, cause, nil
}

// failName is the error a failed evaluation in ql raises.
func failName(ql string) string {
	if jsonata(ql) {
		return expr.ErrQueryEvaluation
	}
	return expr.ErrRuntime
}

// integer reads an integer from a JSON value: an int64, an integral float,
// or (as AWS accepts for MaxConcurrencyPath) a string holding one.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		return i, err == nil
	}
	return 0, false
}
