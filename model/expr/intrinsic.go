package expr

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Intrinsic functions: "States.Name(arg, ...)" in a ".$" template value, a
// JSONPath Assign value, or a Fail state's ErrorPath/CausePath. Arguments
// are single-quoted strings (backslash escapes), numbers, true/false/null,
// paths ($..., $$..., $var...) and nested calls.

// intrinsicNames lists the 18 functions with their arity (min, max; -1 is
// unbounded).
var intrinsicNames = map[string][2]int{
	"States.Format":         {1, -1},
	"States.StringToJson":   {1, 1},
	"States.JsonToString":   {1, 1},
	"States.Array":          {0, -1},
	"States.ArrayPartition": {2, 2},
	"States.ArrayContains":  {2, 2},
	"States.ArrayRange":     {3, 3},
	"States.ArrayGetItem":   {2, 2},
	"States.ArrayLength":    {1, 1},
	"States.ArrayUnique":    {1, 1},
	"States.Base64Encode":   {1, 1},
	"States.Base64Decode":   {1, 1},
	"States.Hash":           {2, 2},
	"States.JsonMerge":      {3, 3},
	"States.MathRandom":     {2, 3},
	"States.MathAdd":        {2, 2},
	"States.StringSplit":    {2, 2},
	"States.UUID":           {0, 0},
}

// Limits AWS applies to intrinsic functions.
const (
	maxIntrinsicInput = 10000 // characters of Base64Encode/Decode and Hash input
	maxArrayRange     = 1000  // elements of ArrayRange's result
	maxCallDepth      = 64    // nesting of calls, a nexus bound against hostile input
)

// call is a parsed intrinsic function call.
type call struct {
	name string
	args []arg
}

// arg is one argument: a literal, a path or a nested call.
type arg struct {
	lit  any
	raw  string // a string literal as written between the quotes, for Format
	str  bool   // lit is a string literal
	path *path
	call *call
}

// IsIntrinsic reports whether s is written as an intrinsic function call
// rather than a path.
func IsIntrinsic(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "States.") }

// parseCall parses a whole intrinsic function call.
func parseCall(s string) (*call, error) {
	if len(s) > maxPathLen*4 {
		return nil, fmt.Errorf("intrinsic function call is longer than %d bytes", maxPathLen*4)
	}
	p := &callParser{s: s}
	p.space()
	c, err := p.call(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the call at offset %d", p.s[p.i:], p.i)
	}
	return c, nil
}

type callParser struct {
	s string
	i int
}

func (p *callParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *callParser) call(depth int) (*call, error) {
	if depth > maxCallDepth {
		return nil, fmt.Errorf("intrinsic function calls nested deeper than %d", maxCallDepth)
	}
	start := p.i
	for p.i < len(p.s) && (isIdentChar(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	name := p.s[start:p.i]
	arity, ok := intrinsicNames[name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %q", name)
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, fmt.Errorf("expected '(' after %s", name)
	}
	p.i++
	c := &call{name: name}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			p.space()
			a, err := p.arg(depth)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			c.args = append(c.args, a)
			p.space()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("%s: missing ')'", name)
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("%s: expected ',' or ')' at offset %d", name, p.i)
			}
			p.i++
		}
	}
	if n := len(c.args); n < arity[0] || arity[1] >= 0 && n > arity[1] {
		return nil, fmt.Errorf("%s takes %s, got %d", name, arityText(arity), n)
	}
	return c, nil
}

func arityText(a [2]int) string {
	switch {
	case a[0] == a[1] && a[0] == 1:
		return "1 argument"
	case a[0] == a[1]:
		return fmt.Sprintf("%d arguments", a[0])
	case a[1] < 0:
		return fmt.Sprintf("at least %d arguments", a[0])
	}
	return fmt.Sprintf("%d to %d arguments", a[0], a[1])
}

