package server_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/server"
)

// TestSubWorkflow: a step bound to workflow:NAME runs the latest version
// of NAME in the caller's namespace as a child execution, listed with the
// namespace's executions; another namespace's workflow of that name is
// not found.
func TestSubWorkflow(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{})
	a := n.client(n.token("team-a"))
	b := n.client(n.token("team-b"))
	child := "version: \"1.0\"\nname: enrich\nstates:\n- {name: Mark, type: pass, result: enriched, result_path: $.note, end: true}\n"
	parent := "version: \"1.0\"\nname: pipeline\nfunctions:\n  enrich: {uri: \"workflow:enrich\"}\n" +
		"states:\n- name: Enrich\n  workflow: enrich\n  catch: [{errors: [States.ALL], result_path: $.error, next: Failed}]\n  end: true\n" +
		"- {name: Failed, type: fail, error: Child.Missing}\n"
	mustDeploy(t, a, "enrich.yaml", child, nil)
	mustDeploy(t, a, "pipeline.yaml", parent, nil)
	if _, err := start(t, a, "pipeline", "p-1", `{"order": 7}`); err != nil {
		t.Fatal(err)
	}
	x := wait(t, a, "p-1")
	note := x.Output.GetStructValue().GetFields()["note"].GetStringValue()
	if x.Status != "succeeded" || note != "enriched" {
		t.Fatalf("parent: %s, output %v", x.Status, x.Output)
	}
	list, err := a.ListExecutions(ctxT(t), connect.NewRequest(&nexusv1.ListExecutionsRequest{Workflow: "enrich"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Msg.Executions) != 1 || !strings.HasPrefix(list.Msg.Executions[0].Id, "p-1.child-") ||
		list.Msg.Executions[0].Status != "succeeded" {
		t.Fatalf("child executions: %+v", list.Msg.Executions)
	}

	// team-b deploys the parent without a child of its own: the step
	// fails, and the catch takes it.
	mustDeploy(t, b, "pipeline.yaml", parent, nil)
	if _, err := start(t, b, "pipeline", "p-1", `{"order": 7}`); err != nil {
		t.Fatal(err)
	}
	if x := wait(t, b, "p-1"); x.Status != "failed" || x.Error != "Child.Missing" {
		t.Fatalf("team-b parent: %s %s %s", x.Status, x.Error, x.Cause)
	}
}
