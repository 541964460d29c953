package dataflow

import (
	"maps"
	"time"
)

// ContextInfo is what a driver knows about one state entry, from which
// ContextObject builds the Context Object ($$ in JSONPath,
// $states.context in JSONata).
type ContextInfo struct {
	ExecutionID    string // ARN-like id of the execution
	ExecutionName  string
	ExecutionInput any
	StartTime      time.Time
	RoleArn        string
	// RedriveCount is reported for standard executions; AWS omits it for
	// synchronous express ones (NoRedriveCount).
	RedriveCount   int
	NoRedriveCount bool

	StateMachineID   string
	StateMachineName string

	StateName   string
	EnteredTime time.Time
	// RetryCount is reported for states that retry (Task, Parallel, Map):
	// set HasRetryCount for them.
	RetryCount    int
	HasRetryCount bool

	// TaskToken is set for a Task that waits for a callback.
	TaskToken string
}

// ContextObject builds the Context Object in the shape AWS uses:
//
//	{"Execution": {"Id", "Input", "Name", "RoleArn", "StartTime", "RedriveCount"},
//	 "StateMachine": {"Id", "Name"},
//	 "State": {"Name", "EnteredTime", "RetryCount"},
//	 "Task": {"Token"}}
//
// Times are ISO 8601 in UTC with milliseconds ("2024-01-02T03:04:05.006Z").
// A Map iteration adds "Map": {"Item": {"Index", "Value"}}: see WithMapItem.
func ContextObject(c ContextInfo) map[string]any {
	exec := map[string]any{
		"Id":        c.ExecutionID,
		"Input":     c.ExecutionInput,
		"Name":      c.ExecutionName,
		"RoleArn":   c.RoleArn,
		"StartTime": Timestamp(c.StartTime),
	}
	if !c.NoRedriveCount {
		exec["RedriveCount"] = int64(c.RedriveCount)
	}
	state := map[string]any{"Name": c.StateName, "EnteredTime": Timestamp(c.EnteredTime)}
	if c.HasRetryCount {
		state["RetryCount"] = int64(c.RetryCount)
	}
	out := map[string]any{
		"Execution":    exec,
		"StateMachine": map[string]any{"Id": c.StateMachineID, "Name": c.StateMachineName},
		"State":        state,
	}
	if c.TaskToken != "" {
		out["Task"] = map[string]any{"Token": c.TaskToken}
	}
	return out
}

// WithMapItem returns a copy of the Context Object ctx with the Map
// iteration's item: "Map": {"Item": {"Index": index, "Value": value}}.
// ctx itself is not modified.
func WithMapItem(ctx any, index int, value any) map[string]any {
	m, _ := ctx.(map[string]any)
	out := maps.Clone(m)
	if out == nil {
		out = map[string]any{}
	}
	out["Map"] = map[string]any{"Item": map[string]any{"Index": int64(index), "Value": value}}
	return out
}

// Timestamp formats t as the Context Object does.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
