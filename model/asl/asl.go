// Package asl imports Amazon States Language (AWS Step Functions)
// definitions into the nexus workflow model.
//
// Import maps every ASL construct that has a home in model.Workflow: all
// state types, Retry and Catch, the JSONPath data flow (InputPath,
// Parameters, ResultSelector, ResultPath, OutputPath, ItemsPath,
// ItemSelector), JSONata (QueryLanguage, Arguments, Output, Items,
// Condition and "{% %}" strings, carried as written), variables (Assign),
// Choice rules with every comparison operator, and distributed Map
// settings. A Task's Resource becomes a model.Function whose URI is the
// resource string, named readably ("process-order", "sns-publish",
// "sqs-send-message-callback").
//
// Nothing is dropped silently. Each finding carries the file, line and
// column, the JSON pointer of the value and a stable Code:
//
//   - errors, which make the definition unusable: CodeSyntax, CodeNotASL,
//     CodeMissing, CodeType, CodeValue, CodeUnknownType, CodeUnknownField,
//     CodeConflict;
//   - warnings, which leave a usable workflow: CodeNotCarried for what the
//     model cannot hold, CodePlaceholder for each unresolved ${...}
//     substitution left by SAM, CloudFormation or CDK.
//
// Import checks what only the ASL spelling can tell (field names, JSON
// types, the ASL-only rules); references between states, which fields
// apply to which kind of state and the shape of the graph are left to
// model.Validate, which reports them at the same source positions.
package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nexus-workflows/nexus/model"
)

// Finding codes of Import. Syntax errors keep the code of model.ParseNode.
const (
	CodeSyntax       = "syntax"        // not valid JSON or YAML
	CodeNotASL       = "not-asl"       // not a state machine definition at all
	CodeMissing      = "missing"       // a required field is absent
	CodeType         = "type"          // a field has the wrong JSON type
	CodeValue        = "value"         // a field has a value ASL does not allow
	CodeUnknownType  = "unknown-type"  // a state's Type is missing or not an ASL type
	CodeUnknownField = "unknown-field" // a field ASL does not define
	CodeConflict     = "conflict"      // two fields that exclude each other
	CodeNotCarried   = "not-carried"   // warning: valid ASL the model cannot hold
	CodePlaceholder  = "placeholder"   // warning: an unresolved ${...} substitution
)

// DefaultVersion is the ASL Version of a definition that names none.
const DefaultVersion = "1.0"

// Detect reports whether src looks like an ASL definition rather than a
// nexus workflow: a top-level object with a StartAt string and a States
// object. It reads only as far as it must.
func Detect(src []byte) bool {
	trimmed := bytes.TrimLeft(src, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return detectJSON(trimmed)
	}
	root, _ := model.ParseNode("", src)
	if root == nil {
		return false
	}
	start, states := root.Get("StartAt"), root.Get("States")
	return start != nil && start.Kind == model.StringNode && states != nil && states.Kind == model.MapNode
}

func detectJSON(src []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(src))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	var start, states bool
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		v, err := dec.Token()
		if err != nil {
			return false
		}
		switch k {
		case "StartAt":
			_, start = v.(string)
		case "States":
			states = v == json.Delim('{')
		}
		if start && states {
			return true
		}
		if d, ok := v.(json.Delim); ok && (d == '{' || d == '[') {
			if !skip(dec) {
				return false
			}
		}
	}
	return false
}

