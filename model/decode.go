package model

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nexus-workflows/nexus/model/expr"
)

// Parse reads a nexus workflow file (YAML or JSON, one schema) into a
// Workflow. All syntax and schema findings of the file are returned in one
// list; the Workflow is returned whenever the file could be read at all, so
// that callers can go on and validate what was understood. Parse does not
// check references between states: Validate does.
func Parse(file string, src []byte) (*Workflow, Findings) {
	root, fs := ParseNode(file, src)
	if root == nil {
		return nil, fs
	}
	d := &decoder{file: file, findings: fs}
	w := d.workflow(root)
	w.File, w.Source = file, src
	d.findings.Sort()
	return w, d.findings
}

type decoder struct {
	file     string
	findings Findings
}

func (d *decoder) errorf(p Pos, code, format string, args ...any) {
	d.findings = append(d.findings, Finding{File: d.file, Pos: p, Severity: SeverityError, Code: code,
		Message: fmt.Sprintf(format, args...)})
}

// obj reads the fields of one mapping, remembering which keys were used so
// that the rest can be reported as unknown.
type obj struct {
	d    *decoder
	n    *Node
	kind string // key of schemaKeys
	what string // for messages
	used map[string]bool
	src  Src
}

func (d *decoder) object(n *Node, kind, what string) *obj {
	o := &obj{d: d, n: n, kind: kind, what: what, used: map[string]bool{}, src: Src{Pos: n.Pos, Keys: map[string]Pos{}}}
	if n.Kind != MapNode {
		d.errorf(n.Pos, "type", "%s must be a mapping, found %s", what, n.Kind)
		o.n = &Node{Kind: MapNode, Pos: n.Pos}
	}
	return o
}

// get marks key used and returns its value, or nil when absent.
func (o *obj) get(key string) *Node {
	v := o.n.Get(key)
	if v != nil {
		o.used[key] = true
		o.src.Keys[key] = v.Pos
	}
	return v
}

func (o *obj) typeErr(key string, v *Node, want string) {
	o.d.errorf(v.Pos, "type", "%s: %s must be %s, found %s", o.what, key, want, v.Kind)
}

func (o *obj) str(key string, dst *string) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	switch v.Kind {
	case StringNode:
		*dst = v.Str
	case IntNode, FloatNode, BoolNode:
		// A bare scalar where a string is wanted (version: 1.0) means its text.
		*dst = scalarText(v)
	default:
		o.typeErr(key, v, "a string")
		return false
	}
	return true
}

func scalarText(v *Node) string {
	switch v.Kind {
	case IntNode:
		return strconv.FormatInt(v.Int, 10)
	case FloatNode:
		return strconv.FormatFloat(v.Float, 'f', -1, 64)
	case BoolNode:
		return strconv.FormatBool(v.Bool)
	}
	return v.Str
}

func (o *obj) boolean(key string, dst *bool) {
	v := o.get(key)
	if v == nil {
		return
	}
	if v.Kind != BoolNode {
		o.typeErr(key, v, "true or false")
		return
	}
	*dst = v.Bool
}

func (o *obj) integer(key string, dst *int) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	switch {
	case v.Kind == IntNode && v.Int >= 0 && v.Int <= math.MaxInt32:
		*dst = int(v.Int)
	case v.Kind == FloatNode && v.Float == math.Trunc(v.Float) && v.Float >= 0 && v.Float <= math.MaxInt32:
		*dst = int(v.Float)
	default:
		o.typeErr(key, v, "a non-negative integer")
		return false
	}
	return true
}

func (o *obj) number(key string, dst *float64) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	switch v.Kind {
	case IntNode:
		*dst = float64(v.Int)
	case FloatNode:
		*dst = v.Float
	default:
		o.typeErr(key, v, "a number")
		return false
	}
	return true
}

