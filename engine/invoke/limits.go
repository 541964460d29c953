package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits every invoker applies unless configured otherwise.
const (
	// DefaultMaxPayloadBytes bounds a function's input and its output:
	// 256 KiB, the Step Functions payload limit. A payload over the limit
	// is the function error States.DataLimitExceeded, never a truncation.
	DefaultMaxPayloadBytes = 256 << 10
	// DefaultTimeout bounds a call when neither the request, the invoker
	// nor the context says otherwise: 15 minutes, the longest a Lambda
	// function may run.
	DefaultTimeout = 15 * time.Minute
	// MaxCauseBytes bounds Response.Cause (32 KiB, as Step Functions
	// bounds an error's cause). Longer causes are cut on a UTF-8 boundary
	// and marked as cut.
	MaxCauseBytes = 32 << 10
)

// Error names the invokers produce themselves. They are the Step
// Functions names where one exists (model/errors.go has the same
// strings), so ASL Retry and Catch rules written for AWS work unchanged.
const (
	// ErrorTaskFailed: the function failed and said nothing more precise
	// (a non-zero exit without an "Error: Name" line, output that is not
	// JSON, a panic of an in-process function).
	ErrorTaskFailed = "States.TaskFailed"
	// ErrorDataLimitExceeded: the input or the output is larger than the
	// invoker's MaxPayloadBytes. Like in Step Functions, States.ALL does
	// not match it.
	ErrorDataLimitExceeded = "States.DataLimitExceeded"
)

// maxBytes returns the payload limit configured (n) or the default.
func maxBytes(n int64) int64 {
	if n > 0 {
		return n
	}
	return DefaultMaxPayloadBytes
}

// checkInput reports the DataLimitExceeded response for an input larger
// than limit, and whether the call may go ahead.
func checkInput(req Request, limit int64) (Response, bool) {
	if int64(len(req.Input)) <= limit {
		return Response{}, true
	}
	return Response{
		Error: ErrorDataLimitExceeded,
		Cause: fmt.Sprintf("input of %s is %d bytes, over the %d-byte payload limit; the function was not called",
			req.Function, len(req.Input), limit),
	}, false
}

// outputTooLarge is the DataLimitExceeded response for an output over limit.
// size is the number of bytes seen; more may have been discarded.
func outputTooLarge(req Request, size, limit int64) Response {
	return Response{
		Error: ErrorDataLimitExceeded,
		Cause: fmt.Sprintf("output of %s is more than %d bytes (%d seen), over the payload limit",
			req.Function, limit, size),
	}
}

// jsonOutput turns a function's raw answer into Response.Output: empty
// (after white space) becomes JSON null, valid JSON is kept as it is and
// anything else is a States.TaskFailed function error naming what was
// received.
func jsonOutput(req Request, raw []byte, what string) Response {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return Response{Output: []byte("null")}
	}
	if !json.Valid(trimmed) {
		return Response{
			Error: ErrorTaskFailed,
			Cause: bound(fmt.Sprintf("%s of %s is not JSON: %s", what, req.Function, trimmed)),
		}
	}
	return Response{Output: trimmed}
}

// bound cuts s to MaxCauseBytes on a rune boundary.
func bound(s string) string {
	return boundTo(s, MaxCauseBytes)
}

func boundTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "… (cut)"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// withTimeout derives the context of one call: the request's Timeout, else
// the invoker's, else DefaultTimeout; a deadline already on ctx that is
// sooner wins.
func withTimeout(ctx context.Context, req Request, invoker time.Duration) (context.Context, context.CancelFunc) {
	d := req.Timeout
	if d <= 0 {
		d = invoker
	}
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

// limitedBuffer keeps up to max bytes; further writes are dropped and
// counted. With failOnOverflow, a write past max returns errOverflow so a
// copier stops reading and the producer can be stopped.
type limitedBuffer struct {
	buf            bytes.Buffer
	max            int64
	seen           int64
	failOnOverflow bool
	onOverflow     func()
}

type overflowError struct{}

func (overflowError) Error() string { return "output over the payload limit" }

var errOverflow error = overflowError{}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.seen += int64(len(p))
	room := b.max - int64(b.buf.Len())
	if room >= int64(len(p)) {
		return b.buf.Write(p)
	}
	n := 0
	if room > 0 {
		n, _ = b.buf.Write(p[:room])
	}
	if b.failOnOverflow {
		if b.onOverflow != nil {
			b.onOverflow()
			b.onOverflow = nil
		}
		return n, errOverflow
	}
	return len(p), nil
}

func (b *limitedBuffer) overflowed() bool { return b.seen > b.max }
