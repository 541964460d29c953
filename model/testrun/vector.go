package testrun

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Vector is a conformance vector: a Step Functions definition, an input and
// the outcome an implementation (or AWS itself) gave. Tasks follow the
// corpus convention: each returns {"echo": <its input>, "task": "<state>"}
// unless TaskFailures makes it fail.
type Vector struct {
	Name       string                 `json:"name"`
	Source     string                 `json:"source"`
	Definition json.RawMessage        `json:"definition"`
	Input      json.RawMessage        `json:"input"`
	Expected   json.RawMessage        `json:"expected"`
	StartAPI   string                 `json:"start_api"`
	Wildcards  []string               `json:"wildcard_paths"`
	Failures   map[string]taskFailure `json:"task_failures"`
	Divergence json.RawMessage        `json:"known_oracle_divergence"`
	// Context names the execution and state machine, for the Context
	// Object.
	Context struct {
		Execution    struct{ Name string } `json:"Execution"`
		StateMachine struct{ Name string } `json:"StateMachine"`
	} `json:"context"`
	// Recorded marks a vector recorded against AWS: its cause is compared
	// too.
	Recorded bool `json:"-"`
}

type taskFailure struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
	Times *int   `json:"times"`
}

// ParseVector reads a vector file. ok is false for a JSON file that is not
// a vector (an index), which callers skip rather than count.
func ParseVector(src []byte) (v *Vector, ok bool, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(src, &probe); err != nil {
		var other any
		if json.Unmarshal(src, &other) == nil {
			return nil, false, nil // valid JSON, but not an object: an index
		}
		return nil, false, err
	}
	if probe["definition"] == nil || probe["expected"] == nil {
		return nil, false, nil
	}
	v = &Vector{}
	if err := json.Unmarshal(src, v); err != nil {
		return nil, true, err
	}
	v.Recorded = strings.HasPrefix(v.Source, "localstack/")
	// A vector whose oracle is known to diverge from AWS carries what AWS
	// gives; that is the expectation.
	var div struct {
		AWS json.RawMessage `json:"aws_expected"`
	}
	if len(v.Divergence) > 0 && json.Unmarshal(v.Divergence, &div) == nil && len(div.AWS) > 0 {
		v.Expected = div.AWS
	}
	if len(v.Input) == 0 {
		v.Input = json.RawMessage("{}")
	}
	return v, true, nil
}

// Observed is the result of a run in the vectors' shape.
type Observed struct {
	Status string `json:"status"`
	Output any    `json:"output,omitempty"`
	Error  any    `json:"error,omitempty"`
	Cause  any    `json:"cause,omitempty"`
}

// RunVector imports the vector's definition, runs it, and returns the
// outcome and "" when it matches the expectation, or a description of the
// difference.
func RunVector(file string, v *Vector) (got Observed, diff string, err error) {
	w, fs := asl.Import(file, v.Definition)
	if w == nil || fs.Errors() > 0 {
		return got, "", fmt.Errorf("import: %v", fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		return got, "", fmt.Errorf("compile: %v", fs)
	}
	counts := map[string]int{}
	opts := Options{Sync: v.StartAPI == "start_sync_execution", ExecutionName: v.Context.Execution.Name,
		StateMachineName: v.Context.StateMachine.Name, Default: func(c Call) Outcome {
			if f, ok := v.Failures[c.State]; ok && (f.Times == nil || counts[c.State] < *f.Times) {
				counts[c.State]++
				return Outcome{Error: f.Error, Cause: f.Cause}
			}
			return Outcome{Output: map[string]any{"echo": c.Input, "task": c.State}}
		}}
	res, err := Run(m, v.Input, opts)
	if err != nil {
		return got, "", err
	}
	got = outcomeOf(res)
	return got, v.compare(got), nil
}

func outcomeOf(r *Result) Observed {
	switch r.Status {
	case model.Succeeded:
		return Observed{Status: "SUCCEEDED", Output: r.Output}
	case model.Cancelled:
		return Observed{Status: "ABORTED"}
	case model.TimedOut:
		return Observed{Status: "TIMED_OUT"}
	}
	o := Observed{Status: "FAILED"}
	if r.Error != nil {
		o.Error = *r.Error
	}
	if r.Cause != nil {
		o.Cause = *r.Cause
	}
	return o
}

// compare checks an outcome against the vector's expectation: status,
// output and error exactly; the cause only for vectors recorded against
// AWS (others carry another implementation's wording). Wildcard paths match
// anything, and a "<...>" token inside an expected string matches any text.
func (v *Vector) compare(got Observed) string {
	want, err := expr.ParseJSON(string(v.Expected))
	if err != nil {
		return "bad expectation: " + err.Error()
	}
	wm, _ := want.(map[string]any)
	gotV, _ := expr.ParseJSON(mustJSON(got))
	gm, _ := gotV.(map[string]any)
	if wm["status"] != gm["status"] {
		return fmt.Sprintf("status %v, want %v (error %v: %v)", gm["status"], wm["status"], gm["error"], gm["cause"])
	}
	keys := []string{"output", "error"}
	if v.Recorded {
		keys = append(keys, "cause")
	}
	for _, k := range keys {
		if k == "output" && wm["status"] != "SUCCEEDED" {
			continue
		}
		if !equalWild(wm[k], gm[k], "$."+k, v.Wildcards) {
			return fmt.Sprintf("%s = %s, want %s", k, expr.JSON(gm[k]), expr.JSON(wm[k]))
		}
	}
	return ""
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var placeholder = regexp.MustCompile(`<[^<>]*>`)

func equalWild(want, got any, path string, wild []string) bool {
	for _, w := range wild {
		if w == path {
			return true
		}
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !equalWild(wv, gv, path+"."+k, wild) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !equalWild(w[i], g[i], fmt.Sprintf("%s[%d]", path, i), wild) {
				return false
			}
		}
		return true
	case string:
		g, ok := got.(string)
		if !ok {
			return false
		}
		if w == g {
			return true
		}
		if !placeholder.MatchString(w) {
			return false
		}
		parts := placeholder.Split(w, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re, err := regexp.Compile("^" + strings.Join(parts, ".*") + "$")
		return err == nil && re.MatchString(g)
	}
	return expr.Equal(want, got)
}
