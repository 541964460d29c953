package expr

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Payload templates (Parameters, ResultSelector, ItemSelector, JSONPath
// Assign): a JSON value whose object keys ending in ".$" take a path or an
// intrinsic function call, evaluated against the input; the key loses its
// ".$". Everything else is copied as written, at any depth, arrays
// included.

// maxTemplateDepth bounds the nesting of a template.
const maxTemplateDepth = 256

// Template evaluates a payload template against input. A definite path
// that selects nothing fails with States.Runtime, worded as AWS words it
// ("The JSONPath '$.x' specified for the field 'k.$' could not be found in
// the input '...'").
func Template(tpl, input any, env *Env) (any, error) {
	return template(tpl, input, env, env.rng(), 0)
}

func template(tpl, input any, env *Env, r *rand.Rand, depth int) (any, error) {
	if depth > maxTemplateDepth {
		return nil, errorf(ErrRuntime, "The payload template is nested deeper than %d levels", maxTemplateDepth)
	}
	switch t := tpl.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			v := t[k]
			name, dynamic := strings.CutSuffix(k, ".$")
			if !dynamic {
				if _, clash := t[k+".$"]; clash {
					continue // the ".$" form wins; CheckTemplate reports the clash
				}
				e, err := template(v, input, env, r, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = e
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, errorf(ErrRuntime, "The value of the field '%s' must be a path or an intrinsic function call, but was %s", k, JSON(v))
			}
			e, err := dynamicValue(s, k, input, env, r)
			if err != nil {
				return nil, err
			}
			out[name] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, v := range t {
			e, err := template(v, input, env, r, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	return tpl, nil
}

// dynamicValue evaluates the value of a ".$" field (or of a Fail state's
// ErrorPath/CausePath): an intrinsic function call or a path.
func dynamicValue(s, field string, input any, env *Env, r *rand.Rand) (any, error) {
	if IsIntrinsic(s) {
		c, err := parseCall(s)
		if err != nil {
			return nil, errorf(ErrRuntime, "The value '%s' of the field '%s' is not a valid intrinsic function call: %v", s, field, err)
		}
		return c.eval(input, env, r)
	}
	p, err := parsePath(s)
	if err != nil {
		return nil, errorf(ErrRuntime, "The value '%s' of the field '%s' is not a valid JSONPath: %v", s, field, err)
	}
	v, found, err := p.eval(input, env)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errorf(ErrRuntime, "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", s, field, JSON(input))
	}
	return v, nil
}

// PathOrIntrinsic evaluates s, a path or an intrinsic function call, as the
// value of the field named field (ErrorPath, CausePath, a ".$" key): a
// definite path that selects nothing fails with States.Runtime naming the
// field.
func PathOrIntrinsic(s, field string, input any, env *Env) (any, error) {
	return dynamicValue(s, field, input, env, env.rng())
}

// CheckTemplate reports the first invalid ".$" value of a payload template:
// pointer is the JSON pointer (RFC 6901) of the offending value inside the
// template ("/a/b.$"), err says what is wrong. A key written both with and
// without ".$" is reported too.
func CheckTemplate(tpl any) (pointer string, err error) {
	return checkTemplate(tpl, "", 0)
}

func checkTemplate(tpl any, at string, depth int) (string, error) {
	if depth > maxTemplateDepth {
		return at, fmt.Errorf("the template is nested deeper than %d levels", maxTemplateDepth)
	}
	switch t := tpl.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			ptr := at + "/" + pointerEscape(k)
			name, dynamic := strings.CutSuffix(k, ".$")
			if !dynamic {
				if p, err := checkTemplate(t[k], ptr, depth+1); err != nil {
					return p, err
				}
				continue
			}
			if _, clash := t[name]; clash {
				return ptr, fmt.Errorf("the field %q is also written without \".$\"", name)
			}
			s, ok := t[k].(string)
			if !ok {
				return ptr, fmt.Errorf("the value of %q must be a string holding a path or an intrinsic function call, not %s", k, TypeName(t[k]))
			}
			if err := CheckPathOrIntrinsic(s); err != nil {
				return ptr, err
			}
		}
	case []any:
		for i, v := range t {
			if p, err := checkTemplate(v, at+"/"+strconv.Itoa(i), depth+1); err != nil {
				return p, err
			}
		}
	}
	return "", nil
}

// CheckPathOrIntrinsic reports whether s is a valid path or intrinsic
// function call, the value a ".$" field or ErrorPath/CausePath takes.
func CheckPathOrIntrinsic(s string) error {
	if IsIntrinsic(s) {
		return CheckIntrinsic(s)
	}
	return CheckPath(s)
}

func pointerEscape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
