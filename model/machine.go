package model

import (
	"fmt"
	"time"
)

// Machine is a compiled workflow: its states numbered, transitions
// tabulated, functions resolved to indexes. A Machine is immutable once
// built and safe to share between goroutines; the state of an execution
// lives in a State value.
type Machine struct {
	Workflow *Workflow
	Name     string
	// States, numbered: the states of every graph, nested ones included.
	States []Spec
	// Graphs: index 0 is the top level; then one per parallel branch and
	// map processor, in source order.
	Graphs []GraphSpec
	// Functions are the distinct function names the workflow calls
	// (actions, compensations), indexed by Spec.Fn and friends.
	Functions []string
	// Timeout of a whole execution; 0 means none.
	Timeout time.Duration

	// FaultInvokeBeforeIntent makes Step emit an invocation before the
	// append of its intent: the bug the durable-execution protocol exists to
	// prevent. It is set only by tests that check that the model checker
	// catches such an engine (LoggedBeforeExecuted).
	FaultInvokeBeforeIntent bool
}

// No is the index that means "none" in tables of state, graph and
// function indexes.
const No = -1

// Spec is the compiled form of one state.
type Spec struct {
	Name  string
	Kind  Kind
	Graph int    // the graph holding this state
	Src   *State // the state as written
	// QL is the effective query language (JSONPath or JSONata).
	QL string

	Next     int   // No when the state ends its graph
	Choices  []int // choice targets, in order
	Default  int
	Catch    []CatchSpec
	Retry    []RetrySpec
	Branches []int // parallel: graph of each branch
	// Processor is a map state's item graph.
	Processor      int
	MaxConcurrency int // 0 means unbounded

	Fn int // function of a task (No otherwise)
	// Compensate runs when the execution fails after this state completed
	// (No when none); OnFailure when this state fails for good.
	Compensate int
	OnFailure  int
	// CompRetry and OnFailureRetry retry those functions.
	CompRetry      []RetrySpec
	OnFailureRetry []RetrySpec
	Mutates        bool
	Timeout        time.Duration
	Heartbeat      time.Duration
	Callback       bool
}

// RetrySpec is a compiled retrier.
type RetrySpec struct {
	Errors      []string
	MaxAttempts int
	Interval    time.Duration
	BackoffRate float64
	MaxDelay    time.Duration
	FullJitter  bool
}

// CatchSpec is a compiled catcher.
type CatchSpec struct {
	Errors []string
	Next   int
}

// GraphSpec is one graph of states.
type GraphSpec struct {
	Start int
	// Owner is the parallel or map state that runs this graph (No for the
	// top level).
	Owner  int
	States []int
}

// DefaultCompensationRetry is how a compensation is retried when its
// declaration says nothing: undoing is worth insisting on.
var defaultCompensationRetry = []RetrySpec{{Errors: []string{ErrAll}, MaxAttempts: 5, Interval: time.Second, BackoffRate: 2}}

// Compile validates a workflow and compiles it into a Machine. On any
// error finding it returns nil and the findings.
func Compile(w *Workflow) (*Machine, Findings) {
	fs := Validate(w)
	if fs.Errors() > 0 {
		return nil, fs
	}
	c := &compiler{m: &Machine{Workflow: w, Name: w.Name, Timeout: w.Timeout}, fn: map[string]int{}, idx: map[*State]int{}}
	ql := w.QueryLanguage
	if ql == "" {
		ql = JSONPath
	}
	c.graph(&w.Graph, No, ql)
	c.link()
	return c.m, fs
}

// MustCompile parses and compiles YAML source, panicking on findings. It
// is meant for tests and examples with workflows known to be valid.
func MustCompile(src string) *Machine {
	w, fs := Parse("inline.yaml", []byte(src))
	if fs.Errors() > 0 {
		panic(fmt.Sprintf("MustCompile: %v", fs))
	}
	m, fs := Compile(w)
	if m == nil {
		panic(fmt.Sprintf("MustCompile: %v", fs))
	}
	return m
}

type compiler struct {
	m   *Machine
	fn  map[string]int
	idx map[*State]int
	// pending graph bodies: (graph index, states) to link once every
	// state has its number.
	graphs []*Graph
}

func (c *compiler) function(name string) int {
	if name == "" {
		return No
	}
	if i, ok := c.fn[name]; ok {
		return i
	}
	c.fn[name] = len(c.m.Functions)
	c.m.Functions = append(c.m.Functions, name)
	return c.fn[name]
}

