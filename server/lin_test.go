package server_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
	"github.com/nexus-workflows/nexus/server"
)

// The linearizability test: concurrent clients start, complete, cancel
// and read executions through the API of one node on SQLite, and of three
// nodes on PostgreSQL, each node a process of its own (cluster_test.go)
// killed with SIGKILL and restarted while they do. Each history (the
// operations of a few clients on a few executions) is checked with
// porcupine against a model of an execution. Several histories run at
// once, and a node is killed during each such cycle.
//
// go test ./server -run TestLinearizable -lin.histories 1000 runs longer.

var (
	linHistories = flag.Int("lin.histories", 100, "linearizability: histories to check per configuration (1 node on SQLite, 3 on PostgreSQL)")
	linParallel  = flag.Int("lin.parallel", 8, "linearizability: histories run at once")
	linClients   = flag.Int("lin.clients", 3, "linearizability: concurrent clients per history")
	linOps       = flag.Int("lin.ops", 10, "linearizability: operations per client per history")
	linKillEvery = flag.Int("lin.kill-every", 1, "linearizability: kill and restart a node in one cycle out of this many (0: never)")
	linVisualize = flag.String("lin.visualize", "", "linearizability: write the HTML visualization of a violating history here")
)

// An operation on one execution, as porcupine sees it.
type linInput struct {
	Op  string // start, read, complete, cancel
	Key string
}

type linOutput struct {
	Unknown bool   // the call failed without an answer: it may or may not have happened
	Code    string // "" ok, or the connect code
	Created bool   // start
	Status  string // read: the status, "notfound"
}

// linState is an execution as the model sees it: whether it exists, its
// status, and whether a completion or cancellation was accepted (either
// may take effect any time after, the first one accepted and applied
// decides).
type linState struct {
	Exists     bool
	Status     string
	Completed  bool
	Cancelled  bool
	Terminated bool
}

// advance returns s and the states it can reach on its own: a running
// execution ends once a completion or cancellation was accepted.
func (s linState) advance() []linState {
	out := []linState{s}
	if s.Exists && !s.Terminated {
		if s.Completed {
			out = append(out, linState{Exists: true, Status: "succeeded", Completed: true, Cancelled: s.Cancelled, Terminated: true})
		}
		if s.Cancelled {
			out = append(out, linState{Exists: true, Status: "cancelled", Completed: s.Completed, Cancelled: true, Terminated: true})
		}
	}
	return out
}

var linModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).Key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []any { return []any{linState{}} },
	Step: func(state, input, output any) []any {
		in, out := input.(linInput), output.(linOutput)
		var next []any
		for _, s := range state.(linState).advance() {
			switch in.Op {
			case "start":
				switch {
				case !s.Exists && (out.Unknown || out.Code == "" && out.Created):
					next = append(next, linState{Exists: true, Status: "running"})
					if out.Unknown {
						next = append(next, s)
					}
				case s.Exists && (out.Unknown || out.Code == "" && !out.Created):
					next = append(next, s)
				}
			case "read":
				if (!s.Exists && out.Status == "notfound") || (s.Exists && out.Status == s.Status) {
					next = append(next, s)
				}
			case "complete", "cancel":
				ok := s
				if in.Op == "complete" {
					ok.Completed = true
				} else {
					ok.Cancelled = true
				}
				switch {
				case out.Unknown:
					next = append(next, s)
					if s.Exists && !s.Terminated {
						next = append(next, ok)
					}
				case out.Code == "" && s.Exists && !s.Terminated:
					next = append(next, ok)
				case out.Code == connect.CodeFailedPrecondition.String() && s.Terminated:
					next = append(next, s)
				case out.Code == connect.CodeNotFound.String() && !s.Exists:
					next = append(next, s)
				}
			}
		}
		return next
	},
	Equal: func(a, b any) bool { return a.(linState) == b.(linState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch {
		case out.Unknown:
			return fmt.Sprintf("%s(%s) → ?", in.Op, in.Key)
		case out.Code != "":
			return fmt.Sprintf("%s(%s) → %s", in.Op, in.Key, out.Code)
		case in.Op == "start":
			return fmt.Sprintf("start(%s) → created=%v", in.Key, out.Created)
		case in.Op == "read":
			return fmt.Sprintf("read(%s) → %s", in.Key, out.Status)
		}
		return fmt.Sprintf("%s(%s) → ok", in.Op, in.Key)
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		if !s.Exists {
			return "none"
		}
		return fmt.Sprintf("%s c=%v x=%v", s.Status, s.Completed, s.Cancelled)
	},
}

