package model

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
)

// Format writes w as a nexus YAML file in the schema Parse reads, so that
// Parse(Format(w)) gives back w (positions aside). The output is meant for
// people: keys come in a fixed, readable order, defaults are left out
// (a retrier's max_attempts: 3, a catcher's errors: [States.ALL], ...),
// durations are written as "10s" or "1m30s", a task's type is implied by
// its action, and states are separated by blank lines. Data values
// (payload templates with their ".$" keys, results, Assign maps) are
// written as YAML data, with map keys sorted.
//
// Format writes the canonical form Parse produces: a Retrier whose Jitter
// is "" comes back as "none", a Catcher without Errors comes back with
// [States.ALL], and so on. It returns an error, and no output, for what the
// schema cannot express, such as a state with both a timeout and a
// timeout expression, two functions of the same name, or a data key the
// YAML encoder cannot write (control characters, "<<").
func Format(w *Workflow) ([]byte, error) {
	if w == nil {
		return nil, errors.New("format: no workflow")
	}
	p := &printer{}
	head := yaml.MapSlice{}
	head = p.str(head, "version", w.Version)
	head = p.str(head, "name", w.Name)
	head = p.str(head, "comment", w.Comment)
	head = p.str(head, "query_language", queryLanguageKey(w.QueryLanguage))
	head = p.duration(head, "timeout", w.Timeout)
	head = p.str(head, "start_at", w.StartAt)
	if w.Graph.QueryLanguage != "" || w.Graph.Comment != "" {
		p.fail("the top-level graph's QueryLanguage and Comment are not written; set Workflow.QueryLanguage and Workflow.Comment")
	}
	if len(w.Functions) > 0 {
		head = append(head, yaml.MapItem{Key: "functions", Value: p.functions(w.Functions)})
	}

	var out bytes.Buffer
	if len(head) > 0 {
		p.encode(&out, head)
	}
	out.WriteString("states:")
	if len(w.States) == 0 {
		out.WriteString(" []")
	}
	out.WriteByte('\n')
	for i, s := range w.States {
		if i > 0 {
			out.WriteByte('\n')
		}
		p.encode(&out, []any{p.state(s, "state "+strconv.Quote(s.Name))})
	}

	tail := yaml.MapSlice{}
	if len(w.Policies) > 0 {
		ps := make([]any, len(w.Policies))
		for i, pol := range w.Policies {
			ps[i] = p.policy(pol)
		}
		tail = append(tail, yaml.MapItem{Key: "policies", Value: ps})
	}
	if len(w.Triggers) > 0 {
		ts := make([]any, len(w.Triggers))
		for i, t := range w.Triggers {
			ts[i] = p.trigger(t)
		}
		tail = append(tail, yaml.MapItem{Key: "triggers", Value: ts})
	}
	if w.Profiles != nil {
		tail = append(tail, yaml.MapItem{Key: "profiles", Value: p.data(w.Profiles.Value(), "profiles")})
	}
	if len(tail) > 0 {
		out.WriteByte('\n')
		p.encode(&out, tail)
	}
	if p.err != nil {
		return nil, p.err
	}
	return out.Bytes(), nil
}

// printer builds the YAML tree of a workflow, keeping the first error.
type printer struct {
	err   error
	tried map[string]bool // strings tried as plain scalars, and whether they read back
}

func (p *printer) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("format: "+format, args...)
	}
}

// encode appends v as YAML. A panic of the third-party encoder becomes an
// error, as its parser's do in ParseNode.
func (p *printer) encode(out *bytes.Buffer, v any) {
	if p.err != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			p.fail("cannot encode: %v", r)
		}
	}()
	b, err := yaml.MarshalWithOptions(v, yaml.Indent(2), yaml.IndentSequence(true),
		yaml.UseLiteralStyleIfMultiline(false))
	if err != nil {
		p.fail("%v", err)
		return
	}
	out.Write(b)
}

// str appends key: s when s is not empty.
func (p *printer) str(m yaml.MapSlice, key, s string) yaml.MapSlice {
	if s == "" {
		return m
	}
	return append(m, yaml.MapItem{Key: key, Value: p.scalar(s)})
}

// strAlways appends key: s even when s is empty.
func (p *printer) strAlways(m yaml.MapSlice, key, s string) yaml.MapSlice {
	return append(m, yaml.MapItem{Key: key, Value: p.scalar(s)})
}

