package expr

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"
)

// Choice rule comparison operators. A comparison whose variable has the
// wrong type is false, never an error (StringEquals on a number, Numeric*
// on a string or boolean, Timestamp* on a string that is not a
// timestamp). IsNull, IsNumeric, IsString, IsBoolean and IsTimestamp with
// false mean "is not". Only IsPresent accepts a variable that selects
// nothing; every other operator fails then, as AWS does.

var operatorNames = func() []string {
	var ops []string
	for _, t := range []string{"String", "Numeric", "Timestamp"} {
		for _, c := range []string{"Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"} {
			ops = append(ops, t+c, t+c+"Path")
		}
	}
	return append(ops, "BooleanEquals", "BooleanEqualsPath", "StringMatches",
		"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
}()

// Operators returns the names of the ASL comparison operators.
func Operators() []string { return append([]string(nil), operatorNames...) }

func knownOperator(op string) bool {
	for _, o := range operatorNames {
		if o == op {
			return true
		}
	}
	return false
}

// Compare evaluates one comparison: value is what the rule's Variable
// selected (present is false when it selected nothing) and operand is the
// operator's value, or for a "...Path" operator the value its path
// selected. A missing variable fails with States.Runtime except under
// IsPresent.
func Compare(op string, value any, present bool, operand any) (bool, error) {
	if !knownOperator(op) {
		return false, errorf(ErrRuntime, "Unknown comparison operator '%s'", op)
	}
	if strings.HasPrefix(op, "Is") {
		want, ok := operand.(bool)
		if !ok {
			return false, errorf(ErrRuntime, "The operand of %s must be a boolean, but was %s", op, TypeName(operand))
		}
		if op == "IsPresent" {
			return present == want, nil
		}
		if !present {
			return false, errorf(ErrRuntime, "The choice state's condition path references an invalid value.")
		}
		var is bool
		switch op {
		case "IsNull":
			is = value == nil
		case "IsNumeric":
			is = isNumber(value)
		case "IsString":
			_, is = value.(string)
		case "IsBoolean":
			_, is = value.(bool)
		case "IsTimestamp":
			s, ok := value.(string)
			is = ok && isTimestamp(s)
		}
		return is == want, nil
	}
	if !present {
		return false, errorf(ErrRuntime, "The choice state's condition path references an invalid value.")
	}
	base := strings.TrimSuffix(op, "Path")
	switch {
	case base == "StringMatches":
		s, ok1 := value.(string)
		pat, ok2 := operand.(string)
		return ok1 && ok2 && wildcardMatch(pat, s), nil
	case base == "BooleanEquals":
		a, ok1 := value.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case strings.HasPrefix(base, "String"):
		a, ok1 := value.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return ordered(base, compareUTF16(a, b)), nil
	case strings.HasPrefix(base, "Numeric"):
		_, isBool := value.(bool)
		a, ok1 := toFloat(value)
		b, ok2 := toFloat(operand)
		if isBool || !ok1 || !ok2 {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return ordered(base, c), nil
	case strings.HasPrefix(base, "Timestamp"):
		a, ok1 := value.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		ta, err1 := ParseTimestamp(a)
		tb, err2 := ParseTimestamp(b)
		if err1 != nil || err2 != nil {
			return false, nil
		}
		return ordered(base, ta.Compare(tb)), nil
	}
	return false, errorf(ErrRuntime, "Unknown comparison operator '%s'", op)
}

// ordered turns a three-way comparison into the operator's verdict.
func ordered(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	}
	return c == 0
}

// compareUTF16 orders strings by UTF-16 code units, as Java's compareTo
// does (it differs from Go's byte order for characters above U+FFFF).
func compareUTF16(a, b string) int {
	if a == b {
		return 0
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ua) < len(ub):
		return -1
	case len(ua) > len(ub):
		return 1
	}
	return 0
}

// wildcardMatch reports whether s matches pat, where '*' matches any run
// of characters and a backslash makes the next character literal ("\*",
// "\\"). Matching is linear in practice: the classic single-backtrack
// algorithm, no regular expression.
func wildcardMatch(pat, s string) bool {
	type tok struct {
		r    rune
		star bool
	}
	var toks []tok
	pr := []rune(pat)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, tok{r: pr[i]})
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{r: pr[i]})
		}
	}
	sr := []rune(s)
	ti, si := 0, 0
	starT, starS := -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case ti < len(toks) && toks[ti].r == sr[si]:
			ti++
			si++
		case starT >= 0:
			starS++
			ti, si = starT+1, starS
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}

// timestampShape is the RFC 3339 profile ASL requires: uppercase T, and Z
// or a numeric offset.
var timestampShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// ParseTimestamp parses an ASL timestamp ("2016-03-14T01:59:00Z",
// "2016-03-14T01:59:00.123+01:00"), rejecting other ISO 8601 spellings and
// out-of-range fields (month 13, hour 25).
func ParseTimestamp(s string) (time.Time, error) {
	if !timestampShape.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

func isTimestamp(s string) bool {
	_, err := ParseTimestamp(s)
	return err == nil
}

// CheckOperator reports whether op is a comparison operator and operand a
// valid value for it: a string for String*, a number for Numeric*, a
// boolean for BooleanEquals and Is*, a timestamp for Timestamp*, a path
// for "...Path".
func CheckOperator(op string, operand any) error {
	if !knownOperator(op) {
		return fmt.Errorf("unknown comparison operator %q", op)
	}
	want := ""
	switch {
	case strings.HasSuffix(op, "Path"):
		s, ok := operand.(string)
		if !ok {
			return fmt.Errorf("%s takes a path, not %s", op, TypeName(operand))
		}
		return CheckPath(s)
	case strings.HasPrefix(op, "Is"), op == "BooleanEquals":
		if _, ok := operand.(bool); !ok {
			want = "a boolean"
		}
	case strings.HasPrefix(op, "Numeric"):
		if !isNumber(operand) {
			want = "a number"
		}
	case strings.HasPrefix(op, "Timestamp"):
		if s, ok := operand.(string); !ok || !isTimestamp(s) {
			want = "an RFC 3339 timestamp such as \"2016-03-14T01:59:00Z\""
		}
	default:
		if _, ok := operand.(string); !ok {
			want = "a string"
		}
	}
	if want != "" {
		return fmt.Errorf("%s takes %s, not %s", op, want, JSON(operand))
	}
	return nil
}