// tokenSink is the callback function: it records the task token each
// execution's step hands out.
type tokenSink struct {
	mu     sync.Mutex
	tokens map[string]string
}

func (s *tokenSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokens[r.Header.Get("Nexus-Execution")] = r.Header.Get("Nexus-Task-Token")
	s.mu.Unlock()
	w.Write([]byte(`{}`))
}

func (s *tokenSink) token(exec string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[exec]
}

// TestLinearizable1Node: one node on SQLite, killed and restarted.
func TestLinearizable1Node(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the linearizability test starts and kills processes")
	}
	t.Parallel()
	runLin(t, filepath.Join(t.TempDir(), "nexus.db"), 1, 0)
}

// TestLinearizable3Nodes: three nodes on PostgreSQL; one at a time is
// killed and restarted, the executions it ran taken over by the others
// once their lease runs out.
func TestLinearizable3Nodes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the linearizability test starts and kills processes")
	}
	t.Parallel()
	runLin(t, pgtest.Schema(t), 3, 2*time.Second)
}

func runLin(t *testing.T, db string, nodes int, lease time.Duration) {
	meta, err := server.OpenMeta(ctxT(t), db)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := meta.CreateToken(ctxT(t), "lin", "test")
	meta.Close()
	if err != nil {
		t.Fatal(err)
	}
	sink := &tokenSink{tokens: map[string]string{}}
	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sinkSrv := &http.Server{Handler: sink}
	go sinkSrv.Serve(sinkLn)
	defer sinkSrv.Close()

	cl := newCluster(t, db, nodes, lease)
	c0 := bearerClient(cl.url(ctxT(t), 0), tok)
	if _, err := c0.DeployWorkflow(ctxT(t), connect.NewRequest(&nexusv1.DeployWorkflowRequest{File: "lin.yaml", Source: `version: "1.0"
name: lin
functions: {approve: {uri: "http://` + sinkLn.Addr().String() + `/approve"}}
states:
- {name: Approve, action: approve, callback: true, timeout: 1h, end: true}
`})); err != nil {
		t.Fatal(err)
	}

	var ops, unknown, kills int
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	began := time.Now()
	perCycle := max(*linParallel, 1)
	for first := 0; first < *linHistories; first += perCycle {
		cycle := first / perCycle
		n := min(perCycle, *linHistories-first)
		histories := make([][]porcupine.Operation, n)
		var mu sync.Mutex
		var wg sync.WaitGroup
		// The node dies once a random number of this cycle's operations
		// were made.
		var made atomic.Int64
		killAt := int64(rng.IntN(max(n**linClients**linOps/2, 1)))
		killNow := make(chan struct{})
		var killOnce sync.Once
		for h := range n {
			keys := []string{fmt.Sprintf("h%d-a", first+h), fmt.Sprintf("h%d-b", first+h), fmt.Sprintf("h%d-c", first+h)}
			for client := range *linClients {
				seed := rng.Uint64()
				wg.Go(func() {
					r := rand.New(rand.NewPCG(seed, uint64(client)))
					for range *linOps {
						in := linInput{Key: keys[r.IntN(len(keys))]}
						switch p := r.IntN(10); {
						case p < 3:
							in.Op = "start"
						case p < 6:
							in.Op = "read"
						case p < 8:
							in.Op = "complete"
						default:
							in.Op = "cancel"
						}
						// A node that is down is waited for (its
						// restart), not called.
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						url := cl.url(ctx, r.IntN(nodes))
						cancel()
						if url == "" {
							t.Error("no node came up within a minute")
							return
						}
						op, keep := linCall(bearerClient(url, tok), sink, in)
						if made.Add(1) == killAt {
							killOnce.Do(func() { close(killNow) })
						}
						if !keep {
							continue
						}
						op.ClientId = h*(*linClients) + client
						mu.Lock()
						histories[h] = append(histories[h], op)
						mu.Unlock()
					}
				})
			}
		}
		if *linKillEvery > 0 && cycle%*linKillEvery == 0 {
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-killNow:
			case <-done:
			}
			victim := rng.IntN(nodes)
			cl.kill(victim)
			kills++
			cl.restart(victim)
		}
		wg.Wait()
		// Operations whose outcome is unknown may take effect until the
		// end of the history.
		end := time.Now().UnixNano()
		for h, history := range histories {
			for i := range history {
				if history[i].Output.(linOutput).Unknown {
					history[i].Return = end
					unknown++
				}
			}
			ops += len(history)
			res, info := porcupine.CheckOperationsVerbose(linModel.ToModel(), history, 30*time.Second)
			if res != porcupine.Ok {
				if *linVisualize != "" {
					porcupine.VisualizePath(linModel.ToModel(), info, *linVisualize)
				}
				for _, op := range history {
					t.Logf("client %d [%d, %d] %s", op.ClientId, op.Call, op.Return, linModel.DescribeOperation(op.Input, op.Output))
				}
				t.Fatalf("history %d is not linearizable (%s); -lin.visualize FILE draws it", first+h, res)
			}
		}
		// End the cycle's executions, so that restarts do not resume
		// ever more of them.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c0 := bearerClient(cl.url(ctx, 0), tok)
		for h := range n {
			for _, k := range []string{"a", "b", "c"} {
				c0.CancelExecution(ctx, connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: fmt.Sprintf("h%d-%s", first+h, k)}))
			}
		}
		cancel()
	}
	t.Logf("%d node(s): %d histories, %d operations (%d with unknown outcome), %d kills: 0 violations (%s)",
		nodes, *linHistories, ops, unknown, kills, time.Since(began).Round(time.Millisecond))
}

