package invoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// HTTPInvoker calls a function with a JSON POST: bindings http://... and
// https://..., and (through GCFInvoker) gcf:.
//
// Request headers:
//
//	Content-Type: application/json         the body is Request.Input
//	Idempotency-Key: KEY                   Request.Key (the IETF draft's header)
//	traceparent: 00-...                    Request.TraceParent (W3C Trace Context), when set
//	Authorization: Bearer TOKEN            TokenSource, BearerToken or #bearer_env=NAME, when set
//	x-functions-key: KEY                   FunctionsKey or #functions_key_env=NAME (Azure Functions), when set
//	Nexus-Function, Nexus-Execution, Nexus-State, Nexus-Attempt, and Nexus-Task-Token when set
//
// Binding options go in the URI's fragment, which is never sent:
//
//	#bearer_env=NAME         send the value of environment variable NAME as a bearer token
//	#functions_key_env=NAME  send the value of environment variable NAME as x-functions-key
//	#cloudevent              send a CloudEvent in binary content mode (ce-id is the idempotency key)
//	#type=T&source=S         the CloudEvent's type and source (with #cloudevent)
//
// so that the binding names where a secret is, never the secret itself.
// Credentials in the URI's user-info are refused. Errors name the URL
// with query values redacted (Azure's ?code= is a key).
//
// Responses: a 2xx body is the output (empty: null; not JSON:
// States.TaskFailed). A response carrying the header
// "Nexus-Function-Error: NAME" is the function error NAME whatever its
// status, with the body's errorMessage (or the body) as cause; that is how
// an endpoint raises an error a Catch rule can name. Otherwise other
// statuses map to error names by HTTPErrorName, with the status line, any
// Retry-After and X-Google-Status, and the start of the body as cause.
// Redirects are not followed (a POST with effects is not re-sent
// elsewhere): a 3xx is HTTP.3xx. A body over the payload limit is
// States.DataLimitExceeded. A transport failure or the context ending is
// returned as an error: the outcome is unknown and the idempotency key
// makes the retry safe.
type HTTPInvoker struct {
	// Client sends the requests (nil: a client sharing
	// http.DefaultTransport that follows no redirect). Deadlines come from
	// the context; a Client.Timeout also applies.
	Client *http.Client
	// BearerToken is sent to every endpoint whose binding names none.
	BearerToken Secret
	// TokenSource, when set, supplies the bearer token per call and wins
	// over BearerToken and #bearer_env (e.g. a Google ID token minted for
	// the function's URL, the audience).
	TokenSource func(ctx context.Context, audience string) (Secret, error)
	// FunctionsKey is the Azure Functions key sent to every endpoint whose
	// binding names none.
	FunctionsKey Secret
	// LookupEnv resolves #bearer_env and #functions_key_env (nil: os.LookupEnv).
	LookupEnv func(name string) (string, bool)
	// MaxPayloadBytes bounds the request and the response bodies (0: the
	// Registry's limit, else DefaultMaxPayloadBytes).
	MaxPayloadBytes int64
	// Timeout applies when the request sets none (0: DefaultTimeout).
	Timeout time.Duration
}

// Secret is a credential. Every fmt verb, encoding/json and log/slog print
// it as "[redacted]", so logging a configuration cannot leak it.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]" (or "" for no secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format prints String for every verb, %#v included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue is the redacted form for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, to put it where it is used.
func (s Secret) Reveal() string { return string(s) }

// HTTP error names: see HTTPErrorName.
const (
	ErrorHTTP3xx = "HTTP.3xx"
	ErrorHTTP5xx = "HTTP.5xx"
)

// HTTPErrorName is the error name of a non-2xx status:
//
//	4xx   HTTP.<status>: HTTP.400, HTTP.401, HTTP.403, HTTP.404, HTTP.409, HTTP.429, ...
//	      (client errors mean different things: retry a 429, catch a 409)
//	5xx   HTTP.5xx (one name, so one Retry rule covers every server failure;
//	      the exact status is in the cause)
//	3xx   HTTP.3xx (redirects are not followed)
//	other HTTP.<status>
func HTTPErrorName(status int) string {
	switch {
	case status >= 500 && status <= 599:
		return ErrorHTTP5xx
	case status >= 300 && status <= 399:
		return ErrorHTTP3xx
	default:
		return "HTTP." + strconv.Itoa(status)
	}
}

