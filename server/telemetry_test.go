package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/getkin/kin-openapi/openapi3"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/server"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestMetricsAndSpans: an execution whose HTTP function fails once then
// succeeds gives one execution span and one span per attempt, each
// attempt's traceparent received by the function; the metrics count the
// execution, the error by function and name, the recovery time.
func TestMetricsAndSpans(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var parents []string
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.Header().Set("Nexus-Function-Error", "Flaky")
			w.WriteHeader(500)
			return
		}
		w.Write([]byte(`{"ok": true}`))
	}))
	defer fn.Close()
	exp := keep{tracetest.NewInMemoryExporter()}
	n := startNode(t, t.TempDir(), server.Options{SpanExporter: exp})
	tok := n.token("obs")
	c := n.client(tok)
	mustDeploy(t, c, "flaky.yaml", `version: "1.0"
name: flaky
functions: {call: {uri: "`+fn.URL+`"}}
states:
- {name: Call, action: call, retry: [{errors: [Flaky], max_attempts: 2, interval: 10ms}], end: true}
`, nil)
	if _, err := start(t, c, "flaky", "f1", `{}`); err != nil {
		t.Fatal(err)
	}
	if x := wait(t, c, "f1"); x.Status != "succeeded" {
		t.Fatalf("f1: %+v", x)
	}
	code, metrics := httpDo(t, "GET", n.url+"/metrics", tok, "", nil, nil)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`workflow_executions_total{status="succeeded"} 1`,
		`workflow_function_errors_total{error="Flaky",function="call"} 1`,
		`workflow_function_call_duration_seconds_count{function="call",outcome="succeeded"} 1`,
		`mttr_seconds_count{function="call"} 1`,
		`workflow_circuit_breaker_state{function="call"} 0`,
		`workflow_executions_started_total 1`,
		`nexus_deploys_total{forced="false",verdict="holds"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(metrics, "workflow_state_transitions_total ") || strings.Contains(metrics, "workflow_state_transitions_total 0\n") {
		t.Errorf("/metrics counts no transition")
	}
	n.stop() // flushes the spans
	spans := exp.GetSpans()
	var execSpans, attempts int
	for _, s := range spans {
		switch {
		case strings.HasPrefix(s.Name, "execution "):
			execSpans++
			if s.Name != "execution obs/f1" || s.SpanContext.TraceID() != spans[0].SpanContext.TraceID() {
				t.Errorf("execution span %s in trace %s", s.Name, s.SpanContext.TraceID())
			}
		case s.Name == "Call call":
			attempts++
			tp := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
			mu.Lock()
			seen := strings.Contains(strings.Join(parents, ","), tp)
			mu.Unlock()
			if !seen {
				t.Errorf("attempt span %s: its traceparent %s never reached the function (%v)", s.Name, tp, parents)
			}
		}
	}
	if execSpans != 1 || attempts != 2 {
		t.Fatalf("spans: %d execution, %d attempts, want 1 and 2 (%d in all)", execSpans, attempts, len(spans))
	}
	for _, ex := range spans {
		if !strings.HasPrefix(ex.Name, "execution ") {
			continue
		}
		for _, s := range spans {
			if s.Name == "Call call" && s.Parent.SpanID() != ex.SpanContext.SpanID() {
				t.Errorf("attempt span %s has parent %s, not the execution's span %s", s.SpanContext.SpanID(), s.Parent.SpanID(), ex.SpanContext.SpanID())
			}
		}
	}
}

// TestSpansNotReemittedOnResume: an execution stopped by a server and
// resumed by the next emits the first step's span once, and one
// execution span in all.
func TestSpansNotReemittedOnResume(t *testing.T) {
	exp := keep{tracetest.NewInMemoryExporter()}
	dir := t.TempDir()
	opts := server.Options{SpanExporter: exp, Inline: map[string]invoke.Func{"go:hold": hold.fn}}
	n := startNode(t, dir, opts)
	tok := n.token("obs")
	c := n.client(tok)
	mustDeploy(t, c, "two.yaml", `version: "1.0"