// linCall performs one operation and records it; keep is false for an
// operation that was not made (a completion without a token yet) or a
// failed read.
func linCall(c nexusv1connect.NexusServiceClient, sink *tokenSink, in linInput) (porcupine.Operation, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var tok string
	if in.Op == "complete" {
		if tok = sink.token("lin/" + in.Key); tok == "" {
			return porcupine.Operation{}, false
		}
	}
	op := porcupine.Operation{Input: in, Call: time.Now().UnixNano()}
	var out linOutput
	var err error
	switch in.Op {
	case "start":
		var r *connect.Response[nexusv1.StartExecutionResponse]
		r, err = c.StartExecution(ctx, connect.NewRequest(&nexusv1.StartExecutionRequest{Workflow: "lin", ExecutionId: in.Key}))
		if err == nil {
			out.Created = r.Msg.Created
		}
	case "read":
		var r *connect.Response[nexusv1.GetExecutionResponse]
		r, err = c.GetExecution(ctx, connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: in.Key}))
		if err == nil {
			out.Status = r.Msg.Execution.Status
		} else if connect.CodeOf(err) == connect.CodeNotFound {
			out.Status, err = "notfound", nil
		}
	case "complete":
		_, err = c.CompleteTask(ctx, connect.NewRequest(&nexusv1.CompleteTaskRequest{Token: tok}))
	case "cancel":
		_, err = c.CancelExecution(ctx, connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: in.Key}))
	}
	op.Return = time.Now().UnixNano()
	if err != nil {
		switch code := connect.CodeOf(err); code {
		case connect.CodeFailedPrecondition, connect.CodeNotFound:
			out.Code = code.String()
		default:
			// No answer (the node died, or was down): unknown.
			if in.Op == "read" {
				return op, false
			}
			out.Unknown = true
		}
	}
	op.Output = out
	return op, true
}
