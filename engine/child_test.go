package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

const childOK = `
version: "1.0"
name: child-ok
states:
  - name: Mark
    type: pass
    result: "from the child"
    result_path: $.note
    end: true
`

const childFails = `
version: "1.0"
name: child-fails
states:
  - name: Broke
    type: fail
    error: Child.Broke
    cause: the child cannot go on
`

const parent = `
version: "1.0"
name: parent
functions:
  sub: {uri: "workflow:%s"}
states:
  - name: CallChild
    workflow: sub
    catch: [{errors: [Child.Broke], result_path: $.error, next: Caught}]
    next: Done
  - {name: Done, type: succeed}
  - {name: Caught, type: pass, result: caught, result_path: $.handled, end: true}
`

// openChildren is a harness whose engine runs sub-workflows by name.
func openChildren(t *testing.T, wfs map[string]*Workflow) (*harness, Invokers) {
	t.Helper()
	h := newHarness(t, Options{SubWorkflows: func(_, name string) (*Workflow, error) {
		if wf := wfs[name]; wf != nil {
			return wf, nil
		}
		return nil, fmt.Errorf("no workflow %q", name)
	}})
	return h, h.e.inv
}

func TestSubWorkflow(t *testing.T) {
	wfs := map[string]*Workflow{"ok": compile(t, childOK), "fails": compile(t, childFails)}
	h, _ := openChildren(t, wfs)
	tests := []struct {
		child  string
		status model.Status
		want   []string
	}{
		{"ok", model.Succeeded, []string{`"note":"from the child"`, `"order":7`}},
		{"fails", model.Succeeded, []string{`"handled":"caught"`, `"Error":"Child.Broke"`, `the child cannot go on`}},
	}
	for _, tt := range tests {
		res := h.run(compile(t, fmt.Sprintf(parent, tt.child)), `{"order": 7}`)
		if res.Status != tt.status {
			t.Fatalf("%s: %+v", tt.child, res)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(res.Output), w) {
				t.Errorf("%s: output %s lacks %s", tt.child, res.Output, w)
			}
		}
		// The child is an execution of its own, under the derived id.
		hist, err := History(bg, h.st, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		var key string
		for _, en := range hist {
			if en.State == "CallChild" && en.Key != "" {
				key = en.Key
			}
		}
		row, err := h.st.Execution(bg, ChildID(res.ID, key))
		if err != nil || row.Status == model.Running.String() {
			t.Errorf("%s: child execution %s: %v %+v", tt.child, ChildID(res.ID, key), err, row)
		}
	}
	h.verify()
}

// TestSubWorkflowReissue: an invocation issued again with the same key —
// what the kernel does after a crash — finds the child it started rather
// than starting another.
func TestSubWorkflowReissue(t *testing.T) {
	h, c := openChildren(t, map[string]*Workflow{"ok": compile(t, childOK)})
	req := invoke.Request{Function: "sub", URI: "workflow:ok", Input: []byte(`{"n": 1}`), Key: "k-1", Execution: "p-1"}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	var outs []string
	for range 3 {
		resp, err := c.Invoke(ctx, req)
		if err != nil || resp.Error != "" {
			t.Fatalf("invoke: %v %+v", err, resp)
		}
		outs = append(outs, string(resp.Output))
	}
	if outs[0] != outs[1] || outs[1] != outs[2] || !strings.Contains(outs[0], "from the child") {
		t.Errorf("outputs differ or lack the child's: %q", outs)
	}
	rows, err := h.st.Executions(bg, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != ChildID("p-1", "k-1") {
		t.Errorf("executions %+v, want the one child", rows)
	}
	// A binding to an unknown workflow is refused before a run starts.
	if err := c.Check("workflow:none"); err == nil {
		t.Error("Check accepted an unknown sub-workflow")
	}
	if err := c.Check("https://example.com/fn"); err != nil {
		t.Errorf("Check of a plain binding: %v", err)
	}
}
