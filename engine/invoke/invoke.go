// Package invoke calls the functions a workflow's steps run: AWS Lambda,
// HTTP endpoints (Azure Functions, Cloud Run, any URL), Google Cloud
// Functions, local programs and in-process Go functions. The binding URI
// of a function chooses the invoker.
//
// A Registry is the Invoker the engine holds: it reads the scheme of
// Request.URI (exec:, http:, https:, lambda:, gcf:, go:) and hands the
// call to ExecInvoker, HTTPInvoker, LambdaInvoker, GCFInvoker or a Go
// function given to Registry.Register. Registry.Check validates a
// binding before anything runs.
//
// Every invoker hands the function the idempotency key (where depends on
// the transport: an Idempotency-Key header, a Lambda payload field and
// client context, a CloudEvent id, an environment variable), bounds the
// call by the request's Timeout or the context's deadline, bounds input
// and output (DefaultMaxPayloadBytes, configurable; over the limit is the
// function error States.DataLimitExceeded) and names failures with the
// error names Retry and Catch rules match (Step Functions' names where
// they exist). A function error is a Response with Error set; an error
// return means the outcome is unknown (see Invoker). Nothing here logs,
// and credentials are Secret values that print redacted.
package invoke

import (
	"context"
	"time"
)

// Request is one invocation of one function, one attempt.
type Request struct {
	// Function is the logical name; URI the binding that says where it runs.
	Function string
	URI      string
	// Input is the JSON payload.
	Input []byte
	// Key is the idempotency key: the same for a re-issue after a crash, so
	// a function that honours keys applies its effect at most once.
	Key     string
	Attempt int
	// Execution and State identify the caller, for logs and headers.
	Execution string
	State     string
	// Timeout bounds the call (0: the invoker's default).
	Timeout time.Duration
	// TaskToken is set when the step waits for a callback: the function
	// receives it and the workflow resumes when someone completes it.
	TaskToken string
	// TraceParent is the W3C traceparent of the step's span, if tracing.
	TraceParent string
	// Async asks for a fire-and-forget invocation (Lambda's Event type).
	Async bool
}

// Response is what the function answered. A function error (the function
// ran and reported a failure) is a Response with Error set; the engine
// feeds it to the workflow's retry and catch rules.
type Response struct {
	Output []byte
	// Error is the error name (Lambda's errorType, an HTTP status class,
	// "States.TaskFailed", ...) and Cause the human-readable reason.
	Error string
	Cause string
}

// Invoker calls functions. Invoke returns a non-nil error only when the
// call could not be made or its outcome is unknown (connection refused,
// context cancelled, deadline exceeded); the engine treats that as a
// failed attempt (States.Timeout on a deadline, States.TaskFailed
// otherwise) and the idempotency key makes the retry safe.
type Invoker interface {
	Invoke(ctx context.Context, req Request) (Response, error)
}

// Func adapts a Go function to an Invoker.
type Func func(ctx context.Context, req Request) (Response, error)

// Invoke calls f.
func (f Func) Invoke(ctx context.Context, req Request) (Response, error) { return f(ctx, req) }