// duration reads "10s", "1m30s", or a number of seconds. A "{% ... %}"
// string is a JSONata expression and goes to expr.
func (o *obj) duration(key string, dst *time.Duration, expr *string) {
	v := o.get(key)
	if v == nil {
		return
	}
	switch v.Kind {
	case IntNode:
		*dst = time.Duration(v.Int) * time.Second
	case FloatNode:
		*dst = time.Duration(v.Float * float64(time.Second))
	case StringNode:
		if IsJSONata(v.Str) && expr != nil {
			*expr = v.Str
			return
		}
		dur, err := time.ParseDuration(v.Str)
		if err != nil {
			o.d.errorf(v.Pos, "type", "%s: %s: %q is not a duration (write 10s, 1m30s or 250ms)", o.what, key, v.Str)
			return
		}
		*dst = dur
	default:
		o.typeErr(key, v, "a duration")
		return
	}
	if *dst < 0 {
		o.d.errorf(v.Pos, "range", "%s: %s must not be negative", o.what, key)
	}
}

func (o *obj) value(key string, dst *any) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	*dst = v.Value()
	return true
}

func (o *obj) path(key string, dst *OptPath) {
	v := o.get(key)
	if v == nil {
		return
	}
	switch v.Kind {
	case NullNode:
		*dst = NullPath()
	case StringNode:
		*dst = PathOf(v.Str)
	default:
		o.typeErr(key, v, "a path or null")
	}
}

func (o *obj) strings(key string, dst *[]string) {
	v := o.get(key)
	if v == nil {
		return
	}
	if v.Kind == StringNode {
		*dst = []string{v.Str}
		return
	}
	if v.Kind != SeqNode {
		o.typeErr(key, v, "a list of strings")
		return
	}
	for _, it := range v.Items {
		if it.Kind != StringNode {
			o.d.errorf(it.Pos, "type", "%s: %s must hold strings, found %s", o.what, key, it.Kind)
			continue
		}
		*dst = append(*dst, it.Str)
	}
}

// list returns the items of a sequence value.
func (o *obj) list(key string) []*Node {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != SeqNode {
		o.typeErr(key, v, "a list")
		return nil
	}
	return v.Items
}

// done reports keys that no field took, suggesting the closest known key.
func (o *obj) done() Src {
	for _, k := range o.n.Keys {
		if o.used[k.Str] {
			continue
		}
		msg := fmt.Sprintf("unknown key %q in %s", k.Str, o.what)
		if s := Closest(k.Str, schemaKeys[o.kind]); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		o.d.errorf(k.Pos, "unknown-key", "%s", msg)
	}
	return o.src
}

// SchemaKeys returns the keys Parse reads in one kind of element
// ("workflow", "state", "retrier", "catcher", "choice", "graph", ...), for
// tools that must agree with it, such as the published JSON Schema.
func SchemaKeys(element string) []string {
	return append([]string(nil), schemaKeys[element]...)
}

// Keys of each kind of element, for suggestions on misspelt keys.
var schemaKeys = map[string][]string{
	"workflow": {"version", "name", "comment", "query_language", "timeout", "start_at", "functions", "states", "policies", "triggers", "profiles"},
	"function": {"uri", "idempotent", "timeout"},
	"state": {"name", "type", "comment", "next", "end", "query_language", "input_path", "parameters", "result_selector",
		"result_path", "output_path", "arguments", "output", "assign", "action", "workflow", "callback", "timeout",
		"heartbeat", "credentials", "retry", "catch", "on_failure", "mutates", "irreversible", "compensate",
		"idempotency", "choices", "default", "branches", "processor", "items_path", "items", "item_selector",
		"max_concurrency", "item_reader", "item_batcher", "result_writer", "label", "tolerated_failure_percentage",
		"tolerated_failure_count", "seconds", "timestamp", "seconds_path", "timestamp_path", "result", "error", "cause",
		"error_path", "cause_path", "timeout_path", "heartbeat_path", "max_concurrency_path",
		"tolerated_failure_percentage_path", "tolerated_failure_count_path"},
	"retrier":      {"errors", "max_attempts", "interval", "backoff_rate", "max_delay", "jitter", "comment"},
	"catcher":      {"errors", "next", "result_path", "output", "assign", "comment"},
	"compensation": {"action", "retry"},
	"on_failure":   {"retry", "backoff", "interval", "max_delay", "jitter", "errors", "compensate", "next", "result_path"},
	"choice":       {"condition", "and", "or", "not", "variable", "next", "assign", "output", "comment"},
	"rule":         {"condition", "and", "or", "not", "variable", "comment"},
	"graph":        {"start_at", "states", "query_language", "comment", "mode", "execution_type"},
	"policy":       {"rule", "severity", "message", "name"},
	"trigger":      {"event", "type", "schedule", "input"},
}