name: two
functions: {first: {uri: "builtin:echo"}, hold: {uri: "go:hold"}}
states:
- {name: First, action: first, next: Wait}
- {name: Wait, action: hold, callback: true, timeout: 1h, end: true}
`, nil)
	if _, err := start(t, c, "two", "r1", `{}`); err != nil {
		t.Fatal(err)
	}
	hold.token(t, "obs/r1")
	n.stop()
	hold.mu.Lock()
	delete(hold.tokens, "obs/r1")
	hold.mu.Unlock()
	n2 := startNode(t, dir, opts) // resumes r1: the callback is invoked again
	tok2 := hold.token(t, "obs/r1")
	c2 := n2.client(tok)
	if _, err := c2.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tok2})); err != nil {
		t.Fatal(err)
	}
	if x := wait(t, c2, "r1"); x.Status != "succeeded" {
		t.Fatalf("r1: %+v", x)
	}
	n2.stop()
	count := map[string]int{}
	traces := map[string]bool{}
	for _, s := range exp.GetSpans() {
		count[s.Name]++
		traces[s.SpanContext.TraceID().String()] = true
	}
	if count["First first"] != 1 || count["execution obs/r1"] != 1 || count["Wait hold"] < 1 || len(traces) != 1 {
		t.Fatalf("spans: %v in %d trace(s)", count, len(traces))
	}
}

// TestOpenAPI: /openapi.json is a valid OpenAPI 3 document describing
// every method, and real responses match its schemas.
func TestOpenAPI(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{})
	code, body := httpDo(t, "GET", n.url+"/openapi.json", "", "", nil, nil)
	if code != 200 {
		t.Fatalf("/openapi.json: %d", code)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	methods := nexusv1.File_nexus_proto.Services().ByName("NexusService").Methods()
	for i := 0; i < methods.Len(); i++ {
		p := "/nexus.v1.NexusService/" + string(methods.Get(i).Name())
		if doc.Paths.Find(p) == nil || doc.Paths.Find(p).Post == nil {
			t.Errorf("no POST %s in the document", p)
		}
	}
	tok := n.token("doc")
	mustDeploy(t, n.client(tok), "payment.yaml", readFile(t, paymentFile), bindingsOf(t, paymentFile))
	for _, c := range []struct{ method, req, schema string }{
		{"StartExecution", `{"workflow": "Betalningsrekoncilering", "executionId": "e1", "input": {"transferId": "t", "amount": 1}}`, "nexus.v1.StartExecutionResponse"},
		{"GetExecution", `{"executionId": "e1", "waitMs": 10000}`, "nexus.v1.GetExecutionResponse"},
		{"GetTrace", `{"executionId": "e1"}`, "nexus.v1.GetTraceResponse"},
		{"GetHistory", `{"executionId": "e1"}`, "nexus.v1.GetHistoryResponse"},
		{"ListWorkflows", `{}`, "nexus.v1.ListWorkflowsResponse"},
		{"GetWorkflow", `{"name": "Betalningsrekoncilering"}`, "nexus.v1.GetWorkflowResponse"},
		{"ListExecutions", `{"status": ["succeeded", "running"]}`, "nexus.v1.ListExecutionsResponse"},
		{"GetExecution", `{"executionId": "missing"}`, "connect.Error"},
	} {
		code, body := httpDo(t, "POST", n.url+"/nexus.v1.NexusService/"+c.method, tok, "application/json", strings.NewReader(c.req), nil)
		if (code == 200) != (c.schema != "connect.Error") {
			t.Fatalf("%s: %d %s", c.method, code, body)
		}
		var v any
		if err := jsonUnmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		if err := doc.Components.Schemas[c.schema].Value.VisitJSON(v); err != nil {
			t.Errorf("%s: the response does not match %s: %v\n%.500s", c.method, c.schema, err, body)
		}
	}
}

// TestLimits: an oversized request, input or event is refused with an
// error that says so.
func TestLimits(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{MaxRequestBytes: 64 << 10, MaxPayloadBytes: 1 << 10})
	tok := n.token("lim")
	c := n.client(tok)
	mustDeploy(t, c, "payment.yaml", readFile(t, paymentFile), bindingsOf(t, paymentFile))
	big := `{"pad": "` + strings.Repeat("x", 2000) + `"}`
	_, err := start(t, c, "Betalningsrekoncilering", "big", big)
	wantCode(t, err, connect.CodeInvalidArgument, "an input over the payload limit")
	if !strings.Contains(err.Error(), "payload limit") {
		t.Fatalf("input over the limit: %v", err)
	}
	huge := `{"pad": "` + strings.Repeat("x", 100<<10) + `"}`
	_, err = start(t, c, "Betalningsrekoncilering", "huge", huge)
	wantCode(t, err, connect.CodeResourceExhausted, "a request over the request limit")
	code, body := httpDo(t, "POST", n.url+"/events", tok, "application/json", strings.NewReader(huge),
		map[string]string{"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/s", "ce-id": "1"})
	if code != 413 || !strings.Contains(body, "limit") {
		t.Fatalf("an event over the limit: %d %s", code, body)
	}
}

// TestSecretsFromFiles: a binding names a secret (#bearer_env=NAME); the
// server reads it from the environment or --secrets-dir and sends it,
// and never logs it.
func TestSecretsFromFiles(t *testing.T) {
	const secret = "s3cr3t-value-never-logged"
	var got atomic.Value
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		w.Write([]byte(`{}`))
	}))
	defer fn.Close()
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "NEXUS_TEST_FN_TOKEN"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), server.Options{SecretsDir: secrets})
	c := n.client(n.token("sec"))
	mustDeploy(t, c, "sec.yaml", `version: "1.0"
name: sec
functions: {call: {uri: "`+fn.URL+`#bearer_env=NEXUS_TEST_FN_TOKEN"}}
states:
- {name: Call, action: call, end: true}
`, nil)
	if _, err := start(t, c, "sec", "s1", `{}`); err != nil {
		t.Fatal(err)
	}
	if x := wait(t, c, "s1"); x.Status != "succeeded" {
		t.Fatalf("s1: %+v", x)
	}
	if a, _ := got.Load().(string); a != "Bearer "+secret {
		t.Fatalf("the function got Authorization %q", a)
	}
	n.stop()
	if strings.Contains(n.logs.String(), secret) {
		t.Fatal("the secret is in the server's log")
	}
}

// keep is an in-memory exporter whose spans outlive the server's
// shutdown (tracetest's forgets them then).
type keep struct{ *tracetest.InMemoryExporter }

func (keep) Shutdown(context.Context) error { return nil }
