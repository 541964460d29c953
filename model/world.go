package model

import "slices"

// UndeclaredError is the error the world of the model checkers raises at
// a task that no retry or catch rule of the state names: one name stands
// for every error the workflow does not declare.
const UndeclaredError = "Undeclared.Error"

// DynamicError names the error of a fail state whose error is computed
// from data (ErrorPath, or a JSONata Error): data is abstracted, so the
// checkers cannot know it.
const DynamicError = "Dynamic.Error"

// World is what the abstraction of the model checkers (package checker,
// and the TLA+ export of package tla, which must explore the same state
// space) lets the world do at one compiled state, and what the state's
// effects mean to their invariants. Data is not modelled: the world is
// described by the workflow's declarations alone.
type World struct {
	// Mutating: the state is a task (or sub-workflow) that changes the
	// world (mutates: true). Compensable: it names a compensation.
	// Irreversible: it mutates and names none.
	Mutating, Compensable, Irreversible bool
	// Handler: an on-failure handler runs when the state fails for good.
	Handler bool
	// Honours: its function honours idempotency keys (the binding says
	// idempotent: true, or the state names an idempotency key).
	// PerAttempt: the key changes from attempt to attempt (no
	// idempotency: expression, so each attempt has the default key).
	Honours, PerAttempt bool
	// Timeout, Heartbeat: an invocation can time out (a timeout or a
	// heartbeat, fixed or read from data).
	Timeout, Heartbeat bool
	// Callback: the function completes later through a task token
	// (callback: true, an ASL .waitForTaskToken resource).
	Callback bool
	// Errs: the errors an invocation of the state may fail with: those its
	// retry and catch rules name, then UndeclaredError (ErrorNames).
	// CompErrs and OnFailErrs: the same for its compensation and its
	// on-failure handler, from their retry policies. Nil where there is no
	// such invocation.
	Errs, CompErrs, OnFailErrs []string
	// DataIn, DataOut: a decision about the state's input or output reads
	// data through a path or an expression, which can fail
	// (DataDependent); DataErr is the error it fails with (ErrRuntime, or
	// ErrQueryEvaluation under JSONata), and InCause and OutCause the
	// causes that go with it.
	DataIn, DataOut   bool
	DataErr           string
	InCause, OutCause string
	// FailErr, FailNull: the error a fail state ends with: its declared
	// error, DynamicError when it is computed from data, or none
	// (FailNull) when it declares none. Empty and false for other kinds.
	FailErr  string
	FailNull bool
}

// Tracked reports whether the effects of the state's invocations matter
// to an invariant: it mutates, or its function honours a key that
// changes with every attempt (a second effect is possible).
func (w *World) Tracked() bool { return w.Mutating || (w.Honours && w.PerAttempt) }

// Unanswerable reports whether an invocation of the state (not of its
// compensation or on-failure handler) may never complete: a callback that
// nobody answers, with no timeout or heartbeat for the engine's timer to
// end the wait.
func (w *World) Unanswerable() bool { return w.Callback && !w.Timeout && !w.Heartbeat }

// Worlds returns the World of every state of m, indexed like m.States.
func (m *Machine) Worlds() []World {
	ws := make([]World, len(m.States))
	for i := range m.States {
		sp := &m.States[i]
		w := &ws[i]
		st := sp.Src
		if st == nil {
			st = &State{}
		}
		task := sp.Kind == KindTask || sp.Kind == KindWorkflow
		w.Mutating = sp.Mutates && task
		w.Compensable = w.Mutating && sp.Compensate != No
		w.Irreversible = w.Mutating && sp.Compensate == No
		w.Handler = sp.OnFailure != No
		if task {
			if m.Workflow != nil {
				if f := m.Workflow.Function(st.Action); f != nil && f.Idempotent {
					w.Honours = true
				}
			}
			if st.Idempotency != "" {
				w.Honours = true
			}
			w.PerAttempt = st.Idempotency == ""
			w.Timeout = sp.Timeout > 0 || st.TimeoutPath != "" || st.TimeoutExpr != ""
			w.Heartbeat = sp.Heartbeat > 0 || st.HeartbeatPath != "" || st.HeartbeatExpr != ""
			w.Callback = sp.Callback
			var lists [][]string
			for _, r := range sp.Retry {
				lists = append(lists, r.Errors)
			}
			for _, c := range sp.Catch {
				lists = append(lists, c.Errors)
			}
			w.Errs = ErrorNames(lists)
		}
		if sp.Compensate != No {
			w.CompErrs = ErrorNames(retryLists(sp.CompRetry))
		}
		if sp.OnFailure != No {
			w.OnFailErrs = ErrorNames(retryLists(sp.OnFailureRetry))
		}
		w.DataIn, w.DataOut = DataDependent(st)
		w.DataErr = ErrRuntime
		if sp.QL == JSONata {
			w.DataErr = ErrQueryEvaluation
		}
		w.InCause = "the input of state " + sp.Name + " cannot be evaluated"
		w.OutCause = "the output of state " + sp.Name + " cannot be evaluated"
		if sp.Kind == KindFail {
			switch {
			case st.ErrorPath != "" || IsJSONata(st.Error):
				w.FailErr = DynamicError
			case st.Error != "":
				w.FailErr = st.Error
			default:
				w.FailNull = true
			}
		}
	}
	return ws
}

// retryLists returns the ErrorEquals lists of a retry policy.
func retryLists(rs []RetrySpec) [][]string {
	out := make([][]string, len(rs))
	for i, r := range rs {
		out[i] = r.Errors
	}
	return out
}

// ErrorNames lists the concrete error names of ErrorEquals lists, in
// order and without repeats, and then UndeclaredError. Wildcards
// (States.ALL, States.TaskFailed) name no concrete error; timeouts are
// delivered as timeouts.
func ErrorNames(lists [][]string) []string {
	var out []string
	for _, l := range lists {
		for _, e := range l {
			switch e {
			case ErrAll, ErrTaskFailed, ErrTimeout, ErrHeartbeatTimeout, "":
				continue
			}
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return append(out, UndeclaredError)
}

// DataDependent reports whether the decisions about a state's input and
// output evaluate paths or expressions over data (and so can fail).
func DataDependent(st *State) (in, out bool) {
	path := func(p OptPath) bool { return p.Set && !p.Null && p.Path != "$" }
	in = path(st.InputPath) || st.Parameters != nil || st.Arguments != nil || path(st.ItemsPath) || st.Items != nil ||
		st.ItemSelector != nil || st.SecondsPath != "" || st.TimestampPath != "" || st.Idempotency != "" ||
		st.TimeoutPath != "" || st.TimeoutExpr != "" || st.HeartbeatPath != "" || st.HeartbeatExpr != "" ||
		st.MaxConcurrencyPath != "" || st.MaxConcurrencyExpr != "" || isExpr(st.Seconds) || isExpr(st.Timestamp)
	out = st.ResultSelector != nil || path(st.ResultPath) || path(st.OutputPath) || st.Output != nil || st.Assign != nil
	return in, out
}

// isExpr reports whether v is a JSONata expression string.
func isExpr(v any) bool {
	s, ok := v.(string)
	return ok && IsJSONata(s)
}