func (d *decoder) workflow(n *Node) *Workflow {
	w := &Workflow{}
	if n.Kind != MapNode {
		d.errorf(n.Pos, "type", "a workflow file must be a mapping with version, name and states; found %s", n.Kind)
		return w
	}
	o := d.object(n, "workflow", "workflow")
	o.str("version", &w.Version)
	o.str("name", &w.Name)
	o.str("comment", &w.Comment)
	d.queryLanguage(o, &w.QueryLanguage)
	o.duration("timeout", &w.Timeout, nil)
	o.str("start_at", &w.StartAt)
	if f := o.get("functions"); f != nil {
		w.Functions = d.functions(f)
	}
	states := o.get("states")
	if states == nil {
		d.errorf(n.Pos, "missing", "workflow has no states")
	} else {
		w.States = d.states(states)
	}
	for _, p := range o.list("policies") {
		w.Policies = append(w.Policies, d.policy(p))
	}
	for _, t := range o.list("triggers") {
		w.Triggers = append(w.Triggers, d.trigger(t))
	}
	if p := o.get("profiles"); p != nil {
		if p.Kind != MapNode {
			o.typeErr("profiles", p, "a mapping of profile names to profiles")
		} else {
			w.Profiles = p
		}
	}
	w.Src = o.done()
	w.GraphSrc = w.Src
	if w.Version == "" {
		d.errorf(n.Pos, "missing", "workflow has no version (write version: \"1.0\")")
	}
	return w
}

func (d *decoder) queryLanguage(o *obj, dst *string) {
	if !o.str("query_language", dst) {
		return
	}
	switch strings.ToLower(*dst) {
	case "jsonpath":
		*dst = JSONPath
	case "jsonata":
		*dst = JSONata
	default:
		d.errorf(o.src.Keys["query_language"], "value", "query_language must be jsonpath or jsonata, found %q", *dst)
	}
}

func (d *decoder) functions(n *Node) []*Function {
	if n.Kind != MapNode {
		d.errorf(n.Pos, "type", "functions must map names to bindings, found %s", n.Kind)
		return nil
	}
	fs := make([]*Function, 0, len(n.Keys))
	for i, k := range n.Keys {
		v := n.Vals[i]
		f := &Function{Name: k.Str}
		if v.Kind == StringNode {
			f.URI = v.Str
			f.Src = Src{Pos: k.Pos, Keys: map[string]Pos{"uri": v.Pos}}
		} else {
			o := d.object(v, "function", "function "+strconv.Quote(k.Str))
			o.str("uri", &f.URI)
			o.boolean("idempotent", &f.Idempotent)
			o.duration("timeout", &f.Timeout, nil)
			f.Src = o.done()
			f.Src.Pos = k.Pos
		}
		if f.URI == "" {
			d.errorf(k.Pos, "missing", "function %q has no uri", k.Str)
		}
		fs = append(fs, f)
	}
	return fs
}

func (d *decoder) states(n *Node) []*State {
	if n.Kind != SeqNode {
		d.errorf(n.Pos, "type", "states must be a list, found %s", n.Kind)
		return nil
	}
	out := make([]*State, 0, len(n.Items))
	for _, it := range n.Items {
		out = append(out, d.state(it))
	}
	return out
}

func (d *decoder) graph(n *Node, what string, map_ bool, st *State) *Graph {
	g := &Graph{}
	o := d.object(n, "graph", what)
	o.str("start_at", &g.StartAt)
	d.queryLanguage(o, &g.QueryLanguage)
	o.str("comment", &g.Comment)
	if map_ {
		o.str("mode", &st.ProcessorMode)
		o.str("execution_type", &st.ExecutionType)
	}
	if s := o.get("states"); s != nil {
		g.States = d.states(s)
	} else {
		d.errorf(n.Pos, "missing", "%s has no states", what)
	}
	g.GraphSrc = o.done()
	return g
}

