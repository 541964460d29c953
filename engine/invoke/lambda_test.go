package invoke

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

var testCredentials = credentials.NewStaticCredentialsProvider("test", "test", "")

// TestLambdaEmulator runs the invoker against serverless-offline (see
// main_test.go). Where the emulator differs from real Lambda (errorType
// always "Error", a timeout reported as "[504] - Lambda timeout.", no
// ARNs) the expectations say so; TestLambdaWireErrors covers the real
// service's shapes.
func TestLambdaEmulator(t *testing.T) {
	t.Parallel()
	endpoint := needLambda(t)
	l := &LambdaInvoker{Endpoint: endpoint, Region: "us-east-1", Credentials: testCredentials}
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name      string
		inv       *LambdaInvoker // nil: l
		uri       string
		req       Request
		wantOut   string // compared as canonical JSON
		wantError string
		wantCause string
		wantErr   error
	}{
		{name: "RequestResponse, key added to the payload", uri: "lambda:lambdaemu-dev-echo",
			req:     Request{Input: []byte(`{"orderId":"o-1"}`), Key: "e1/Validate/1"},
			wantOut: `{"echoed":true,"fn":"lambdaemu-dev-echo","idempotencyKey":"e1/Validate/1","orderId":"o-1"}`},
		{name: "payload that has the field keeps it", uri: "lambda:lambdaemu-dev-echo",
			req:     Request{Input: []byte(`{"idempotencyKey":"mine"}`), Key: "e1/Validate/1"},
			wantOut: `{"echoed":true,"fn":"lambdaemu-dev-echo","idempotencyKey":"mine"}`},
		{name: "payload field switched off", uri: "lambda:lambdaemu-dev-echo",
			inv: &LambdaInvoker{Endpoint: endpoint, Region: "us-east-1", Credentials: testCredentials, PayloadKeyField: "-"},
			req: Request{Input: []byte(`{}`), Key: "e1/Validate/1"}, wantOut: `{"echoed":true,"fn":"lambdaemu-dev-echo"}`},
		{name: "client context and task token", uri: "lambda:lambdaemu-dev-context",
			req: Request{Function: "ctx", Input: []byte(` {"a":1}`), Key: "e1/Wait/2", Execution: "e1", State: "Wait", Attempt: 2, TaskToken: "tt-9", TraceParent: tp},
			wantOut: `{"clientContext":{"custom":{"attempt":"2","execution":"e1","function":"ctx","idempotencyKey":"e1/Wait/2","state":"Wait","taskToken":"tt-9","traceparent":"` + tp + `"}},` +
				`"event":{"a":1,"idempotencyKey":"e1/Wait/2","taskToken":"tt-9"}}`},
		{name: "Event invocation", uri: "lambda:lambdaemu-dev-echo", req: Request{Input: []byte(`{}`), Async: true}, wantOut: `null`},
		{name: "handler throws", uri: "lambda:lambdaemu-dev-boom", req: Request{Input: []byte(`{"hello":"world"}`)},
			wantError: "Error" /* real Lambda: CustomBoomError */, wantCause: `"errorMessage":"kaboom: {\"hello\":\"world\"`},
		{name: "throwing handler, Event: accepted", uri: "lambda:lambdaemu-dev-boom", req: Request{Input: []byte(`{}`), Async: true}, wantOut: `null`},
		{name: "emulator survived the async failure", uri: "lambda:lambdaemu-dev-echo", req: Request{Input: []byte(`{"after":"boom"}`), Key: "k"},
			wantOut: `{"after":"boom","echoed":true,"fn":"lambdaemu-dev-echo","idempotencyKey":"k"}`},
		{name: "function timeout (1 s)", uri: "lambda:lambdaemu-dev-slow",
			wantError: "Error" /* real Lambda: Sandbox.Timedout */, wantCause: "Lambda timeout"},
		{name: "caller deadline first", uri: "lambda:lambdaemu-dev-slow", req: Request{Timeout: 200 * time.Millisecond}, wantErr: context.DeadlineExceeded},
		{name: "no such function", uri: "lambda:lambdaemu-dev-nope", wantError: "Lambda.ResourceNotFoundException", wantCause: "Function not found: lambdaemu-dev-nope"},
		{name: "ARN reaches the API whole", uri: "lambda:arn:aws:lambda:eu-north-1:123456789012:function:lambdaemu-dev-echo",
			// The emulator knows functions by name only; real Lambda accepts the ARN.
			wantError: "Lambda.ResourceNotFoundException", wantCause: "arn:aws:lambda:eu-north-1:123456789012:function:lambdaemu-dev-echo"},
		{name: "output over limit", uri: "lambda:lambdaemu-dev-echo",
			inv: &LambdaInvoker{Endpoint: endpoint, Region: "us-east-1", Credentials: testCredentials, MaxPayloadBytes: 40},
			req: Request{Input: []byte(`{"pad":"0123456789"}`)}, wantError: ErrorDataLimitExceeded, wantCause: "more than 40 bytes"},
		{name: "input over limit", uri: "lambda:lambdaemu-dev-echo",
			inv: &LambdaInvoker{Endpoint: endpoint, Region: "us-east-1", Credentials: testCredentials, MaxPayloadBytes: 40},
			req: Request{Input: []byte(`{"pad":"` + strings.Repeat("p", 40) + `"}`)}, wantError: ErrorDataLimitExceeded, wantCause: "the function was not called"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := tt.inv
			if inv == nil {
				inv = l
			}
			if tt.req.Function == "" {
				tt.req.Function = "validate"
			}
			tt.req.URI = tt.uri
			resp, err := inv.Invoke(context.Background(), tt.req)
			if tt.wantOut != "" && err == nil && resp.Error == "" {
				resp.Output = canonicalJSON(t, resp.Output)
			}
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, tt.wantErr)
		})
	}

	t.Run("through a Registry", func(t *testing.T) {
		r := &Registry{Lambda: LambdaInvoker{Endpoint: endpoint, Region: "us-east-1", Credentials: testCredentials}}
		resp, err := r.Invoke(context.Background(), Request{Function: "validate", URI: "lambda:lambdaemu-dev-echo", Input: []byte(`{"x":1}`), Key: "r-1"})
		checkResult(t, Response{Output: canonicalJSON(t, resp.Output)}, err,
			`{"echoed":true,"fn":"lambdaemu-dev-echo","idempotencyKey":"r-1","x":1}`, "", "", nil)
	})
}

