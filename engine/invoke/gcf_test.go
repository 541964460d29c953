package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// The GCF tests run the real Functions Framework for Go. Its server
// (funcframework.StartHostPort) cannot be stopped or given a listener, so
// it runs in a child process: this test binary again, with gcfServerEnv
// set to the loopback address to serve on (TestMain hands over to
// serveFunctionsFramework). The test kills the child when it ends.
const gcfServerEnv = "NEXUS_INVOKE_TEST_GCF_ADDR"

// eventCheck is the data the /event function receives: what the
// CloudEvent's attributes must be. It fails if they are not.
type eventCheck struct {
	ID, Type, Source, Subject, TraceParent string
}

// serveFunctionsFramework registers the test functions and serves them on
// addr until killed.
func serveFunctionsFramework(addr string) int {
	ctx := context.Background()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	register := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "register:", err)
			os.Exit(2)
		}
	}
	// HTTP functions.
	register(funcframework.RegisterHTTPFunctionContext(ctx, "/echo", echoHandler))
	register(funcframework.RegisterHTTPFunctionContext(ctx, "/declined", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(FunctionErrorHeader, "CardDeclined")
		w.WriteHeader(http.StatusPaymentRequired)
		fmt.Fprint(w, `{"errorMessage":"card 4242 declined"}`)
	}))
	register(funcframework.RegisterHTTPFunctionContext(ctx, "/panic", func(http.ResponseWriter, *http.Request) {
		panic("index out of range")
	}))
	register(funcframework.RegisterHTTPFunctionContext(ctx, "/slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	// A legacy event function returning an error: 500 with X-Google-Status: error.
	register(funcframework.RegisterEventFunctionContext(ctx, "/legacy-fail", func(context.Context, map[string]any) error {
		return errors.New("inventory service down")
	}))
	// CloudEvent functions.
	register(funcframework.RegisterCloudEventFunctionContext(ctx, "/event", func(_ context.Context, e cloudevents.Event) error {
		var want eventCheck
		if err := e.DataAs(&want); err != nil {
			return err
		}
		tp, _ := e.Extensions()["traceparent"].(string)
		got := eventCheck{ID: e.ID(), Type: e.Type(), Source: e.Source(), Subject: e.Subject(), TraceParent: tp}
		if got != want {
			return cehttp.NewResult(http.StatusUnprocessableEntity, "got %+v, want %+v", got, want)
		}
		return nil
	}))
	register(funcframework.RegisterCloudEventFunctionContext(ctx, "/event-throttled", func(context.Context, cloudevents.Event) error {
		return cehttp.NewResult(http.StatusTooManyRequests, "quota exceeded")
	}))
	register(funcframework.RegisterCloudEventFunctionContext(ctx, "/event-fail", func(context.Context, cloudevents.Event) error {
		return errors.New("could not reserve stock")
	}))
	if err := funcframework.StartHostPort(host, port); err != nil {
		fmt.Fprintln(os.Stderr, "functions framework:", err)
		return 1
	}
	return 0
}

// startFunctionsFramework runs the Functions Framework child on a free
// loopback port and returns its base URL once it answers.
func startFunctionsFramework(t *testing.T) string {
	t.Helper()
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // the child binds it; another process could take it first, hence the retry
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), gcfServerEnv+"="+addr, "FUNCTION_TARGET=")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		base := "http://" + addr
		if waitHTTP(t, base, exited) {
			return base
		}
		if try == 2 {
			t.Fatalf("functions framework did not start on %s:\n%s", addr, out.String())
		}
	}
}

// waitHTTP polls url until it answers (any status); false if the process
// exits first. Bounded at 30 s.
func waitHTTP(t *testing.T, url string, exited <-chan struct{}) bool {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(url + "/"); err == nil {
			resp.Body.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-deadline:
			t.Fatalf("no answer from %s within 30 s", url)
		case <-tick.C:
		}
	}
}