func (d *decoder) state(n *Node) *State {
	s := &State{}
	name := n.Get("name")
	what := "state"
	if name != nil && name.Kind == StringNode {
		what = "state " + strconv.Quote(name.Str)
	}
	o := d.object(n, "state", what)
	if !o.str("name", &s.Name) {
		d.errorf(n.Pos, "missing", "state has no name")
	}
	var typ string
	typeSet := o.str("type", &typ)
	o.str("comment", &s.Comment)
	o.str("next", &s.Next)
	o.boolean("end", &s.End)
	d.queryLanguage(o, &s.QueryLanguage)
	o.path("input_path", &s.InputPath)
	o.value("parameters", &s.Parameters)
	o.value("result_selector", &s.ResultSelector)
	o.path("result_path", &s.ResultPath)
	o.path("output_path", &s.OutputPath)
	o.value("arguments", &s.Arguments)
	o.value("output", &s.Output)
	o.value("assign", &s.Assign)
	hasAction := o.str("action", &s.Action)
	hasWorkflow := false
	if o.n.Get("workflow") != nil {
		hasWorkflow = o.str("workflow", &s.Action)
	}
	o.boolean("callback", &s.Callback)
	o.duration("timeout", &s.Timeout, &s.TimeoutExpr)
	o.str("timeout_path", &s.TimeoutPath)
	o.duration("heartbeat", &s.Heartbeat, &s.HeartbeatExpr)
	o.str("heartbeat_path", &s.HeartbeatPath)
	o.value("credentials", &s.Credentials)
	if r := o.get("retry"); r != nil {
		s.Retry = d.retriers(r, what)
	}
	for _, c := range o.list("catch") {
		s.Catch = append(s.Catch, d.catcher(c, what))
	}
	if f := o.get("on_failure"); f != nil {
		d.onFailure(f, s, what)
	}
	o.boolean("mutates", &s.Mutates)
	o.boolean("irreversible", &s.Irreversible)
	if c := o.get("compensate"); c != nil {
		s.Compensate = d.compensation(c, what+" compensate")
	}
	o.str("idempotency", &s.Idempotency)
	choices := o.get("choices")
	if choices != nil {
		if choices.Kind != SeqNode {
			o.typeErr("choices", choices, "a list")
		} else {
			for _, c := range choices.Items {
				s.Choices = append(s.Choices, d.choice(c, what))
			}
		}
	}
	o.str("default", &s.Default)
	branches := o.get("branches")
	if branches != nil {
		if branches.Kind != SeqNode {
			o.typeErr("branches", branches, "a list")
		} else {
			for i, b := range branches.Items {
				s.Branches = append(s.Branches, d.graph(b, fmt.Sprintf("branch %d of %s", i+1, what), false, s))
			}
		}
	}
	if p := o.get("processor"); p != nil {
		s.Processor = d.graph(p, "processor of "+what, true, s)
	}
	o.path("items_path", &s.ItemsPath)
	o.value("items", &s.Items)
	o.value("item_selector", &s.ItemSelector)
	if mc := o.n.Get("max_concurrency"); mc != nil && mc.Kind == StringNode {
		o.str("max_concurrency", &s.MaxConcurrencyExpr)
	} else {
		o.integer("max_concurrency", &s.MaxConcurrency)
	}
	o.str("max_concurrency_path", &s.MaxConcurrencyPath)
	o.value("item_reader", &s.ItemReader)
	o.value("item_batcher", &s.ItemBatcher)
	o.value("result_writer", &s.ResultWriter)
	o.str("label", &s.Label)
	o.value("tolerated_failure_percentage", &s.ToleratedFailurePercentage)
	o.value("tolerated_failure_count", &s.ToleratedFailureCount)
	o.str("tolerated_failure_percentage_path", &s.ToleratedFailurePercentagePath)
	o.str("tolerated_failure_count_path", &s.ToleratedFailureCountPath)
	hasWait := o.value("seconds", &s.Seconds)
	hasWait = o.value("timestamp", &s.Timestamp) || hasWait
	hasWait = o.str("seconds_path", &s.SecondsPath) || hasWait
	hasWait = o.str("timestamp_path", &s.TimestampPath) || hasWait
	s.HasResult = o.value("result", &s.Result)
	o.str("error", &s.Error)
	o.str("cause", &s.Cause)
	o.str("error_path", &s.ErrorPath)
	o.str("cause_path", &s.CausePath)
	s.Src = o.done()

	// The kind: written, or implied by the fields that only one kind has.
	switch {
	case typeSet:
		k, ok := ParseKind(typ)
		if !ok {
			msg := fmt.Sprintf("%s: unknown type %q", what, typ)
			if c := Closest(typ, kindNames[:]); c != "" {
				msg += fmt.Sprintf("; did you mean %q?", c)
			}
			d.errorf(s.At("type"), "value", "%s", msg)
		}
		s.Kind = k
	case hasWorkflow:
		s.Kind = KindWorkflow
	case hasAction:
		s.Kind = KindTask
	case choices != nil:
		s.Kind = KindChoice
	case branches != nil:
		s.Kind = KindParallel
	case s.Processor != nil:
		s.Kind = KindMap
	case hasWait:
		s.Kind = KindWait
	default:
		d.errorf(n.Pos, "missing", "%s has no type and no action (write type: pass, succeed, fail, ... or action: FUNCTION)", what)
		s.Kind = KindPass
	}
	return s
}

