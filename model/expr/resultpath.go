package expr

import (
	"github.com/ohler55/ojg/jp"
)

// SetResult places result into input at resultPath, as ResultPath does:
// "" (ResultPath: null) discards the result and returns input unchanged,
// "$" returns the result, "$.a.b" returns a copy of input with a.b set,
// creating missing objects on the way. A path through a value that is not
// an object (or an index outside an array) fails with
// States.ResultPathMatchFailure. input is never modified: the objects and
// arrays on the path are copied, the rest is shared.
func SetResult(input any, resultPath string, result any) (any, error) {
	if resultPath == "" {
		return input, nil
	}
	if err := CheckReferencePath(resultPath); err != nil {
		return nil, errorf(ErrRuntime, "Invalid ResultPath '%s': %v", resultPath, err)
	}
	p, _ := parsePath(resultPath)
	out, ok := setAt(input, p.x[1:], result)
	if !ok {
		return nil, errorf(ErrResultPathMatchFailure, "Unable to apply ResultPath '%s' to input '%s'", resultPath, JSON(input))
	}
	return out, nil
}

// setAt returns node with the value at frags replaced by v, or false when
// the path does not fit node.
func setAt(node any, frags []jp.Frag, v any) (any, bool) {
	if len(frags) == 0 {
		return v, true
	}
	switch f := frags[0].(type) {
	case jp.Child:
		m, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		child, exists := m[string(f)]
		if !exists && len(frags) > 1 {
			child = map[string]any{}
		}
		e, ok := setAt(child, frags[1:], v)
		if !ok {
			return nil, false
		}
		out := make(map[string]any, len(m)+1)
		for k, x := range m {
			out[k] = x
		}
		out[string(f)] = e
		return out, true
	case jp.Nth:
		a, ok := node.([]any)
		i := int(f)
		if i < 0 {
			i += len(a)
		}
		if !ok || i < 0 || i >= len(a) {
			return nil, false
		}
		e, ok := setAt(a[i], frags[1:], v)
		if !ok {
			return nil, false
		}
		out := append([]any(nil), a...)
		out[i] = e
		return out, true
	}
	return nil, false
}
