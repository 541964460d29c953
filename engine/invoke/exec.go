package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ExecInvoker runs a local program per call: the binding exec:PATH, with
// optional arguments exec:PATH?arg=A&arg=B (query-escaped, in order).
//
// The program gets the input JSON on stdin and answers JSON on stdout
// (empty stdout is null). Exit status 0 is success. A non-zero exit is a
// function error: if the first non-empty line of stderr reads
// "Error: NAME" or "Error: NAME: message" (NAME made of letters, digits
// and "_.-"), NAME is the error name and the rest of stderr the cause;
// otherwise the name is States.TaskFailed and the cause the exit status
// and stderr (the first MaxCauseBytes of it). Output over the payload
// limit stops the program and is States.DataLimitExceeded; output that is
// not JSON is States.TaskFailed.
//
// The program also gets, in its environment, NEXUS_IDEMPOTENCY_KEY,
// NEXUS_FUNCTION, NEXUS_EXECUTION, NEXUS_STATE, NEXUS_ATTEMPT, and when
// set NEXUS_TASK_TOKEN and TRACEPARENT (OpenTelemetry's environment
// carrier), after the engine's own environment and Env.
//
// The program runs in a process group of its own; when the call's
// deadline passes or its context is cancelled the whole group is killed
// (SIGKILL), so helpers the program started die with it, and Invoke
// returns the context's error.
type ExecInvoker struct {
	// Dir resolves relative program paths and is the programs' working
	// directory ("": the engine's working directory).
	Dir string
	// Env is added to the engine's environment ("NAME=value" entries).
	Env []string
	// MaxPayloadBytes bounds stdin and stdout (0: the Registry's limit,
	// else DefaultMaxPayloadBytes).
	MaxPayloadBytes int64
	// Timeout applies when the request sets none (0: DefaultTimeout).
	Timeout time.Duration
}

// Invoke runs the program req.URI names (exec:PATH).
func (e *ExecInvoker) Invoke(ctx context.Context, req Request) (Response, error) {
	t, err := parseExec(req.URI)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	return e.call(ctx, req, t, maxBytes(e.MaxPayloadBytes))
}

type execTarget struct {
	path string
	args []string
}

// parseExec reads exec:PATH[?arg=A&arg=B].
func parseExec(uri string) (execTarget, error) {
	rest := uri[len("exec:"):]
	path, query, hasQuery := strings.Cut(rest, "?")
	path = strings.TrimPrefix(path, "//") // exec:///abs/path
	if path == "" {
		return execTarget{}, malformed(uri, "no program; write exec:./bin/fn or exec:/abs/path")
	}
	if strings.ContainsAny(path, " \t\n") {
		return execTarget{}, malformed(uri, "program path %q has white space; pass arguments as exec:PATH?arg=A&arg=B", path)
	}
	t := execTarget{path: path}
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err != nil {
			return execTarget{}, malformed(uri, "query: %v", err)
		}
		for k := range q {
			if k != "arg" {
				return execTarget{}, malformed(uri, "unknown parameter %q; the only one is arg (exec:PATH?arg=A&arg=B)", k)
			}
		}
		t.args = q["arg"]
	}
	return t, nil
}

func (e *ExecInvoker) call(ctx context.Context, req Request, t execTarget, limit int64) (Response, error) {
	if resp, ok := checkInput(req, limit); !ok {
		return resp, nil
	}
	ctx, cancel := withTimeout(ctx, req, e.Timeout)
	defer cancel()

	path := t.path
	if e.Dir != "" && strings.ContainsRune(path, '/') && !filepath.IsAbs(path) {
		// Absolute, so that it does not depend on how the OS resolves a
		// relative path against cmd.Dir.
		abs, err := filepath.Abs(filepath.Join(e.Dir, path))
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s (exec %s): %w", req.Function, t.path, err)
		}
		path = abs
	}
	// The output limit cancels its own context so that "too much output"
	// is not mistaken for the caller's deadline.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := exec.CommandContext(runCtx, path, t.args...)
	cmd.Dir = e.Dir
	cmd.Env = append(append(os.Environ(), e.Env...), execEnv(req)...)
	cmd.Stdin = bytes.NewReader(req.Input)
	stdout := &limitedBuffer{max: limit, failOnOverflow: true, onOverflow: stop}
	stderr := &limitedBuffer{max: MaxCauseBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroup(cmd)
	// After the kill, do not wait longer for pipes a stray process may
	// still hold open.
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	switch {
	case stdout.overflowed():
		return outputTooLarge(req, stdout.seen, limit), nil
	case err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		// ErrWaitDelay: the program succeeded but something it started
		// kept stdout or stderr open; its answer is complete.
		return jsonOutput(req, stdout.buf.Bytes(), "stdout"), nil
	case ctx.Err() != nil:
		return Response{}, fmt.Errorf("invoke %s (exec %s): %w", req.Function, t.path, ctx.Err())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		// Could not start it (missing, not executable) or lost its pipes.
		return Response{}, fmt.Errorf("invoke %s (exec %s): %w", req.Function, t.path, err)
	}
	return execFailure(exit, stderr.buf.String()), nil
}

// errorLine is the "Error: NAME" or "Error: NAME: message" convention.
var errorLine = regexp.MustCompile(`^(?i:error): ([A-Za-z_][A-Za-z0-9_.\-]*)(?:: (.*))?$`)

// execFailure names the error of a program that exited non-zero.
func execFailure(exit *exec.ExitError, stderr string) Response {
	status := exit.String() // "exit status 3", "signal: killed"
	text := strings.TrimSpace(stderr)
	first, rest, _ := strings.Cut(text, "\n")
	if m := errorLine.FindStringSubmatch(strings.TrimSpace(first)); m != nil {
		cause := strings.TrimSpace(strings.Join([]string{m[2], strings.TrimSpace(rest)}, "\n"))
		if cause == "" {
			cause = status
		}
		return Response{Error: m[1], Cause: bound(cause)}
	}
	cause := status
	if text != "" {
		cause += ": " + text
	}
	return Response{Error: ErrorTaskFailed, Cause: bound(cause)}
}

func execEnv(req Request) []string {
	env := []string{
		"NEXUS_IDEMPOTENCY_KEY=" + req.Key,
		"NEXUS_FUNCTION=" + req.Function,
		"NEXUS_EXECUTION=" + req.Execution,
		"NEXUS_STATE=" + req.State,
		"NEXUS_ATTEMPT=" + strconv.Itoa(req.Attempt),
	}
	if req.TaskToken != "" {
		env = append(env, "NEXUS_TASK_TOKEN="+req.TaskToken)
	}
	if req.TraceParent != "" {
		env = append(env, "TRACEPARENT="+req.TraceParent)
	}
	return env
}