// retriers reads a retry list, or the short form "retry: 3".
func (d *decoder) retriers(n *Node, what string) []*Retrier {
	if n.Kind == IntNode {
		return []*Retrier{{Errors: []string{ErrAll}, MaxAttempts: int(n.Int), Interval: DefaultInterval,
			BackoffRate: DefaultBackoffRate, Src: Src{Pos: n.Pos}}}
	}
	if n.Kind != SeqNode {
		d.errorf(n.Pos, "type", "%s: retry must be a number of retries or a list of retriers, found %s", what, n.Kind)
		return nil
	}
	var rs []*Retrier
	for _, it := range n.Items {
		rs = append(rs, d.retrier(it, what))
	}
	return rs
}

func (d *decoder) retrier(n *Node, what string) *Retrier {
	r := &Retrier{MaxAttempts: DefaultMaxAttempts, Interval: DefaultInterval, BackoffRate: DefaultBackoffRate}
	o := d.object(n, "retrier", "retrier of "+what)
	o.strings("errors", &r.Errors)
	o.integer("max_attempts", &r.MaxAttempts)
	o.duration("interval", &r.Interval, nil)
	o.number("backoff_rate", &r.BackoffRate)
	o.duration("max_delay", &r.MaxDelay, nil)
	o.str("jitter", &r.Jitter)
	o.str("comment", &r.Comment)
	r.Src = o.done()
	if len(r.Errors) == 0 {
		r.Errors = []string{ErrAll}
	}
	d.checkRetrier(r, what)
	return r
}

func (d *decoder) checkRetrier(r *Retrier, what string) {
	if r.BackoffRate < 1 {
		d.errorf(r.At("backoff_rate"), "range", "%s: backoff_rate must be at least 1, found %g", what, r.BackoffRate)
	}
	switch strings.ToLower(r.Jitter) {
	case "", "none":
		r.Jitter = JitterNone
	case "full":
		r.Jitter = JitterFull
	default:
		d.errorf(r.At("jitter"), "value", "%s: jitter must be none or full, found %q", what, r.Jitter)
	}
}

// Jitter strategies.
const (
	JitterNone = "none"
	JitterFull = "full"
)

// ErrAll matches every error in a retrier or catcher.
const ErrAll = "States.ALL"

