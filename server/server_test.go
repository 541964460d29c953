package server_test

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/server"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// node is a server started by a test on 127.0.0.1, with its database.
type node struct {
	t      *testing.T
	dir    string
	st     *store.SQLite
	meta   *server.Meta
	srv    *server.Server
	url    string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode opens (or reopens) the database in dir and serves it.
func startNode(t *testing.T, dir string, opts server.Options) *node {
	t.Helper()
	n := &node{t: t, dir: dir, logs: &syncBuffer{}}
	path := filepath.Join(dir, "nexus.db")
	var err error
	if n.st, err = store.OpenSQLite(path, store.SQLiteOptions{Synchronous: "NORMAL"}); err != nil {
		t.Fatal(err)
	}
	if n.meta, err = server.OpenMetaSQLite(path); err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Meta = n.st, n.meta
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if n.srv, err = server.New(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() {
		n.done <- server.Serve(ctx, n.srv.Handler(), server.ServeOptions{Addr: "127.0.0.1:0", Ready: func(a net.Addr) { ready <- a }})
	}()
	select {
	case a := <-ready:
		n.url = "http://" + a.String()
	case err := <-n.done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(n.stop)
	return n
}

// stop shuts the node down (idempotent).
func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		n.t.Errorf("serve: %v", err)
	}
	n.cancel = nil
	n.srv.Close()
	n.meta.Close()
	n.st.Close()
}

// token makes a token of namespace ns.
func (n *node) token(ns string) string {
	n.t.Helper()
	tok, _, err := n.meta.CreateToken(context.Background(), ns, "test")
	if err != nil {
		n.t.Fatal(err)
	}
	return tok
}

// client is a JSON client with token (gRPC with grpc set).
func (n *node) client(token string, opts ...connect.ClientOption) nexusv1connect.NexusServiceClient {
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	})
	opts = append([]connect.ClientOption{connect.WithProtoJSON(), connect.WithInterceptors(auth)}, opts...)
	return nexusv1connect.NewNexusServiceClient(http.DefaultClient, n.url, opts...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func value(t *testing.T, js string) *structpb.Value {
	t.Helper()
	v := &structpb.Value{}
	if err := v.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return v
}

func deploy(t *testing.T, c nexusv1connect.NexusServiceClient, file, src string, binds map[string]string, force bool) (*nexusv1.DeployWorkflowResponse, error) {
	t.Helper()
	// One execution: the verdicts are decided on its graph; the product
	// of two only counts states, slowly under the race detector.
	resp, err := c.DeployWorkflow(ctxT(t), connect.NewRequest(&nexusv1.DeployWorkflowRequest{Source: src, File: file, Bindings: binds, Force: force,
		Check: &nexusv1.CheckOptions{Instances: 1}}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func mustDeploy(t *testing.T, c nexusv1connect.NexusServiceClient, file, src string, binds map[string]string) *nexusv1.WorkflowVersion {
	t.Helper()
	r, err := deploy(t, c, file, src, binds, false)
	if err != nil {
		t.Fatalf("deploy %s: %v", file, err)
	}
	return r.Version
}

func start(t *testing.T, c nexusv1connect.NexusServiceClient, wf, id, input string) (*nexusv1.StartExecutionResponse, error) {
	t.Helper()
	req := &nexusv1.StartExecutionRequest{Workflow: wf, ExecutionId: id}
	if input != "" {
		req.Input = value(t, input)
	}
	resp, err := c.StartExecution(ctxT(t), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func wait(t *testing.T, c nexusv1connect.NexusServiceClient, id string) *nexusv1.Execution {
	t.Helper()
	resp, err := c.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id, WaitMs: 30000}))
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	if !resp.Msg.Execution.Terminal {
		h, _ := c.GetHistory(ctxT(t), connect.NewRequest(&nexusv1.GetHistoryRequest{ExecutionId: id}))
		for _, e := range h.Msg.Entries {
			t.Log(e.Seq, e.Type, e.State, e.Error, e.Detail)
		}
		t.Fatalf("execution %s did not end within 30s: %s", id, resp.Msg.Execution.Status)
	}
	return resp.Msg.Execution
}

func wantCode(t *testing.T, err error, code connect.Code, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("%s: %v (code %s), want %s", what, err, got, code)
	}
}

const paymentFile = "../corpus/examples/payment-reconciliation-fixed.yaml"

// TestExecutionLifecycle deploys a workflow, starts executions through
// the JSON API, and reads them back: status, output, trace, history,
// listing with filters and pages; starting an id again is idempotent.
func TestExecutionLifecycle(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{})
	c := n.client(n.token("team-a"))
	binds := bindingsOf(t, paymentFile)
	v := mustDeploy(t, c, "payment.yaml", readFile(t, paymentFile), binds)
	if v.Version != 1 || v.Verification.GetVerdict() != "holds" || v.Verification.Forced || len(v.Digest) != 64 {
		t.Fatalf("deployed %+v", v)
	}
	before := time.Now()
	r, err := start(t, c, v.Name, "pay-1", `{"transferId": "t-1", "amount": 42}`)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Created || r.Execution.Id != "pay-1" || r.Execution.Digest != v.Digest || r.Execution.Version != 1 {
		t.Fatalf("start: %+v", r)
	}
	x := wait(t, c, "pay-1")
	if x.Status != "succeeded" || x.Output.GetStructValue().GetFields()["transferId"].GetStringValue() != "t-1" {
		t.Fatalf("execution: %+v", x)
	}
	if x.Input.GetStructValue().GetFields()["amount"].GetNumberValue() != 42 {
		t.Fatalf("input: %v", x.Input)
	}
	// The same start again: the same execution, not a new one.
	r2, err := start(t, c, v.Name, "pay-1", `{"amount": 42, "transferId": "t-1"}`)
	if err != nil || r2.Created || r2.Execution.Status != "succeeded" {
		t.Fatalf("start again: %+v, %v", r2, err)
	}
	_, err = start(t, c, v.Name, "pay-1", `{"transferId": "t-2", "amount": 42}`)
	wantCode(t, err, connect.CodeAlreadyExists, "start pay-1 with another input")
	_, err = start(t, c, v.Name, "bad id!", `{}`)
	wantCode(t, err, connect.CodeInvalidArgument, "start with a bad id")
	_, err = start(t, c, "no-such-workflow", "", `{}`)
	wantCode(t, err, connect.CodeNotFound, "start an unknown workflow")

	tr, err := c.GetTrace(ctxT(t), connect.NewRequest(&nexusv1.GetTraceRequest{ExecutionId: "pay-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Msg.Trace.Steps) < 3 || tr.Msg.Trace.Steps[0].Kind != "call" || tr.Msg.Trace.Steps[0].Outcome != "succeeded" ||
		tr.Msg.Trace.Steps[0].Input == nil || tr.Msg.Trace.Steps[0].Output == nil || tr.Msg.Trace.Steps[0].Attempt != 1 ||
		tr.Msg.Trace.RootCause != -1 || tr.Msg.Trace.Workflow != v.Name {
		t.Fatalf("trace: %+v", tr.Msg.Trace)
	}
	h, err := c.GetHistory(ctxT(t), connect.NewRequest(&nexusv1.GetHistoryRequest{ExecutionId: "pay-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(h.Msg.Entries)) != x.Records || h.Msg.Entries[0].Type != "start" || h.Msg.Entries[0].Detail == nil {
		t.Fatalf("history: %d entries (want %d), first %+v", len(h.Msg.Entries), x.Records, h.Msg.Entries[0])
	}

	// Listing: more executions, a failed one, filters and pages.
	for i := 2; i <= 5; i++ {
		if _, err := start(t, c, v.Name, fmt.Sprintf("pay-%d", i), `{"transferId": "t", "amount": 1}`); err != nil {
			t.Fatal(err)
		}
		wait(t, c, fmt.Sprintf("pay-%d", i))
	}
	list := func(req *nexusv1.ListExecutionsRequest) *nexusv1.ListExecutionsResponse {
		t.Helper()
		resp, err := c.ListExecutions(ctxT(t), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg
	}
	all := list(&nexusv1.ListExecutionsRequest{Workflow: v.Name})
	if len(all.Executions) != 5 || all.Executions[0].Id != "pay-5" || all.Executions[4].Id != "pay-1" || all.NextPageToken != "" {
		t.Fatalf("list: %d executions, first %s", len(all.Executions), all.Executions[0].Id)
	}
	var paged []string
	req := &nexusv1.ListExecutionsRequest{PageSize: 2}
	for {
		p := list(req)
		for _, x := range p.Executions {
			paged = append(paged, x.Id)
		}
		if p.NextPageToken == "" {
			break
		}
		req.PageToken = p.NextPageToken
	}
	if strings.Join(paged, ",") != "pay-5,pay-4,pay-3,pay-2,pay-1" {
		t.Fatalf("pages: %v", paged)
	}
	if got := list(&nexusv1.ListExecutionsRequest{Status: []string{"failed"}}); len(got.Executions) != 0 {
		t.Fatalf("failed executions: %d", len(got.Executions))
	}
	if got := list(&nexusv1.ListExecutionsRequest{Status: []string{"succeeded"}}); len(got.Executions) != 5 {
		t.Fatalf("succeeded executions: %d", len(got.Executions))
	}
	if got := list(&nexusv1.ListExecutionsRequest{CreatedBefore: timestampOf(before)}); len(got.Executions) != 0 {
		t.Fatalf("executions before the first start: %d", len(got.Executions))
	}
	if got := list(&nexusv1.ListExecutionsRequest{CreatedAfter: timestampOf(before)}); len(got.Executions) != 5 {
		t.Fatalf("executions after: %d", len(got.Executions))
	}
	_, err = c.ListExecutions(ctxT(t), connect.NewRequest(&nexusv1.ListExecutionsRequest{Status: []string{"finished"}}))
	wantCode(t, err, connect.CodeInvalidArgument, "list with an unknown status")

	g, err := c.GetWorkflowGraph(ctxT(t), connect.NewRequest(&nexusv1.GetWorkflowGraphRequest{Name: v.Name, ExecutionId: "pay-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(g.Msg.Svg, "<svg") || !strings.Contains(g.Msg.Svg, "call #1 succeeded") {
		t.Fatalf("graph of an execution: %.300s", g.Msg.Svg)
	}
	wl, err := c.ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
	if err != nil || len(wl.Msg.Workflows) != 1 || wl.Msg.Workflows[0].Latest.Verification.GetVerdict() != "holds" {
		t.Fatalf("list workflows: %+v, %v", wl, err)
	}
}

// bindingsOf reads a workflow's sidecar bindings file (a flat map).
func bindingsOf(t *testing.T, file string) map[string]string {
	t.Helper()
	side := strings.TrimSuffix(file, ".yaml") + ".bindings.yaml"
	out := map[string]string{}
	for _, line := range strings.Split(readFile(t, side), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out
}

// errorsAs is errors.As for a connect error.
func asConnect(err error) *connect.Error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

func httpDo(t *testing.T, method, url, token, contentType string, body io.Reader, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func timestampOf(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
