// Command engine benchmarks the nexus engine on the workload of the peer
// programs in ../shared/peers (one workflow = 3 sequential activities, each
// taking {S string, N int} and returning {S+"-aK", N+1}; the result is
// checked, N == 3): 5 warm-up workflows, then -single sequential workflows
// for idle latency (p50 start-to-result), then -n workflows with at most -c
// in flight for throughput. It prints the peers' line with peer=nexus,
// followed by nexus's own figures:
//
//	peer=nexus n=2000 wall_s=... wf_per_s=... p50_single_ms=... act_per_s=... p90_single_ms=... failed=0 conc=100 ...
//
// The database is a file with SQLite synchronous=FULL (every commit
// synced) unless -sync says otherwise. -invoker chooses how activities
// run: inline (in-process Go functions called on the execution's
// goroutine), go (in-process through invoke.Registry, one goroutine per
// call), http (a JSON POST to a server in this process, on loopback) or
// exec (this program, run as a process per call).
//
// With -postgres URL the log is in PostgreSQL instead (a fresh schema,
// dropped at the end), and -nodes N runs N engine nodes on it: N engines
// in this process, each with its own store (connection pool and group
// commits) and its own leases, as N machines would; workflows are started
// on them in turn.
//
//	go run ./benchmarks/engine -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -nodes 3
//
// With -resume-events N it measures instead how long resuming an
// execution with an N-event history takes (with snapshots, and without),
// and how long verifying the whole log takes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/model"
)

var (
	n        = flag.Int("n", 2000, "workflows in the throughput phase")
	conc     = flag.Int("c", 100, "max workflows in flight in the throughput phase")
	single   = flag.Int("single", 50, "sequential workflows for the idle-latency phase")
	warmup   = flag.Int("warmup", 5, "warm-up workflows before measuring")
	dbPath   = flag.String("db", "/tmp/nexus-bench.db", "SQLite file (deleted at start)")
	syncMode = flag.String("sync", "FULL", "SQLite synchronous: FULL (default, every commit synced), NORMAL or OFF")
	invoker  = flag.String("invoker", "inline", "how activities run: inline, go, http or exec")
	resumeN  = flag.Int("resume-events", 0, "measure resume and verify with a history of this many events instead")
	act      = flag.Int("act", 0, "run as activity number K (the exec invoker's program): JSON on stdin and stdout")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the throughput phase to this file")
	traceOut = flag.String("trace", "", "write a runtime trace of the throughput phase to this file")
	pgURL    = flag.String("postgres", "", "PostgreSQL URL: keep the log there (in a fresh schema, dropped at the end) instead of SQLite")
	nodes    = flag.Int("nodes", 1, "engine nodes sharing the PostgreSQL database (with -postgres)")
	pgConns  = flag.Int("pg-conns", 0, "connections per node (0: the store's default)")
	pgComm   = flag.Int("pg-committers", 0, "group commits in flight per node (0: the store's default)")
)

// node is one engine and its store.
type node struct {
	st    store.Store
	e     *engine.Engine
	stats func() (transactions, batches, records int64)
}

// openStores opens the store of every node: one SQLite file, or one
// PostgreSQL store per node on a fresh schema. done drops the schema.
func openStores(ctx context.Context) (sts []store.Store, stats []func() (int64, int64, int64), done func()) {
	if *pgURL == "" {
		if *nodes != 1 {
			log.Fatal("-nodes needs -postgres: an SQLite file has one engine node")
		}
		st, err := store.OpenSQLite(*dbPath, store.SQLiteOptions{Synchronous: *syncMode})
		must(err)
		return []store.Store{st}, []func() (int64, int64, int64){func() (int64, int64, int64) {
			s := st.Stats()
			return s.Transactions, s.Batches, s.Records
		}}, func() {}
	}
	conn, err := pgx.Connect(ctx, *pgURL)
	must(err)
	schema := fmt.Sprintf("nexus_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	must(err)
	sep := "?"
	if strings.Contains(*pgURL, "?") {
		sep = "&"
	}
	u := *pgURL + sep + "search_path=" + schema
	for range *nodes {
		st, err := postgres.Open(ctx, u, postgres.Options{MaxConns: *pgConns, Committers: *pgComm})
		must(err)
		sts = append(sts, st)
		stats = append(stats, func() (int64, int64, int64) {
			s := st.Stats()
			return s.Transactions, s.Batches, s.Records
		})
	}
	return sts, stats, func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			log.Printf("drop schema %s: %v", schema, err)
		}
		conn.Close(context.Background())
	}
}