func (d *decoder) catcher(n *Node, what string) *Catcher {
	c := &Catcher{}
	o := d.object(n, "catcher", "catcher of "+what)
	o.strings("errors", &c.Errors)
	o.str("next", &c.Next)
	o.path("result_path", &c.ResultPath)
	o.value("output", &c.Output)
	o.value("assign", &c.Assign)
	o.str("comment", &c.Comment)
	c.Src = o.done()
	if len(c.Errors) == 0 {
		c.Errors = []string{ErrAll}
	}
	if c.Next == "" {
		d.errorf(c.Pos, "missing", "catcher of %s has no next state", what)
	}
	return c
}

func (d *decoder) compensation(n *Node, what string) *Compensation {
	if n.Kind == StringNode {
		return &Compensation{Action: n.Str, Src: Src{Pos: n.Pos}}
	}
	c := &Compensation{}
	o := d.object(n, "compensation", what)
	o.str("action", &c.Action)
	if r := o.get("retry"); r != nil {
		c.Retry = d.retriers(r, what)
	}
	c.Src = o.done()
	if c.Action == "" {
		d.errorf(c.Pos, "missing", "%s has no action", what)
	}
	return c
}

// onFailure expands the short form of the original specification:
//
//	on_failure: {retry: 3, backoff: exponential}
//	on_failure: {compensate: refund-user}
//	on_failure: {next: Recover}
func (d *decoder) onFailure(n *Node, s *State, what string) {
	o := d.object(n, "on_failure", "on_failure of "+what)
	var errs []string
	o.strings("errors", &errs)
	if len(errs) == 0 {
		errs = []string{ErrAll}
	}
	if rn := o.get("retry"); rn != nil {
		r := &Retrier{Errors: errs, Interval: DefaultInterval, BackoffRate: DefaultBackoffRate, Src: Src{Pos: rn.Pos, Keys: map[string]Pos{}}}
		if rn.Kind != IntNode || rn.Int < 0 {
			d.errorf(rn.Pos, "type", "on_failure of %s: retry must be a number of retries", what)
		} else {
			r.MaxAttempts = int(rn.Int)
		}
		var backoff string
		if o.str("backoff", &backoff) {
			switch backoff {
			case "exponential":
				r.BackoffRate = DefaultBackoffRate
			case "constant", "fixed":
				r.BackoffRate = 1
			default:
				d.errorf(o.src.Keys["backoff"], "value", "on_failure of %s: backoff must be exponential or constant, found %q", what, backoff)
			}
		}
		o.duration("interval", &r.Interval, nil)
		o.duration("max_delay", &r.MaxDelay, nil)
		o.str("jitter", &r.Jitter)
		d.checkRetrier(r, what)
		s.Retry = append(s.Retry, r)
	}
	if c := o.get("compensate"); c != nil {
		s.OnFailure = d.compensation(c, "on_failure compensate of "+what)
	}
	var next string
	if o.str("next", &next) {
		c := &Catcher{Errors: errs, Next: next, Src: Src{Pos: o.src.Keys["next"], Keys: map[string]Pos{"next": o.src.Keys["next"]}}}
		o.path("result_path", &c.ResultPath)
		s.Catch = append(s.Catch, c)
	}
	o.done()
}

func (d *decoder) choice(n *Node, what string) *Choice {
	c := &Choice{}
	o := d.object(n, "choice", "choice of "+what)
	o.str("next", &c.Next)
	o.value("assign", &c.Assign)
	o.value("output", &c.Output)
	o.str("comment", &c.Comment)
	d.rule(o, &c.Rule)
	if c.Next == "" {
		d.errorf(n.Pos, "missing", "choice of %s has no next state", what)
	}
	return c
}

