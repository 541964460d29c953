package expr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// Paths as Amazon States Language writes them. A path starts with "$" (the
// state input), "$$" (the Context Object) or "$name" (a workflow
// variable), followed by JSONPath segments. ASL's JSONPath is Jayway's:
// dotted names may contain any character but '.' and '[' ($.delivery-partner),
// quoted bracket names keep backslashes other than an escaped quote, and a
// path with a wildcard, slice, union, filter or descent is indefinite: it
// yields a list (possibly empty) where a definite path yields one value or
// fails. The segments are turned into an ojg expression, which evaluates
// them.

// pathRoot says what a path starts from.
type pathRoot uint8

const (
	rootInput pathRoot = iota
	rootContext
	rootVar
)

// path is a parsed ASL path.
type path struct {
	src      string
	root     pathRoot
	name     string  // variable name for rootVar
	x        jp.Expr // segments after the root, starting with jp.Root
	definite bool
}

// maxPathLen bounds a path, so that hostile input cannot make parsing or
// evaluation expensive.
const maxPathLen = 4096

func parsePath(s string) (*path, error) {
	if len(s) > maxPathLen {
		return nil, fmt.Errorf("path is longer than %d bytes", maxPathLen)
	}
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q does not start with '$'", s)
	}
	p := &path{src: s, definite: true}
	rest := s[1:]
	switch {
	case strings.HasPrefix(rest, "$"):
		p.root, rest = rootContext, rest[1:]
	case rest != "" && isIdentStart(rest[0]):
		i := 1
		for i < len(rest) && isIdentChar(rest[i]) {
			i++
		}
		p.root, p.name, rest = rootVar, rest[:i], rest[i:]
	}
	x, definite, err := parseSegments(rest)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s, err)
	}
	p.x, p.definite = x, definite
	return p, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// parseSegments parses what follows the root of a path.
func parseSegments(s string) (jp.Expr, bool, error) {
	x := jp.Expr{jp.Root('$')}
	definite := true
	for i := 0; i < len(s); {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '.' {
				x = append(x, jp.Descent('.'))
				definite = false
				i++
				if i < len(s) && s[i] == '[' {
					continue
				}
			} else if i < len(s) && s[i] == '[' {
				continue // Jayway accepts "$.[0]" for "$[0]"
			}
			if i < len(s) && s[i] == '*' {
				x = append(x, jp.Wildcard('*'))
				definite = false
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, false, fmt.Errorf("empty name at offset %d", i)
			}
			x = append(x, jp.Child(s[i:j]))
			i = j
		case '[':
			end, err := bracketEnd(s, i)
			if err != nil {
				return nil, false, err
			}
			f, def, err := parseBracket(s[i+1 : end])
			if err != nil {
				return nil, false, err
			}
			x = append(x, f)
			definite = definite && def
			i = end + 1
		default:
			return nil, false, fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
	}
	return x, definite, nil
}

// bracketEnd returns the index of the ']' closing the '[' at s[start],
// skipping quoted strings and nested brackets and parentheses.
func bracketEnd(s string, start int) (int, error) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return 0, fmt.Errorf("unterminated string at offset %d", i)
			}
			i = j
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 {
				if c != ']' {
					return 0, fmt.Errorf("unbalanced ')' at offset %d", i)
				}
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated '[' at offset %d", start)
}

// parseBracket parses the inside of [...]: quoted names (a union when
// several), '*', or what ojg parses itself (indexes, slices, unions of
// indexes, filters).
func parseBracket(in string) (jp.Frag, bool, error) {
	t := strings.TrimSpace(in)
	if t == "*" {
		return jp.Wildcard('*'), false, nil
	}
	if t != "" && (t[0] == '\'' || t[0] == '"') {
		names, err := quotedNames(t)
		if err != nil {
			return nil, false, err
		}
		if len(names) == 1 {
			return jp.Child(names[0]), true, nil
		}
		u := make(jp.Union, len(names))
		for i, n := range names {
			u[i] = n
		}
		return u, false, nil
	}
	if t == "" {
		return nil, false, fmt.Errorf("empty brackets")
	}
	if n, err := strconv.Atoi(t); err == nil {
		return jp.Nth(n), true, nil
	}
	x, err := jp.ParseString("$[" + in + "]")
	if err != nil {
		return nil, false, err
	}
	if len(x) != 2 {
		return nil, false, fmt.Errorf("unsupported bracket expression [%s]", in)
	}
	return x[1], false, nil
}

