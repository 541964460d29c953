package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/server"
)

// The failure tests run nexus servers as processes of their own: this
// test binary, re-executed with NEXUS_TEST_NODE set, serves the database
// NEXUS_TEST_NODE_DB (an SQLite file or a PostgreSQL URL) on a free port
// of 127.0.0.1, prints "ready ADDR" and runs until it is killed
// (SIGKILL), or stopped (SIGTERM: then it prints its report as JSON).

func TestMain(m *testing.M) {
	if os.Getenv("NEXUS_TEST_NODE") != "" {
		os.Exit(testNode())
	}
	os.Exit(m.Run())
}

// nodeReport is what a node stopped with SIGTERM prints.
type nodeReport struct {
	Adopted int64 // executions taken over from a node whose lease ran out
}

// countAdopted counts the engine's "adopted" log records.
type countAdopted struct{ n atomic.Int64 }

func (h *countAdopted) Enabled(context.Context, slog.Level) bool { return true }
func (h *countAdopted) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countAdopted) WithGroup(string) slog.Handler            { return h }
func (h *countAdopted) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "adopted" {
		h.n.Add(1)
	}
	return nil
}

func testNode() int {
	db := os.Getenv("NEXUS_TEST_NODE_DB")
	lease, _ := time.ParseDuration(os.Getenv("NEXUS_TEST_NODE_LEASE"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var st store.Store
	var err error
	if strings.HasPrefix(db, "postgres://") {
		st, err = postgres.Open(ctx, db, postgres.Options{MaxConns: 4})
	} else {
		// NORMAL: a commit survives the death of the process (SIGKILL),
		// not of the machine, which these tests do not simulate.
		st, err = store.OpenSQLite(db, store.SQLiteOptions{Synchronous: "NORMAL"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 2
	}
	meta, err := server.OpenMeta(ctx, db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 2
	}
	counter := &countAdopted{}
	opts := server.Options{Store: st, Meta: meta, PollInterval: 20 * time.Millisecond, Logger: slog.New(counter)}
	if lease > 0 {
		opts.Lease, opts.AdoptEvery = lease, lease/8
	}
	srv, err := server.New(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 2
	}
	err = server.Serve(ctx, srv.Handler(), server.ServeOptions{Addr: "127.0.0.1:0",
		Ready: func(a net.Addr) { fmt.Println("ready", a) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 2
	}
	srv.Close()
	json.NewEncoder(os.Stdout).Encode(nodeReport{Adopted: counter.n.Load()})
	return 0
}

// cluster is a set of node processes on one database. A node may be
// killed and restarted (on another port) while clients call it: node
// waits until the node is up and returns its URL.
type cluster struct {
	t     *testing.T
	db    string
	lease time.Duration
	mu    sync.Mutex
	nodes []*nodeSlot
}

type nodeSlot struct {
	cmd *exec.Cmd
	out *bufio.Reader
	url string
	up  chan struct{} // closed while the node is up
}

func newCluster(t *testing.T, db string, n int, lease time.Duration) *cluster {
	c := &cluster{t: t, db: db, lease: lease}
	for range n {
		s := &nodeSlot{up: make(chan struct{})}
		c.nodes = append(c.nodes, s)
		c.start(s)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.kill(i)
		}
	})
	return c
}

// start starts the process of slot s and marks it up.
func (c *cluster) start(s *nodeSlot) {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEXUS_TEST_NODE=1", "NEXUS_TEST_NODE_DB="+c.db,
		"NEXUS_TEST_NODE_LEASE="+c.lease.String())
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	out := bufio.NewReader(pipe)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		c.t.Fatalf("node did not start: %q %v", line, err)
	}
	c.mu.Lock()
	s.cmd, s.out, s.url = cmd, out, "http://"+addr
	close(s.up)
	c.mu.Unlock()
}

// kill kills node i with SIGKILL (if it runs) and waits for it to end.
func (c *cluster) kill(i int) {
	c.mu.Lock()
	s := c.nodes[i]
	cmd := s.cmd
	if cmd != nil {
		s.cmd, s.up = nil, make(chan struct{})
	}
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// restart starts node i again after kill.
func (c *cluster) restart(i int) { c.start(c.nodes[i]) }

// stop stops node i with SIGTERM and returns its report.
func (c *cluster) stop(i int) nodeReport {
	c.t.Helper()
	c.mu.Lock()
	s := c.nodes[i]
	cmd, out := s.cmd, s.out
	s.cmd, s.up = nil, make(chan struct{})
	c.mu.Unlock()
	if cmd == nil {
		return nodeReport{}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	var r nodeReport
	err := json.NewDecoder(out).Decode(&r)
	if werr := cmd.Wait(); err != nil || werr != nil {
		c.t.Errorf("node %d stopped: %v %v", i, err, werr)
	}
	return r
}

// url waits until node i is up and returns its URL ("" if ctx ends
// first).
func (c *cluster) url(ctx context.Context, i int) string {
	c.mu.Lock()
	up := c.nodes[i].up
	c.mu.Unlock()
	select {
	case <-up:
	case <-ctx.Done():
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].url
}

// urlNow returns node i's URL if it is up now.
func (c *cluster) urlNow(i int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].url, c.nodes[i].cmd != nil
}

var clusterHTTP = &http.Client{Timeout: 30 * time.Second}

// client is a client of the API at url with a bearer token.
func bearerClient(url, token string) nexusv1connect.NexusServiceClient {
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
	return nexusv1connect.NewNexusServiceClient(clusterHTTP, url, connect.WithInterceptors(auth))
}
