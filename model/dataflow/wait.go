package dataflow

import (
	"fmt"
	"math"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/expr"
)

// maxWait is the longest delay AWS accepts: 2^31-1 seconds (about 68
// years); a later timestamp fails with "Wait state delay is too long."
const maxWait = time.Duration(math.MaxInt32) * time.Second

// Wait returns how long a Wait state waits: a duration (Seconds,
// SecondsPath) or an instant (Timestamp, TimestampPath), the other being
// zero. Paths read the effective input (after InputPath); JSONata
// expressions see $states.input. Timestamps are checked against env.Now
// for AWS's longest delay.
func Wait(st *model.State, ql string, raw any, env *expr.Env) (after time.Duration, until time.Time, err error) {
	fail := func(format string, args ...any) error {
		return &expr.Error{Name: failName(ql), Cause: fmt.Sprintf(format, args...)}
	}
	in := raw
	if !jsonata(ql) {
		if in, err = inputPath(st, raw, env); err != nil {
			return 0, time.Time{}, err
		}
	}
	var secs, ts any
	var secsDesc, tsDesc string // how the value was obtained, for causes
	switch {
	case st.SecondsPath != "" && !jsonata(ql):
		v, found, err := expr.Lookup(st.SecondsPath, in, env)
		if err != nil {
			return 0, time.Time{}, err
		}
		if !found {
			return 0, time.Time{}, fail("The SecondsPath parameter does not reference an input value: %s", st.SecondsPath)
		}
		secs, secsDesc = v, "SecondsPath"
	case st.TimestampPath != "" && !jsonata(ql):
		v, found, err := expr.Lookup(st.TimestampPath, in, env)
		if err != nil {
			return 0, time.Time{}, err
		}
		if !found {
			return 0, time.Time{}, fail("The TimestampPath parameter does not reference an input value: %s", st.TimestampPath)
		}
		ts, tsDesc = v, "TimestampPath"
	case st.Seconds != nil && jsonata(ql):
		n, err := jsonataInt(st.Seconds, "Seconds", 0, raw, env)
		if err != nil {
			return 0, time.Time{}, err
		}
		secs, secsDesc = int64(n), "Seconds"
	case st.Seconds != nil:
		secs, secsDesc = st.Seconds, "Seconds"
	case st.Timestamp != nil:
		ts, tsDesc = st.Timestamp, "Timestamp"
		if jsonata(ql) {
			if ts, err = expr.JSONataValue("Timestamp", st.Timestamp, statesVar(raw, env), env); err != nil {
				return 0, time.Time{}, err
			}
			if _, isStr := ts.(string); !isStr {
				src, _ := st.Timestamp.(string)
				src, _ = expr.IsJSONataExpr(src)
				return 0, time.Time{}, expr.UnexpectedType(src, "Timestamp", "string", ts)
			}
		}
	default:
		return 0, time.Time{}, nil
	}
	if secsDesc != "" {
		n, ok := secs.(int64)
		if f, isFloat := secs.(float64); isFloat && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			n, ok = int64(f), true
		}
		switch {
		case secsDesc == "SecondsPath" && !ok:
			return 0, time.Time{}, fail("The SecondsPath parameter cannot be parsed as a long value: %s == %s", st.SecondsPath, text(secs))
		case secsDesc == "SecondsPath" && n < 0:
			return 0, time.Time{}, fail("The SecondsPath parameter references a negative value: %s == %d", st.SecondsPath, n)
		case !ok || n < 0:
			return 0, time.Time{}, fail("The Seconds field must be a non-negative integer, but was %s", expr.JSON(secs))
		case n > int64(maxWait/time.Second):
			return 0, time.Time{}, fail("Wait state delay is too long.")
		}
		return time.Duration(n) * time.Second, time.Time{}, nil
	}
	s, isStr := ts.(string)
	t, perr := expr.ParseTimestamp(s)
	if !isStr || perr != nil {
		if tsDesc == "TimestampPath" {
			return 0, time.Time{}, fail("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s", st.TimestampPath, text(ts))
		}
		return 0, time.Time{}, fail("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: %s", text(ts))
	}
	var now time.Time
	if env != nil {
		now = env.Now
	}
	if !now.IsZero() && t.Sub(now) > maxWait {
		return 0, time.Time{}, fail("Wait state delay is too long.")
	}
	return 0, t, nil
}

// text renders a value in a cause: strings bare, anything else as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return expr.JSON(v)
}

// Limits returns the timeout and heartbeat of one attempt of a Task:
// the literals, or TimeoutSecondsPath/HeartbeatSecondsPath over the
// effective input, or the JSONata expressions. Dynamic values must be
// positive integers (seconds). Zero means none.
func Limits(st *model.State, ql string, raw any, env *expr.Env) (timeout, heartbeat time.Duration, err error) {
	in := raw
	if !jsonata(ql) && (st.TimeoutPath != "" || st.HeartbeatPath != "") {
		if in, err = inputPath(st, raw, env); err != nil {
			return 0, 0, err
		}
	}
	get := func(lit time.Duration, path, src, name string) (time.Duration, error) {
		switch {
		case src != "":
			n, err := jsonataInt(src, name, 1, raw, env)
			return time.Duration(n) * time.Second, err
		case path == "" || jsonata(ql):
			return lit, nil
		}
		v, err := expr.Query(path, in, env)
		if err != nil {
			return 0, err
		}
		n, ok := integer(v)
		if _, isStr := v.(string); isStr || !ok || n <= 0 || n > 1<<31-1 {
			return 0, &expr.Error{Name: failName(ql), Cause: fmt.Sprintf("The %s field must be a positive integer, but was %s", name, expr.JSON(v))}
		}
		return time.Duration(n) * time.Second, nil
	}
	if timeout, err = get(st.Timeout, st.TimeoutPath, st.TimeoutExpr, "TimeoutSeconds"); err != nil {
		return 0, 0, err
	}
	if heartbeat, err = get(st.Heartbeat, st.HeartbeatPath, st.HeartbeatExpr, "HeartbeatSeconds"); err != nil {
		return 0, 0, err
	}
	return timeout, heartbeat, nil
}

// IdempotencyKey evaluates st.Idempotency, a CEL expression over input
// (the step's effective input), vars and context; a string result is the
// key, any other value its JSON text. "" when the state sets none.
func IdempotencyKey(st *model.State, input any, env *expr.Env) (string, error) {
	if st.Idempotency == "" {
		return "", nil
	}
	var vars map[string]any
	if env != nil {
		vars = env.Vars
	}
	v, err := expr.CELIn(env, st.Idempotency, map[string]any{"input": input, "vars": vars, "context": context(env)})
	if err != nil {
		return "", err
	}
	return text(v), nil
}