// FunctionErrorHeader is the response header with which an HTTP endpoint
// names its error (see HTTPInvoker).
const FunctionErrorHeader = "Nexus-Function-Error"

// Invoke POSTs req.Input to the URL req.URI is.
func (h *HTTPInvoker) Invoke(ctx context.Context, req Request) (Response, error) {
	t, err := parseHTTP(req.URI)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	return h.call(ctx, req, t, maxBytes(h.MaxPayloadBytes))
}

// httpTarget is a parsed http(s) or gcf binding.
type httpTarget struct {
	url        *url.URL // without fragment
	bearerEnv  string
	keyEnv     string
	cloudEvent bool
	ceType     string
	ceSource   string
}

// DefaultCloudEventType is the type of the CloudEvents nexus sends when
// the binding names none (#type=).
const DefaultCloudEventType = "io.github.nexus-workflows.invoke"

// parseHTTP reads http(s)://HOST/PATH[#OPTIONS].
func parseHTTP(uri string) (httpTarget, error) {
	return parseHTTPURL(uri, uri)
}

// parseHTTPURL reads raw, an http(s) URL with options in its fragment;
// errors name uri, the whole binding.
func parseHTTPURL(uri, raw string) (httpTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return httpTarget{}, malformed(uri, "not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return httpTarget{}, malformed(uri, "scheme %q; want http or https", u.Scheme)
	}
	if u.Host == "" {
		return httpTarget{}, malformed(uri, "no host; write %s://HOST/PATH", u.Scheme)
	}
	if u.User != nil {
		return httpTarget{}, malformed(uri, "credentials in the URI would be stored and shown with the workflow; name an environment variable instead: #bearer_env=NAME or #functions_key_env=NAME")
	}
	t := httpTarget{}
	if u.Fragment != "" {
		opts, err := url.ParseQuery(u.Fragment)
		if err != nil {
			return httpTarget{}, malformed(uri, "options after #: %v", err)
		}
		for k, v := range opts {
			val := v[len(v)-1]
			switch k {
			case "bearer_env":
				t.bearerEnv = val
			case "functions_key_env":
				t.keyEnv = val
			case "cloudevent":
				if val != "" {
					return httpTarget{}, malformed(uri, "#cloudevent takes no value")
				}
				t.cloudEvent = true
			case "type":
				t.ceType = val
			case "source":
				t.ceSource = val
			default:
				return httpTarget{}, malformed(uri, "unknown option %q after #; known: bearer_env, functions_key_env, cloudevent, type, source", k)
			}
			if val == "" && k != "cloudevent" {
				return httpTarget{}, malformed(uri, "option %s needs a value (%s=...)", k, k)
			}
		}
		if (t.ceType != "" || t.ceSource != "") && !t.cloudEvent {
			return httpTarget{}, malformed(uri, "type= and source= apply to CloudEvents; add #cloudevent")
		}
	}
	u.Fragment, u.RawFragment = "", ""
	t.url = u
	return t, nil
}

var defaultHTTPClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (h *HTTPInvoker) call(ctx context.Context, req Request, t httpTarget, limit int64) (Response, error) {
	if resp, ok := checkInput(req, limit); !ok {
		return resp, nil
	}
	ctx, cancel := withTimeout(ctx, req, h.Timeout)
	defer cancel()
	where := "POST " + redactURL(t.url)

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url.String(), bytes.NewReader(req.Input))
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, where, err)
	}
	if err := h.setHeaders(ctx, hreq, req, t); err != nil {
		return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, where, err)
	}
	client := h.Client
	if client == nil {
		client = defaultHTTPClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		// *url.Error repeats the URL with its query; say it redacted.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, where, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return outputTooLarge(req, resp.ContentLength, limit), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s (%s): reading the response: %w", req.Function, where, err)
	}
	if int64(len(body)) > limit {
		return outputTooLarge(req, int64(len(body)), limit), nil
	}
	if name := strings.TrimSpace(resp.Header.Get(FunctionErrorHeader)); name != "" {
		return Response{Error: boundTo(name, 256), Cause: bound(bodyCause(body))}, nil
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return jsonOutput(req, body, "response body"), nil
	}
	cause := "HTTP " + resp.Status
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		cause += " (Retry-After: " + ra + ")"
	}
	if gs := resp.Header.Get("X-Google-Status"); gs != "" {
		cause += " (X-Google-Status: " + gs + ")"
	}
	if b := strings.TrimSpace(string(body)); b != "" {
		cause += ": " + b
	}
	return Response{Error: HTTPErrorName(resp.StatusCode), Cause: bound(cause)}, nil
}

func (h *HTTPInvoker) setHeaders(ctx context.Context, hreq *http.Request, req Request, t httpTarget) error {
	hd := hreq.Header
	hd.Set("Content-Type", "application/json")
	hd.Set("Accept", "application/json")
	hd.Set("User-Agent", "nexus")
	if req.Key != "" {
		hd.Set("Idempotency-Key", req.Key)
	}
	if req.TraceParent != "" {
		hd.Set("traceparent", req.TraceParent)
	}
	if req.Function != "" {
		hd.Set("Nexus-Function", req.Function)
	}
	if req.Execution != "" {
		hd.Set("Nexus-Execution", req.Execution)
	}
	if req.State != "" {
		hd.Set("Nexus-State", req.State)
	}
	hd.Set("Nexus-Attempt", strconv.Itoa(req.Attempt))
	if req.TaskToken != "" {
		hd.Set("Nexus-Task-Token", req.TaskToken)
	}

	token := h.BearerToken
	if t.bearerEnv != "" {
		v, err := h.env(t.bearerEnv)
		if err != nil {
			return fmt.Errorf("bearer token: %w", err)
		}
		token = Secret(v)
	}
	if h.TokenSource != nil {
		aud := *t.url
		aud.RawQuery = ""
		s, err := h.TokenSource(ctx, aud.String())
		if err != nil {
			return fmt.Errorf("bearer token: %w", err)
		}
		token = s
	}
	if token != "" {
		hd.Set("Authorization", "Bearer "+token.Reveal())
	}
	key := h.FunctionsKey
	if t.keyEnv != "" {
		v, err := h.env(t.keyEnv)
		if err != nil {
			return fmt.Errorf("functions key: %w", err)
		}
		key = Secret(v)
	}
	if key != "" {
		hd.Set("x-functions-key", key.Reveal())
	}

	if t.cloudEvent {
		id := req.Key
		if id == "" {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		source := t.ceSource
		if source == "" {
			source = "/nexus/executions/" + url.PathEscape(req.Execution)
		}
		typ := t.ceType
		if typ == "" {
			typ = DefaultCloudEventType
		}
		hd.Set("ce-specversion", "1.0")
		hd.Set("ce-id", id)
		hd.Set("ce-source", source)
		hd.Set("ce-type", typ)
		hd.Set("ce-time", time.Now().UTC().Format(time.RFC3339Nano))
		if req.State != "" {
			hd.Set("ce-subject", req.State)
		}
		if req.TraceParent != "" {
			hd.Set("ce-traceparent", req.TraceParent) // the distributed-tracing extension
		}
	}
	return nil
}

// env looks up an environment variable a binding names. The error names
// the variable, never a value.
func (h *HTTPInvoker) env(name string) (string, error) {
	lookup := h.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return "", fmt.Errorf("environment variable %s is not set (the binding names it)", name)
	}
	return v, nil
}

// bodyCause is the errorMessage (or message, or cause) of a JSON error
// body, else the body.
func bodyCause(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"errorMessage", "message", "cause"} {
			var s string
			if json.Unmarshal(m[k], &s) == nil && s != "" {
				return s
			}
		}
	}
	return strings.TrimSpace(string(body))
}

// redactURL is u for messages: no user-info, query values replaced.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}
