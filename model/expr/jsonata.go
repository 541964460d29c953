package expr

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"reflect"
	"sort"
	"strings"

	jsonata "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jlib"
	"github.com/blues/jsonata-go/jparse"
	"github.com/blues/jsonata-go/jtypes"
)

// JSONata, as Step Functions runs it. The library (jsonata-go 1.5) ports
// JSONata 1.x; AWS runs 2.x and adds functions of its own. What the
// library lacks or does differently is registered per expression here:
//
//   - $partition, $range, $hash, $random, $uuid, $parse (AWS additions);
//   - $now and $millis read Env.Now, $random and $shuffle draw from Env.Seed
//     (the library reads the wall clock and a global generator);
//   - numbers: the library computes in float64; integral results come back
//     as int64, and integers going in are passed as float64 so that 1 = 1.0.
//
// Bindings: $states ({input, result?, errorOutput?, context}) and every
// workflow variable by name.

// JSONata evaluates one JSONata expression (the text between "{%" and
// "%}") with $states bound to states and the workflow variables of env.
// Failures are States.QueryEvaluationError; an expression that yields
// nothing (undefined) is one too.
func JSONata(src string, states map[string]any, env *Env) (any, error) {
	b := newBindings(states, env)
	return b.eval(src, "", env.rng(), env)
}

// JSONataValue evaluates the JSONata expressions of a field written in
// JSONata mode (Arguments, Output, Assign, Items, Condition, ...): every
// string of v that starts with "{%" and ends with "%}" is replaced by the
// value of the expression between them; objects and arrays are walked;
// other values are kept. As in Step Functions, " {% x %} " (with spaces
// outside the delimiters) is a plain string, not an expression. field names the field for error causes, as AWS names it
// ("Output", "Assign/result"); nested keys are appended with '/'.
func JSONataValue(field string, v any, states map[string]any, env *Env) (any, error) {
	b := newBindings(states, env)
	return b.walk(field, v, env.rng(), env, 0)
}

// UnexpectedType is the error AWS raises when the JSONata expression src
// of field yields v, which is not of the type want ("array", "boolean",
// "integer", "string").
func UnexpectedType(src, field, want string, v any) *Error {
	return errorf(ErrQueryEvaluation,
		"The JSONata expression '%s' specified for the field '%s' returned an unexpected result type. Expected '%s', but was '%s' for value: %s",
		src, field, want, TypeName(v), JSON(v))
}

// IsJSONataExpr reports whether s is written "{% expr %}" (the delimiters
// first and last, nothing outside them) and returns expr, trimmed.
func IsJSONataExpr(s string) (string, bool) {
	if len(s) >= 4 && strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") {
		return strings.TrimSpace(s[2 : len(s)-2]), true
	}
	return "", false
}

// CheckJSONata reports whether src (without the "{% %}" delimiters)
// parses as JSONata.
func CheckJSONata(src string) error {
	_, err := compileJSONata(src)
	return err
}

// compileJSONata parses src, refusing first what the library's lexer
// cannot take.
func compileJSONata(src string) (*jsonata.Expr, error) {
	if len(src) > maxJSONataLen {
		return nil, fmt.Errorf("JSONata expression is longer than %d bytes", maxJSONataLen)
	}
	if err := lexerTrap(src); err != nil {
		return nil, err
	}
	return jsonata.Compile(src)
}

// lexerTrap finds the input that crashes jsonata-go 1.5.4's lexer: '!' or
// '~' (which only begin the operators "!=" and "~>") followed by a
// multi-byte character outside a string literal makes it back up past the
// start of the input. Such input is a syntax error in JSONata anyway.
// Regular expression literals are not told apart from division, so
// /a!é/ is refused too.
func lexerTrap(src string) error {
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"', '\'', '`':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' && c != '`' {
					i++
				}
			}
		case '!', '~':
			if i+1 < len(src) && src[i+1] >= 0x80 {
				return fmt.Errorf("syntax error at offset %d: '%c' must be followed by '%c'", i, c, map[byte]byte{'!': '=', '~': '>'}[c])
			}
		}
	}
	return nil
}

// maxJSONataLen bounds an expression.
const maxJSONataLen = 64 << 10

// bindings are the values an expression sees, converted once for all the
// expressions of a field.
type bindings struct {
	vars map[string]any
}

func newBindings(states map[string]any, env *Env) *bindings {
	vars := map[string]any{}
	if env != nil {
		for k, v := range env.Vars {
			vars[k] = toJSONataValue(v)
		}
	}
	vars["states"] = toJSONataValue(states)
	return &bindings{vars: vars}
}

