package dataflow

import (
	"math/rand/v2"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Env is what a driver with data knows beyond the execution itself when it
// answers the kernel's questions: the names AWS puts in the Context
// Object, its clock, the entropy of this answer, and how it numbers
// history events (for error causes).
type Env struct {
	ExecutionID    string
	ExecutionName  string
	StateMachineID string
	// StateMachineName defaults to the machine's name.
	StateMachineName string
	RoleArn          string
	// Now is the driver's clock; Seed the entropy of this decision (UUIDs,
	// random numbers, jitter). A driver logs both, so replay gives the same
	// answer.
	Now  time.Time
	Seed uint64
	// Sync marks a synchronous express execution (no RedriveCount).
	Sync bool
	// CEL caches compiled CEL programs across decisions; nil compiles each
	// time.
	CEL *expr.CELCache
	// EnteredEvent returns the history event number at which a thread
	// entered its current state, for AWS's error causes; nil means 0.
	EnteredEvent func(thread uint32) int
}

// Decide answers the Decide command c that machine m issued for execution
// s: it evaluates the question with this package's functions over the
// thread's data and returns the EvDecided event to step next. An
// evaluation failure is answered as an error (Err, Cause) that the kernel
// retries, catches or fails with, as AWS does. s must carry data (the
// engine and test drivers keep it; abstract drivers answer differently).
func Decide(m *model.Machine, s *model.Execution, c model.Command, env *Env) model.Event {
	ev := model.Event{Kind: model.EvDecided, Thread: c.Thread, Decide: c.Decide}
	if env == nil {
		env = &Env{}
	}
	t := s.Thread(c.Thread)
	if t == nil || t.Data == nil || s.Data == nil || c.State < 0 || int(c.State) >= len(m.States) {
		ev.Err, ev.Cause = expr.ErrRuntime, "the execution carries no data to decide on"
		return ev
	}
	sp := &m.States[c.State]
	st, ql := sp.Src, sp.QL
	fail := func(err error) model.Event {
		e, ok := err.(*expr.Error)
		if !ok {
			e = &expr.Error{Name: expr.ErrRuntime, Cause: err.Error()}
		}
		entered := 0
		if env.EnteredEvent != nil {
			entered = env.EnteredEvent(c.Thread)
		}
		e = e.InState(sp.Name, entered)
		ev.Err, ev.Cause = e.Name, e.Cause
		return ev
	}
	smName := env.StateMachineName
	if smName == "" {
		smName = m.Name
	}
	raw := decode(t.Data.Input)
	vars, _ := decode(t.Data.Vars).(map[string]any)
	retries := int(t.Attempt)
	if c.Decide != model.DecideInput && retries > 0 {
		retries-- // the attempt being decided on has been counted
	}
	eenv := &expr.Env{
		Context: ContextObject(ContextInfo{
			ExecutionID: env.ExecutionID, ExecutionName: env.ExecutionName, ExecutionInput: decode(s.Data.Input),
			StartTime: time.Unix(0, s.Data.Start), RoleArn: env.RoleArn, NoRedriveCount: env.Sync,
			StateMachineID: env.StateMachineID, StateMachineName: smName,
			StateName: sp.Name, EnteredTime: time.Unix(0, t.Data.Entered),
			RetryCount: retries, HasRetryCount: sp.Kind == model.KindTask,
		}),
		Vars: vars, Now: env.Now, Seed: env.Seed, CEL: env.CEL,
	}
	setVars := func(assigned map[string]any) {
		if len(assigned) == 0 {
			return
		}
		merged := make(map[string]any, len(vars)+len(assigned))
		for k, v := range vars {
			merged[k] = v
		}
		for k, v := range assigned {
			merged[k] = v
		}
		ev.Vars = []byte(expr.JSON(merged))
	}

	switch c.Decide {
	case model.DecideInput:
		switch sp.Kind {
		case model.KindMap:
			items, limit, err := MapItems(st, ql, raw, eenv)
			if err != nil {
				return fail(err)
			}
			ev.Count, ev.Limit = uint32(len(items)), uint32(limit)
			ev.Items = make([][]byte, len(items))
			for i, it := range items {
				ev.Items[i] = []byte(expr.JSON(it))
			}
		case model.KindWait:
			after, until, err := Wait(st, ql, raw, eenv)
			if err != nil {
				return fail(err)
			}
			ev.Delay = after
			if !until.IsZero() {
				ev.Until = until.UnixNano()
			}
		default:
			in, err := Input(st, ql, raw, eenv)
			if err != nil {
				return fail(err)
			}
			ev.Data = []byte(expr.JSON(in))
			if sp.Kind == model.KindParallel {
				break
			}
			if ev.Key, err = IdempotencyKey(st, in, eenv); err != nil {
				return fail(err)
			}
			if ev.Timeout, ev.Heartbeat, err = Limits(st, ql, raw, eenv); err != nil {
				return fail(err)
			}
		}
	case model.DecideOutput:
		var result any
		switch sp.Kind {
		case model.KindTask, model.KindWorkflow:
			result = decode(t.Data.Result)
		case model.KindParallel, model.KindMap:
			outs := make([]any, len(t.Data.Results))
			for i, r := range t.Data.Results {
				outs[i] = decode(r)
			}
			result = outs
		}
		out, assigned, err := Result(st, ql, raw, result, eenv)
		if err != nil {
			return fail(err)
		}
		ev.Data = []byte(expr.JSON(out))
		setVars(assigned)
	case model.DecideChoice:
		branch, out, assigned, err := Choose(st, ql, raw, eenv)
		if err != nil {
			return fail(err)
		}
		ev.Branch = int32(branch)
		if branch < 0 {
			ev.Branch = model.No
		}
		ev.Data = []byte(expr.JSON(out))
		setVars(assigned)
	case model.DecideCatch:
		if c.Catcher < 0 || int(c.Catcher) >= len(st.Catch) {
			return fail(&expr.Error{Name: expr.ErrRuntime, Cause: "no such catcher"})
		}
		out, assigned, err := Catch(st, st.Catch[c.Catcher], ql, raw, c.Err, c.Cause, eenv)
		if err != nil {
			return fail(err)
		}
		ev.Data = []byte(expr.JSON(out))
		setVars(assigned)
	case model.DecideFail:
		name, cause, err := Fail(st, ql, raw, eenv)
		if err != nil {
			return fail(err)
		}
		ev.ErrNull, ev.CauseNull = name == nil, cause == nil
		if name != nil {
			ev.Err = *name
		}
		if cause != nil {
			ev.Cause = *cause
		}
	case model.DecideJitter:
		if c.Delay > 0 {
			r := rand.New(rand.NewPCG(env.Seed, env.Seed^0x6a09e667f3bcc909))
			ev.Delay = time.Duration(r.Int64N(int64(c.Delay) + 1))
		}
	}
	return ev
}

// decode parses JSON text kept by the kernel; empty text is null.
func decode(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	v, err := expr.ParseJSON(string(b))
	if err != nil {
		return nil
	}
	return v
}
