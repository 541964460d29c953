package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoedHeaders are the request headers /echo reports back.
var echoedHeaders = []string{
	"Content-Type", "Idempotency-Key", "Traceparent", "Authorization", "X-Functions-Key",
	"Nexus-Function", "Nexus-Execution", "Nexus-State", "Nexus-Attempt", "Nexus-Task-Token",
	"Ce-Id", "Ce-Type", "Ce-Source", "Ce-Subject", "Ce-Specversion",
}

// echoHandler answers {"method", "query", "body", "headers"} for any request.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := map[string]string{}
	for _, k := range echoedHeaders {
		if v := r.Header.Get(k); v != "" {
			h[k] = v
		}
	}
	raw := json.RawMessage(body)
	if len(body) == 0 {
		raw = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "query": r.URL.RawQuery, "body": raw, "headers": h})
}

// testEndpoints is an HTTP function server with one behaviour per path.
func testEndpoints(limit int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d body", code)
	})
	mux.HandleFunc("/named", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(FunctionErrorHeader, "CardDeclined")
		w.WriteHeader(http.StatusPaymentRequired)
		fmt.Fprint(w, `{"errorMessage":"card 4242 declined"}`)
	})
	mux.HandleFunc("/named-200", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(FunctionErrorHeader, "Validation.Failed")
		fmt.Fprint(w, `missing field orderId`)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>hello</html>") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(limit+10))
		fmt.Fprint(w, `"`+strings.Repeat("b", limit+8)+`"`)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 4 {
			fmt.Fprint(w, strings.Repeat("c", limit/2))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client gives up
	})
	return mux
}

func TestHTTP(t *testing.T) {
	const limit = 1024
	srv := httptest.NewServer(testEndpoints(limit))
	defer srv.Close()
	env := map[string]string{"PAY_TOKEN": "s3cr3t-bearer", "AZ_KEY": "s3cr3t-azure"}
	h := &HTTPInvoker{
		MaxPayloadBytes: limit,
		LookupEnv:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
	full := Request{
		Input: []byte(`{"orderId":"o-1"}`), Key: "e1/Charge/1", Attempt: 1, Execution: "e1", State: "Charge",
		TaskToken: "tt-1", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	tests := []struct {
		name      string
		path      string // appended to the server URL
		req       Request
		wantOut   string
		wantError string
		wantCause string
		wantErr   error
	}{
		{name: "headers and body", path: "/echo", req: full, wantOut: `{"body":{"orderId":"o-1"},"headers":{` +
			`"Content-Type":"application/json","Idempotency-Key":"e1/Charge/1","Nexus-Attempt":"1","Nexus-Execution":"e1",` +
			`"Nexus-Function":"charge","Nexus-State":"Charge","Nexus-Task-Token":"tt-1",` +
			`"Traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"method":"POST","query":""}`},
		{name: "bearer token and Azure key from the environment", path: "/echo?code=x#bearer_env=PAY_TOKEN&functions_key_env=AZ_KEY",
			req: Request{Input: []byte(`1`)}, wantOut: `{"body":1,"headers":{"Authorization":"Bearer s3cr3t-bearer",` +
				`"Content-Type":"application/json","Nexus-Attempt":"0","Nexus-Function":"charge","X-Functions-Key":"s3cr3t-azure"},"method":"POST","query":"code=x"}`},
		{name: "CloudEvent binary mode", path: "/echo#cloudevent&type=com.example.charge&source=/shop", req: full,
			wantOut: `{"body":{"orderId":"o-1"},"headers":{"Ce-Id":"e1/Charge/1","Ce-Source":"/shop","Ce-Specversion":"1.0","Ce-Subject":"Charge",` +
				`"Ce-Type":"com.example.charge","Content-Type":"application/json","Idempotency-Key":"e1/Charge/1","Nexus-Attempt":"1","Nexus-Execution":"e1",` +
				`"Nexus-Function":"charge","Nexus-State":"Charge","Nexus-Task-Token":"tt-1",` +
				`"Traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"method":"POST","query":""}`},
		{name: "missing secret variable", path: "/echo#bearer_env=NOPE", wantErr: errors.New("environment variable NOPE is not set")},
		{name: "204 is null", path: "/empty", wantOut: `null`},
		{name: "400", path: "/status/400", wantError: "HTTP.400", wantCause: "HTTP 400 Bad Request: status 400 body"},
		{name: "404", path: "/status/404", wantError: "HTTP.404", wantCause: "HTTP 404 Not Found"},
		{name: "409", path: "/status/409", wantError: "HTTP.409", wantCause: "HTTP 409 Conflict"},
		{name: "429 with Retry-After", path: "/status/429", wantError: "HTTP.429", wantCause: "HTTP 429 Too Many Requests (Retry-After: 7)"},
		{name: "500", path: "/status/500", wantError: ErrorHTTP5xx, wantCause: "HTTP 500 Internal Server Error: status 500 body"},
		{name: "503", path: "/status/503", wantError: ErrorHTTP5xx, wantCause: "HTTP 503 Service Unavailable"},
		{name: "redirect not followed", path: "/redirect", wantError: ErrorHTTP3xx, wantCause: "HTTP 302 Found"},
		{name: "named error", path: "/named", wantError: "CardDeclined", wantCause: "card 4242 declined"},
		{name: "named error with 200", path: "/named-200", wantError: "Validation.Failed", wantCause: "missing field orderId"},
		{name: "body not JSON", path: "/text", wantError: ErrorTaskFailed, wantCause: "response body of charge is not JSON: <html>hello</html>"},
		{name: "body over limit (Content-Length)", path: "/big", wantError: ErrorDataLimitExceeded, wantCause: "more than 1024 bytes"},
		{name: "body over limit (chunked)", path: "/big-chunked", wantError: ErrorDataLimitExceeded, wantCause: "more than 1024 bytes"},
		{name: "input over limit", path: "/echo", req: Request{Input: []byte(`"` + strings.Repeat("i", limit) + `"`)},
			wantError: ErrorDataLimitExceeded, wantCause: "over the 1024-byte payload limit"},
		{name: "deadline", path: "/block", req: Request{Timeout: 50 * time.Millisecond}, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Function, tt.req.URI = "charge", srv.URL+tt.path
			resp, err := h.Invoke(context.Background(), tt.req)
			if tt.wantOut != "" && err == nil {
				resp.Output = canonicalJSON(t, resp.Output)
			}
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, tt.wantErr)
		})
	}
}