// quotedNames parses 'a' or 'a', "b" ... A backslash escapes the quote
// that delimits the string and nothing else, as in Jayway.
func quotedNames(t string) ([]string, error) {
	var names []string
	for {
		q := t[0]
		var b strings.Builder
		i := 1
		for ; i < len(t) && t[i] != q; i++ {
			if t[i] == '\\' && i+1 < len(t) && t[i+1] == q {
				i++
			}
			b.WriteByte(t[i])
		}
		if i >= len(t) {
			return nil, fmt.Errorf("unterminated string")
		}
		names = append(names, b.String())
		t = strings.TrimSpace(t[i+1:])
		if t == "" {
			return names, nil
		}
		if t[0] != ',' {
			return nil, fmt.Errorf("unexpected %q after quoted name", t[0])
		}
		t = strings.TrimSpace(t[1:])
		if t == "" || t[0] != '\'' && t[0] != '"' {
			return nil, fmt.Errorf("expected a quoted name after ','")
		}
	}
}

// normal renders the segments the way Jayway prints a path in its error
// messages: $['a']['b'][0].
func (p *path) normal() string {
	var b strings.Builder
	b.WriteString("$")
	for _, f := range p.x[1:] {
		switch f := f.(type) {
		case jp.Child:
			b.WriteString("['")
			b.WriteString(string(f))
			b.WriteString("']")
		case jp.Nth:
			fmt.Fprintf(&b, "[%d]", int(f))
		case jp.Wildcard:
			b.WriteString("[*]")
		case jp.Descent:
			b.WriteString("..")
		default:
			b.WriteString(jp.Expr{f}.String())
		}
	}
	return b.String()
}

// eval applies p. found is false when a definite path selects nothing; an
// indefinite path always finds a (possibly empty) list.
func (p *path) eval(input any, env *Env) (v any, found bool, err error) {
	data := input
	switch p.root {
	case rootContext:
		data = env.context()
	case rootVar:
		val, ok := env.variable(p.name)
		if !ok {
			return nil, false, errorf(ErrRuntime, "The variable '$%s' is not defined", p.name)
		}
		data = val
	}
	if len(p.x) == 1 {
		return data, true, nil
	}
	res := p.x.Get(data)
	if !p.definite {
		if res == nil {
			res = []any{}
		}
		return res, true, nil
	}
	if len(res) == 0 {
		return nil, false, nil
	}
	return res[0], true, nil
}

// Query evaluates an ASL path against input: "$..." selects from input,
// "$$..." from env.Context, "$name..." from the variable name. A definite
// path that selects nothing is a States.Runtime error worded as AWS words
// it for InputPath and OutputPath; an indefinite path yields a list.
func Query(path string, input any, env *Env) (any, error) {
	p, err := parsePath(path)
	if err != nil {
		return nil, errorf(ErrRuntime, "Invalid path '%s' : %v", path, err)
	}
	v, found, err := p.eval(input, env)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errorf(ErrRuntime, "Invalid path '%s' : No results for path: %s", path, p.normal())
	}
	return v, nil
}

// Lookup evaluates an ASL path like Query but reports a definite path that
// selects nothing as found == false instead of an error (a Choice rule's
// Variable, IsPresent).
func Lookup(path string, input any, env *Env) (v any, found bool, err error) {
	p, perr := parsePath(path)
	if perr != nil {
		return nil, false, errorf(ErrRuntime, "Invalid path '%s' : %v", path, perr)
	}
	return p.eval(input, env)
}

// CheckPath reports whether p is a valid ASL path (for InputPath,
// OutputPath, ItemsPath, Variable, the *Path fields and ".$" values).
func CheckPath(p string) error {
	_, err := parsePath(p)
	return err
}

// CheckReferencePath reports whether p is a valid reference path, the
// restricted form ResultPath takes: rooted at the input, definite (names
// and indexes only).
func CheckReferencePath(p string) error {
	pp, err := parsePath(p)
	if err != nil {
		return err
	}
	if pp.root != rootInput {
		return fmt.Errorf("path %q: a reference path must start with '$' followed by '.' or '['", p)
	}
	if !pp.definite {
		return fmt.Errorf("path %q: a reference path cannot contain wildcards, slices, unions, filters or '..'", p)
	}
	return nil
}
