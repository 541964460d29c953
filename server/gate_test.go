package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/server"
)

// TestDeployGate: a workflow that violates an invariant is refused with
// its verdict; force registers it with the verdict recorded; an invalid
// one is refused whatever; a deploy of the same source is no new
// version; a running execution stays on the version it started with.
func TestDeployGate(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{Inline: map[string]invoke.Func{"go:hold": hold.fn}})
	c := n.client(n.token("team-a"))
	// An irreversible payment before a step that can fail.
	bug := `version: "1.0"
name: pay-then-ship
functions: {pay: {uri: "https://pay.example.com/charge"}, ship: {uri: "https://ship.example.com/ship"}}
states:
- {name: Pay, action: pay, mutates: true, irreversible: true, next: Ship}
- {name: Ship, action: ship, end: true}
`
	echo := map[string]string{"pay": "builtin:echo", "ship": "builtin:echo"}
	_, err := deploy(t, c, "bug.yaml", bug, echo, false)
	wantCode(t, err, connect.CodeFailedPrecondition, "deploy a violating workflow")
	v := server.VerificationOf(err)
	if v == nil || v.Verdict != "violated" || v.Forced {
		t.Fatalf("verification of the refusal: %+v", v)
	}
	var violated []string
	for _, r := range v.Results {
		if r.Verdict == "violated" {
			violated = append(violated, r.Invariant)
			if len(r.Violations) == 0 || r.Violations[0].Steps == 0 || r.Violations[0].Trace == nil {
				t.Fatalf("%s violated without a trace: %+v", r.Invariant, r.Violations)
			}
		}
	}
	if !strings.Contains(strings.Join(violated, ","), "MutationsCompensable") {
		t.Fatalf("violated: %v, want MutationsCompensable", violated)
	}
	if !strings.Contains(asConnect(err).Message(), "MutationsCompensable") {
		t.Fatalf("refusal message: %s", asConnect(err).Message())
	}
	wl, err := c.ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
	if err != nil || len(wl.Msg.Workflows) != 0 {
		t.Fatalf("a refused workflow was registered: %+v %v", wl, err)
	}

	// Forced: registered, the verdict recorded for everyone to see.
	r, err := deploy(t, c, "bug.yaml", bug, echo, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Created || !r.Version.Verification.Forced || r.Version.Verification.Verdict != "violated" {
		t.Fatalf("forced deploy: %+v", r.Version)
	}
	g, err := c.GetWorkflow(ctxT(t), connect.NewRequest(&nexusv1.GetWorkflowRequest{Name: r.Version.Name}))
	if err != nil || !g.Msg.Version.Verification.Forced || g.Msg.Version.Source != bug {
		t.Fatalf("get forced version: %+v %v", g, err)
	}
	svg, err := c.GetWorkflowGraph(ctxT(t), connect.NewRequest(&nexusv1.GetWorkflowGraphRequest{Name: r.Version.Name, Invariant: "MutationsCompensable"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg.Msg.Svg, "MutationsCompensable") || !strings.Contains(svg.Msg.Svg, "steps ") {
		t.Fatalf("counterexample graph: %.300s", svg.Msg.Svg)
	}

	// Invalid: never registered, force or not.
	_, err = deploy(t, c, "bad.yaml", "version: \"1.0\"\nname: bad\nstates:\n- name: A\n  next: Nowhere\n", nil, true)
	wantCode(t, err, connect.CodeInvalidArgument, "deploy an invalid workflow")
	if v := server.VerificationOf(err); v == nil || v.Verdict != "invalid" || len(v.Findings) == 0 || v.Findings[0].Line == 0 {
		t.Fatalf("invalid verification: %+v", v)
	}
	// A bad trigger is invalid too.
	_, err = deploy(t, c, "trig.yaml", holdWorkflow("trig")+"triggers:\n- {type: x, event: \"data.x >\"}\n", nil, false)
	wantCode(t, err, connect.CodeInvalidArgument, "deploy a bad CEL filter")
	// Unbound functions cannot run: refused at deploy, not at start.
	_, err = deploy(t, c, "unbound.yaml", "version: \"1.0\"\nname: unbound\nstates:\n- {name: A, action: nowhere, end: true}\n", nil, false)
	wantCode(t, err, connect.CodeInvalidArgument, "deploy an unbound function")

	// Versions; executions pinned to the digest they started with.
	v1 := mustDeploy(t, c, "hold.yaml", holdWorkflow("pinned"), nil)
	again := mustDeploy(t, c, "hold.yaml", holdWorkflow("pinned"), nil)
	if again.Version != 1 {
		t.Fatalf("the same source again made version %d", again.Version)
	}
	if _, err := start(t, c, "pinned", "run-1", `{}`); err != nil {
		t.Fatal(err)
	}
	tok := hold.token(t, "team-a/run-1")
	v2 := mustDeploy(t, c, "hold.yaml", holdWorkflow("pinned")+"# version 2\n", nil)
	if v2.Version != 2 || v2.Digest == v1.Digest {
		t.Fatalf("second version: %+v", v2)
	}
	if _, err := c.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tok, Output: value(t, `{"ok": true}`)})); err != nil {
		t.Fatal(err)
	}
	x := wait(t, c, "run-1")
	if x.Status != "succeeded" || x.Digest != v1.Digest || x.Version != 1 {
		t.Fatalf("run-1 after a new version: %+v", x)
	}
	vs, err := c.ListWorkflowVersions(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowVersionsRequest{Name: "pinned"}))
	if err != nil || len(vs.Msg.Versions) != 2 || vs.Msg.Versions[0].Version != 2 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
}