// TestLambdaWireErrors maps the answers real Lambda gives and the emulator
// cannot produce (throttling, service errors, Handled errors with their
// own errorType, Sandbox.Timedout) from a server speaking the Invoke wire
// protocol, and checks the SDK does not retry on its own.
func TestLambdaWireErrors(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
		apiError := func(status int, typ, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("x-amzn-ErrorType", typ)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"Type":"User","message":%q}`, msg)
		}
		functionError := func(kind, body string) {
			w.Header().Set("X-Amz-Function-Error", kind)
			fmt.Fprint(w, body)
		}
		switch name {
		case "throttled":
			apiError(http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		case "service":
			apiError(http.StatusInternalServerError, "ServiceException", "internal failure")
		case "toolarge":
			apiError(http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
		case "nocode":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "bad gateway")
		case "handled":
			functionError("Handled", `{"errorType":"CardDeclined","errorMessage":"card 4242 declined"}`)
		case "sandbox":
			functionError("Unhandled", `{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}`)
		case "notype":
			functionError("Unhandled", `{"errorMessage":"Process exited before completing request"}`)
		case "empty-error":
			functionError("Unhandled", ``)
		case "notjson":
			fmt.Fprint(w, `"he said "hi""`)
		case "ok":
			fmt.Fprint(w, `{"ok":true}`)
		default:
			apiError(http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		}
	}))
	defer srv.Close()
	l := &LambdaInvoker{Endpoint: srv.URL, Region: "us-east-1", Credentials: testCredentials}
	tests := []struct {
		fn        string
		wantOut   string
		wantError string
		wantCause string
	}{
		{fn: "ok", wantOut: `{"ok":true}`},
		{fn: "throttled", wantError: "Lambda.TooManyRequestsException", wantCause: "HTTP 429 TooManyRequestsException: Rate Exceeded."},
		{fn: "service", wantError: "Lambda.ServiceException", wantCause: "internal failure"},
		{fn: "toolarge", wantError: "Lambda.RequestTooLargeException", wantCause: "smaller than"},
		{fn: "nocode", wantError: ErrorLambdaAWSLambda, wantCause: "HTTP 502"},
		{fn: "missing", wantError: "Lambda.ResourceNotFoundException", wantCause: "Function not found: missing"},
		{fn: "handled", wantError: "CardDeclined", wantCause: `{"errorType":"CardDeclined","errorMessage":"card 4242 declined"}`},
		{fn: "sandbox", wantError: "Sandbox.Timedout", wantCause: "Task timed out"},
		{fn: "notype", wantError: ErrorLambdaUnknown, wantCause: "Process exited"},
		{fn: "empty-error", wantError: ErrorLambdaUnknown, wantCause: "FunctionError: Unhandled"},
		{fn: "notjson", wantError: ErrorTaskFailed, wantCause: "payload of f is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			before := calls.Load()
			resp, err := l.Invoke(context.Background(), Request{Function: "f", URI: "lambda:" + tt.fn, Input: []byte(`{}`)})
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, nil)
			if n := calls.Load() - before; n != 1 {
				t.Errorf("%d HTTP requests, want 1 (no SDK retries)", n)
			}
		})
	}
}

func TestLambdaClientFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")

	tests := []struct {
		name      string
		inv       *LambdaInvoker
		uri       string
		wantError string
		wantCause string
	}{
		{name: "connection refused", inv: &LambdaInvoker{Endpoint: closed, Region: "us-east-1", Credentials: testCredentials},
			uri: "lambda:fn", wantError: ErrorLambdaSdkClient, wantCause: "connection refused"},
		{name: "no region", inv: &LambdaInvoker{Endpoint: closed, Credentials: testCredentials},
			uri: "lambda:fn", wantError: ErrorLambdaSdkClient, wantCause: "no AWS region"},
		{name: "region from the ARN", inv: &LambdaInvoker{Endpoint: closed, Credentials: testCredentials},
			uri: "lambda:arn:aws:lambda:eu-north-1:123456789012:function:fn", wantError: ErrorLambdaSdkClient, wantCause: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.inv.Invoke(context.Background(), Request{Function: "f", URI: tt.uri, Input: []byte(`{}`)})
			checkResult(t, resp, err, "", tt.wantError, tt.wantCause, nil)
		})
	}
}

func TestLambdaPayloadAndContext(t *testing.T) {
	for _, tt := range []struct{ in, name, value, want string }{
		{`{"a":1}`, "idempotencyKey", "k", `{"idempotencyKey":"k","a":1}`},
		{` { } `, "idempotencyKey", "k", `{"idempotencyKey":"k" } `},
		{`{"idempotencyKey":"x"}`, "idempotencyKey", "k", `{"idempotencyKey":"x"}`},
		{`[1,2]`, "idempotencyKey", "k", `[1,2]`},
		{`"s"`, "idempotencyKey", "k", `"s"`},
		{``, "idempotencyKey", "k", ``},
		{`{"a":1}`, "", "k", `{"a":1}`},
		{`{"a":1}`, "idempotencyKey", "", `{"a":1}`},
		{`{"a":"\u2028"}`, "k\"ey", "v\"al", `{"k\"ey":"v\"al","a":"\u2028"}`},
	} {
		if got := string(addField([]byte(tt.in), tt.name, tt.value)); got != tt.want {
			t.Errorf("addField(%s, %q, %q) = %s, want %s", tt.in, tt.name, tt.value, got, tt.want)
		}
	}

	long := Request{Key: "k", Execution: "e", State: "s", TaskToken: strings.Repeat("t", 4000)}
	cc, err := clientContext(long)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(cc)
	var got struct{ Custom map[string]string }
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if _, has := got.Custom["taskToken"]; has || got.Custom["idempotencyKey"] != "k" || len(cc) > maxClientContextBytes {
		t.Errorf("client context with a 4000-byte token = %v (%d bytes); want the token dropped, the key kept", got.Custom, len(cc))
	}
	if _, err := clientContext(Request{State: strings.Repeat("s", 4000)}); err == nil {
		t.Error("clientContext with a 4000-byte state name succeeded")
	}
}
