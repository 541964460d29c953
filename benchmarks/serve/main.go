// Command serve benchmarks nexus serve through its API: executions
// started and completed per second, and the latency of StartExecution,
// with 1 node on SQLite, or 1 or 3 nodes sharing one PostgreSQL database.
//
// Each node is a process of its own (this program, re-executed with
// -node), serving the API on 127.0.0.1 as nexus serve does, with a bearer
// token. The workflow is deployed through the API (the deploy gate model
// checks it); it has three task steps, each a call of builtin:echo, so
// the figures are those of the API, the engine and the store, not of
// functions. -c clients each start an execution on the nodes in turn
// (StartExecution, its latency measured), then wait for it to end on the
// same node (GetExecution with wait_ms); executions/s is -n over the wall
// time from the first start to the last end. Each of -runs runs uses a
// fresh database (an SQLite file synced at every commit, or a new
// PostgreSQL schema dropped at the end) and fresh nodes; the median run is
// reported.
//
//	go run ./benchmarks/serve -nodes 1 -store sqlite
//	go run ./benchmarks/serve -nodes 3 -store postgres -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/server"
)

const workflow = `version: "1.0"
name: bench
functions: {step: {uri: "builtin:echo"}}
states:
- {name: A, action: step, next: B}
- {name: B, action: step, next: C}
- {name: C, action: step, end: true}
`

func main() {
	var (
		node     = flag.String("node", "", "internal: serve this database as one node and print its address")
		nodes    = flag.Int("nodes", 1, "nodes (processes) serving the API")
		kind     = flag.String("store", "sqlite", "sqlite or postgres")
		pgURL    = flag.String("postgres", "", "PostgreSQL database (default $NEXUS_TEST_POSTGRES, else $NEXUS_POSTGRES)")
		n        = flag.Int("n", 2000, "executions per run")
		clients  = flag.Int("c", 64, "concurrent clients")
		runs     = flag.Int("runs", 3, "runs; the median is reported")
		warmup   = flag.Int("warmup", 50, "executions before each run's measure")
		syncMode = flag.String("sync", "FULL", "SQLite synchronous pragma (FULL: every commit synced)")
		jsonOut  = flag.Bool("json", false, "print the runs as JSON lines too")
		keepLogs = flag.Bool("v", false, "show the nodes' warnings")
	)
	flag.Parse()
	log.SetFlags(0)
	if *node != "" {
		os.Exit(serveNode(*node, *syncMode, *keepLogs))
	}
	if *kind != "sqlite" && *kind != "postgres" {
		log.Fatal("-store must be sqlite or postgres")
	}
	if *kind == "sqlite" && *nodes != 1 {
		log.Fatal("SQLite is one node's database: -nodes 1 with -store sqlite")
	}
	if *pgURL == "" {
		*pgURL = os.Getenv("NEXUS_TEST_POSTGRES")
	}
	if *pgURL == "" {
		*pgURL = os.Getenv("NEXUS_POSTGRES")
	}
	if *kind == "postgres" && *pgURL == "" {
		log.Fatal("-store postgres needs -postgres URL (or NEXUS_TEST_POSTGRES)")
	}
	fmt.Printf("nexus serve benchmark: %d node(s) on %s, %d executions of 3 steps per run, %d clients, %d runs\n",
		*nodes, *kind, *n, *clients, *runs)
	var results []result
	for i := range *runs {
		r, err := benchRun(*kind, *pgURL, *nodes, *n, *clients, *warmup, *syncMode, *keepLogs)
		if err != nil {
			log.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Printf("run %d: %7.0f executions/s  start p50 %6.2f ms  p99 %6.2f ms  (%d in %.2fs, %d failed)\n",
			i+1, r.PerSecond, r.P50, r.P99, r.N, r.Seconds, r.Failed)
		if *jsonOut {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
		}
		results = append(results, r)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].PerSecond < results[j].PerSecond })
	m := results[len(results)/2]
	fmt.Printf("median: store=%s nodes=%d executions/s=%.0f start_p50_ms=%.2f start_p99_ms=%.2f\n",
		*kind, *nodes, m.PerSecond, m.P50, m.P99)
}

type result struct {
	Store              string
	Nodes, N, Failed   int
	Seconds, PerSecond float64
	P50, P99           float64 // start latency, ms
}

