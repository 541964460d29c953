package server_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/server"
)

// The linearizability test: concurrent clients start, complete, cancel
// and read executions through the API of a node (a process of its own)
// that is killed with SIGKILL and restarted while they do; each round's
// history is checked with porcupine against a model of an execution.
// Three nodes on PostgreSQL need the PostgreSQL store (NEXUS_TEST_POSTGRES).

var (
	linHistories = flag.Int("lin.histories", 200, "linearizability: histories (rounds) to check")
	linClients   = flag.Int("lin.clients", 3, "linearizability: concurrent clients")
	linOps       = flag.Int("lin.ops", 10, "linearizability: operations per client per round")
	linKillEvery = flag.Int("lin.kill-every", 3, "linearizability: kill and restart the node in one round out of this many")
	linVisualize = flag.String("lin.visualize", "", "linearizability: write the HTML visualization of a violating history here")
)

func TestMain(m *testing.M) {
	if os.Getenv("NEXUS_LIN_NODE") != "" {
		os.Exit(linNode())
	}
	os.Exit(m.Run())
}

// linNode is the body of a node process: serve NEXUS_LIN_DB on
// NEXUS_LIN_ADDR, print "ready", run until killed.
func linNode() int {
	path, addr := os.Getenv("NEXUS_LIN_DB"), os.Getenv("NEXUS_LIN_ADDR")
	st, err := store.OpenSQLite(path, store.SQLiteOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	meta, err := server.OpenMetaSQLite(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv, err := server.New(context.Background(), server.Options{Store: st, Meta: meta, PollInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = server.Serve(context.Background(), srv.Handler(), server.ServeOptions{Addr: addr, Ready: func(net.Addr) { fmt.Println("ready") }})
	fmt.Fprintln(os.Stderr, err)
	return 2
}

// linProc is a running node process.
type linProc struct {
	cmd *exec.Cmd
}

func startLinNode(t *testing.T, db, addr string) *linProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEXUS_LIN_NODE=1", "NEXUS_LIN_DB="+db, "NEXUS_LIN_ADDR="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("node did not start: %q %v", line, err)
	}
	return &linProc{cmd: cmd}
}

func (p *linProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLinearizable1Node: one node on SQLite, killed and restarted.
func TestLinearizable1Node(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the linearizability test starts and kills processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "nexus.db")
	meta, err := server.OpenMetaSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := meta.CreateToken(context.Background(), "lin", "test")
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

	addr := freeAddr(t)
	node := startLinNode(t, db, addr)
	defer func() { node.kill() }()
	httpc := &http.Client{Timeout: 10 * time.Second}
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	})
	c := nexusv1connect.NewNexusServiceClient(httpc, "http://"+addr, connect.WithInterceptors(auth))
	if _, err := c.DeployWorkflow(ctxT(t), connect.NewRequest(&nexusv1.DeployWorkflowRequest{File: "lin.yaml", Source: `version: "1.0"
name: lin
functions: {approve: {uri: "http://` + sinkLn.Addr().String() + `/approve"}}
states:
- {name: Approve, action: approve, callback: true, end: true}
`})); err != nil {
		t.Fatal(err)
	}

	var ops, unknown, kills int
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	began := time.Now()
	for round := range *linHistories {
		keys := []string{fmt.Sprintf("r%d-a", round), fmt.Sprintf("r%d-b", round), fmt.Sprintf("r%d-c", round)}
		var mu sync.Mutex
		var history []porcupine.Operation
		var wg sync.WaitGroup
		var gate sync.RWMutex // held for writing while the node is down
		for cl := range *linClients {
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(cl)))
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
					gate.RLock() // wait while the node restarts
					gate.RUnlock()
					op, keep := linCall(c, sink, in)
					if !keep {
						continue
					}
					op.ClientId = cl
					mu.Lock()
					history = append(history, op)
					mu.Unlock()
				}
			})
		}
		if *linKillEvery > 0 && round%*linKillEvery == 0 {
			// Kill the node at a random moment of the round, then
			// restart it on the same database and address.
			time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
			gate.Lock()
			node.kill()
			kills++
			node = startLinNode(t, db, addr)
			gate.Unlock()
		}
		wg.Wait()
		// Operations whose outcome is unknown may take effect until the
		// end of the history.
		end := time.Now().UnixNano()
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
			t.Fatalf("history %d is not linearizable (%s); -lin.visualize FILE draws it", round, res)
		}
		// End the round's executions, so that restarts do not resume
		// ever more of them.
		for _, k := range keys {
			c.CancelExecution(ctxT(t), connect.NewRequest(&nexusv1.CancelExecutionRequest{ExecutionId: k}))
			c.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: k, WaitMs: 10000}))
		}
	}
	t.Logf("%d histories, %d operations (%d with unknown outcome), %d kills: 0 violations (%s)",
		*linHistories, ops, unknown, kills, time.Since(began).Round(time.Millisecond))
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
