package server_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/server"
	"google.golang.org/protobuf/encoding/protojson"
)

// The failover test. Three nexus servers (processes of their own,
// cluster_test.go) share one PostgreSQL database. Clients start
// executions through the API of all three; every step calls an HTTP
// sink in the test that applies an effect once per idempotency key.
// When a third of the effects are applied, node 0 is killed with SIGKILL
// and stays dead: starts it was answering are retried on another node
// with the same id (starting is idempotent), and its executions are
// taken over by the other two once their lease runs out. Every execution
// must succeed with the right output, every call in the log must have
// been applied exactly once at the sink (a repeated call absorbed by its
// idempotency key), no effect may be applied that the log does not
// have, and the log must verify.

var failoverExecs = flag.Int("failover.executions", 150, "executions in TestKillNodeUnderLoad")

// failoverWorkflow is the load of the engine's crash tests
// (../engine/testdata/sink-load.yaml: eight calls to the sink, nine when F
// is retried) bound to the sink at url.
func failoverWorkflow(t *testing.T, url string) string {
	t.Helper()
	return strings.ReplaceAll(readFile(t, "../engine/testdata/sink-load.yaml"), "SINK", url)
}

func failoverOutput(i int) string {
	return fmt.Sprintf(`{"a":{"s":"A"},"f":{"s":"F"},"id":%d,"items":[1,2,3],"mapped":[{"s":"Item"},{"s":"Item"},{"s":"Item"}],`+
		`"par":[{"s":"B1"},{"s":"B2"}],"z":{"s":"Z"}}`, i)
}

// effectSink applies the first request of each idempotency key and
// answers a repeat with the first answer, applying nothing.
type effectSink struct {
	mu      sync.Mutex
	applied map[string]int
	calls   int
	answers map[string][2]string // status, body
	onApply func(applied int)
}

func (s *effectSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.calls++
	a, ok := s.answers[key]
	if !ok {
		s.applied[key]++
		a = [2]string{"200", fmt.Sprintf(`{"s":%q}`, r.Header.Get("Nexus-State"))}
		// One execution in ten fails its first attempt at F (rare enough
		// not to open the function's circuit breaker).
		if r.URL.Path == "/flaky" && r.Header.Get("Nexus-Attempt") == "1" && strings.HasSuffix(r.Header.Get("Nexus-Execution"), "0") {
			a = [2]string{"503", "try again"}
		}
		s.answers[key] = a
	}
	applied := len(s.applied)
	s.mu.Unlock()
	if s.onApply != nil {
		s.onApply(applied)
	}
	w.Header().Set("Content-Type", "application/json")
	if a[0] == "503" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	io.WriteString(w, a[1])
}

func TestKillNodeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the failover test starts and kills processes")
	}
	t.Parallel()
	db := pgtest.Schema(t)
	n := *failoverExecs
	const nodes, clients = 3, 6
	third := make(chan struct{})
	var once sync.Once
	sink := &effectSink{applied: map[string]int{}, answers: map[string][2]string{}, onApply: func(applied int) {
		if applied >= n*8/3 {
			once.Do(func() { close(third) })
		}
	}}
	hs := httptest.NewServer(sink)
	defer hs.Close()

	meta, err := server.OpenMeta(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := meta.CreateToken(ctxT(t), "load", "test")
	meta.Close()
	if err != nil {
		t.Fatal(err)
	}
	const lease = 2 * time.Second
	cl := newCluster(t, db, nodes, lease)
	if _, err := bearerClient(cl.url(ctxT(t), 0), tok).DeployWorkflow(ctxT(t), connect.NewRequest(&nexusv1.DeployWorkflowRequest{
		File: "sink-load.yaml", Source: failoverWorkflow(t, hs.URL)})); err != nil {
		t.Fatal(err)
	}

	// The load: clients start the executions through the three nodes in
	// turn; a start that gets no answer is made again, same id, on the
	// next node.
	t0 := time.Now()
	var wg sync.WaitGroup
	var retried sync.Map
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				id := fmt.Sprintf("x%04d", i)
				for try, node := 0, i%nodes; ; try, node = try+1, (node+1)%nodes {
					if try > 3*nodes {
						t.Errorf("start %s: no node answered", id)
						return
					}
					url, up := cl.urlNow(node)
					if !up {
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := bearerClient(url, tok).StartExecution(ctx, connect.NewRequest(&nexusv1.StartExecutionRequest{
						Workflow: "sink-load", ExecutionId: id, Input: value(t, fmt.Sprintf(`{"id":%d,"items":[1,2,3]}`, i))}))
					cancel()
					if err == nil {
						break
					}
					switch connect.CodeOf(err) {
					case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeCanceled, connect.CodeDeadlineExceeded:
						retried.Store(id, true)
						continue
					}
					t.Errorf("start %s on node %d: %v", id, node, err)
					return
				}
			}
		})
	}
	select {
	case <-third:
	case <-time.After(2 * time.Minute):
		t.Fatal("a third of the effects were not applied within 2 minutes")
	}
	cl.kill(0)
	killed := time.Now()
	sink.mu.Lock()
	atKill := len(sink.applied)
	sink.mu.Unlock()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Every execution ends, read through a surviving node.
	c1 := bearerClient(cl.url(ctxT(t), 1), tok)
	deadline := time.Now().Add(2 * time.Minute)
	for i := range n {
		id := fmt.Sprintf("x%04d", i)
		var x *nexusv1.Execution
		for x == nil || !x.Terminal {
			if time.Now().After(deadline) {
				t.Fatalf("execution %s did not end within 2 minutes of the kill: %+v", id, x)
			}
			r, err := c1.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id, WaitMs: 10000}))
			if err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			x = r.Msg.Execution
		}
		out, _ := protojson.Marshal(x.Output)
		var got, want any
		json.Unmarshal(out, &got)
		json.Unmarshal([]byte(failoverOutput(i)), &want)
		if x.Status != "succeeded" || !reflect.DeepEqual(got, want) {
			t.Errorf("execution %s: %s %s %s %s", id, x.Status, out, x.Error, x.Cause)
		}
	}
	done := time.Since(killed)

	// Every logged call applied exactly once, nothing applied that is
	// not logged, the log intact.
	st, err := postgres.Open(ctxT(t), db, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logged := map[string]bool{}
	for i := range n {
		h, err := engine.History(ctxT(t), st, fmt.Sprintf("load/x%04d", i))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range h {
			if en.Command != nil && en.Command.Effect == model.Invoke {
				logged[en.Key] = true
			}
		}
	}
	sink.mu.Lock()
	bad := 0
	for k := range logged {
		if sink.applied[k] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("logged call %s applied %d times", k, sink.applied[k])
			}
		}
	}
	for k, c := range sink.applied {
		if c != 1 || !logged[k] {
			if bad++; bad <= 5 {
				t.Errorf("effect %s applied %d times, logged %v", k, c, logged[k])
			}
		}
	}
	calls, effects := sink.calls, len(sink.applied)
	sink.mu.Unlock()
	if want := n*8 + (n+9)/10; len(logged) != want {
		t.Errorf("%d calls logged, want %d", len(logged), want)
	}
	rep, err := store.Verify(ctxT(t), st, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("log verify: %v %v", err, rep.First())
	}
	var adopted int64
	for i := 1; i < nodes; i++ {
		adopted += cl.stop(i).Adopted
	}
	if adopted == 0 {
		t.Error("the survivors adopted none of the killed node's executions")
	}
	nRetried := 0
	retried.Range(func(any, any) bool { nRetried++; return true })
	t.Logf("%d nodes on PostgreSQL, %d executions started through the API (%d starts retried on another node); node 0 SIGKILLed after %.1fs with %d of %d effects applied",
		nodes, n, nRetried, killed.Sub(t0).Seconds(), atKill, n*8+(n+9)/10)
	t.Logf("the survivors adopted %d executions (lease %s); all %d succeeded %.1fs after the kill; %d calls for %d effects (%d repeats absorbed by idempotency keys), 0 lost, 0 duplicated; %d records verified",
		adopted, lease, n, done.Seconds(), calls, effects, calls-effects, rep.Records)
}
