package invoke

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// script writes an executable /bin/sh script into dir and returns its name.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "echo", `cat`)
	script(t, dir, "env", `printf '{"key":"%s","fn":"%s","exec":"%s","state":"%s","attempt":"%s","token":"%s","trace":"%s","extra":"%s"}' `+
		`"$NEXUS_IDEMPOTENCY_KEY" "$NEXUS_FUNCTION" "$NEXUS_EXECUTION" "$NEXUS_STATE" "$NEXUS_ATTEMPT" "$NEXUS_TASK_TOKEN" "$TRACEPARENT" "$EXTRA"`)
	script(t, dir, "args", `printf '["%s","%s"]' "$1" "$2"`)
	script(t, dir, "pwd", `printf '"%s"' "$(pwd)"`)
	script(t, dir, "silent", `exit 0`)
	script(t, dir, "text", `echo hello`)
	script(t, dir, "named", `echo "Error: CardDeclined" >&2; echo "card 4242 was declined" >&2; exit 3`)
	script(t, dir, "named-inline", `echo "Error: Payments.Timeout: gateway did not answer" >&2; exit 1`)
	script(t, dir, "plain-fail", `echo "something went wrong" >&2; exit 2`)
	script(t, dir, "quiet-fail", `exit 7`)
	script(t, dir, "loud-fail", `head -c 1000000 /dev/zero | tr '\0' x >&2; exit 1`)
	script(t, dir, "killed", `kill -9 $$`)
	script(t, dir, "flood", `yes`)
	script(t, dir, "touch", `touch "$0.ran"; cat`)
	script(t, dir, "ignores-stdin", `echo '{"ok":true}'`)
	if err := os.WriteFile(filepath.Join(dir, "not-executable"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	e := &ExecInvoker{Dir: dir, Env: []string{"EXTRA=from-env"}, MaxPayloadBytes: 4096}
	big := []byte(`"` + strings.Repeat("z", 5000) + `"`)
	tests := []struct {
		name      string
		uri       string
		req       Request
		wantOut   string
		wantError string
		wantCause string
		wantErr   error
	}{
		{name: "stdin to stdout", uri: "exec:./echo", req: Request{Input: []byte(`{"orderId":42}`)}, wantOut: `{"orderId":42}`},
		{name: "request in the environment", uri: "exec:./env",
			req:     Request{Key: "e1/Charge/2", Execution: "e1", State: "Charge", Attempt: 2, TaskToken: "tok", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			wantOut: `{"key":"e1/Charge/2","fn":"charge","exec":"e1","state":"Charge","attempt":"2","token":"tok","trace":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","extra":"from-env"}`},
		{name: "arguments", uri: "exec:./args?arg=--mode%3Dfast&arg=two+words", wantOut: `["--mode=fast","two words"]`},
		{name: "working directory", uri: "exec:./pwd", wantOut: strconv.Quote(dir)},
		{name: "empty stdout is null", uri: "exec:./silent", wantOut: `null`},
		{name: "program that ignores stdin", uri: "exec:./ignores-stdin", req: Request{Input: []byte(`{"a":1}`)}, wantOut: `{"ok":true}`},
		{name: "stdout not JSON", uri: "exec:./text", wantError: ErrorTaskFailed, wantCause: "stdout of charge is not JSON: hello"},
		{name: "Error: Name line", uri: "exec:./named", wantError: "CardDeclined", wantCause: "card 4242 was declined"},
		{name: "Error: Name: message line", uri: "exec:./named-inline", wantError: "Payments.Timeout", wantCause: "gateway did not answer"},
		{name: "plain failure", uri: "exec:./plain-fail", wantError: ErrorTaskFailed, wantCause: "exit status 2: something went wrong"},
		{name: "failure without stderr", uri: "exec:./quiet-fail", wantError: ErrorTaskFailed, wantCause: "exit status 7"},
		{name: "huge stderr is bounded", uri: "exec:./loud-fail", wantError: ErrorTaskFailed, wantCause: "exit status 1: xxxx"},
		{name: "killed by a signal", uri: "exec:./killed", wantError: ErrorTaskFailed, wantCause: "signal: killed"},
		{name: "endless output is stopped", uri: "exec:./flood", wantError: ErrorDataLimitExceeded, wantCause: "more than 4096 bytes"},
		{name: "input over limit: not run", uri: "exec:./touch", req: Request{Input: big}, wantError: ErrorDataLimitExceeded, wantCause: "the function was not called"},
		{name: "absolute path", uri: "exec:" + filepath.Join(dir, "echo"), req: Request{Input: []byte(`[1]`)}, wantOut: `[1]`},
		{name: "missing program", uri: "exec:./nope", wantErr: os.ErrNotExist},
		{name: "not executable", uri: "exec:./not-executable", wantErr: os.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Function, tt.req.URI = "charge", tt.uri
			resp, err := e.Invoke(context.Background(), tt.req)
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, tt.wantErr)
			if len(resp.Cause) > MaxCauseBytes {
				t.Errorf("cause is %d bytes, over MaxCauseBytes", len(resp.Cause))
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "touch.ran")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the program ran although its input was over the limit (stat: %v)", err)
	}
}