// totals sums the nodes' commit counters.
func totals(ns []*node) (txs, batches, records int64) {
	for _, n := range ns {
		t, b, r := n.stats()
		txs, batches, records = txs+t, batches+b, records+r
	}
	return
}

// Payload is the activities' input and output.
type Payload struct {
	S string `json:"s"`
	N int    `json:"n"`
}

func activity(k int, in []byte) ([]byte, error) {
	var p Payload
	if err := json.Unmarshal(in, &p); err != nil {
		return nil, err
	}
	return json.Marshal(Payload{S: fmt.Sprintf("%s-a%d", p.S, k), N: p.N + 1})
}

const workflow = `
version: "1.0"
name: bench
functions:
  act1: {uri: "%s"}
  act2: {uri: "%s"}
  act3: {uri: "%s"}
states:
- {name: Act1, action: act1, next: Act2}
- {name: Act2, action: act2, next: Act3}
- {name: Act3, action: act3, end: true}
`

// timings collects the engine's per-transition overhead and commits.
type timings struct {
	mu          sync.Mutex
	transitions []time.Duration
	commits     atomic.Int64
	records     atomic.Int64
	on          atomic.Bool
}

func (t *timings) Transition(d time.Duration) {
	if !t.on.Load() {
		return
	}
	t.mu.Lock()
	t.transitions = append(t.transitions, d)
	t.mu.Unlock()
}

func (t *timings) Commit(records int, d time.Duration) {
	if t.on.Load() {
		t.commits.Add(1)
		t.records.Add(int64(records))
	}
}