// canonicalJSON re-encodes JSON with sorted keys and no spaces.
func canonicalJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output %s: %v", b, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHTTPSAndTokenSource(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(echoHandler))
	defer srv.Close()
	var audience string
	h := &HTTPInvoker{
		Client:       srv.Client(),
		BearerToken:  "static-token",
		FunctionsKey: "static-key",
		TokenSource: func(_ context.Context, aud string) (Secret, error) {
			audience = aud
			return "minted-token", nil
		},
	}
	resp, err := h.Invoke(context.Background(), Request{Function: "f", URI: srv.URL + "/fn?x=1", Input: []byte(`{}`)})
	if err != nil || resp.Error != "" {
		t.Fatalf("Invoke = %+v, %v", resp, err)
	}
	var got struct{ Headers map[string]string }
	if err := json.Unmarshal(resp.Output, &got); err != nil {
		t.Fatal(err)
	}
	if got.Headers["Authorization"] != "Bearer minted-token" || got.Headers["X-Functions-Key"] != "static-key" {
		t.Errorf("headers = %v, want the minted bearer token and the static functions key", got.Headers)
	}
	if audience != srv.URL+"/fn" {
		t.Errorf("token audience = %q, want %q", audience, srv.URL+"/fn")
	}

	h.TokenSource = func(context.Context, string) (Secret, error) { return "", errors.New("metadata server unreachable") }
	if _, err := h.Invoke(context.Background(), Request{Function: "f", URI: srv.URL}); err == nil || !strings.Contains(err.Error(), "metadata server unreachable") {
		t.Errorf("failing TokenSource: err = %v", err)
	}
}

// TestHTTPNoSecretsInErrors: transport errors name the URL with its query
// values redacted, and a Secret prints redacted however it is printed.
func TestHTTPNoSecretsInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	h := &HTTPInvoker{BearerToken: "s3cr3t-bearer", FunctionsKey: "s3cr3t-azure"}
	_, err = h.Invoke(context.Background(), Request{Function: "f", URI: "http://" + addr + "/api/f?code=s3cr3t-code"})
	if err == nil {
		t.Fatal("Invoke to a closed port succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, "code=REDACTED") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q: want the redacted URL and the cause, no secret", msg)
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", h.BearerToken, "invoker", h)
	js, _ := json.Marshal(struct{ Token Secret }{h.BearerToken})
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", h, h, h, h.BearerToken, h.BearerToken, h.BearerToken),
		fmt.Sprint(*h), string(js), logged.String(),
	} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if h.BearerToken.Reveal() != "s3cr3t-bearer" {
		t.Error("Reveal lost the secret")
	}
}

func TestHTTPErrorName(t *testing.T) {
	for status, want := range map[int]string{
		301: "HTTP.3xx", 400: "HTTP.400", 401: "HTTP.401", 403: "HTTP.403", 404: "HTTP.404", 408: "HTTP.408",
		409: "HTTP.409", 413: "HTTP.413", 422: "HTTP.422", 429: "HTTP.429", 499: "HTTP.499",
		500: "HTTP.5xx", 502: "HTTP.5xx", 503: "HTTP.5xx", 504: "HTTP.5xx", 599: "HTTP.5xx", 600: "HTTP.600",
	} {
		if got := HTTPErrorName(status); got != want {
			t.Errorf("HTTPErrorName(%d) = %q, want %q", status, got, want)
		}
	}
}