func (b *bindings) walk(field string, v any, r *rand.Rand, env *Env, depth int) (any, error) {
	if depth > maxTemplateDepth {
		return nil, errorf(ErrQueryEvaluation, "The field '%s' is nested deeper than %d levels", field, maxTemplateDepth)
	}
	switch t := v.(type) {
	case string:
		src, ok := IsJSONataExpr(t)
		if !ok {
			return t, nil
		}
		return b.eval(src, field, r, env)
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			e, err := b.walk(join(field, k), t[k], r, env, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, err := b.walk(join(field, fmt.Sprint(i)), e, r, env, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return v, nil
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "/" + key
}

func (b *bindings) eval(src, field string, r *rand.Rand, env *Env) (any, error) {
	fail := func(format string, args ...any) *Error {
		where := ""
		if field != "" {
			where = fmt.Sprintf(" specified for the field '%s'", field)
		}
		return errorf(ErrQueryEvaluation, "The JSONata expression '%s'%s %s", src, where, fmt.Sprintf(format, args...))
	}
	e, err := compileJSONata(src)
	if err != nil {
		return nil, fail("is not valid JSONata: %v", err)
	}
	if err := e.RegisterVars(b.vars); err != nil {
		return nil, fail("could not be bound: %v", err)
	}
	if err := e.RegisterExts(extensions(r, env)); err != nil {
		return nil, fail("could not be bound: %v", err)
	}
	v, err := e.Eval(nil)
	if errors.Is(err, jsonata.ErrUndefined) {
		if b.emptyArrayPath(src) {
			return []any{}, nil
		}
		return nil, fail("returned nothing (undefined).")
	}
	if err != nil {
		return nil, fail("threw an error during evaluation: %v", err)
	}
	out, ok := fromJSONataValue(reflect.ValueOf(v), 0)
	if !ok {
		return nil, fail("returned a value that is not JSON (a function?).")
	}
	return out, nil
}

// jsonataNull is how the library represents null (a nil Go interface is
// undefined to it).
var jsonataNull *any

// emptyArrayPath reports whether src is a plain path from a variable
// ($states.input.items, $v.a.b) that selects an empty array. JSONata 2
// yields [] for it; the library yields nothing, as it drops empty arrays
// between path steps.
func (b *bindings) emptyArrayPath(src string) bool {
	node, err := jparse.Parse(src)
	p, ok := node.(*jparse.PathNode)
	if err != nil || !ok || len(p.Steps) < 2 {
		return false
	}
	root, ok := p.Steps[0].(*jparse.VariableNode)
	if !ok {
		return false
	}
	v := b.vars[root.Name]
	for _, step := range p.Steps[1:] {
		name, ok := step.(*jparse.NameNode)
		m, isMap := v.(map[string]any)
		if !ok || !isMap {
			return false
		}
		if v, ok = m[name.Value]; !ok {
			return false
		}
	}
	a, ok := v.([]any)
	return ok && len(a) == 0
}

// toJSONataValue converts a plain value for the library: null becomes the
// library's null, int64 becomes float64 so that comparisons with number
// literals behave.
func toJSONataValue(v any) any {
	switch x := v.(type) {
	case nil:
		return jsonataNull
	case int64:
		return float64(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toJSONataValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = toJSONataValue(e)
		}
		return s
	}
	return v
}

// fromJSONataValue converts what the library returns into a plain value.
// It reports false for values JSON cannot hold (functions, NaN).
func fromJSONataValue(v reflect.Value, depth int) (any, bool) {
	if depth > 10*maxTemplateDepth {
		return nil, false
	}
	v = jtypes.Resolve(v)
	if !v.IsValid() {
		return nil, true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return nil, v.IsNil()
	case reflect.Bool:
		return v.Bool(), true
	case reflect.String:
		return v.String(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Normalize(v.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		return intFloat(f), true
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			e, ok := fromJSONataValue(v.Index(i), depth+1)
			if !ok {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, false
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			e, ok := fromJSONataValue(it.Value(), depth+1)
			if !ok {
				return nil, false
			}
			out[it.Key().String()] = e
		}
		return out, true
	}
	return nil, false
}

// extensions are the functions registered on every expression.
func extensions(r *rand.Rand, env *Env) map[string]jsonata.Extension {
	var now = env.now()
	ms := now.UnixMilli()
	return map[string]jsonata.Extension{
		"now": {Func: func(picture, tz jtypes.OptionalString) (string, error) {
			if !picture.IsSet() {
				return now.UTC().Format("2006-01-02T15:04:05.000Z"), nil
			}
			return jlib.FromMillis(ms, picture, tz)
		}},
		"millis": {Func: func() int64 { return ms }},
		"random": {Func: func() float64 { return r.Float64() }},
		"randomSeeded": {Func: func(seed float64) float64 {
			return newJavaRandom(int64(seed)).nextDouble()
		}},
		"uuid": {Func: func() string { return uuid4(r) }},
		"shuffle": {Func: func(v any) (any, error) {
			a, ok := v.([]any)
			if !ok {
				return v, nil
			}
			out := append([]any(nil), a...)
			r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out, nil
		}},
		// Object keys in a fixed order (the library walks Go maps in
		// random order), so that the same Env gives the same result.
		"keys": {Func: func(v reflect.Value) (any, error) {
			if v = jtypes.Resolve(v); v.IsValid() && (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) {
				seen := map[string]bool{} // the keys of every object of an array, once each
				for i := range v.Len() {
					keys, _ := sortedMapKeys(v.Index(i))
					for _, k := range keys {
						seen[k.(string)] = true
					}
				}
				return sequence(sortedAny(seen))
			}
			keys, _ := sortedMapKeys(v)
			return sequence(keys)
		}},
		"spread": {Func: func(v reflect.Value) (any, error) {
			keys, m := sortedMapKeys(v)
			if !m.IsValid() {
				return v.Interface(), nil
			}
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = map[string]any{k.(string): m.MapIndex(reflect.ValueOf(k)).Interface()}
			}
			return sequence(out)
		}},
		"each": {Func: func(v reflect.Value, fn jtypes.Callable) (any, error) {
			keys, m := sortedMapKeys(v)
			if !m.IsValid() {
				return nil, fmt.Errorf("$each: the first argument must be an object")
			}
			var out []any
			for _, k := range keys {
				argv := []reflect.Value{m.MapIndex(reflect.ValueOf(k)), reflect.ValueOf(k), m}[:min(fn.ParamCount(), 3)]
				r, err := fn.Call(argv)
				if err != nil {
					return nil, err
				}
				if r.IsValid() && r.CanInterface() {
					out = append(out, r.Interface())
				}
			}
			return sequence(out)
		}},
		"encodeUrlComponent": {Func: func(s string) string { return percentEncode(s, "-_.!~*'()") }},
		"encodeUrl":          {Func: func(s string) string { return percentEncode(s, "-_.!~*'();,/?:@&=+$#") }},
		"decodeUrlComponent": {Func: url.PathUnescape},
		"decodeUrl":          {Func: url.PathUnescape},
		"parse": {Func: func(s string) (any, error) {
			v, err := ParseJSON(s)
			if err != nil {
				return nil, fmt.Errorf("$parse: %v", err)
			}
			return toJSONataValue(v), nil
		}},
		"partition": {Func: func(v any, size float64) (any, error) {
			a, ok := v.([]any)
			if !ok {
				a = []any{v}
			}
			if size != math.Trunc(size) || size < 1 {
				return nil, fmt.Errorf("$partition: the chunk size must be a positive integer, but was %v", size)
			}
			n := int(min(size, float64(len(a)+1)))
			out := []any{}
			for i := 0; i < len(a); i += n {
				out = append(out, append([]any{}, a[i:min(len(a), i+n)]...))
			}
			return out, nil
		}},
		"range": {Func: func(start, end, step float64) (any, error) {
			if start != math.Trunc(start) || end != math.Trunc(end) || step != math.Trunc(step) || step == 0 {
				return nil, fmt.Errorf("$range: start, end and step must be integers and step non-zero")
			}
			count := math.Floor((end-start)/step) + 1
			if count < 0 {
				count = 0
			}
			if count > maxArrayRange {
				return nil, fmt.Errorf("$range: the result would have %v elements; the limit is %d", count, maxArrayRange)
			}
			out := make([]any, 0, int(count))
			for i := 0; i < int(count); i++ {
				out = append(out, start+float64(i)*step)
			}
			if len(out) == 1 {
				return out[0], nil // a singleton sequence is its element in JSONata
			}
			return out, nil
		}},
		"hash": {Func: func(s, alg string) (string, error) {
			sum, ok := hexHash(alg, s)
			if !ok {
				return "", fmt.Errorf("$hash: the algorithm '%s' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", alg)
			}
			return sum, nil
		}},
	}
}

// percentEncode escapes s as JavaScript's encodeURIComponent (keep
// "-_.!~*'()") or encodeURI (keep more) do: every other byte of the UTF-8
// text but ASCII letters and digits becomes %XX. The library escapes
// spaces as "+", which JSONata does not.
func percentEncode(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// sortedMapKeys returns the keys of the object v in increasing order, and
// v itself; nil when v is not an object.
func sortedMapKeys(v reflect.Value) ([]any, reflect.Value) {
	v = jtypes.Resolve(v)
	if !v.IsValid() || v.Kind() != reflect.Map || v.Type().Key().Kind() != reflect.String {
		return nil, reflect.Value{}
	}
	set := make(map[string]bool, v.Len())
	for _, k := range v.MapKeys() {
		set[k.String()] = true
	}
	return sortedAny(set), v
}

// sortedAny returns the members of a set of strings in increasing order.
func sortedAny(set map[string]bool) []any {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// sequence returns a function result as JSONata returns a sequence:
// nothing when empty, the item itself when single.
func sequence(items []any) (any, error) {
	switch len(items) {
	case 0:
		return nil, jtypes.ErrUndefined
	case 1:
		return items[0], nil
	}
	return items, nil
}