func main() {
	flag.Parse()
	if *act > 0 {
		in, err := io.ReadAll(os.Stdin)
		if err == nil {
			var out []byte
			if out, err = activity(*act, in); err == nil {
				os.Stdout.Write(out)
				return
			}
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, suf := range []string{"", "-wal", "-shm"} {
		os.Remove(*dbPath + suf)
	}
	if *resumeN > 0 {
		benchResume()
		return
	}
	ctx := context.Background()
	reg := &invoke.Registry{}
	inline := map[string]invoke.Func{}
	uris := make([]any, 3)
	for k := 1; k <= 3; k++ {
		f := func(_ context.Context, req invoke.Request) (invoke.Response, error) {
			out, err := activity(k, req.Input)
			return invoke.Response{Output: out}, err
		}
		switch *invoker {
		case "inline":
			uris[k-1] = fmt.Sprintf("bench:act%d", k)
			inline[uris[k-1].(string)] = f
		case "go":
			must(reg.Register(fmt.Sprintf("act%d", k), invoke.Func(f)))
			uris[k-1] = fmt.Sprintf("go:act%d", k)
		case "http":
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				in, _ := io.ReadAll(r.Body)
				out, err := activity(k, in)
				if err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write(out)
			}))
			defer srv.Close()
			uris[k-1] = srv.URL
		case "exec":
			self, err := os.Executable()
			must(err)
			uris[k-1] = fmt.Sprintf("exec:%s?arg=-act&arg=%d", self, k)
		default:
			log.Fatalf("-invoker must be inline, go, http or exec")
		}
	}
	src := fmt.Sprintf(workflow, uris[0], uris[1], uris[2])
	w, fs := model.Parse("bench.yaml", []byte(src))
	if fs.Errors() > 0 {
		log.Fatal(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		log.Fatal(fs)
	}
	tm := &timings{}
	sts, stats, dropSchema := openStores(ctx)
	defer dropSchema()
	var ns []*node
	var adopt time.Duration
	if *pgURL != "" {
		adopt = time.Second // as nodes sharing a database run
	}
	for i, st := range sts {
		e, err := engine.Open(ctx, engine.Options{Store: st, Invokers: reg, Inline: inline, Metrics: tm, AdoptEvery: adopt})
		must(err)
		ns = append(ns, &node{st: st, e: e, stats: stats[i]})
	}
	defer func() {
		for _, n := range ns {
			n.e.Close()
			n.st.Close()
		}
	}()
	wf := &engine.Workflow{File: "bench.yaml", Source: []byte(src), Machine: m}
	var seq atomic.Int64
	runOne := func(prefix string) error {
		k := seq.Add(1)
		id := fmt.Sprintf("%s-%d", prefix, k)
		in, _ := json.Marshal(Payload{S: id})
		res, err := ns[k%int64(len(ns))].e.Run(ctx, wf, in, engine.StartOptions{ID: id})
		if err != nil {
			return err
		}
		var out Payload
		if res.Status != model.Succeeded || json.Unmarshal(res.Output, &out) != nil || out.N != 3 ||
			out.S != id+"-a1-a2-a3" {
			return fmt.Errorf("%s: bad result %s %s %s", id, res.Status, res.Output, res.Error)
		}
		return nil
	}
	for range *warmup {
		must(runOne("warm"))
	}
	lat := make([]float64, 0, *single)
	for range *single {
		t0 := time.Now()
		must(runOne("single"))
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(lat)

	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		must(err)
		must(trace.Start(f))
		defer trace.Stop()
	}
	tm.on.Store(true)
	tx0, b0, r0 := totals(ns)
	cpu0 := cpuTime()
	sem := make(chan struct{}, *conc)
	var wg sync.WaitGroup
	var failed atomic.Int64
	t0 := time.Now()
	for range *n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := runOne("tp"); err != nil {
				failed.Add(1)
				log.Printf("workflow failed: %v", err)
			}
		})
	}
	wg.Wait()
	wall := time.Since(t0).Seconds()
	cpu := cpuTime() - cpu0
	tm.on.Store(false)
	// Idle latency again, now that the log's WAL file has reached its
	// working size (commits overwrite it instead of growing it).
	late := make([]float64, 0, *single)
	for range *single {
		t0 := time.Now()
		must(runOne("late"))
		late = append(late, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(late)
	tx1, b1, r1 := totals(ns)
	txs := max(tx1-tx0, 1)
	tr := tm.transitions
	sort.Slice(tr, func(i, j int) bool { return tr[i] < tr[j] })
	persistence := fmt.Sprintf("persistence=sqlite-file sqlite_synchronous=%s", strings.ToUpper(*syncMode))
	fsync := fmt.Sprintf(" fsync_p50_ms=%.2f", fsyncMS(filepath.Dir(*dbPath)))
	if *pgURL != "" {
		persistence = fmt.Sprintf("persistence=postgres nodes=%d", len(ns))
		fsync = "" // the database's disk is not ours to measure
	}
	fmt.Printf("peer=nexus n=%d wall_s=%.2f wf_per_s=%.1f p50_single_ms=%.2f act_per_s=%.1f p90_single_ms=%.2f failed=%d conc=%d "+
		"%s invoker=%s transitions_per_s=%.0f overhead_p50_us=%.1f "+
		"overhead_p99_us=%.1f p50_single_warm_ms=%.2f appends_per_tx=%.1f records_per_tx=%.1f tx_per_s=%.0f%s cpu_us_per_wf=%.0f "+
		"load=%s\n",
		*n, wall, float64(*n)/wall, pct(lat, 0.5), 3*float64(*n)/wall, pct(lat, 0.9), failed.Load(), *conc,
		persistence, *invoker, float64(len(tr))/wall, us(tr, 0.5), us(tr, 0.99), pct(late, 0.5),
		float64(b1-b0)/float64(txs), float64(r1-r0)/float64(txs),
		float64(txs)/wall, fsync, float64(cpu.Microseconds())/float64(*n), loadAvg())
}

// benchResume builds an execution with a long history, then measures
// resuming it and verifying the log.
func benchResume() {
	ctx := context.Background()
	// A loop of a pass and a choice: two events per turn, no effect, so
	// the history builds fast; then a one-hour wait, where the execution
	// stays, unfinished.
	turns := *resumeN / 2
	src := fmt.Sprintf(`
version: "1.0"
name: long
states:
- name: Count
  type: pass
  parameters: {"n.$": "States.MathAdd($.n, 1)"}
  next: More
- name: More
  choices:
  - {variable: $.n, numeric_less_than: %d, next: Count}
  default: Rest
- {name: Rest, seconds: 3600, end: true}
`, turns)
	w, fs := model.Parse("long.yaml", []byte(src))
	if fs.Errors() > 0 {
		log.Fatal(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		log.Fatal(fs)
	}
	sts, _, dropSchema := openStores(ctx)
	defer dropSchema()
	st := sts[0]
	e, err := engine.Open(ctx, engine.Options{Store: st})
	must(err)
	t0 := time.Now()
	id, err := e.Start(ctx, &engine.Workflow{File: "long.yaml", Source: []byte(src), Machine: m}, []byte(`{"n":0}`), engine.StartOptions{ID: "long"})
	must(err)
	// Wait until the execution is in its last state.
	for {
		x, err := st.Execution(ctx, id)
		must(err)
		if x.Seq >= uint64(*resumeN) {
			r, err := st.Record(ctx, id, x.Seq)
			must(err)
			if r.Type == "start_timer" {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	build := time.Since(t0)
	e.Close()
	x, err := st.Execution(ctx, id)
	must(err)

	resume := func(snapshots bool) []float64 {
		var out []float64
		for i := 0; i < 30; i++ {
			opts := engine.Options{Store: st}
			s := st
			if !snapshots {
				opts.Store = noSnapshot{st}
				if i >= 3 {
					break
				}
			}
			_ = s
			t := time.Now()
			e, err := engine.Open(ctx, opts)
			must(err)
			_, err = e.Resume(ctx, id)
			must(err)
			out = append(out, float64(time.Since(t).Microseconds())/1000)
			e.Close()
		}
		sort.Float64s(out)
		return out
	}
	with := resume(true)
	without := resume(false)
	t1 := time.Now()
	rep, err := store.Verify(ctx, st, nil)
	must(err)
	verify := time.Since(t1)
	if !rep.OK() {
		log.Fatalf("verify: %v", rep.First())
	}
	st.Close()
	persistence := "sqlite-file"
	if *pgURL != "" {
		persistence = "postgres"
	}
	fmt.Printf("peer=nexus bench=resume persistence=%s events=%d records=%d build_s=%.1f resume_p50_ms=%.2f resume_p99_ms=%.2f "+
		"resume_without_snapshots_ms=%.0f verify_s=%.3f verify_records_per_s=%.0f\n",
		persistence, *resumeN, x.Seq, build.Seconds(), pct(with, 0.5), pct(with, 0.99), pct(without, 0.5), verify.Seconds(),
		float64(rep.Records)/verify.Seconds())
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's one-minute load average, to read the figures
// by: on a machine shared with other work they move with it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// noSnapshot hides snapshots: a resume replays the whole log.
type noSnapshot struct{ store.Store }

func (noSnapshot) Snapshot(ctx context.Context, exec string) (*store.Snapshot, error) {
	return nil, store.ErrNotFound
}

// fsyncMS measures the disk's sync latency in dir (p50 of 20 syncs of a
// 4 KiB write): the floor under every durable commit.
func fsyncMS(dir string) float64 {
	f, err := os.CreateTemp(dir, "fsync-*")
	if err != nil {
		return -1
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := bytes.Repeat([]byte{1}, 4096)
	var ds []float64
	for range 20 {
		t := time.Now()
		f.Write(buf)
		f.Sync()
		ds = append(ds, float64(time.Since(t).Microseconds())/1000)
	}
	sort.Float64s(ds)
	return pct(ds, 0.5)
}

func pct(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[int(p*float64(len(s)-1))]
}

func us(s []time.Duration, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return float64(s[int(p*float64(len(s)-1))].Nanoseconds()) / 1000
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
