// Package policy evaluates policy-as-code rules over a compiled workflow.
//
// A policy is a CEL expression with a severity, written in a workflow's
// policies: list or in a policy file given to nexus check --policy (the
// same list, so that a platform team can enforce rules on every
// repository):
//
//	policies:
//	  - rule: "function.retry_count >= 3"
//	    severity: error           # error (default), warning or info
//	    message: every call must survive transient failures
//	    name: min-retries         # optional, names the rule in output
//
// # What a rule means
//
// A rule is a requirement that must hold for everything it talks about.
// Which that is follows from the variables the expression uses:
//
//   - a rule that uses function ranges over every call site: each
//     function a state invokes as its action, its compensation or its
//     on-failure handler; state is then the calling state;
//   - otherwise a rule that uses state ranges over every state, nested ones
//     included;
//   - otherwise the rule is evaluated once.
//
// workflow is always bound. A rule that evaluates to false is a finding
// for that function or state, at its line and column in the workflow
// file; a rule that does not evaluate to a boolean (a field that does not
// exist, say) is a finding too, so that a typo cannot pass silently.
// Warnings and infos do not change nexus check's exit code.
//
// # Variables
//
// function: name, uri ("" when unbound), idempotent, timeout_seconds (of
// the binding), role ("action", "compensate" or "on_failure"), state (the
// calling state's name), retry_count (the retries the call site grants a
// generic failure: the max_attempts of the first retrier whose errors match
// an error no rule names specifically, 0 when none does), retry_max (the
// largest max_attempts of its retriers), retry (the retriers).
//
// state: name, type (task, choice, parallel, map, wait, pass, succeed,
// fail, workflow), action, next, end, mutates, irreversible, compensate and
// on_failure (function names, "" when none), idempotency, callback,
// timeout_seconds, heartbeat_seconds, retry_count, retry_max, retry (list
// of {errors, max_attempts, interval_seconds, backoff_rate,
// max_delay_seconds, jitter}), catch (list of {errors, next}), branches
// (number of parallel branches), max_concurrency, line, column.
//
// workflow: name, version, comment, query_language, start_at,
// timeout_seconds, states (list of state), functions (list of {name, uri,
// idempotent, timeout_seconds}), state_count.
//
// Compensation and on-failure retriers are the compiled ones: a
// compensation without retry: gets the kernel's default (5 attempts on
// States.ALL).
package policy

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"github.com/nexus-workflows/nexus/model"
)

// Source is a policy together with the file it was written in.
type Source struct {
	File   string
	Policy *model.Policy
}

// FromWorkflow returns the policies written in the workflow itself.
func FromWorkflow(w *model.Workflow) []Source {
	var out []Source
	for _, p := range w.Policies {
		out = append(out, Source{File: w.File, Policy: p})
	}
	return out
}

// Load reads a policy file: YAML or JSON holding either a mapping with a
// policies: list or the list itself, each element as in a workflow.
func Load(file string, src []byte) ([]Source, model.Findings) {
	n, fs := model.ParseNode(file, src)
	if n == nil || fs.Errors() > 0 {
		return nil, fs
	}
	errf := func(p model.Pos, format string, args ...any) {
		fs = append(fs, model.Finding{File: file, Pos: p, Severity: model.SeverityError, Code: "policy-file", Message: fmt.Sprintf(format, args...)})
	}
	list := n
	if n.Kind == model.MapNode {
		for _, k := range n.Keys {
			if k.Str != "policies" {
				errf(k.Pos, "unknown key %q in a policy file (only policies:)", k.Str)
			}
		}
		list = n.Get("policies")
		if list == nil {
			errf(n.Pos, "policy file has no policies: list")
			return nil, fs
		}
	}
	if list.Kind != model.SeqNode {
		errf(list.Pos, "policies must be a list, found %s", list.Kind)
		return nil, fs
	}
	var out []Source
	for _, item := range list.Items {
		if item.Kind != model.MapNode {
			errf(item.Pos, "a policy must be a mapping with rule and severity, found %s", item.Kind)
			continue
		}
		p := &model.Policy{Severity: "error", Src: model.Src{Pos: item.Pos, Keys: map[string]model.Pos{}}}
		for i, k := range item.Keys {
			v := item.Vals[i]
			p.Keys[k.Str] = v.Pos
			if v.Kind != model.StringNode {
				errf(v.Pos, "policy %s must be a string, found %s", k.Str, v.Kind)
				continue
			}
			switch k.Str {
			case "rule":
				p.Rule = v.Str
			case "severity":
				p.Severity = v.Str
			case "message":
				p.Message = v.Str
			case "name":
				p.Name = v.Str
			default:
				errf(k.Pos, "unknown policy key %q (rule, severity, message, name)", k.Str)
			}
		}
		if p.Rule == "" {
			errf(item.Pos, "policy has no rule")
			continue
		}
		switch p.Severity {
		case "error", "warning", "info":
		default:
			errf(p.At("severity"), "policy severity must be error, warning or info, found %q", p.Severity)
			continue
		}
		out = append(out, Source{File: file, Policy: p})
	}
	return out, fs
}

