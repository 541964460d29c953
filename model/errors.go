package model

// Error names the kernel itself raises or gives meaning to. They are the
// Step Functions names, so that ASL Retry and Catch rules work unchanged.
const (
	ErrTimeout          = "States.Timeout"
	ErrHeartbeatTimeout = "States.HeartbeatTimeout"
	ErrTaskFailed       = "States.TaskFailed"
	ErrRuntime          = "States.Runtime"
	ErrDataLimit        = "States.DataLimitExceeded"
	ErrNoChoiceMatched  = "States.NoChoiceMatched"
	ErrBranchFailed     = "States.BranchFailed"
	ErrPermissions      = "States.Permissions"
	ErrQueryEvaluation  = "States.QueryEvaluationError"
	// ErrCancelled is the error of an execution stopped by a cancel
	// request; it cannot be caught.
	ErrCancelled = "States.Cancelled"
)

// Matches reports whether an ErrorEquals list matches an error name.
//
// States.ALL matches everything except the terminal errors States.Runtime
// and States.DataLimitExceeded. States.TaskFailed matches everything except
// States.Timeout (and the terminal errors). States.Runtime is never caught,
// not even by name: it fails the execution.
func Matches(list []string, name string) bool {
	if name == ErrRuntime || name == ErrCancelled {
		return false
	}
	for _, e := range list {
		switch {
		case e == name:
			return true
		case e == ErrAll && name != ErrDataLimit:
			return true
		case e == ErrTaskFailed && name != ErrTimeout && name != ErrDataLimit:
			return true
		}
	}
	return false
}