func (p *printer) boolean(m yaml.MapSlice, key string, b bool) yaml.MapSlice {
	if !b {
		return m
	}
	return append(m, yaml.MapItem{Key: key, Value: true})
}

func (p *printer) duration(m yaml.MapSlice, key string, d time.Duration) yaml.MapSlice {
	if d == 0 {
		return m
	}
	return append(m, yaml.MapItem{Key: key, Value: FormatDuration(d)})
}

// value appends key: v for a data value, when v is not nil.
func (p *printer) value(m yaml.MapSlice, key string, v any) yaml.MapSlice {
	if v == nil {
		return m
	}
	return append(m, yaml.MapItem{Key: key, Value: p.data(v, key)})
}

func (p *printer) path(m yaml.MapSlice, key string, v OptPath) yaml.MapSlice {
	switch {
	case !v.Set:
		return m
	case v.Null:
		return append(m, yaml.MapItem{Key: key, Value: nil})
	}
	return append(m, yaml.MapItem{Key: key, Value: p.scalar(v.Path)})
}

func (p *printer) list(m yaml.MapSlice, key string, ss []string) yaml.MapSlice {
	if len(ss) == 0 {
		return m
	}
	items := make([]any, len(ss))
	for i, s := range ss {
		items[i] = p.scalar(s)
	}
	return append(m, yaml.MapItem{Key: key, Value: items})
}

// data converts a plain JSON value for the encoder, quoting the strings it
// would otherwise write ambiguously. A map key cannot be quoted that way:
// the few keys the encoder would write wrongly (control characters, "<<")
// are an error.
func (p *printer) data(v any, where string) any {
	switch v := v.(type) {
	case string:
		return p.scalar(v)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			if !p.plain(k) {
				p.fail("%s: cannot write the key %q", where, k)
			}
			m[k] = p.data(x, where)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = p.data(x, where)
		}
		return s
	case nil, bool, int64, float64:
		return v
	case int:
		return int64(v)
	}
	p.fail("%s: %T is not a JSON value", where, v)
	return nil
}

// quoted is a string the encoder writes double-quoted.
type quoted string

// MarshalYAML writes q as a double-quoted YAML scalar, the way the encoder
// itself quotes a string that needs it.
func (q quoted) MarshalYAML() ([]byte, error) {
	return []byte(strconv.Quote(string(q))), nil
}

// scalar returns s as it should be handed to the encoder: as is when the
// parser reads the encoder's output back as s, quoted otherwise.
func (p *printer) scalar(s string) any {
	if p.plain(s) {
		return s
	}
	return quoted(s)
}

// plain reports whether the encoder, left to itself, writes s so that it
// reads back unchanged. Strings of letters, digits and a few safe
// characters are, and so are those it quotes itself; the others are tried.
func (p *printer) plain(s string) bool {
	if token.IsNeedQuoted(s) || simple(s) {
		return true
	}
	if needsQuotes(s) {
		return false
	}
	if ok, seen := p.tried[s]; seen {
		return ok
	}
	ok := false
	if b, err := yaml.Marshal(yaml.MapSlice{{Key: s, Value: s}}); err == nil {
		n, fs := ParseNode("", b)
		ok = len(fs) == 0 && n != nil && n.Kind == MapNode && len(n.Keys) == 1 && n.Keys[0].Str == s &&
			n.Vals[0].Kind == StringNode && n.Vals[0].Str == s
	}
	if p.tried == nil {
		p.tried = map[string]bool{}
	}
	p.tried[s] = ok
	return ok
}

// simple reports strings made of ASCII letters, digits, and "_./$" inside.
func simple(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$' ||
			i > 0 && (c == '.' || c == '/' || c == '-' || c == ' ' && s[i-1] != ' ')) {
			return false
		}
	}
	return true
}

// needsQuotes reports strings that the encoder would write as a plain
// scalar that reads back differently: white space at either end, tabs,
// line breaks and other control, format or non-ASCII space characters,
// the merge key, document markers, an explicit-key indicator and the
// special floats (.inf, .nan) in any spelling.
func needsQuotes(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return true
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return true
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return true
		}
	}
	switch special := strings.ToLower(strings.TrimLeft(s, "+-")); {
	case s == "<<", s == "?", strings.HasPrefix(s, "? "), strings.HasPrefix(s, "---"), strings.HasPrefix(s, "..."),
		special == ".inf", special == ".nan":
		return true
	}
	return false
}