// benchRun runs one measure on a fresh database and fresh nodes.
func benchRun(kind, pgURL string, nodes, n, clients, warmup int, syncMode string, verbose bool) (result, error) {
	ctx := context.Background()
	var db string
	if kind == "sqlite" {
		dir, err := os.MkdirTemp("", "nexus-bench-")
		if err != nil {
			return result{}, err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "nexus.db")
	} else {
		u, drop, err := freshSchema(ctx, pgURL)
		if err != nil {
			return result{}, err
		}
		defer drop()
		db = u
	}
	meta, err := server.OpenMeta(ctx, db)
	if err != nil {
		return result{}, err
	}
	tok, _, err := meta.CreateToken(ctx, "bench", "benchmark")
	meta.Close()
	if err != nil {
		return result{}, err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	var cs []nexusv1connect.NexusServiceClient
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 2 * time.Minute}
	auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}))
	for range nodes {
		args := []string{"-node", db, "-sync", syncMode}
		if verbose {
			args = append(args, "-v")
		}
		cmd := exec.Command(self, args...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return result{}, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		procs = append(procs, cmd)
		line, err := bufio.NewReader(out).ReadString('\n')
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
		if err != nil || !ok {
			return result{}, fmt.Errorf("node did not start: %q %v", line, err)
		}
		cs = append(cs, nexusv1connect.NewNexusServiceClient(hc, "http://"+addr, auth))
	}
	if _, err := cs[0].DeployWorkflow(ctx, connect.NewRequest(&nexusv1.DeployWorkflowRequest{File: "bench.yaml", Source: workflow})); err != nil {
		return result{}, fmt.Errorf("deploy: %w", err)
	}
	one := func(c nexusv1connect.NexusServiceClient, id string) (time.Duration, bool, error) {
		t0 := time.Now()
		_, err := c.StartExecution(ctx, connect.NewRequest(&nexusv1.StartExecutionRequest{Workflow: "bench", ExecutionId: id}))
		lat := time.Since(t0)
		if err != nil {
			return 0, false, fmt.Errorf("start %s: %w", id, err)
		}
		for {
			r, err := c.GetExecution(ctx, connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id, WaitMs: 60000}))
			if err != nil {
				return 0, false, fmt.Errorf("get %s: %w", id, err)
			}
			if r.Msg.Execution.Terminal {
				return lat, r.Msg.Execution.Status == "succeeded", nil
			}
		}
	}
	drive := func(prefix string, total int) ([]time.Duration, int, time.Duration, error) {
		lats := make([]time.Duration, total)
		var mu sync.Mutex
		var firstErr error
		failed := 0
		next := make(chan int)
		var wg sync.WaitGroup
		t0 := time.Now()
		for range clients {
			wg.Go(func() {
				for i := range next {
					lat, ok, err := one(cs[i%len(cs)], fmt.Sprintf("%s%06d", prefix, i))
					mu.Lock()
					lats[i] = lat
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if !ok {
						failed++
					}
					mu.Unlock()
				}
			})
		}
		for i := range total {
			next <- i
		}
		close(next)
		wg.Wait()
		return lats, failed, time.Since(t0), firstErr
	}
	if _, _, _, err := drive("w", warmup); err != nil {
		return result{}, err
	}
	lats, failed, wall, err := drive("x", n)
	if err != nil {
		return result{}, err
	}
	slices.Sort(lats)
	ms := func(q float64) float64 { return float64(lats[int(q*float64(len(lats)-1))].Microseconds()) / 1000 }
	return result{Store: kind, Nodes: nodes, N: n, Failed: failed, Seconds: wall.Seconds(),
		PerSecond: float64(n) / wall.Seconds(), P50: ms(0.50), P99: ms(0.99)}, nil
}

// freshSchema creates a schema of its own in the database at base and
// returns base with search_path set to it, and a function dropping it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	var b [4]byte
	rand.Read(b[:])
	name := "nexus_bench_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			log.Printf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			log.Printf("drop schema %s: %v", name, err)
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// serveNode is one node: the server on db, on a free port of 127.0.0.1,
// until SIGTERM.
func serveNode(db, syncMode string, verbose bool) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var st store.Store
	var err error
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, err = postgres.Open(ctx, db, postgres.Options{})
	} else {
		st, err = store.OpenSQLite(db, store.SQLiteOptions{Synchronous: syncMode})
	}
	if err != nil {
		log.Print(err)
		return 2
	}
	defer st.Close()
	meta, err := server.OpenMeta(ctx, db)
	if err != nil {
		log.Print(err)
		return 2
	}
	defer meta.Close()
	opts := server.Options{Store: st, Meta: meta}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := server.New(ctx, opts)
	if err != nil {
		log.Print(err)
		return 2
	}
	defer srv.Close()
	err = server.Serve(ctx, srv.Handler(), server.ServeOptions{Addr: "127.0.0.1:0",
		Ready: func(a net.Addr) { fmt.Println("ready", a) }})
	if err != nil {
		log.Print(err)
		return 2
	}
	return 0
}
