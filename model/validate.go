package model

import (
	"cmp"
	"fmt"
	"strings"
)

// Limits on the size of a workflow. A workflow over a limit is rejected
// with a finding rather than explored or run without bound.
const (
	MaxStates   = 10000 // states in one workflow, nested ones included
	MaxRetriers = 8     // retriers of one state (each keeps its own count)
	MaxBranches = 256   // branches of one parallel state
)

// Validate checks what Parse cannot: references between states, the
// structure of the graph, and rules of each kind of state. It returns every
// finding at once, each with the position of the offending text.
func Validate(w *Workflow) Findings {
	v := &validator{w: w, names: map[string]*State{}}
	v.graph(&w.Graph, "workflow", cmp.Or(w.QueryLanguage, JSONPath))
	total := 0
	used := map[string]bool{}
	w.AllStates(func(s *State) {
		total++
		used[s.Action] = true
		if s.Compensate != nil {
			used[s.Compensate.Action] = true
		}
		if s.OnFailure != nil {
			used[s.OnFailure.Action] = true
		}
	})
	for _, f := range w.Functions {
		if !used[f.Name] {
			v.warnf(f.Pos, "unused", "function %q is bound but no state calls it", f.Name)
		}
	}
	if total > MaxStates {
		v.errorf(w.Pos, "limit", "workflow has %d states; the limit is %d", total, MaxStates)
	}
	v.fs.Sort()
	return v.fs
}

type validator struct {
	w     *Workflow
	names map[string]*State // every state by name, for duplicates
	fs    Findings
}