// FormatDuration writes d the way workflow files spell durations: "10s",
// "1m30s", "2h", "250ms".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func queryLanguageKey(ql string) string {
	switch ql {
	case JSONPath:
		return "jsonpath"
	case JSONata:
		return "jsonata"
	}
	return ql
}

func (p *printer) functions(fs []*Function) yaml.MapSlice {
	m := make(yaml.MapSlice, 0, len(fs))
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Name] {
			p.fail("two functions are named %q", f.Name)
		}
		seen[f.Name] = true
		if !p.plain(f.Name) {
			p.fail("functions: cannot write the key %q", f.Name)
		}
		b := p.strAlways(nil, "uri", f.URI)
		b = p.boolean(b, "idempotent", f.Idempotent)
		b = p.duration(b, "timeout", f.Timeout)
		m = append(m, yaml.MapItem{Key: f.Name, Value: b})
	}
	return m
}

// impliedKind is the kind Parse gives a state written without type:, from
// the keys the printer writes for it.
func impliedKind(s *State) (Kind, bool) {
	switch {
	case s.Kind == KindWorkflow && s.Action != "":
		return KindWorkflow, true
	case s.Action != "":
		return KindTask, true
	case len(s.Choices) > 0:
		return KindChoice, true
	case len(s.Branches) > 0:
		return KindParallel, true
	case s.Processor != nil:
		return KindMap, true
	case s.Seconds != nil || s.Timestamp != nil || s.SecondsPath != "" || s.TimestampPath != "":
		return KindWait, true
	}
	return 0, false
}