// holdWorkflow is a workflow whose one step waits for a callback.
func holdWorkflow(name string) string {
	return "version: \"1.0\"\nname: " + name + "\nfunctions:\n  hold: {uri: \"go:hold\"}\nstates:\n- {name: Wait, action: hold, callback: true, timeout: 1h, end: true}\n"
}

// holder is an in-process function that hands out task tokens: the
// latest token of each execution, waited for on a channel.
type holder struct {
	mu     sync.Mutex
	tokens map[string]string
	wake   chan struct{}
}

var hold = &holder{tokens: map[string]string{}, wake: make(chan struct{})}

func (h *holder) fn(ctx context.Context, req invoke.Request) (invoke.Response, error) {
	h.mu.Lock()
	h.tokens[req.Execution] = req.TaskToken
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
	return invoke.Response{}, nil
}

// token waits for the task token handed to execution exec.
func (h *holder) token(t *testing.T, exec string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		h.mu.Lock()
		tok, wake := h.tokens[exec], h.wake
		h.mu.Unlock()
		if tok != "" {
			return tok
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("no task token for %s", exec)
		}
	}
}

// TestNamespaces: a token sees its namespace only; calls without a valid
// token are refused, except /healthz and /openapi.json.
func TestNamespaces(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{Inline: map[string]invoke.Func{"go:hold": hold.fn}})
	ta, tb := n.token("team-a"), n.token("team-b")
	a, b := n.client(ta), n.client(tb)
	mustDeploy(t, a, "hold.yaml", holdWorkflow("secret-flow"), nil)
	if _, err := start(t, a, "secret-flow", "x1", `{}`); err != nil {
		t.Fatal(err)
	}
	tok := hold.token(t, "team-a/x1")

	_, err := b.GetWorkflow(ctxT(t), connect.NewRequest(&nexusv1.GetWorkflowRequest{Name: "secret-flow"}))
	wantCode(t, err, connect.CodeNotFound, "team-b reads team-a's workflow")
	_, err = start(t, b, "secret-flow", "x1", `{}`)
	wantCode(t, err, connect.CodeNotFound, "team-b starts team-a's workflow")
	_, err = b.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: "x1"}))
	wantCode(t, err, connect.CodeNotFound, "team-b reads team-a's execution")
	_, err = b.CancelExecution(ctxT(t), connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: "x1"}))
	wantCode(t, err, connect.CodeNotFound, "team-b cancels team-a's execution")
	_, err = b.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tok}))
	wantCode(t, err, connect.CodeNotFound, "team-b completes team-a's task")
	for _, c := range []struct {
		name string
		call func() (int, error)
	}{
		{"list workflows", func() (int, error) {
			r, err := b.ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
			if err != nil {
				return 0, err
			}
			return len(r.Msg.Workflows), nil
		}},
		{"list executions", func() (int, error) {
			r, err := b.ListExecutions(ctxT(t), connect.NewRequest(&nexusv1.ListExecutionsRequest{}))
			if err != nil {
				return 0, err
			}
			return len(r.Msg.Executions), nil
		}},
	} {
		if got, err := c.call(); err != nil || got != 0 {
			t.Fatalf("team-b %s: %d, %v", c.name, got, err)
		}
	}
	// team-a sees its own, and the same names are free in team-b.
	r, err := a.ListExecutions(ctxT(t), connect.NewRequest(&nexusv1.ListExecutionsRequest{}))
	if err != nil || len(r.Msg.Executions) != 1 || r.Msg.Executions[0].Id != "x1" {
		t.Fatalf("team-a's executions: %+v %v", r, err)
	}
	mustDeploy(t, b, "hold.yaml", holdWorkflow("secret-flow"), nil)
	if rb, err := start(t, b, "secret-flow", "x1", `{"b": 1}`); err != nil || !rb.Created {
		t.Fatalf("team-b's own x1: %+v %v", rb, err)
	}
	hold.token(t, "team-b/x1")

	// Without a (valid) token.
	_, err = n.client("").ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "no token")
	_, err = n.client("nexus_made-up").ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "a made-up token")
	if code, _ := httpDo(t, "GET", n.url+"/metrics", "", "", nil, nil); code != 401 {
		t.Fatalf("/metrics without a token: %d", code)
	}
	if code, body := httpDo(t, "GET", n.url+"/healthz", "", "", nil, nil); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	// A revoked token stops working (on a server that has not cached it).
	ts, err := n.meta.Tokens(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var idB string
	for _, tk := range ts {
		if tk.Namespace == "team-b" {
			idB = tk.ID
		}
	}
	if err := n.meta.RevokeToken(ctxT(t), idB); err != nil {
		t.Fatal(err)
	}
	n.stop()
	n2 := startNode(t, n.dir, server.Options{Inline: map[string]invoke.Func{"go:hold": hold.fn}})
	_, err = n2.client(tb).ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "a revoked token")
	if _, err := n2.client(ta).ListWorkflows(ctxT(t), connect.NewRequest(&nexusv1.ListWorkflowsRequest{})); err != nil {
		t.Fatalf("team-a after team-b's revocation: %v", err)
	}
}

