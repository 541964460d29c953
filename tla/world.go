package tla

import (
	"slices"

	"github.com/nexus-workflows/nexus/model"
)

// UndeclaredError is the error the world raises that no retry or catch
// rule of a state names: the same name `nexus check` uses.
const UndeclaredError = "Undeclared.Error"

// dynamicError names the error of a fail state whose error is computed
// from data.
const dynamicError = "Dynamic.Error"

// world is what the abstraction of `nexus check` lets the world do at one
// state of the machine: which errors an invocation may fail with, whether
// it can time out, whether its decisions can fail on data, and what its
// effects mean to the invariants. It mirrors the checker's per-state
// information (checker/instance.go, buildInfo) field for field: package
// tla does not import the checker, and the test that TLC's state count
// equals the checker's catches any drift.
type world struct {
	mutating, irreversible, handler bool
	honours, perAttempt             bool
	timeout, heartbeat              bool
	errs, compErrs, onFailErrs      []string
	dataIn, dataOut                 bool
	dataErr                         string
	inCause, outCause               string
	failErr                         string
}

func buildWorld(m *model.Machine) []world {
	ws := make([]world, len(m.States))
	for i := range m.States {
		sp := &m.States[i]
		w := &ws[i]
		st := sp.Src
		if st == nil {
			st = &model.State{}
		}
		task := sp.Kind == model.KindTask || sp.Kind == model.KindWorkflow
		w.mutating = sp.Mutates && task
		w.irreversible = w.mutating && sp.Compensate == model.No
		w.handler = sp.OnFailure != model.No
		if task {
			if m.Workflow != nil {
				if f := m.Workflow.Function(st.Action); f != nil && f.Idempotent {
					w.honours = true
				}
			}
			if st.Idempotency != "" {
				w.honours = true
			}
			w.perAttempt = st.Idempotency == ""
			w.timeout = sp.Timeout > 0 || st.TimeoutPath != "" || st.TimeoutExpr != ""
			w.heartbeat = sp.Heartbeat > 0 || st.HeartbeatPath != "" || st.HeartbeatExpr != ""
			var lists [][]string
			for _, r := range sp.Retry {
				lists = append(lists, r.Errors)
			}
			for _, c := range sp.Catch {
				lists = append(lists, c.Errors)
			}
			w.errs = errorNames(lists)
		}
		if sp.Compensate != model.No {
			w.compErrs = errorNames(retryLists(sp.CompRetry))
		}
		if sp.OnFailure != model.No {
			w.onFailErrs = errorNames(retryLists(sp.OnFailureRetry))
		}
		w.dataIn, w.dataOut = dataDependent(st)
		w.dataErr = model.ErrRuntime
		if sp.QL == model.JSONata {
			w.dataErr = model.ErrQueryEvaluation
		}
		w.inCause = "the input of state " + sp.Name + " cannot be evaluated"
		w.outCause = "the output of state " + sp.Name + " cannot be evaluated"
		if sp.Kind == model.KindFail {
			switch {
			case st.ErrorPath != "" || model.IsJSONata(st.Error):
				w.failErr = dynamicError
			case st.Error != "":
				w.failErr = st.Error
			}
		}
	}
	return ws
}

func retryLists(rs []model.RetrySpec) [][]string {
	out := make([][]string, len(rs))
	for i, r := range rs {
		out[i] = r.Errors
	}
	return out
}

// errorNames lists the concrete error names of ErrorEquals lists, in
// order and without repeats, and then UndeclaredError. Wildcards name no
// concrete error; timeouts are delivered as timeouts.
func errorNames(lists [][]string) []string {
	var out []string
	for _, l := range lists {
		for _, e := range l {
			switch e {
			case model.ErrAll, model.ErrTaskFailed, model.ErrTimeout, model.ErrHeartbeatTimeout, "":
				continue
			}
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return append(out, UndeclaredError)
}

// dataDependent reports whether the decisions about a state's input and
// output evaluate paths or expressions over data (and so can fail).
func dataDependent(st *model.State) (in, out bool) {
	path := func(p model.OptPath) bool { return p.Set && !p.Null && p.Path != "$" }
	in = path(st.InputPath) || st.Parameters != nil || st.Arguments != nil || path(st.ItemsPath) || st.Items != nil ||
		st.ItemSelector != nil || st.SecondsPath != "" || st.TimestampPath != "" || st.Idempotency != "" ||
		st.TimeoutPath != "" || st.TimeoutExpr != "" || st.HeartbeatPath != "" || st.HeartbeatExpr != "" ||
		st.MaxConcurrencyPath != "" || st.MaxConcurrencyExpr != "" || isExpr(st.Seconds) || isExpr(st.Timestamp)
	out = st.ResultSelector != nil || path(st.ResultPath) || path(st.OutputPath) || st.Output != nil || st.Assign != nil
	return in, out
}

func isExpr(v any) bool {
	s, ok := v.(string)
	return ok && model.IsJSONata(s)
}