func (p *callParser) arg(depth int) (arg, error) {
	if p.i >= len(p.s) {
		return arg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		start := p.i + 1
		i := start
		for ; i < len(p.s) && p.s[i] != '\''; i++ {
			if p.s[i] == '\\' {
				i++
				if i < len(p.s) && !strings.ContainsRune(`'{}\`, rune(p.s[i])) {
					return arg{}, fmt.Errorf("illegal escape '\\%c' at offset %d: only \\' \\{ \\} and \\\\ are escapes", p.s[i], i-1)
				}
			}
		}
		if i >= len(p.s) {
			return arg{}, fmt.Errorf("unterminated string starting at offset %d", p.i)
		}
		raw := p.s[start:i]
		p.i = i + 1
		return arg{lit: unescape(raw), raw: raw, str: true}, nil
	case c == '$':
		start := p.i
		depthB := 0
		for ; p.i < len(p.s); p.i++ {
			ch := p.s[p.i]
			if ch == '\'' || ch == '"' {
				j := p.i + 1
				for ; j < len(p.s) && p.s[j] != ch; j++ {
					if p.s[j] == '\\' {
						j++
					}
				}
				p.i = j
				continue
			}
			if ch == '[' || ch == '(' {
				depthB++
			} else if ch == ']' || ch == ')' {
				if depthB == 0 {
					break
				}
				depthB--
			} else if ch == ',' && depthB == 0 {
				break
			}
		}
		if p.i > len(p.s) {
			p.i = len(p.s)
		}
		pp, err := parsePath(strings.TrimSpace(p.s[start:p.i]))
		if err != nil {
			return arg{}, err
		}
		return arg{path: pp}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		p.i++
		for p.i < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[p.i]) >= 0 {
			p.i++
		}
		text := p.s[start:p.i]
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return arg{lit: i}, nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return arg{}, fmt.Errorf("invalid number %q", text)
		}
		return arg{lit: f}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		sub, err := p.call(depth + 1)
		if err != nil {
			return arg{}, err
		}
		return arg{call: sub}, nil
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return arg{lit: w.v}, nil
		}
	}
	return arg{}, fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
}

// unescape decodes the escapes of an intrinsic string literal. As in
// Step Functions, a backslash escapes only the characters reserved in
// literals: \' \{ \} and \\ (the parser refuses any other).
func unescape(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// Intrinsic evaluates an intrinsic function call against input. Failures
// are States.Runtime errors.
func Intrinsic(src string, input any, env *Env) (any, error) {
	c, err := parseCall(src)
	if err != nil {
		return nil, errorf(ErrRuntime, "Invalid intrinsic function call '%s': %v", src, err)
	}
	return c.eval(input, env, env.rng())
}

// CheckIntrinsic reports whether src is a valid intrinsic function call.
func CheckIntrinsic(src string) error {
	_, err := parseCall(src)
	return err
}

func (c *call) eval(input any, env *Env, r *rand.Rand) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(input, env, r)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, found, err := a.path.eval(input, env)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, errorf(ErrRuntime, "The JSONPath '%s' specified for the function %s could not be found in the input '%s'",
					a.path.src, c.name, JSON(input))
			}
			args[i] = v
		default:
			args[i] = a.lit
		}
	}
	f := &fn{name: c.name, args: args}
	switch c.name {
	case "States.Format":
		tpl, err := f.str(0)
		if err != nil {
			return nil, err
		}
		raw := strings.ReplaceAll(tpl, `\`, `\\`) // a template from data has no escapes
		if c.args[0].str {
			raw = c.args[0].raw
		}
		return f.format(raw)
	case "States.StringToJson":
		s, err := f.str(0)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		v, perr := ParseJSON(s)
		if perr != nil {
			return nil, f.fail("the argument is not valid JSON text: %v", perr)
		}
		return v, nil
	case "States.JsonToString":
		return JSON(args[0]), nil
	case "States.Array":
		return append([]any{}, args...), nil
	case "States.ArrayPartition":
		a, err := f.array(0)
		if err != nil {
			return nil, err
		}
		n, err := f.integer(1)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, f.fail("the chunk size must be a positive integer, but was %d", n)
		}
		size := int(min(n, int64(len(a)+1)))
		out := []any{}
		for i := 0; i < len(a); i += size {
			out = append(out, append([]any{}, a[i:min(len(a), i+size)]...))
		}
		return out, nil
	case "States.ArrayContains":
		a, err := f.array(0)
		if err != nil {
			return nil, err
		}
		for _, e := range a {
			if Equal(e, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		var v [3]int64
		for i := range v {
			n, err := f.integer(i)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
		if v[2] == 0 {
			return nil, f.fail("the step must not be 0")
		}
		count := (v[1]-v[0])/v[2] + 1
		if (v[1]-v[0] < 0) != (v[2] < 0) && v[1] != v[0] {
			count = 0
		}
		if count > maxArrayRange {
			return nil, f.fail("the result would have %d elements; the limit is %d", count, maxArrayRange)
		}
		out := make([]any, 0, count)
		for i := int64(0); i < count; i++ {
			out = append(out, v[0]+i*v[2])
		}
		return out, nil
	case "States.ArrayGetItem":
		a, err := f.array(0)
		if err != nil {
			return nil, err
		}
		i, err := f.integer(1)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(a)) {
			return nil, f.fail("the index %d is out of bounds for an array of length %d", i, len(a))
		}
		return a[i], nil
	case "States.ArrayLength":
		a, err := f.array(0)
		if err != nil {
			return nil, err
		}
		return int64(len(a)), nil
	case "States.ArrayUnique":
		a, err := f.array(0)
		if err != nil {
			return nil, err
		}
		out := []any{}
	next:
		for _, e := range a {
			for _, o := range out {
				if Equal(e, o) {
					continue next
				}
			}
			out = append(out, e)
		}
		return out, nil
	case "States.Base64Encode":
		s, err := f.limitedStr(0)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, err := f.limitedStr(0)
		if err != nil {
			return nil, err
		}
		b, derr := base64.StdEncoding.DecodeString(s)
		if derr != nil {
			return nil, f.fail("the argument is not valid Base64: %v", derr)
		}
		if !utf8.Valid(b) {
			return nil, f.fail("the decoded data is not valid UTF-8 text")
		}
		return string(b), nil
	case "States.Hash":
		s, err := f.limitedStr(0)
		if err != nil {
			return nil, err
		}
		alg, err := f.str(1)
		if err != nil {
			return nil, err
		}
		sum, ok := hexHash(alg, s)
		if !ok {
			return nil, f.fail("the hash algorithm '%s' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", alg)
		}
		return sum, nil
	case "States.JsonMerge":
		a, ok1 := args[0].(map[string]any)
		b, ok2 := args[1].(map[string]any)
		if !ok1 || !ok2 {
			return nil, f.fail("expected two JSON objects, but received %s and %s", TypeName(args[0]), TypeName(args[1]))
		}
		deep, ok := args[2].(bool)
		if !ok {
			return nil, f.typeErr(2, "boolean")
		}
		if deep {
			return nil, f.fail("only shallow merging is supported: the third argument must be false")
		}
		out := make(map[string]any, len(a)+len(b))
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out, nil
	case "States.MathRandom":
		lo, err := f.rounded(0)
		if err != nil {
			return nil, err
		}
		hi, err := f.rounded(1)
		if err != nil {
			return nil, err
		}
		if hi <= lo {
			return nil, f.fail("the end number %d must be greater than the start number %d", hi, lo)
		}
		if len(args) == 3 {
			seed, err := f.rounded(2)
			if err != nil {
				return nil, err
			}
			if hi-lo <= math.MaxInt32 {
				return lo + int64(newJavaRandom(seed).nextInt(int32(hi-lo))), nil
			}
			return lo + rand.New(rand.NewPCG(uint64(seed), 0)).Int64N(hi-lo), nil
		}
		return lo + r.Int64N(hi-lo), nil
	case "States.MathAdd":
		a, err := f.rounded(0)
		if err != nil {
			return nil, err
		}
		b, err := f.rounded(1)
		if err != nil {
			return nil, err
		}
		return a + b, nil
	case "States.StringSplit":
		s, err := f.str(0)
		if err != nil {
			return nil, err
		}
		d, err := f.str(1)
		if err != nil {
			return nil, err
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "States.UUID":
		return uuid4(r), nil
	}
	return nil, errorf(ErrRuntime, "unknown intrinsic function %s", c.name)
}

// fn holds the evaluated arguments of one call, for argument checks that
// fail with AWS-style messages.
type fn struct {
	name string
	args []any
}

func (f *fn) fail(format string, args ...any) *Error {
	return errorf(ErrRuntime, "Intrinsic function %s failed: %s", f.name, fmt.Sprintf(format, args...))
}

func (f *fn) typeErr(i int, want string) *Error {
	return errorf(ErrRuntime, "Intrinsic function %s expected argument %d to be of type '%s', but received %s",
		f.name, i+1, want, TypeName(f.args[i]))
}

func (f *fn) str(i int) (string, error) {
	s, ok := f.args[i].(string)
	if !ok {
		return "", f.typeErr(i, "string")
	}
	return s, nil
}

func (f *fn) limitedStr(i int) (string, error) {
	s, err := f.str(i)
	if err == nil && utf8.RuneCountInString(s) > maxIntrinsicInput {
		return "", f.fail("the input is longer than %d characters", maxIntrinsicInput)
	}
	return s, err
}

func (f *fn) array(i int) ([]any, error) {
	a, ok := f.args[i].([]any)
	if !ok {
		return nil, f.typeErr(i, "array")
	}
	return a, nil
}

// integer accepts an integer, or a float with an integral value.
func (f *fn) integer(i int) (int64, error) {
	switch x := f.args[i].(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int64(x), nil
		}
	}
	return 0, f.typeErr(i, "integer")
}

// rounded accepts any number and rounds it to an integer as Java's
// Math.round does (half up: 1.5 → 2, -1.5 → -1), which is what AWS does
// to the arguments of MathAdd and MathRandom.
func (f *fn) rounded(i int) (int64, error) {
	switch x := f.args[i].(type) {
	case int64:
		return x, nil
	case float64:
		if !math.IsNaN(x) && math.Abs(x) < 1<<62 {
			return int64(math.Floor(x + 0.5)), nil
		}
	}
	return 0, f.typeErr(i, "number")
}

// format implements States.Format over the template as written: "{}" is
// replaced by the next argument, a backslash escapes the next character.
func (f *fn) format(raw string) (any, error) {
	var b strings.Builder
	n := 1
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			b.WriteString(unescape(raw[i-1 : i+1]))
		case c == '{' && i+1 < len(raw) && raw[i+1] == '}':
			if n >= len(f.args) {
				return nil, f.fail("the format string has more placeholders than the %d arguments given", len(f.args)-1)
			}
			b.WriteString(javaString(f.args[n]))
			n++
			i++
		case c == '{' || c == '}':
			return nil, f.fail("the format string has an unescaped '%c'; write '\\\\%c'", c, c)
		default:
			b.WriteByte(c)
		}
	}
	if n != len(f.args) {
		return nil, f.fail("the format string has %d placeholders but %d arguments were given", n-1, len(f.args)-1)
	}
	return b.String(), nil
}

// javaRandom is java.util.Random, which AWS uses for a seeded MathRandom.
type javaRandom struct{ seed int64 }

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ 0x5DEECE66D) & (1<<48 - 1)}
}

func (j *javaRandom) next(bits uint) int32 {
	j.seed = (j.seed*0x5DEECE66D + 0xB) & (1<<48 - 1)
	return int32(j.seed >> (48 - bits))
}

func (j *javaRandom) nextDouble() float64 {
	return float64(int64(j.next(26))<<27+int64(j.next(27))) * (1.0 / (1 << 53))
}

func (j *javaRandom) nextInt(bound int32) int32 {
	r := j.next(31)
	m := bound - 1
	if bound&m == 0 {
		return int32((int64(bound) * int64(r)) >> 31)
	}
	for u := r; ; u = j.next(31) {
		r = u % bound
		if u-r+m >= 0 {
			return r
		}
	}
}

// hexHash is the hex digest of s under one of the algorithms Step
// Functions offers (States.Hash, JSONata $hash); ok is false for others.
func hexHash(alg, s string) (sum string, ok bool) {
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return "", false
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), true
}