func (v *validator) errorf(p Pos, code, format string, args ...any) {
	v.fs = append(v.fs, Finding{File: v.w.File, Pos: p, Severity: SeverityError, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(p Pos, code, format string, args ...any) {
	v.fs = append(v.fs, Finding{File: v.w.File, Pos: p, Severity: SeverityWarning, Code: code, Message: fmt.Sprintf(format, args...)})
}

// graph validates one graph (the top level, a branch or a processor):
// transitions stay inside the graph that holds them.
func (v *validator) graph(g *Graph, where, ql string) {
	ql = cmp.Or(g.QueryLanguage, ql)
	if len(g.States) == 0 {
		v.errorf(g.GraphSrc.Pos, "missing", "%s has no states", where)
		return
	}
	local := make(map[string]*State, len(g.States))
	var names []string
	for _, s := range g.States {
		if s.Name == "" {
			continue
		}
		if prev, ok := v.names[s.Name]; ok {
			v.errorf(s.At("name"), "duplicate", "duplicate state name %q (first defined at line %d)", s.Name, prev.At("name").Line)
			continue
		}
		if len(s.Name) > 80 {
			v.errorf(s.At("name"), "value", "state name %q is longer than 80 characters", s.Name)
		}
		v.names[s.Name] = s
		local[s.Name] = s
		names = append(names, s.Name)
	}
	ref := func(s *State, key, target, what string, pos Pos) bool {
		if target == "" {
			return false
		}
		if _, ok := local[target]; ok {
			return true
		}
		msg := fmt.Sprintf("%s %q of state %q names no state", what, target, s.Name)
		if _, elsewhere := v.names[target]; elsewhere {
			msg = fmt.Sprintf("%s %q of state %q is in another graph; a transition cannot leave its branch or processor", what, target, s.Name)
		} else if c := Closest(target, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		v.errorf(pos, "unknown-state", "%s", msg)
		return false
	}
	start := g.StartAt
	if start == "" {
		start = g.States[0].Name
	} else if _, ok := local[start]; !ok {
		msg := fmt.Sprintf("start_at %q names no state", start)
		if c := Closest(start, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		p := g.GraphSrc.At("start_at")
		if g == &v.w.Graph {
			p = v.w.At("start_at")
		}
		v.errorf(p, "unknown-state", "%s", msg)
		start = ""
	}

	// Edges of the graph, for reachability and exits. A dangling edge
	// (unknown target) is reported once, above, and then ignored.
	edges := map[string][]string{}
	for _, s := range g.States {
		sql := cmp.Or(s.QueryLanguage, ql)
		v.state(s, sql)
		add := func(key, target, what string, pos Pos) {
			if ref(s, key, target, what, pos) {
				edges[s.Name] = append(edges[s.Name], target)
			}
		}
		add("next", s.Next, "next", s.At("next"))
		add("default", s.Default, "default", s.At("default"))
		for _, c := range s.Choices {
			add("next", c.Next, "choice next", c.At("next"))
		}
		for _, c := range s.Catch {
			add("next", c.Next, "catch next", c.At("next"))
		}
		for i, b := range s.Branches {
			v.graph(b, fmt.Sprintf("branch %d of %q", i+1, s.Name), sql)
		}
		if s.Processor != nil {
			v.graph(s.Processor, fmt.Sprintf("processor of %q", s.Name), sql)
		}
	}
	if start == "" {
		return
	}
	// Unreachable states.
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range edges[n] {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, s := range g.States {
		if s.Name != "" && !seen[s.Name] && local[s.Name] == s {
			v.errorf(s.At("name"), "unreachable", "state %q is unreachable from %q", s.Name, start)
		}
	}
	// Cycles with no way out: reachable states from which no terminal
	// state can be reached. A state whose transitions were not all
	// resolved is given the benefit of the doubt, to report one cause once.
	exits := map[string]bool{}
	for _, s := range g.States {
		if local[s.Name] != s {
			continue // a duplicate, reported above
		}
		if s.Kind == KindSucceed || s.Kind == KindFail || s.End || hasDangling(s, local) {
			exits[s.Name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range g.States {
			if exits[s.Name] {
				continue
			}
			for _, t := range edges[s.Name] {
				if exits[t] {
					exits[s.Name], changed = true, true
					break
				}
			}
		}
	}
	reported := map[string]bool{}
	for _, s := range g.States {
		if !seen[s.Name] || exits[s.Name] || reported[s.Name] || local[s.Name] != s {
			continue
		}
		if s.Next == "" && s.Kind != KindChoice && !s.End {
			continue // reported as "neither next nor end"
		}
		// Report the whole trap once, at its first state in source order.
		var trap []string
		mark := map[string]bool{s.Name: true}
		queue := []string{s.Name}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			trap = append(trap, n)
			for _, t := range edges[n] {
				if !mark[t] {
					mark[t] = true
					queue = append(queue, t)
				}
			}
		}
		for _, n := range trap {
			reported[n] = true
		}
		v.errorf(s.At("name"), "no-exit", "state %q is in a cycle with no way out (%s): no path from it reaches an end, succeed or fail state",
			s.Name, strings.Join(trap, " → "))
	}
}

func hasDangling(s *State, local map[string]*State) bool {
	bad := func(t string) bool { _, ok := local[t]; return t != "" && !ok }
	if bad(s.Next) || bad(s.Default) {
		return true
	}
	for _, c := range s.Choices {
		if bad(c.Next) {
			return true
		}
	}
	for _, c := range s.Catch {
		if bad(c.Next) {
			return true
		}
	}
	return false
}

// fieldKinds lists which kinds of state may carry a field (by schema key).
var fieldKinds = map[string][]Kind{
	"action":          {KindTask, KindWorkflow},
	"callback":        {KindTask},
	"retry":           {KindTask, KindParallel, KindMap, KindWorkflow},
	"catch":           {KindTask, KindParallel, KindMap, KindWorkflow},
	"on_failure":      {KindTask, KindParallel, KindMap, KindWorkflow},
	"timeout":         {KindTask, KindWorkflow},
	"heartbeat":       {KindTask},
	"result_selector": {KindTask, KindParallel, KindMap, KindWorkflow},
	"choices":         {KindChoice},
	"default":         {KindChoice},
	"branches":        {KindParallel},
	"processor":       {KindMap},
	"items_path":      {KindMap},
	"items":           {KindMap},
	"item_selector":   {KindMap},
	"max_concurrency": {KindMap},
	"seconds":         {KindWait},
	"timestamp":       {KindWait},
	"seconds_path":    {KindWait},
	"timestamp_path":  {KindWait},
	"result":          {KindPass},
	"error":           {KindFail},
	"cause":           {KindFail},
	"error_path":      {KindFail},
	"cause_path":      {KindFail},
	"mutates":         {KindTask, KindWorkflow},
	"compensate":      {KindTask, KindWorkflow},
	"idempotency":     {KindTask, KindWorkflow},
}

// state checks one state; ql is its effective query language.
func (v *validator) state(s *State, ql string) {
	for key, kinds := range fieldKinds {
		p, ok := s.Keys[key]
		if !ok {
			continue
		}
		allowed := false
		for _, k := range kinds {
			allowed = allowed || k == s.Kind
		}
		if !allowed {
			v.errorf(p, "field", "%s does not apply to %s state %q", key, s.Kind, s.Name)
		}
	}
	terminal := s.Kind == KindSucceed || s.Kind == KindFail
	switch {
	case s.Kind == KindChoice:
		if s.Next != "" || s.End {
			v.errorf(s.Pos, "field", "choice state %q leaves through its choices and default, not next or end", s.Name)
		}
		if len(s.Choices) == 0 {
			v.errorf(s.Pos, "missing", "choice state %q has no choices", s.Name)
		}
	case terminal:
		if s.Next != "" || s.End {
			v.errorf(s.At("next"), "field", "%s state %q ends its branch; it takes neither next nor end", s.Kind, s.Name)
		}
	case s.Next != "" && s.End:
		v.errorf(s.At("end"), "field", "state %q has both next and end", s.Name)
	case s.Next == "" && !s.End:
		v.errorf(s.At("name"), "missing", "state %q has neither next nor end", s.Name)
	}
	switch s.Kind {
	case KindTask, KindWorkflow:
		if s.Action == "" {
			v.errorf(s.Pos, "missing", "%s state %q has no action", s.Kind, s.Name)
		}
	case KindParallel:
		if len(s.Branches) == 0 {
			v.errorf(s.Pos, "missing", "parallel state %q has no branches", s.Name)
		}
		if len(s.Branches) > MaxBranches {
			v.errorf(s.At("branches"), "limit", "parallel state %q has %d branches; the limit is %d", s.Name, len(s.Branches), MaxBranches)
		}
	case KindMap:
		if s.Processor == nil {
			v.errorf(s.Pos, "missing", "map state %q has no processor", s.Name)
		}
	case KindWait:
		n := 0
		for _, k := range []string{"seconds", "timestamp", "seconds_path", "timestamp_path"} {
			if _, ok := s.Keys[k]; ok {
				n++
			}
		}
		if n != 1 && len(s.Keys) > 0 {
			v.errorf(s.Pos, "field", "wait state %q needs exactly one of seconds, timestamp, seconds_path and timestamp_path", s.Name)
		}
	}
	if s.Mutates && s.Compensate == nil && !s.Irreversible {
		v.errorf(s.At("mutates"), "saga", "state %q mutates but says neither how it is undone (compensate: FUNCTION) nor that it cannot be (irreversible: true)", s.Name)
	}
	if s.Irreversible && s.Compensate != nil {
		v.errorf(s.At("irreversible"), "saga", "state %q is irreversible yet names a compensation", s.Name)
	}
	if len(s.Retry) > MaxRetriers {
		v.errorf(s.At("retry"), "limit", "state %q has %d retriers; the limit is %d", s.Name, len(s.Retry), MaxRetriers)
	}
	v.errorLists(s)
	v.exprs(s, ql)
	for _, k := range []string{"input_path", "parameters", "result_selector", "result_path", "output_path", "items_path", "seconds_path", "timestamp_path", "error_path", "cause_path", "timeout_path", "heartbeat_path", "max_concurrency_path"} {
		if p, ok := s.Keys[k]; ok && ql == JSONata {
			v.errorf(p, "field", "%s is JSONPath data flow; state %q uses JSONata (write arguments: and output:)", k, s.Name)
		}
	}
	for _, k := range []string{"arguments", "output"} {
		if p, ok := s.Keys[k]; ok && ql == JSONPath {
			v.errorf(p, "field", "%s is JSONata data flow; state %q uses JSONPath", k, s.Name)
		}
	}
}

// errorLists checks retry and catch error lists: States.ALL must stand
// alone and come last, since nothing after it can ever match.
func (v *validator) errorLists(s *State) {
	check := func(errs []string, pos Pos, last bool, what string) {
		for _, e := range errs {
			if e == ErrAll && len(errs) > 1 {
				v.errorf(pos, "value", "%s of state %q: States.ALL must be the only error in its list", what, s.Name)
			}
			if e == ErrAll && !last {
				v.errorf(pos, "value", "%s of state %q: the one with States.ALL must come last", what, s.Name)
			}
			if e == "" {
				v.errorf(pos, "value", "%s of state %q has an empty error name", what, s.Name)
			}
		}
	}
	for i, r := range s.Retry {
		check(r.Errors, r.Pos, i == len(s.Retry)-1, "retrier")
	}
	for i, c := range s.Catch {
		check(c.Errors, c.Pos, i == len(s.Catch)-1, "catcher")
	}
}