func (p *printer) state(s *State, what string) yaml.MapSlice {
	if s.Kind > KindWorkflow {
		p.fail("%s: invalid kind %d", what, s.Kind)
	}
	m := p.strAlways(nil, "name", s.Name)
	// The type is left out where the action implies it, as in a plain task;
	// other kinds are named even when their fields imply them.
	if k, ok := impliedKind(s); !ok || k != s.Kind || (k != KindTask && k != KindWorkflow) {
		m = append(m, yaml.MapItem{Key: "type", Value: s.Kind.String()})
	}
	m = p.str(m, "comment", s.Comment)
	m = p.str(m, "query_language", queryLanguageKey(s.QueryLanguage))
	if s.Kind == KindWorkflow {
		m = p.str(m, "workflow", s.Action)
	} else {
		m = p.str(m, "action", s.Action)
	}
	m = p.boolean(m, "callback", s.Callback)

	// Choice.
	if len(s.Choices) > 0 {
		cs := make([]any, len(s.Choices))
		for i, c := range s.Choices {
			cs[i] = p.choice(c, what)
		}
		m = append(m, yaml.MapItem{Key: "choices", Value: cs})
	}
	m = p.str(m, "default", s.Default)

	// Parallel.
	if len(s.Branches) > 0 {
		bs := make([]any, len(s.Branches))
		for i, b := range s.Branches {
			bs[i] = p.graph(b, nil, fmt.Sprintf("branch %d of %s", i+1, what))
		}
		m = append(m, yaml.MapItem{Key: "branches", Value: bs})
	}

	// Map.
	m = p.path(m, "items_path", s.ItemsPath)
	m = p.value(m, "items", s.Items)
	m = p.value(m, "item_selector", s.ItemSelector)
	if s.MaxConcurrencyExpr != "" {
		if s.MaxConcurrency != 0 {
			p.fail("%s: both max_concurrency %d and the expression %q", what, s.MaxConcurrency, s.MaxConcurrencyExpr)
		}
		m = p.str(m, "max_concurrency", s.MaxConcurrencyExpr)
	} else if s.MaxConcurrency != 0 {
		m = append(m, yaml.MapItem{Key: "max_concurrency", Value: s.MaxConcurrency})
	}
	m = p.str(m, "max_concurrency_path", s.MaxConcurrencyPath)
	if s.Processor != nil {
		m = append(m, yaml.MapItem{Key: "processor", Value: p.graph(s.Processor, s, "processor of "+what)})
	} else if s.ProcessorMode != "" || s.ExecutionType != "" {
		p.fail("%s: a processor mode or execution type needs a processor", what)
	}
	m = p.value(m, "item_reader", s.ItemReader)
	m = p.value(m, "item_batcher", s.ItemBatcher)
	m = p.value(m, "result_writer", s.ResultWriter)
	m = p.str(m, "label", s.Label)
	m = p.value(m, "tolerated_failure_percentage", s.ToleratedFailurePercentage)
	m = p.value(m, "tolerated_failure_count", s.ToleratedFailureCount)
	m = p.str(m, "tolerated_failure_percentage_path", s.ToleratedFailurePercentagePath)
	m = p.str(m, "tolerated_failure_count_path", s.ToleratedFailureCountPath)

	// Wait.
	m = p.value(m, "seconds", s.Seconds)
	m = p.value(m, "timestamp", s.Timestamp)
	m = p.str(m, "seconds_path", s.SecondsPath)
	m = p.str(m, "timestamp_path", s.TimestampPath)

	// Pass.
	if s.HasResult {
		m = append(m, yaml.MapItem{Key: "result", Value: p.data(s.Result, what+" result")})
	} else if s.Result != nil {
		p.fail("%s: Result is set but HasResult is false", what)
	}

	// Fail.
	m = p.str(m, "error", s.Error)
	m = p.str(m, "cause", s.Cause)
	m = p.str(m, "error_path", s.ErrorPath)
	m = p.str(m, "cause_path", s.CausePath)

	// Data flow.
	m = p.path(m, "input_path", s.InputPath)
	m = p.value(m, "parameters", s.Parameters)
	m = p.value(m, "arguments", s.Arguments)
	m = p.value(m, "result_selector", s.ResultSelector)
	m = p.path(m, "result_path", s.ResultPath)
	m = p.path(m, "output_path", s.OutputPath)
	m = p.value(m, "output", s.Output)
	m = p.value(m, "assign", s.Assign)

	// Task.
	m = p.value(m, "credentials", s.Credentials)
	m = p.timing(m, "timeout", s.Timeout, s.TimeoutExpr, what)
	m = p.str(m, "timeout_path", s.TimeoutPath)
	m = p.timing(m, "heartbeat", s.Heartbeat, s.HeartbeatExpr, what)
	m = p.str(m, "heartbeat_path", s.HeartbeatPath)
	if len(s.Retry) > 0 {
		m = append(m, yaml.MapItem{Key: "retry", Value: p.retriers(s.Retry)})
	}
	if len(s.Catch) > 0 {
		cs := make([]any, len(s.Catch))
		for i, c := range s.Catch {
			cs[i] = p.catcher(c)
		}
		m = append(m, yaml.MapItem{Key: "catch", Value: cs})
	}

	// Saga.
	m = p.boolean(m, "mutates", s.Mutates)
	m = p.boolean(m, "irreversible", s.Irreversible)
	if s.Compensate != nil {
		m = append(m, yaml.MapItem{Key: "compensate", Value: p.compensation(s.Compensate, what)})
	}
	if s.OnFailure != nil {
		m = append(m, yaml.MapItem{Key: "on_failure",
			Value: yaml.MapSlice{{Key: "compensate", Value: p.compensation(s.OnFailure, what)}}})
	}
	m = p.str(m, "idempotency", s.Idempotency)

	// Transitions.
	m = p.str(m, "next", s.Next)
	return p.boolean(m, "end", s.End)
}

// timing writes a timeout or heartbeat: a duration, or a JSONata
// expression.
func (p *printer) timing(m yaml.MapSlice, key string, d time.Duration, expr, what string) yaml.MapSlice {
	if expr == "" {
		return p.duration(m, key, d)
	}
	if d != 0 {
		p.fail("%s: both %s %s and the expression %q", what, key, FormatDuration(d), expr)
	}
	if !IsJSONata(expr) {
		p.fail("%s: %s expression %q is not written {%% ... %%}", what, key, expr)
	}
	return p.str(m, key, expr)
}

func (p *printer) graph(g *Graph, mapState *State, what string) yaml.MapSlice {
	if g == nil {
		p.fail("%s: no graph", what)
		return nil
	}
	m := p.str(nil, "start_at", g.StartAt)
	if mapState != nil {
		m = p.str(m, "mode", mapState.ProcessorMode)
		m = p.str(m, "execution_type", mapState.ExecutionType)
	}
	m = p.str(m, "query_language", queryLanguageKey(g.QueryLanguage))
	m = p.str(m, "comment", g.Comment)
	states := make([]any, len(g.States))
	for i, s := range g.States {
		states[i] = p.state(s, fmt.Sprintf("state %q of %s", s.Name, what))
	}
	return append(m, yaml.MapItem{Key: "states", Value: states})
}

