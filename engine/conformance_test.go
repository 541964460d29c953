package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
	"github.com/nexus-workflows/nexus/model/expr"
	"github.com/nexus-workflows/nexus/model/testrun"
)

// TestConformanceVectors runs every vector of the shared corpus through
// the durable engine (SQLite log, virtual clock) and checks that the
// outcome (status, output, error, cause) is identical to the in-memory
// runner's, the one nexus test uses, whether that passes the vector or
// not. Tasks follow the corpus convention through an in-process function.
func TestConformanceVectors(t *testing.T) {
	root := "../../shared/corpus"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("shared corpus not found at %s (it is not part of the repository)", root)
	}
	var files []string
	for _, dir := range []string{"vectors", "aws-recorded"} {
		fs, _ := filepath.Glob(filepath.Join(root, dir, "*.json"))
		files = append(files, fs...)
	}
	// The task function of the vector being run.
	var mu sync.Mutex
	var vec *testrun.Vector
	counts := map[string]int{}
	task := func(_ context.Context, req invoke.Request) (invoke.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := vec.Failures[req.State]; ok && (f.Times == nil || counts[req.State] < *f.Times) {
			counts[req.State]++
			return invoke.Response{Error: f.Error, Cause: f.Cause}, nil
		}
		in, err := expr.ParseJSON(string(req.Input))
		if err != nil {
			return invoke.Response{}, err
		}
		return invoke.Response{Output: []byte(expr.JSON(map[string]any{"echo": in, "task": req.State}))}, nil
	}
	clock := newVirtualClock(t0)
	h := newHarness(t, Options{Clock: clock, idle: func(string) { clock.advance() },
		// The in-memory runner has no circuit breaker; the vectors' tasks
		// that fail would open the breaker of the function they share.
		Breaker: BreakerPolicy{Failures: -1},
		// The in-memory runner's entropy, so that random values agree.
		seed: func(id *Identity, steps int, c model.Command) uint64 {
			h := fnv.New64a()
			fmt.Fprintf(h, "%s/%d/%d/%d", id.ExecutionName, steps, c.Thread, c.Decide)
			return h.Sum64()
		},
		Inline: map[string]invoke.Func{"vector:task": task},
		Parse:  asl.Import,
		Identity: func(exec string, m *model.Machine) Identity {
			sm := vec.Context.StateMachine.Name
			if sm == "" {
				sm = m.Name
				if sm == "" {
					sm = "StateMachine"
				}
			}
			name := vec.Context.Execution.Name
			if name == "" {
				name = "test"
			}
			return Identity{ExecutionID: "arn:aws:states:us-east-1:111111111111:execution:" + sm + ":" + name,
				ExecutionName: name, StateMachineID: "arn:aws:states:us-east-1:111111111111:stateMachine:" + sm,
				StateMachineName: sm, RoleArn: "arn:aws:iam::111111111111:role/nexus-test",
				Sync: vec.StartAPI == "start_sync_execution"}
		}})
	same, total, passing := 0, 0, 0
	for i, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, ok, err := testrun.ParseVector(src)
		if err != nil || !ok {
			continue
		}
		total++
		want, diff, err := testrun.RunVector(f, v)
		if err != nil {
			t.Logf("%s: in memory: %v", f, err)
			continue
		}
		if diff == "" {
			passing++
		}
		w, fs := asl.Import(f, v.Definition)
		if w == nil || fs.Errors() > 0 {
			t.Errorf("%s: import: %v", f, fs)
			continue
		}
		m, fs := model.Compile(w)
		if m == nil {
			t.Errorf("%s: compile: %v", f, fs)
			continue
		}
		binds := map[string]string{}
		for _, fn := range m.Functions {
			binds[fn] = "vector:task"
		}
		mu.Lock()
		vec, counts = v, map[string]int{}
		mu.Unlock()
		clock.set(t0)
		ctx, cancel := context.WithTimeout(bg, 20*time.Second)
		res, err := h.e.Run(ctx, &Workflow{File: f, Source: v.Definition, Machine: m, Bindings: binds}, v.Input,
			StartOptions{ID: fmt.Sprintf("v%04d", i)})
		cancel()
		if err != nil {
			t.Errorf("%s: durable engine: %v", f, err)
			continue
		}
		got := observed(res)
		if a, b := mustJSON(got), mustJSON(want); a != b {
			t.Errorf("%s:\n durable  %s\n memory   %s", f, a, b)
			continue
		}
		same++
	}
	if total < 700 {
		t.Errorf("only %d vectors", total)
	}
	t.Logf("%d of %d vectors give identical outcomes through the durable engine; %d pass in memory", same, total, passing)
	rep, err := store.Verify(bg, h.st, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.First())
	}
}

func observed(r *Result) testrun.Observed {
	switch r.Status {
	case model.Succeeded:
		out, _ := expr.ParseJSON(string(r.Output))
		return testrun.Observed{Status: "SUCCEEDED", Output: out}
	case model.Cancelled:
		return testrun.Observed{Status: "ABORTED"}
	case model.TimedOut:
		return testrun.Observed{Status: "TIMED_OUT"}
	}
	o := testrun.Observed{Status: "FAILED"}
	if !r.ErrorNull {
		o.Error = r.Error
	}
	if !r.CauseNull {
		o.Cause = r.Cause
	}
	return o
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
