package model

import "time"

// This file holds the workflow language as written: the abstract syntax a
// YAML or JSON workflow file (or an imported Step Functions definition)
// decodes into, with the source position of every field. Compile turns it
// into a Machine.
//
// Data values (payload templates, Pass results, Assign maps, Choice
// operands) are plain JSON values: map[string]any, []any, string, int64,
// float64, bool or nil.

// Src records where a syntax element was written: its own position, and the
// position of the value of each of its keys, so that findings point at the
// exact field. Keys are named by the nexus schema's snake_case key
// ("next", "result_path", "seconds"), whatever the source language: the
// Step Functions importer records "Next" under "next", so that validation
// reads one set of names.
type Src struct {
	Pos  Pos
	Keys map[string]Pos
}

// At returns the position of key, or of the element itself when the key was
// not written.
func (s Src) At(key string) Pos {
	if p, ok := s.Keys[key]; ok {
		return p
	}
	return s.Pos
}

// Query languages of data flow. JSONPath is the default, as in Step
// Functions.
const (
	JSONPath = "JSONPath"
	JSONata  = "JSONata"
)

// Workflow is one workflow definition.
type Workflow struct {
	// File and Source are the path and text it was read from, for findings.
	File   string
	Source []byte

	Version       string
	Name          string
	Comment       string
	QueryLanguage string // "" means JSONPath
	// Timeout bounds a whole execution (ASL TimeoutSeconds); 0 means none.
	Timeout   time.Duration
	Functions []*Function
	Graph     // StartAt and States of the top level
	Policies  []*Policy
	Triggers  []*Trigger
	// Profiles are simulation profiles by name, carried as written for
	// nexus sim (the kernel gives them no meaning).
	Profiles *Node
	Src
}

// Graph is a set of states with an entry point: the top level of a
// workflow, a parallel branch or a map's item processor.
type Graph struct {
	// StartAt names the first state; empty means the first one listed.
	StartAt string
	States  []*State
	// QueryLanguage of a branch or processor; "" inherits.
	QueryLanguage string
	Comment       string
	// Src of the graph as written (a branch or processor element).
	GraphSrc Src
}

// Function binds a logical function name to where it runs. The same
// workflow runs against other clouds by changing only these bindings.
type Function struct {
	Name string
	// URI selects the invoker: "lambda:ARN-or-name", "https://...",
	// "exec:./path", "gcf:...", "go:name", or an ASL resource ARN.
	URI string
	// Idempotent says the function honours idempotency keys: a repeated
	// request with the same key has at most one effect.
	Idempotent bool
	Timeout    time.Duration
	Src
}

// Kind is the kind of a state.
type Kind uint8

// State kinds.
const (
	KindTask Kind = iota
	KindChoice
	KindParallel
	KindMap
	KindWait
	KindPass
	KindSucceed
	KindFail
	KindWorkflow // run another workflow as one step
)

var kindNames = [...]string{"task", "choice", "parallel", "map", "wait", "pass", "succeed", "fail", "workflow"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// ParseKind maps a state type name (nexus or ASL spelling) to a Kind.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	switch s {
	case "Task":
		return KindTask, true
	case "Choice":
		return KindChoice, true
	case "Parallel":
		return KindParallel, true
	case "Map":
		return KindMap, true
	case "Wait":
		return KindWait, true
	case "Pass":
		return KindPass, true
	case "Succeed":
		return KindSucceed, true
	case "Fail":
		return KindFail, true
	}
	return 0, false
}

// OptPath is an optional JSONPath field such as InputPath or ResultPath,
// which has three meanings: not written (the default "$" applies), written
// as null (discard), or a path.
type OptPath struct {
	Set  bool
	Null bool
	Path string
}

// Value returns the path to apply: "$" when unset, "" when null.
func (p OptPath) Value() string {
	switch {
	case !p.Set:
		return "$"
	case p.Null:
		return ""
	}
	return p.Path
}

// PathOf returns a set OptPath holding path.
func PathOf(path string) OptPath { return OptPath{Set: true, Path: path} }

// NullPath returns a set OptPath written as null.
func NullPath() OptPath { return OptPath{Set: true, Null: true} }