func (p *printer) retriers(rs []*Retrier) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		m := yaml.MapSlice{}
		if !(len(r.Errors) == 1 && r.Errors[0] == ErrAll) {
			m = p.list(m, "errors", r.Errors)
		}
		if r.MaxAttempts != DefaultMaxAttempts {
			m = append(m, yaml.MapItem{Key: "max_attempts", Value: r.MaxAttempts})
		}
		if r.Interval != DefaultInterval {
			m = append(m, yaml.MapItem{Key: "interval", Value: FormatDuration(r.Interval)})
		}
		if r.BackoffRate != DefaultBackoffRate {
			m = append(m, yaml.MapItem{Key: "backoff_rate", Value: r.BackoffRate})
		}
		m = p.duration(m, "max_delay", r.MaxDelay)
		if r.Jitter != JitterNone {
			m = p.str(m, "jitter", r.Jitter)
		}
		out[i] = p.str(m, "comment", r.Comment)
	}
	return out
}

func (p *printer) catcher(c *Catcher) yaml.MapSlice {
	m := yaml.MapSlice{}
	if !(len(c.Errors) == 1 && c.Errors[0] == ErrAll) {
		m = p.list(m, "errors", c.Errors)
	}
	m = p.strAlways(m, "next", c.Next)
	m = p.path(m, "result_path", c.ResultPath)
	m = p.value(m, "output", c.Output)
	m = p.value(m, "assign", c.Assign)
	return p.str(m, "comment", c.Comment)
}

func (p *printer) compensation(c *Compensation, what string) any {
	if len(c.Retry) == 0 {
		return p.scalar(c.Action)
	}
	return yaml.MapSlice{
		{Key: "action", Value: p.scalar(c.Action)},
		{Key: "retry", Value: p.retriers(c.Retry)},
	}
}

func (p *printer) choice(c *Choice, what string) yaml.MapSlice {
	m := p.rule(&c.Rule, "choice of "+what)
	m = p.strAlways(m, "next", c.Next)
	m = p.value(m, "assign", c.Assign)
	m = p.value(m, "output", c.Output)
	return p.str(m, "comment", c.Comment)
}

// rule writes the condition of a choice or nested rule; comparison
// operators are written as snake-case keys.
func (p *printer) rule(r *Rule, what string) yaml.MapSlice {
	if r == nil {
		p.fail("%s: no rule", what)
		return nil
	}
	m := p.str(nil, "condition", r.Condition)
	if len(r.And) > 0 {
		m = append(m, yaml.MapItem{Key: "and", Value: p.rules(r.And, what)})
	}
	if len(r.Or) > 0 {
		m = append(m, yaml.MapItem{Key: "or", Value: p.rules(r.Or, what)})
	}
	if r.Not != nil {
		m = append(m, yaml.MapItem{Key: "not", Value: p.rule(r.Not, "rule of "+what)})
	}
	m = p.str(m, "variable", r.Variable)
	if r.Op != "" {
		key := OperatorKey(r.Op)
		if OperatorName(key) != r.Op {
			p.fail("%s: unknown comparison operator %q", what, r.Op)
		}
		m = append(m, yaml.MapItem{Key: key, Value: p.data(r.Value, what)})
	} else if r.Value != nil {
		p.fail("%s: a comparison value without an operator", what)
	}
	return p.str(m, "comment", r.Comment)
}

func (p *printer) rules(rs []*Rule, what string) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = p.rule(r, "rule of "+what)
	}
	return out
}

func (p *printer) policy(pol *Policy) yaml.MapSlice {
	m := p.strAlways(nil, "rule", pol.Rule)
	if pol.Severity != "error" {
		m = p.strAlways(m, "severity", pol.Severity)
	}
	m = p.str(m, "message", pol.Message)
	return p.str(m, "name", pol.Name)
}

func (p *printer) trigger(t *Trigger) yaml.MapSlice {
	m := p.str(nil, "event", t.Event)
	m = p.str(m, "type", t.Type)
	m = p.str(m, "schedule", t.Schedule)
	return p.value(m, "input", t.Input)
}
