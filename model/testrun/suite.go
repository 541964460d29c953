package testrun

import (
	"fmt"
	"strings"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Suite is a file of test cases for one workflow:
//
//	workflow: payment.yaml          # a path relative to this file
//	cases:
//	  - name: transfer fails and is reversed
//	    input: {transferId: t-1}
//	    functions:                  # mocked functions; others echo their input
//	      execute-transfer-function:
//	        - {error: Boom, cause: bank down}   # first call
//	        - {output: {ok: true}}              # later calls (the last repeats)
//	    expect:
//	      status: compensated
//	      error: Boom
//	      calls: [validate-user-function, check-balance-function]  # every call, in order
type Suite struct {
	File     string
	Workflow string // path of the workflow, as written
	Cases    []*Case
}

// Case is one test case.
type Case struct {
	Name      string
	Input     any
	Functions map[string][]Outcome
	Expect    Expect
	Pos       model.Pos
}

// Expect is what a case must end with; unset fields are not checked.
type Expect struct {
	Status    string
	Output    any
	HasOutput bool
	Error     string
	Calls     []string
}

// ParseSuite reads a test suite file.
func ParseSuite(file string, src []byte) (*Suite, model.Findings) {
	root, fs := model.ParseNode(file, src)
	if root == nil {
		return nil, fs
	}
	var out model.Findings
	bad := func(n *model.Node, format string, args ...any) {
		out = append(out, model.Finding{File: file, Pos: n.Pos, Severity: model.SeverityError, Code: "test",
			Message: fmt.Sprintf(format, args...)})
	}
	s := &Suite{File: file}
	if root.Kind != model.MapNode {
		bad(root, "a test file is a mapping with workflow: and cases:")
		return nil, out
	}
	if w := root.Get("workflow"); w == nil || w.Kind != model.StringNode {
		bad(root, "test file needs workflow: PATH")
	} else {
		s.Workflow = w.Str
	}
	cases := root.Get("cases")
	if cases == nil || cases.Kind != model.SeqNode {
		bad(root, "test file needs a list of cases")
		return s, out
	}
	for i, cn := range cases.Items {
		c := &Case{Name: fmt.Sprintf("case %d", i+1), Input: map[string]any{}, Functions: map[string][]Outcome{}, Pos: cn.Pos}
		if cn.Kind != model.MapNode {
			bad(cn, "a case is a mapping")
			continue
		}
		for j, k := range cn.Keys {
			v := cn.Vals[j]
			switch k.Str {
			case "name":
				c.Name = v.Str
			case "input":
				c.Input = v.Value()
			case "functions":
				if v.Kind != model.MapNode {
					bad(v, "functions maps function names to outcomes")
					continue
				}
				for fi, fk := range v.Keys {
					seq := []*model.Node{v.Vals[fi]}
					if v.Vals[fi].Kind == model.SeqNode {
						seq = v.Vals[fi].Items
					}
					for _, on := range seq {
						o, ok := outcome(on)
						if !ok {
							bad(on, "an outcome is {output: VALUE}, {error: NAME, cause: TEXT} or {timeout: true}")
							continue
						}
						c.Functions[fk.Str] = append(c.Functions[fk.Str], o)
					}
				}
			case "expect":
				if v.Kind != model.MapNode {
					bad(v, "expect is a mapping")
					continue
				}
				for ei, ek := range v.Keys {
					ev := v.Vals[ei]
					switch ek.Str {
					case "status":
						c.Expect.Status = ev.Str
						if _, ok := model.ParseStatus(ev.Str); !ok {
							bad(ev, "unknown status %q", ev.Str)
						}
					case "output":
						c.Expect.Output, c.Expect.HasOutput = ev.Value(), true
					case "error":
						c.Expect.Error = ev.Str
					case "calls":
						for _, it := range ev.Items {
							c.Expect.Calls = append(c.Expect.Calls, it.Str)
						}
					default:
						bad(ek, "unknown key %q in expect (status, output, error, calls)", ek.Str)
					}
				}
			default:
				bad(k, "unknown key %q in a case (name, input, functions, expect)", k.Str)
			}
		}
		s.Cases = append(s.Cases, c)
	}
	return s, out
}

func outcome(n *model.Node) (Outcome, bool) {
	if n.Kind != model.MapNode {
		return Outcome{}, false
	}
	var o Outcome
	for i, k := range n.Keys {
		v := n.Vals[i]
		switch k.Str {
		case "output":
			o.Output = v.Value()
		case "error":
			o.Error = v.Str
		case "cause":
			o.Cause = v.Str
		case "timeout":
			o.TimeOut = v.Bool
		default:
			return o, false
		}
	}
	return o, true
}

// RunCase runs one case on m and returns "" when it passes, or what
// differed.
func RunCase(m *model.Machine, c *Case) (string, error) {
	calls := map[string]int{}
	opts := Options{Default: func(call Call) Outcome {
		seq := c.Functions[call.Function]
		if len(seq) == 0 {
			return Outcome{Output: call.Input}
		}
		i := min(calls[call.Function], len(seq)-1)
		calls[call.Function]++
		return seq[i]
	}}
	res, err := Run(m, []byte(expr.JSON(c.Input)), opts)
	if err != nil {
		return "", err
	}
	var diffs []string
	if c.Expect.Status != "" && res.Status.String() != c.Expect.Status {
		diffs = append(diffs, fmt.Sprintf("status %s, want %s", res.Status, c.Expect.Status))
	}
	if c.Expect.HasOutput && !expr.Equal(res.Output, c.Expect.Output) {
		diffs = append(diffs, fmt.Sprintf("output %s, want %s", expr.JSON(res.Output), expr.JSON(c.Expect.Output)))
	}
	if c.Expect.Error != "" && (res.Error == nil || *res.Error != c.Expect.Error) {
		got := "none"
		if res.Error != nil {
			got = *res.Error
		}
		diffs = append(diffs, fmt.Sprintf("error %s, want %s", got, c.Expect.Error))
	}
	if len(c.Expect.Calls) > 0 {
		var got []string
		for _, cl := range res.Calls {
			got = append(got, cl.Function)
		}
		if strings.Join(got, ",") != strings.Join(c.Expect.Calls, ",") {
			diffs = append(diffs, fmt.Sprintf("calls [%s], want [%s]", strings.Join(got, ", "), strings.Join(c.Expect.Calls, ", ")))
		}
	}
	return strings.Join(diffs, "; "), nil
}