// State is one state of a workflow.
type State struct {
	Name    string
	Kind    Kind
	Comment string

	// Transitions.
	Next string
	End  bool

	// QueryLanguage of this state; "" inherits from the enclosing graph.
	QueryLanguage string

	// Data flow, JSONPath flavour.
	InputPath      OptPath
	Parameters     any // payload template; nil when absent
	ResultSelector any
	ResultPath     OptPath
	OutputPath     OptPath
	// Data flow, JSONata flavour.
	Arguments any
	Output    any
	// Assign sets workflow variables (both flavours).
	Assign any

	// Task and sub-workflow.
	Action   string // logical function name (task) or workflow (sub-workflow)
	Callback bool   // the function completes later with a task token
	// Timeout and Heartbeat of one attempt; the *Path forms (JSONPath) and
	// *Expr forms (JSONata) compute them from data.
	Timeout       time.Duration
	TimeoutPath   string
	TimeoutExpr   string
	Heartbeat     time.Duration
	HeartbeatPath string
	HeartbeatExpr string
	Credentials   any
	Retry         []*Retrier
	Catch         []*Catcher

	// Saga.
	Mutates      bool
	Irreversible bool
	Compensate   *Compensation
	// OnFailure is a function run when this step fails for good (after its
	// retries, with no catcher taking the error), before the completed
	// mutations are compensated: the short form on_failure: {compensate: F}.
	OnFailure *Compensation
	// Idempotency is a CEL expression over the step input whose value is
	// the idempotency key handed to the function on every attempt.
	Idempotency string

	// Choice.
	Choices []*Choice
	Default string

	// Parallel.
	Branches []*Graph

	// Map.
	Processor          *Graph
	ItemsPath          OptPath
	Items              any // JSONata expression or literal array
	ItemSelector       any
	MaxConcurrency     int
	MaxConcurrencyPath string
	MaxConcurrencyExpr string
	// Distributed map settings, carried as written.
	ProcessorMode                  string // "INLINE" (default) or "DISTRIBUTED"
	ExecutionType                  string
	ItemReader                     any
	ItemBatcher                    any
	ResultWriter                   any
	Label                          string
	ToleratedFailurePercentage     any
	ToleratedFailureCount          any
	ToleratedFailurePercentagePath string
	ToleratedFailureCountPath      string

	// Wait: one of Seconds (a number or JSONata string), Timestamp (RFC 3339
	// or JSONata string), SecondsPath, TimestampPath.
	Seconds       any
	Timestamp     any
	SecondsPath   string
	TimestampPath string

	// Pass.
	Result    any
	HasResult bool

	// Fail: literal (or JSONata) Error and Cause, or JSONPath forms.
	Error     string
	Cause     string
	ErrorPath string
	CausePath string

	Src
}

// Retrier retries a failed step: a superset of an ASL Retry element.
type Retrier struct {
	// Errors is the ErrorEquals list; "States.ALL" matches every error.
	Errors []string
	// MaxAttempts is the number of retries after the first attempt.
	MaxAttempts int
	Interval    time.Duration
	BackoffRate float64
	MaxDelay    time.Duration // 0 means uncapped
	Jitter      string        // "none" (default) or "full"
	Comment     string
	Src
}

// Retrier defaults, as in Step Functions.
const (
	DefaultMaxAttempts = 3
	DefaultInterval    = time.Second
	DefaultBackoffRate = 2.0
)

// Catcher sends a failed step's error to another state.
type Catcher struct {
	Errors     []string
	Next       string
	ResultPath OptPath
	Output     any
	Assign     any
	Comment    string
	Src
}

// Compensation undoes a completed mutating step (or cleans up after a
// failed one): the function to run and how to retry it.
type Compensation struct {
	Action string
	Retry  []*Retrier
	Src
}

// Choice is one rule of a choice state and the state it leads to.
type Choice struct {
	Rule
	Next    string
	Assign  any
	Output  any
	Comment string
}

// Rule is a choice condition. Exactly one of these forms is used:
//   - Condition: a CEL expression over input, vars and context, or a JSONata
//     expression written as "{% ... %}";
//   - And, Or or Not over nested rules;
//   - Variable compared by Op (an ASL comparison operator name such as
//     "StringEquals", "NumericGreaterThanPath" or "IsPresent") with Value.
type Rule struct {
	// Comment of a nested rule (a choice's comment is Choice.Comment).
	Comment   string
	Condition string
	And       []*Rule
	Or        []*Rule
	Not       *Rule
	Variable  string
	Op        string
	Value     any
	Src
}

// Policy is a policy-as-code rule: a CEL expression over the compiled
// workflow that must hold.
type Policy struct {
	Rule     string
	Severity string // "error" (default), "warning" or "info"
	Message  string
	Name     string
	Src
}

// Trigger starts the workflow when something happens.
type Trigger struct {
	// Event filters CloudEvents with a CEL expression; Schedule is a cron
	// expression. Exactly one is set.
	Event    string
	Type     string // CloudEvents type to match, optional
	Schedule string
	// Input maps the event to the execution input (a payload template).
	Input any
	Src
}

// AllStates calls fn for every state of the workflow, nested ones
// included, in source order.
func (w *Workflow) AllStates(fn func(*State)) {
	var walk func(g *Graph)
	walk = func(g *Graph) {
		for _, s := range g.States {
			fn(s)
			for _, b := range s.Branches {
				walk(b)
			}
			if s.Processor != nil {
				walk(s.Processor)
			}
		}
	}
	walk(&w.Graph)
}

// Function returns the binding of a logical function name, or nil.
func (w *Workflow) Function(name string) *Function {
	for _, f := range w.Functions {
		if f.Name == name {
			return f
		}
	}
	return nil
}