// TestCompleteAndCancel: a callback step completed through the API; an
// execution cancelled; signals to an execution that is over refused.
func TestCompleteAndCancel(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{Inline: map[string]invoke.Func{"go:hold": hold.fn}})
	c := n.client(n.token("ops"))
	mustDeploy(t, c, "hold.yaml", holdWorkflow("approve"), nil)
	for _, id := range []string{"ok", "no", "stop"} {
		if _, err := start(t, c, "approve", id, `{"id": "`+id+`"}`); err != nil {
			t.Fatal(err)
		}
	}
	tokOK, tokNo := hold.token(t, "ops/ok"), hold.token(t, "ops/no")
	hold.token(t, "ops/stop")
	if _, err := c.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tokOK, Output: value(t, `{"approved": true}`)})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tokNo, Error: "Rejected", Cause: "no budget"})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelExecution(ctxT(t), connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: "stop", Cause: "changed my mind"})); err != nil {
		t.Fatal(err)
	}
	if x := wait(t, c, "ok"); x.Status != "succeeded" || x.Output.GetStructValue().GetFields()["approved"].GetBoolValue() != true {
		t.Fatalf("ok: %+v", x)
	}
	if x := wait(t, c, "no"); x.Status != "failed" || x.Error != "Rejected" || x.Cause != "no budget" {
		t.Fatalf("no: %+v", x)
	}
	if x := wait(t, c, "stop"); x.Status != "cancelled" {
		t.Fatalf("stop: %+v", x)
	}
	_, err := c.CancelExecution(ctxT(t), connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: "stop"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "cancel an execution that is over")
	_, err = c.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tokOK}))
	wantCode(t, err, connect.CodeFailedPrecondition, "complete a task of an execution that is over")
	_, err = c.CompleteTask(ctxT(t), connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: "nxt1.bogus.1.x"}))
	wantCode(t, err, connect.CodeInvalidArgument, "complete with a forged token")
	_, err = c.CancelExecution(ctxT(t), connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: "never-started"}))
	wantCode(t, err, connect.CodeNotFound, "cancel an unknown execution")
}