// scope is what a rule ranges over.
type scope uint8

const (
	scopeWorkflow scope = iota
	scopeState
	scopeFunction
)

// maxCost bounds the work of one evaluation of a rule.
const maxCost = 1_000_000

// Evaluate applies the policies to the compiled workflow m and returns a
// finding for every function or state a rule fails for, and for every
// rule that does not compile or evaluate. Findings about the workflow are
// in its file; findings about a rule itself are in the rule's file.
func Evaluate(m *model.Machine, policies []Source) model.Findings {
	if len(policies) == 0 {
		return nil
	}
	env, err := cel.NewEnv(
		cel.Variable("workflow", cel.DynType),
		cel.Variable("state", cel.DynType),
		cel.Variable(functionVar, cel.DynType),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserRecursionLimit(100),
		cel.ParserExpressionSizeLimit(10_000),
	)
	if err != nil {
		return model.Findings{{File: m.Workflow.File, Severity: model.SeverityError, Code: "policy-invalid", Message: "CEL environment: " + err.Error()}}
	}
	v := newView(m)
	var fs model.Findings
	for _, src := range policies {
		fs = append(fs, evaluate(env, v, src)...)
	}
	fs.Sort()
	return fs
}

func evaluate(env *cel.Env, v *view, src Source) model.Findings {
	p := src.Policy
	label := p.Name
	if label == "" {
		label = p.Rule
	}
	sev := severity(p.Severity)
	ruleErr := func(format string, args ...any) model.Findings {
		return model.Findings{{File: src.File, Pos: p.At("rule"), Severity: model.SeverityError, Code: "policy-invalid",
			Message: fmt.Sprintf("policy %q: %s", label, fmt.Sprintf(format, args...))}}
	}
	ast, iss := env.Compile(rewriteReserved(p.Rule))
	if iss != nil && iss.Err() != nil {
		msg := strings.ReplaceAll(iss.Err().Error(), functionVar, "function")
		return ruleErr("%s", strings.Join(strings.Fields(msg), " "))
	}
	prog, err := env.Program(ast, cel.CostLimit(maxCost))
	if err != nil {
		return ruleErr("%v", err)
	}
	sc := scopeWorkflow
	for _, r := range ast.NativeRep().ReferenceMap() {
		switch r.Name {
		case functionVar:
			sc = scopeFunction
		case "state":
			if sc == scopeWorkflow {
				sc = scopeState
			}
		}
	}
	var fs model.Findings
	check := func(vars map[string]any, what string, pos model.Pos) {
		out, _, err := prog.Eval(vars)
		if err != nil {
			fs = append(fs, model.Finding{File: v.m.Workflow.File, Pos: pos, Severity: model.SeverityError, Code: "policy-invalid",
				Message: fmt.Sprintf("policy %q cannot be evaluated for %s: %v", label, what, err)})
			return
		}
		b, ok := out.(types.Bool)
		if !ok {
			fs = append(fs, model.Finding{File: v.m.Workflow.File, Pos: pos, Severity: model.SeverityError, Code: "policy-invalid",
				Message: fmt.Sprintf("policy %q gives %v for %s, not a boolean", label, out, what)})
			return
		}
		if !bool(b) {
			msg := fmt.Sprintf("policy %q fails for %s", label, what)
			if p.Message != "" {
				msg += ": " + p.Message
			}
			fs = append(fs, model.Finding{File: v.m.Workflow.File, Pos: pos, Severity: sev, Code: "policy", Message: msg})
		}
	}
	switch sc {
	case scopeWorkflow:
		check(map[string]any{"workflow": v.workflow, "state": nil, functionVar: nil}, "the workflow", v.m.Workflow.At("name"))
	case scopeState:
		for i, st := range v.states {
			check(map[string]any{"workflow": v.workflow, "state": st, functionVar: nil},
				fmt.Sprintf("state %q", v.m.States[i].Name), v.pos(i, "name"))
		}
	case scopeFunction:
		for _, c := range v.calls {
			what := fmt.Sprintf("function %q (%s of state %q)", c.fn["name"], c.fn["role"], v.m.States[c.state].Name)
			check(map[string]any{"workflow": v.workflow, "state": v.states[c.state], functionVar: c.fn}, what, c.pos)
		}
	}
	return fs
}

