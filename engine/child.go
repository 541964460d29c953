package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// ChildScheme is the binding scheme of a sub-workflow: a step whose
// action is bound to "workflow:NAME" runs the workflow NAME as a child
// execution of the same engine and completes with its ending.
const ChildScheme = "workflow:"

// children is the Invokers of an engine with Options.SubWorkflows:
// bindings with ChildScheme start a child execution; every other binding
// goes to next.
//
// The child's id is derived from the parent's execution id and the
// invocation's idempotency key, which the kernel keeps across a crash and
// re-issue: a parent resumed after a crash finds the child it had started
// (resuming it if no engine runs it) rather than starting a second one.
// A child that does not succeed fails the step with the child's error (or
// States.TaskFailed when it has none), so the parent's retry and catch
// rules apply.
type children struct {
	e      *Engine
	lookup func(parent, name string) (*Workflow, error)
	next   Invokers
}

// Check implements Invokers: a sub-workflow binding must name a workflow
// lookup accepts.
func (c *children) Check(uri string) error {
	name, ok := strings.CutPrefix(uri, ChildScheme)
	if !ok {
		return c.next.Check(uri)
	}
	if _, err := c.lookup("", name); err != nil {
		return fmt.Errorf("sub-workflow %s: %w", name, err)
	}
	return nil
}

// ChildID is the id of the child execution an invocation starts.
func ChildID(parent, key string) string {
	sum := sha256.Sum256([]byte(key))
	return parent + ".child-" + hex.EncodeToString(sum[:8])
}

// Invoke implements Invokers.
func (c *children) Invoke(ctx context.Context, req invoke.Request) (invoke.Response, error) {
	name, ok := strings.CutPrefix(req.URI, ChildScheme)
	if !ok {
		return c.next.Invoke(ctx, req)
	}
	wf, err := c.lookup(req.Execution, name)
	if err == nil && wf == nil {
		err = errors.New("no such workflow")
	}
	if err != nil {
		return invoke.Response{}, fmt.Errorf("sub-workflow %s: %w", name, err)
	}
	id := ChildID(req.Execution, req.Key)
	if _, err := c.e.Start(ctx, wf, req.Input, StartOptions{ID: id}); errors.Is(err, store.ErrExists) {
		// Started before a crash: continue it unless it is over or some
		// engine runs it already (Wait then reads its ending).
		_ = c.e.resume(ctx, id)
	} else if err != nil {
		return invoke.Response{}, fmt.Errorf("sub-workflow %s: %w", name, err)
	}
	res, err := c.e.Wait(ctx, id)
	if err != nil {
		return invoke.Response{}, fmt.Errorf("sub-workflow %s (execution %s): %w", name, id, err)
	}
	if res.Status == model.Succeeded {
		return invoke.Response{Output: res.Output}, nil
	}
	errName, cause := res.Error, res.Cause
	if errName == "" {
		errName = model.ErrTaskFailed
	}
	if cause == "" {
		cause = fmt.Sprintf("sub-workflow %s (execution %s) ended %s", name, id, res.Status)
	}
	return invoke.Response{Error: errName, Cause: cause}, nil
}