// skip reads the rest of an object or array whose opening token was read.
func skip(dec *json.Decoder) bool {
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// Import reads an ASL definition (JSON, or the same in YAML) into a
// Workflow. It returns the workflow whenever the source could be parsed,
// with every finding sorted by position; the workflow is usable only when
// the findings hold no error. The workflow has no Name (ASL has none) and
// Version "1.0" unless the definition names another.
func Import(file string, src []byte) (*model.Workflow, model.Findings) {
	if f, ok := checkJSON(file, src); !ok {
		return nil, model.Findings{f}
	}
	root, fs := model.ParseNode(file, src)
	if root == nil {
		return nil, fs
	}
	im := &importer{file: file, findings: fs, byURI: map[string]string{}, names: map[string]bool{}}
	w := im.workflow(root)
	if w != nil {
		w.File, w.Source = file, src
	}
	im.placeholders(root)
	im.findings.Sort()
	return w, im.findings
}

// checkJSON holds a source that looks like JSON to the JSON grammar, which
// the YAML parser that reads it is more lenient than.
func checkJSON(file string, src []byte) (model.Finding, bool) {
	trimmed := bytes.TrimLeft(src, " \t\r\n")
	if len(src) > model.MaxSourceBytes || len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || json.Valid(src) {
		return model.Finding{}, true
	}
	f := model.Finding{File: file, Pos: model.Pos{Line: 1, Col: 1}, Severity: model.SeverityError, Code: CodeSyntax,
		Message: "syntax error: not valid JSON"}
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(src, &v); errors.As(err, &se) {
		off := int(min(max(se.Offset-1, 0), int64(len(src))))
		line := 1 + bytes.Count(src[:off], []byte("\n"))
		col := 1 + utf8.RuneCount(src[bytes.LastIndexByte(src[:off], '\n')+1:off])
		f.Pos, f.Message = model.Pos{Line: line, Col: col}, "syntax error: "+se.Error()
	}
	return f, false
}

type importer struct {
	file     string
	findings model.Findings
	w        *model.Workflow
	byURI    map[string]string // function name of each resource
	names    map[string]bool   // function names in use
}

func (im *importer) add(sev model.Severity, p model.Pos, ptr, code, format string, args ...any) {
	im.findings = append(im.findings, model.Finding{File: im.file, Pos: p, Severity: sev, Code: code,
		Message: fmt.Sprintf(format, args...), Pointer: ptr})
}

func (im *importer) errorf(p model.Pos, ptr, code, format string, args ...any) {
	im.add(model.SeverityError, p, ptr, code, format, args...)
}

func (im *importer) warnf(p model.Pos, ptr, code, format string, args ...any) {
	im.add(model.SeverityWarning, p, ptr, code, format, args...)
}

// object walks the fields of one ASL object. Each field goes to the
// handler, which says whether it knows it; the others are reported as
// unknown.
type object struct {
	im    *importer
	n     *model.Node
	ptr   string
	what  string
	known []string // field names, for suggestions
	src   model.Src
}

func (im *importer) object(n *model.Node, ptr, what string, known []string) *object {
	o := &object{im: im, n: n, ptr: ptr, what: what, known: known, src: model.Src{Pos: n.Pos, Keys: map[string]model.Pos{}}}
	if n.Kind != model.MapNode {
		im.errorf(n.Pos, ptr, CodeType, "%s must be an object, found %s", what, n.Kind)
		o.n = &model.Node{Kind: model.MapNode, Pos: n.Pos}
	}
	return o
}

// each calls fn for every field; fn returns false for a field it does not
// know.
func (o *object) each(fn func(f field) bool) {
	for i, k := range o.n.Keys {
		f := field{o: o, key: k.Str, keyPos: k.Pos, v: o.n.Vals[i], ptr: o.ptr + "/" + model.EscapePointer(k.Str)}
		if !fn(f) {
			msg := fmt.Sprintf("%s: unknown field %q", o.what, k.Str)
			if s := model.Closest(k.Str, o.known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			o.im.errorf(k.Pos, f.ptr, CodeUnknownField, "%s", msg)
		}
	}
}

// field is one key and value of an ASL object.
type field struct {
	o      *object
	key    string
	keyPos model.Pos
	v      *model.Node
	ptr    string
}

// at records the field's position under the nexus schema key, so that
// model.Validate points at the ASL text.
func (f field) at(key string) { f.o.src.Keys[key] = f.v.Pos }

func (f field) typeErr(want string) {
	f.o.im.errorf(f.v.Pos, f.ptr, CodeType, "%s: %s must be %s, found %s", f.o.what, f.key, want, f.v.Kind)
}

func (f field) str(key string, dst *string) bool {
	if f.v.Kind != model.StringNode {
		f.typeErr("a string")
		return false
	}
	*dst = f.v.Str
	f.at(key)
	return true
}

func (f field) boolean(key string, dst *bool) {
	if f.v.Kind != model.BoolNode {
		f.typeErr("true or false")
		return
	}
	*dst = f.v.Bool
	f.at(key)
}

// integer reads a whole number in [lo, math.MaxInt32].
func (f field) integer(key string, lo int, dst *int) bool {
	var x float64
	switch f.v.Kind {
	case model.IntNode:
		x = float64(f.v.Int)
	case model.FloatNode:
		x = f.v.Float
	default:
		f.typeErr("an integer")
		return false
	}
	if x != math.Trunc(x) || x < float64(lo) || x > math.MaxInt32 {
		f.o.im.errorf(f.v.Pos, f.ptr, CodeValue, "%s: %s must be a whole number from %d to %d, found %s",
			f.o.what, f.key, lo, math.MaxInt32, text(f.v))
		return false
	}
	*dst = int(x)
	f.at(key)
	return true
}

func (f field) number(key string, dst *float64) bool {
	switch f.v.Kind {
	case model.IntNode:
		*dst = float64(f.v.Int)
	case model.FloatNode:
		*dst = f.v.Float
	default:
		f.typeErr("a number")
		return false
	}
	f.at(key)
	return true
}

// maxSeconds keeps a duration in seconds within time.Duration.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// seconds reads a number of seconds, at least lo. A JSONata "{% %}"
// string goes to expr when the field may be computed.
func (f field) seconds(key string, lo float64, dst *time.Duration, expr *string) {
	var x float64
	switch f.v.Kind {
	case model.IntNode:
		x = float64(f.v.Int)
	case model.FloatNode:
		x = f.v.Float
	case model.StringNode:
		if expr != nil && model.IsJSONata(f.v.Str) {
			*expr = f.v.Str
			f.at(key)
			return
		}
		fallthrough
	default:
		if expr != nil {
			f.typeErr("a number of seconds or a JSONata {% %} expression")
		} else {
			f.typeErr("a number of seconds")
		}
		return
	}
	if math.IsNaN(x) || x < lo || x > maxSeconds {
		f.o.im.errorf(f.v.Pos, f.ptr, CodeValue, "%s: %s must be from %g to %.0f seconds, found %s", f.o.what, f.key, lo, maxSeconds, text(f.v))
		return
	}
	*dst = time.Duration(x * float64(time.Second))
	f.at(key)
}

// value carries a JSON value. The model holds an absent value as nil, so a
// value written as null cannot be told apart and is reported.
func (f field) value(key string, dst *any) {
	if f.v.Kind == model.NullNode {
		f.o.im.warnf(f.v.Pos, f.ptr, CodeNotCarried, "%s: %s: null is not carried (the model cannot tell it from an absent %s)",
			f.o.what, f.key, f.key)
		return
	}
	*dst = f.v.Value()
	f.at(key)
}

// path reads a JSONPath field that may be null.
func (f field) path(key string, dst *model.OptPath) {
	switch f.v.Kind {
	case model.NullNode:
		*dst = model.NullPath()
	case model.StringNode:
		*dst = model.PathOf(f.v.Str)
	default:
		f.typeErr("a path or null")
		return
	}
	f.at(key)
}

func (f field) queryLanguage(dst *string) {
	if !f.str("query_language", dst) {
		return
	}
	if *dst != model.JSONPath && *dst != model.JSONata {
		f.o.im.errorf(f.v.Pos, f.ptr, CodeValue, "%s: QueryLanguage must be %q or %q, found %q", f.o.what, model.JSONPath, model.JSONata, *dst)
		*dst = ""
	}
}

func text(n *model.Node) string {
	switch n.Kind {
	case model.IntNode:
		return strconv.FormatInt(n.Int, 10)
	case model.FloatNode:
		return strconv.FormatFloat(n.Float, 'g', -1, 64)
	case model.StringNode:
		return strconv.Quote(n.Str)
	}
	return n.Kind.String()
}

var topFields = []string{"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}

func (im *importer) workflow(root *model.Node) *model.Workflow {
	if root.Kind != model.MapNode {
		im.errorf(root.Pos, "", CodeNotASL, "an ASL definition is a JSON object with StartAt and States, found %s", root.Kind)
		return nil
	}
	w := &model.Workflow{Version: DefaultVersion}
	im.w = w
	o := im.object(root, "", "state machine", topFields)
	var states *model.Node
	o.each(func(f field) bool {
		switch f.key {
		case "StartAt":
			f.str("start_at", &w.StartAt)
		case "States":
			states = f.v
			f.at("states")
		case "Comment":
			f.str("comment", &w.Comment)
		case "Version":
			if f.str("version", &w.Version) && w.Version == "" {
				im.errorf(f.v.Pos, f.ptr, CodeValue, "state machine: Version is empty (the default is %q)", DefaultVersion)
				w.Version = DefaultVersion
			}
		case "TimeoutSeconds":
			f.seconds("timeout", 1, &w.Timeout, nil)
		case "QueryLanguage":
			f.queryLanguage(&w.QueryLanguage)
		default:
			return false
		}
		return true
	})
	if root.Get("StartAt") == nil {
		im.errorf(root.Pos, "", CodeMissing, "state machine has no StartAt")
	}
	if states != nil {
		w.States = im.states(states, "/States")
	}
	w.Src = o.src
	w.GraphSrc = w.Src
	return w
}

// states reads a States object, in source order.
func (im *importer) states(n *model.Node, ptr string) []*model.State {
	if n.Kind != model.MapNode {
		im.errorf(n.Pos, ptr, CodeType, "States must be an object mapping state names to states, found %s", n.Kind)
		return nil
	}
	out := make([]*model.State, 0, len(n.Keys))
	for i, k := range n.Keys {
		if s := im.state(k, n.Vals[i], ptr+"/"+model.EscapePointer(k.Str)); s != nil {
			out = append(out, s)
		}
	}
	return out
}

var graphFields = []string{"StartAt", "States", "Comment", "QueryLanguage"}

// graph reads a Parallel branch or a Map's ItemProcessor (or Iterator).
// The processor's ProcessorConfig goes to the map state.
func (im *importer) graph(n *model.Node, ptr, what string, mapState *model.State) *model.Graph {
	g := &model.Graph{}
	known := graphFields
	if mapState != nil {
		known = append(known[:len(known):len(known)], "ProcessorConfig")
	}
	o := im.object(n, ptr, what, known)
	o.each(func(f field) bool {
		switch f.key {
		case "StartAt":
			f.str("start_at", &g.StartAt)
		case "States":
			g.States = im.states(f.v, f.ptr)
			f.at("states")
		case "Comment":
			f.str("comment", &g.Comment)
		case "QueryLanguage":
			f.queryLanguage(&g.QueryLanguage)
		case "ProcessorConfig":
			if mapState == nil {
				return false
			}
			im.processorConfig(f, mapState, o)
		default:
			return false
		}
		return true
	})
	if n.Kind == model.MapNode && n.Get("StartAt") == nil {
		im.errorf(n.Pos, ptr, CodeMissing, "%s has no StartAt", what)
	}
	g.GraphSrc = o.src
	return g
}

func (im *importer) processorConfig(f field, s *model.State, graph *object) {
	o := im.object(f.v, f.ptr, "ProcessorConfig of "+graph.what, []string{"Mode", "ExecutionType"})
	o.each(func(c field) bool {
		switch c.key {
		case "Mode":
			if c.str("mode", &s.ProcessorMode) {
				graph.src.Keys["mode"] = c.v.Pos
			}
		case "ExecutionType":
			if c.str("execution_type", &s.ExecutionType) {
				graph.src.Keys["execution_type"] = c.v.Pos
			}
		default:
			return false
		}
		return true
	})
}

// kinds maps ASL state types to kinds.
var kinds = map[string]model.Kind{
	"Task": model.KindTask, "Choice": model.KindChoice, "Parallel": model.KindParallel, "Map": model.KindMap,
	"Wait": model.KindWait, "Pass": model.KindPass, "Succeed": model.KindSucceed, "Fail": model.KindFail,
}

var typeNames = []string{"Task", "Choice", "Parallel", "Map", "Wait", "Pass", "Succeed", "Fail"}

// stateFields are all the fields ASL defines on states. Which of them
// apply to which type is model.Validate's to say, on the model.
var stateFields = []string{"Type", "Comment", "Next", "End", "QueryLanguage", "InputPath", "Parameters",
	"ResultSelector", "ResultPath", "OutputPath", "Arguments", "Output", "Assign", "Resource", "TimeoutSeconds",
	"TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials", "Retry", "Catch", "Choices",
	"Default", "Branches", "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector", "MaxConcurrency",
	"MaxConcurrencyPath", "ItemReader", "ItemBatcher", "ResultWriter", "Label", "ToleratedFailurePercentage",
	"ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Seconds", "Timestamp",
	"SecondsPath", "TimestampPath", "Result", "Error", "Cause", "ErrorPath", "CausePath"}

func (im *importer) state(name *model.Node, n *model.Node, ptr string) *model.State {
	what := "state " + strconv.Quote(name.Str)
	if n.Kind != model.MapNode {
		im.errorf(n.Pos, ptr, CodeType, "%s must be an object, found %s", what, n.Kind)
		return nil
	}
	s := &model.State{Name: name.Str, Kind: model.KindPass}
	o := im.object(n, ptr, what, stateFields)
	o.src.Pos = name.Pos
	o.src.Keys["name"] = name.Pos

	typ := n.Get("Type")
	typeOK := false
	switch {
	case typ == nil:
		im.errorf(name.Pos, ptr, CodeUnknownType, "%s has no Type (one of %s)", what, strings.Join(typeNames, ", "))
	case typ.Kind != model.StringNode:
		im.errorf(typ.Pos, ptr+"/Type", CodeType, "%s: Type must be a string, found %s", what, typ.Kind)
	default:
		k, ok := kinds[typ.Str]
		if !ok {
			msg := fmt.Sprintf("%s: unknown Type %q", what, typ.Str)
			if c := model.Closest(typ.Str, typeNames); c != "" {
				msg += fmt.Sprintf("; did you mean %q?", c)
			}
			im.errorf(typ.Pos, ptr+"/Type", CodeUnknownType, "%s", msg)
			break
		}
		s.Kind, typeOK = k, true
		o.src.Keys["type"] = typ.Pos
	}

	o.each(func(f field) bool {
		if !typeOK {
			// Without a type the other fields cannot be judged; keep the
			// transitions so that references to the state still resolve.
			switch f.key {
			case "Next":
				f.str("next", &s.Next)
			case "End":
				f.boolean("end", &s.End)
			}
			return true
		}
		return im.stateField(f, s)
	})
	if s.Kind == model.KindMap {
		if n.Get("Iterator") != nil && n.Get("ItemProcessor") != nil {
			im.errorf(n.KeyPos("Iterator"), ptr+"/Iterator", CodeConflict, "%s has both Iterator and ItemProcessor; Iterator is the older name of ItemProcessor", what)
		}
		if n.Get("Parameters") != nil && n.Get("ItemSelector") != nil {
			im.errorf(n.KeyPos("Parameters"), ptr+"/Parameters", CodeConflict, "%s has both Parameters and ItemSelector; in a Map state Parameters is the older name of ItemSelector", what)
		}
	}
	s.Src = o.src
	return s
}

// stateField carries one field of a state with a known type.
func (im *importer) stateField(f field, s *model.State) bool {
	switch f.key {
	case "Type":
	case "Comment":
		f.str("comment", &s.Comment)
	case "Next":
		f.str("next", &s.Next)
	case "End":
		f.boolean("end", &s.End)
	case "QueryLanguage":
		f.queryLanguage(&s.QueryLanguage)
	case "InputPath":
		f.path("input_path", &s.InputPath)
	case "Parameters":
		if s.Kind == model.KindMap {
			// In a Map state Parameters is the older name of ItemSelector:
			// it builds the input of each iteration.
			if f.o.n.Get("ItemSelector") == nil {
				f.value("item_selector", &s.ItemSelector)
			}
			return true
		}
		f.value("parameters", &s.Parameters)
	case "ResultSelector":
		f.value("result_selector", &s.ResultSelector)
	case "ResultPath":
		f.path("result_path", &s.ResultPath)
	case "OutputPath":
		f.path("output_path", &s.OutputPath)
	case "Arguments":
		f.value("arguments", &s.Arguments)
	case "Output":
		f.value("output", &s.Output)
	case "Assign":
		f.value("assign", &s.Assign)
	case "Resource":
		var res string
		if !f.str("action", &res) {
			break
		}
		if res == "" {
			im.errorf(f.v.Pos, f.ptr, CodeValue, "%s: Resource is empty", f.o.what)
		} else {
			s.Action = im.function(res, f.v.Pos)
			s.Callback = strings.HasSuffix(res, ".waitForTaskToken")
		}
	case "TimeoutSeconds":
		f.seconds("timeout", 1, &s.Timeout, &s.TimeoutExpr)
	case "TimeoutSecondsPath":
		f.str("timeout_path", &s.TimeoutPath)
	case "HeartbeatSeconds":
		f.seconds("heartbeat", 1, &s.Heartbeat, &s.HeartbeatExpr)
	case "HeartbeatSecondsPath":
		f.str("heartbeat_path", &s.HeartbeatPath)
	case "Credentials":
		f.value("credentials", &s.Credentials)
	case "Retry":
		s.Retry = im.retriers(f)
	case "Catch":
		s.Catch = im.catchers(f)
	case "Choices":
		s.Choices = im.choices(f)
	case "Default":
		f.str("default", &s.Default)
	case "Branches":
		if f.v.Kind != model.SeqNode {
			f.typeErr("an array of branches")
			return true
		}
		f.at("branches")
		for i, b := range f.v.Items {
			s.Branches = append(s.Branches, im.graph(b, fmt.Sprintf("%s/%d", f.ptr, i),
				fmt.Sprintf("branch %d of %s", i+1, f.o.what), nil))
		}
	case "Iterator", "ItemProcessor":
		if s.Processor != nil {
			return true // reported as a conflict
		}
		f.at("processor")
		s.Processor = im.graph(f.v, f.ptr, f.key+" of "+f.o.what, s)
	case "ItemsPath":
		f.path("items_path", &s.ItemsPath)
	case "Items":
		f.value("items", &s.Items)
	case "ItemSelector":
		f.value("item_selector", &s.ItemSelector)
	case "MaxConcurrency":
		if f.v.Kind == model.StringNode && model.IsJSONata(f.v.Str) {
			f.str("max_concurrency", &s.MaxConcurrencyExpr)
		} else {
			f.integer("max_concurrency", 0, &s.MaxConcurrency)
		}
	case "MaxConcurrencyPath":
		f.str("max_concurrency_path", &s.MaxConcurrencyPath)
	case "ItemReader":
		f.value("item_reader", &s.ItemReader)
	case "ItemBatcher":
		f.value("item_batcher", &s.ItemBatcher)
	case "ResultWriter":
		f.value("result_writer", &s.ResultWriter)
	case "Label":
		f.str("label", &s.Label)
	case "ToleratedFailurePercentage":
		f.value("tolerated_failure_percentage", &s.ToleratedFailurePercentage)
	case "ToleratedFailureCount":
		f.value("tolerated_failure_count", &s.ToleratedFailureCount)
	case "ToleratedFailurePercentagePath":
		f.str("tolerated_failure_percentage_path", &s.ToleratedFailurePercentagePath)
	case "ToleratedFailureCountPath":
		f.str("tolerated_failure_count_path", &s.ToleratedFailureCountPath)
	case "Seconds":
		f.value("seconds", &s.Seconds)
	case "Timestamp":
		f.value("timestamp", &s.Timestamp)
	case "SecondsPath":
		f.str("seconds_path", &s.SecondsPath)
	case "TimestampPath":
		f.str("timestamp_path", &s.TimestampPath)
	case "Result":
		s.Result, s.HasResult = f.v.Value(), true // null is a result too
		f.at("result")
	case "Error":
		f.str("error", &s.Error)
	case "Cause":
		f.str("cause", &s.Cause)
	case "ErrorPath":
		f.str("error_path", &s.ErrorPath)
	case "CausePath":
		f.str("cause_path", &s.CausePath)
	default:
		return false
	}
	return true
}