func severity(s string) model.Severity {
	switch s {
	case "warning":
		return model.SeverityWarning
	case "info":
		return model.SeverityInfo
	}
	return model.SeverityError
}

// view is the compiled workflow as CEL values.
type view struct {
	m        *model.Machine
	workflow map[string]any
	states   []map[string]any
	calls    []call
}

// call is one call site of a function.
type call struct {
	state int
	fn    map[string]any
	pos   model.Pos
}

func (v *view) pos(i int, key string) model.Pos {
	if src := v.m.States[i].Src; src != nil {
		return src.At(key)
	}
	return model.Pos{}
}

func newView(m *model.Machine) *view {
	v := &view{m: m}
	w := m.Workflow
	var states []any
	for i := range m.States {
		st := stateValue(m, i)
		v.states = append(v.states, st)
		states = append(states, st)
	}
	var fns []any
	for _, f := range w.Functions {
		fns = append(fns, map[string]any{"name": f.Name, "uri": f.URI, "idempotent": f.Idempotent, "timeout_seconds": f.Timeout.Seconds()})
	}
	v.workflow = map[string]any{"name": w.Name, "version": w.Version, "comment": w.Comment, "query_language": queryLanguage(w.QueryLanguage),
		"start_at": w.StartAt, "timeout_seconds": w.Timeout.Seconds(), "states": states, "functions": fns, "state_count": int64(len(m.States))}
	for i := range m.States {
		sp := &m.States[i]
		src := sp.Src
		add := func(fn int, role string, retry []model.RetrySpec, pos model.Pos) {
			if fn == model.No {
				return
			}
			name := m.Functions[fn]
			f := map[string]any{"name": name, "uri": "", "idempotent": false, "timeout_seconds": 0.0, "role": role, "state": sp.Name,
				"retry_count": retryCount(retry), "retry_max": retryMax(retry), "retry": retryValues(retry)}
			if b := w.Function(name); b != nil {
				f["uri"], f["idempotent"], f["timeout_seconds"] = b.URI, b.Idempotent, b.Timeout.Seconds()
			}
			v.calls = append(v.calls, call{state: i, fn: f, pos: pos})
		}
		if src == nil {
			src = &model.State{}
		}
		add(sp.Fn, "action", sp.Retry, src.At("action"))
		compPos, onFailPos := src.At("compensate"), src.At("on_failure")
		if src.Compensate != nil {
			compPos = src.Compensate.Pos
		}
		if src.OnFailure != nil {
			onFailPos = src.OnFailure.Pos
		}
		add(sp.Compensate, "compensate", sp.CompRetry, compPos)
		add(sp.OnFailure, "on_failure", sp.OnFailureRetry, onFailPos)
	}
	return v
}

func queryLanguage(ql string) string {
	if ql == "" {
		return model.JSONPath
	}
	return ql
}

