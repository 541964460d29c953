package expr

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// CEL is nexus's own expression language, for Choice conditions not written
// in JSONata, idempotency keys and policies. An expression sees three
// variables: input (the state input), vars (the workflow variables) and
// context (the Context Object). Integers and doubles compare across types
// (input.n == 1 holds for 1.0). Evaluation is bounded by a cost limit.

// celCostLimit bounds the work of one evaluation.
const celCostLimit = 1_000_000

// celEnv builds the declarations every expression is checked against.
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("input", cel.DynType),
		cel.Variable("vars", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("context", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserRecursionLimit(100),
		cel.ParserExpressionSizeLimit(maxJSONataLen),
	)
}

// CELCache compiles CEL expressions once and keeps the programs. The zero
// value is ready to use; it is safe for concurrent use. The caller owns it
// (there is no package-level cache).
type CELCache struct {
	mu    sync.Mutex
	env   *cel.Env
	progs map[string]cel.Program
}

// Eval evaluates src with the variables of vars ("input", "vars",
// "context"; missing ones are null, vars an empty map).
func (c *CELCache) Eval(src string, vars map[string]any) (any, error) {
	prog, err := c.program(src)
	if err != nil {
		return nil, err
	}
	return runCEL(prog, src, vars)
}

func (c *CELCache) program(src string) (cel.Program, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.progs[src]; ok {
		return p, nil
	}
	if c.env == nil {
		env, err := celEnv()
		if err != nil {
			return nil, errorf(ErrQueryEvaluation, "CEL environment: %v", err)
		}
		c.env, c.progs = env, map[string]cel.Program{}
	}
	p, err := compileCEL(c.env, src)
	if err != nil {
		return nil, err
	}
	c.progs[src] = p
	return p, nil
}

// CEL evaluates src once, compiling it on every call; use a CELCache to
// evaluate the same expressions repeatedly.
func CEL(src string, vars map[string]any) (any, error) {
	var c CELCache
	return c.Eval(src, vars)
}

// CELIn evaluates src with the cache of env when it has one (env.CEL),
// compiling it otherwise.
func CELIn(env *Env, src string, vars map[string]any) (any, error) {
	if env != nil && env.CEL != nil {
		return env.CEL.Eval(src, vars)
	}
	return CEL(src, vars)
}

// CheckCEL reports whether src compiles as a CEL expression over input,
// vars and context.
func CheckCEL(src string) error {
	env, err := celEnv()
	if err != nil {
		return err
	}
	_, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return iss.Err()
	}
	return nil
}

func compileCEL(env *cel.Env, src string) (cel.Program, error) {
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, errorf(ErrQueryEvaluation, "The CEL expression '%s' is not valid: %v", src, iss.Err())
	}
	p, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, errorf(ErrQueryEvaluation, "The CEL expression '%s' is not valid: %v", src, err)
	}
	return p, nil
}

func runCEL(p cel.Program, src string, vars map[string]any) (any, error) {
	act := map[string]any{"input": nil, "vars": map[string]any{}, "context": nil}
	for k, v := range vars {
		if v != nil || k != "vars" {
			act[k] = v
		}
	}
	out, _, err := p.Eval(act)
	if err != nil {
		return nil, errorf(ErrQueryEvaluation, "The CEL expression '%s' failed: %v", src, err)
	}
	v, err := fromCEL(out, 0)
	if err != nil {
		return nil, errorf(ErrQueryEvaluation, "The CEL expression '%s' returned %v", src, err)
	}
	return v, nil
}

// fromCEL converts a CEL value to a plain JSON value.
func fromCEL(v ref.Val, depth int) (any, error) {
	if depth > maxTemplateDepth {
		return nil, fmt.Errorf("a value nested deeper than %d levels", maxTemplateDepth)
	}
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return Normalize(uint64(x)), nil
	case types.Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("a number JSON cannot hold (%v)", f)
		}
		return f, nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return string(x), nil
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("a map with a %s key", k.Type().TypeName())
			}
			e, err := fromCEL(x.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	case traits.Lister:
		out := []any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			e, err := fromCEL(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return strconv.FormatFloat(x.Duration.Seconds(), 'f', -1, 64) + "s", nil // as CEL's string(duration)
	}
	return nil, fmt.Errorf("a value of type %s, which JSON cannot hold", v.Type().TypeName())
}