// graph numbers the states of g and, depth first, of its nested graphs.
func (c *compiler) graph(g *Graph, owner int, ql string) int {
	if g.QueryLanguage != "" {
		ql = g.QueryLanguage
	}
	gi := len(c.m.Graphs)
	c.m.Graphs = append(c.m.Graphs, GraphSpec{Owner: owner})
	c.graphs = append(c.graphs, g)
	for _, s := range g.States {
		i := len(c.m.States)
		c.idx[s] = i
		sql := ql
		if s.QueryLanguage != "" {
			sql = s.QueryLanguage
		}
		c.m.States = append(c.m.States, Spec{Name: s.Name, Kind: s.Kind, Graph: gi, Src: s, QL: sql,
			Next: No, Default: No, Processor: No, Fn: No, Compensate: No, OnFailure: No})
		c.m.Graphs[gi].States = append(c.m.Graphs[gi].States, i)
	}
	for _, s := range g.States {
		i := c.idx[s]
		for _, b := range s.Branches {
			bi := c.graph(b, i, c.m.States[i].QL)
			c.m.States[i].Branches = append(c.m.States[i].Branches, bi)
		}
		if s.Processor != nil {
			c.m.States[i].Processor = c.graph(s.Processor, i, c.m.States[i].QL)
		}
	}
	return gi
}

// link fills transitions and the rest of each Spec once all are numbered.
func (c *compiler) link() {
	for gi, g := range c.graphs {
		byName := map[string]int{}
		for _, s := range g.States {
			byName[s.Name] = c.idx[s]
		}
		target := func(name string) int {
			if name == "" {
				return No
			}
			return byName[name]
		}
		start := g.States[0].Name
		if g.StartAt != "" {
			start = g.StartAt
		}
		c.m.Graphs[gi].Start = byName[start]
		for _, s := range g.States {
			sp := &c.m.States[c.idx[s]]
			sp.Next = target(s.Next)
			sp.Default = target(s.Default)
			for _, ch := range s.Choices {
				sp.Choices = append(sp.Choices, target(ch.Next))
			}
			for _, ca := range s.Catch {
				sp.Catch = append(sp.Catch, CatchSpec{Errors: ca.Errors, Next: target(ca.Next)})
			}
			sp.Retry = retrySpecs(s.Retry)
			if s.Kind == KindTask || s.Kind == KindWorkflow {
				sp.Fn = c.function(s.Action)
			}
			if s.Compensate != nil {
				sp.Compensate = c.function(s.Compensate.Action)
				sp.CompRetry = retrySpecs(s.Compensate.Retry)
				if len(s.Compensate.Retry) == 0 {
					sp.CompRetry = defaultCompensationRetry
				}
			}
			if s.OnFailure != nil {
				sp.OnFailure = c.function(s.OnFailure.Action)
				sp.OnFailureRetry = retrySpecs(s.OnFailure.Retry)
				if len(s.OnFailure.Retry) == 0 {
					sp.OnFailureRetry = defaultCompensationRetry
				}
			}
			sp.Mutates = s.Mutates
			sp.MaxConcurrency = s.MaxConcurrency
			sp.Timeout = s.Timeout
			sp.Heartbeat = s.Heartbeat
			sp.Callback = s.Callback
		}
	}
}

func retrySpecs(rs []*Retrier) []RetrySpec {
	out := make([]RetrySpec, len(rs))
	for i, r := range rs {
		out[i] = RetrySpec{Errors: r.Errors, MaxAttempts: r.MaxAttempts, Interval: r.Interval,
			BackoffRate: r.BackoffRate, MaxDelay: r.MaxDelay, FullJitter: r.Jitter == JitterFull}
	}
	return out
}

// Start is the index of the first state of the whole workflow.
func (m *Machine) Start() int { return m.Graphs[0].Start }

// Lookup returns the index of the state named name, or No.
func (m *Machine) Lookup(name string) int {
	for i := range m.States {
		if m.States[i].Name == name {
			return i
		}
	}
	return No
}

// Delay is the backoff before retry number n (1-based) under r, before
// jitter: interval × rate^(n-1), capped by the maximum delay.
func (r RetrySpec) Delay(n int) time.Duration {
	d := float64(r.Interval)
	for i := 1; i < n; i++ {
		d *= r.BackoffRate
		if r.MaxDelay > 0 && d >= float64(r.MaxDelay) {
			return r.MaxDelay
		}
		if d > float64(maxDelay) {
			return maxDelay
		}
	}
	if r.MaxDelay > 0 && d > float64(r.MaxDelay) {
		return r.MaxDelay
	}
	return time.Duration(d)
}

// maxDelay bounds any backoff: a year is as good as forever and keeps the
// arithmetic finite.
const maxDelay = 365 * 24 * time.Hour