// rule reads the condition part of a choice or nested rule. Comparison
// operators are written in snake case (numeric_greater_than_path: $.limit)
// and stored under their ASL names (NumericGreaterThanPath).
func (d *decoder) rule(o *obj, r *Rule) {
	forms := 0
	if o.str("condition", &r.Condition) {
		forms++
	}
	if items := o.list("and"); items != nil {
		forms++
		for _, it := range items {
			r.And = append(r.And, d.subRule(it, o.what))
		}
	}
	if items := o.list("or"); items != nil {
		forms++
		for _, it := range items {
			r.Or = append(r.Or, d.subRule(it, o.what))
		}
	}
	if v := o.get("not"); v != nil {
		forms++
		r.Not = d.subRule(v, o.what)
	}
	o.str("variable", &r.Variable)
	for i, k := range o.n.Keys {
		op := OperatorName(k.Str)
		if o.used[k.Str] || op == "" {
			continue
		}
		o.used[k.Str] = true
		o.src.Keys[k.Str] = o.n.Vals[i].Pos
		if r.Op != "" {
			d.errorf(k.Pos, "value", "%s: one comparison per rule; found %s after %s", o.what, k.Str, OperatorKey(r.Op))
			continue
		}
		r.Op, r.Value = op, o.n.Vals[i].Value()
		forms++
	}
	r.Src = o.done()
	switch {
	case forms == 0:
		d.errorf(o.n.Pos, "missing", "%s has no condition (write condition:, and:, or:, not: or variable: with a comparison)", o.what)
	case forms > 1:
		d.errorf(o.n.Pos, "value", "%s has more than one condition; combine them with and: or or:", o.what)
	}
	if r.Op != "" && r.Variable == "" {
		d.errorf(o.n.Pos, "missing", "%s compares with %s but names no variable", o.what, OperatorKey(r.Op))
	}
	if r.Variable != "" && r.Op == "" {
		d.errorf(r.At("variable"), "missing", "%s names variable %q but no comparison", o.what, r.Variable)
	}
}

func (d *decoder) subRule(n *Node, what string) *Rule {
	r := &Rule{}
	o := d.object(n, "rule", "rule of "+what)
	o.str("comment", &r.Comment)
	d.rule(o, r)
	return r
}

// Operators are the ASL comparison operators of Choice rules.
var Operators = expr.Operators()

// OperatorName maps a snake-case key (numeric_less_than_path) to its ASL
// operator name (NumericLessThanPath), or "" when it names no operator.
func OperatorName(key string) string {
	var b strings.Builder
	up := true
	for _, r := range key {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	name := b.String()
	i := sort.SearchStrings(sortedOperators, name)
	if i < len(sortedOperators) && sortedOperators[i] == name && OperatorKey(name) == key {
		return name
	}
	return ""
}

var sortedOperators = func() []string {
	s := append([]string(nil), Operators...)
	sort.Strings(s)
	return s
}()

// OperatorKey maps an ASL operator name to its snake-case key.
func OperatorKey(op string) string {
	var b strings.Builder
	for i, r := range op {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d *decoder) policy(n *Node) *Policy {
	p := &Policy{Severity: "error"}
	o := d.object(n, "policy", "policy")
	o.str("rule", &p.Rule)
	o.str("severity", &p.Severity)
	o.str("message", &p.Message)
	o.str("name", &p.Name)
	p.Src = o.done()
	if p.Rule == "" {
		d.errorf(n.Pos, "missing", "policy has no rule")
	}
	switch p.Severity {
	case "error", "warning", "info":
	default:
		d.errorf(p.At("severity"), "value", "policy severity must be error, warning or info, found %q", p.Severity)
	}
	return p
}

func (d *decoder) trigger(n *Node) *Trigger {
	t := &Trigger{}
	o := d.object(n, "trigger", "trigger")
	o.str("event", &t.Event)
	o.str("type", &t.Type)
	o.str("schedule", &t.Schedule)
	o.value("input", &t.Input)
	t.Src = o.done()
	if (t.Event == "" && t.Type == "") == (t.Schedule == "") {
		d.errorf(n.Pos, "value", "a trigger has either event:/type: or schedule:")
	}
	return t
}

// IsJSONata reports whether s is a JSONata expression written "{% ... %}".
// As in Step Functions, the delimiters must be the first and last
// characters: " {% x %} " is a plain string.
func IsJSONata(s string) bool {
	return strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") && len(s) >= 4
}

// Closest returns the candidate nearest to s by edit distance, ignoring
// case, when it is near enough to be a plausible typo; "" otherwise. It
// makes the "did you mean" of every finding.
func Closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two strings in runes; long
// strings are never typos of each other, which bounds the work.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