// genericError is an error no retrier names specifically.
const genericError = "Policy.GenericError"

// retryCount is the number of retries a generic failure gets: the
// max_attempts of the first retrier that matches it.
func retryCount(rs []model.RetrySpec) int64 {
	for _, r := range rs {
		if model.Matches(r.Errors, genericError) {
			return int64(r.MaxAttempts)
		}
	}
	return 0
}

func retryMax(rs []model.RetrySpec) int64 {
	var n int64
	for _, r := range rs {
		n = max(n, int64(r.MaxAttempts))
	}
	return n
}

func retryValues(rs []model.RetrySpec) []any {
	out := []any{}
	for _, r := range rs {
		jitter := "none"
		if r.FullJitter {
			jitter = "full"
		}
		out = append(out, map[string]any{"errors": strs(r.Errors), "max_attempts": int64(r.MaxAttempts), "interval_seconds": r.Interval.Seconds(),
			"backoff_rate": r.BackoffRate, "max_delay_seconds": r.MaxDelay.Seconds(), "jitter": jitter})
	}
	return out
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func stateValue(m *model.Machine, i int) map[string]any {
	sp := &m.States[i]
	src := sp.Src
	if src == nil {
		src = &model.State{}
	}
	name := func(fn int) string {
		if fn == model.No {
			return ""
		}
		return m.Functions[fn]
	}
	next := ""
	if sp.Next != model.No {
		next = m.States[sp.Next].Name
	}
	catch := []any{}
	for _, c := range sp.Catch {
		catch = append(catch, map[string]any{"errors": strs(c.Errors), "next": m.States[c.Next].Name})
	}
	pos := src.At("name")
	return map[string]any{
		"name": sp.Name, "type": sp.Kind.String(), "action": src.Action, "next": next, "end": sp.Next == model.No,
		"mutates": sp.Mutates, "irreversible": src.Irreversible, "compensate": name(sp.Compensate), "on_failure": name(sp.OnFailure),
		"idempotency": src.Idempotency, "callback": sp.Callback, "timeout_seconds": sp.Timeout.Seconds(), "heartbeat_seconds": sp.Heartbeat.Seconds(),
		"retry_count": retryCount(sp.Retry), "retry_max": retryMax(sp.Retry), "retry": retryValues(sp.Retry), "catch": catch,
		"branches": int64(len(sp.Branches)), "max_concurrency": int64(sp.MaxConcurrency), "line": int64(pos.Line), "column": int64(pos.Col),
	}
}

// functionVar is the name the function variable has inside CEL: function
// is a reserved word of CEL, so rules are rewritten to use this name
// (rewriteReserved) before they are compiled.
const functionVar = "nexus_function"

// rewriteReserved renames the identifier function, outside string
// literals and not as a field name (x.function), to functionVar.
func rewriteReserved(src string) string {
	var b strings.Builder
	isIdent := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '\'':
			j := skipString(src, i)
			b.WriteString(src[i:j])
			i = j
		case isIdent(c):
			j := i
			for j < len(src) && isIdent(src[j]) {
				j++
			}
			word := src[i:j]
			prev := strings.TrimRight(src[:i], " \t\r\n")
			if word == "function" && !strings.HasSuffix(prev, ".") {
				word = functionVar
			}
			// A string prefix (r"...", b'...') is part of the literal.
			if j < len(src) && (src[j] == '"' || src[j] == '\'') && len(word) <= 2 && strings.Trim(strings.ToLower(word), "rb") == "" {
				k := skipString(src, j)
				b.WriteString(src[i:k])
				i = k
				continue
			}
			b.WriteString(word)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// skipString returns the index just past the string literal starting at
// src[i] (a quote), triple-quoted or not.
func skipString(src string, i int) int {
	q := src[i]
	if strings.HasPrefix(src[i:], strings.Repeat(string(q), 3)) {
		if end := strings.Index(src[i+3:], strings.Repeat(string(q), 3)); end >= 0 {
			return i + 3 + end + 3
		}
		return len(src)
	}
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return len(src)
}