func TestGCFFunctionsFramework(t *testing.T) {
	base := startFunctionsFramework(t)
	g := &GCFInvoker{HTTPInvoker{
		MaxPayloadBytes: 4096,
		LookupEnv: func(k string) (string, bool) {
			return map[string]string{"GCP_ID_TOKEN": "id-token"}[k], k == "GCP_ID_TOKEN"
		},
	}}
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	check := func(c eventCheck) []byte {
		b, _ := json.Marshal(c)
		return b
	}
	tests := []struct {
		name      string
		uri       string
		req       Request
		wantOut   string
		wantError string
		wantCause string
		wantErr   error
	}{
		{name: "HTTP function", uri: "gcf:" + base + "/echo#bearer_env=GCP_ID_TOKEN",
			req: Request{Input: []byte(`{"sku":"A-1"}`), Key: "e7/Reserve/1", Execution: "e7", State: "Reserve", Attempt: 1, TraceParent: tp},
			wantOut: `{"body":{"sku":"A-1"},"headers":{"Authorization":"Bearer id-token","Content-Type":"application/json",` +
				`"Idempotency-Key":"e7/Reserve/1","Nexus-Attempt":"1","Nexus-Execution":"e7","Nexus-Function":"reserve","Nexus-State":"Reserve",` +
				`"Traceparent":"` + tp + `"},"method":"POST","query":""}`},
		{name: "HTTP function naming its error", uri: "gcf:" + base + "/declined", wantError: "CardDeclined", wantCause: "card 4242 declined"},
		{name: "HTTP function panics", uri: "gcf:" + base + "/panic", wantError: ErrorHTTP5xx,
			wantCause: "HTTP 500 Internal Server Error (X-Google-Status: crash): A panic occurred during user function execution"},
		{name: "event function error", uri: "gcf:" + base + "/legacy-fail", req: Request{Input: []byte(`{"a":1}`)},
			wantError: ErrorHTTP5xx, wantCause: "(X-Google-Status: error): Function error: inventory service down"},
		{name: "HTTP function deadline", uri: "gcf:" + base + "/slow", req: Request{Timeout: 50 * time.Millisecond}, wantErr: context.DeadlineExceeded},
		{name: "CloudEvent function: attributes from the request", uri: "gcf:" + base + "/event#cloudevent",
			req: Request{Key: "e7/Reserve/2", Execution: "e 7", State: "Reserve", TraceParent: tp,
				Input: check(eventCheck{ID: "e7/Reserve/2", Type: DefaultCloudEventType, Source: "/nexus/executions/e%207", Subject: "Reserve", TraceParent: tp})},
			wantOut: `null`},
		{name: "CloudEvent function: type and source from the binding", uri: "gcf:" + base + "/event#cloudevent&type=com.example.reserve&source=//shop/orders",
			req:     Request{Key: "k-3", State: "Reserve", Input: check(eventCheck{ID: "k-3", Type: "com.example.reserve", Source: "//shop/orders", Subject: "Reserve"})},
			wantOut: `null`},
		{name: "CloudEvent function rejects wrong attributes", uri: "gcf:" + base + "/event#cloudevent",
			req:       Request{Key: "k-4", Input: check(eventCheck{ID: "something else"})},
			wantError: "HTTP.422", wantCause: `got {ID:k-4`},
		{name: "CloudEvent function chooses the status", uri: "gcf:" + base + "/event-throttled#cloudevent",
			req: Request{Key: "k-5", Input: []byte(`{}`)}, wantError: "HTTP.429", wantCause: "quota exceeded"},
		{name: "CloudEvent function error", uri: "gcf:" + base + "/event-fail#cloudevent",
			req: Request{Key: "k-6", Input: []byte(`{}`)}, wantError: ErrorHTTP5xx, wantCause: "HTTP 500 Internal Server Error"},
		{name: "input over limit", uri: "gcf:" + base + "/echo", req: Request{Input: []byte(`"` + strings.Repeat("x", 5000) + `"`)},
			wantError: ErrorDataLimitExceeded, wantCause: "the function was not called"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Function, tt.req.URI = "reserve", tt.uri
			resp, err := g.Invoke(context.Background(), tt.req)
			if tt.wantOut != "" && err == nil && resp.Error == "" {
				resp.Output = canonicalJSON(t, resp.Output)
			}
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, tt.wantErr)
		})
	}

	// Through a Registry, gcf: goes to the same invoker.
	var r Registry
	resp, err := r.Invoke(context.Background(), Request{Function: "f", URI: "gcf:" + base + "/echo", Input: []byte(`[true]`)})
	if err != nil || !strings.Contains(string(resp.Output), `"body":[true]`) {
		t.Errorf("Registry gcf: = %+v, %v", resp, err)
	}
}
