package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
	"github.com/nexus-workflows/nexus/model"
)

// The multi-node failure test. Three engine nodes (child processes: this
// test binary re-executed with NEXUS_NODE_CHILD set) share one PostgreSQL
// schema and run the executions of TestKill, calling the same idempotent
// HTTP sink in the parent. Each node starts the executions nobody started
// yet, beginning at its own third. When a third of the calls have been
// applied, the parent kills node 0 with SIGKILL. Its leases run out, the
// two others adopt its unfinished executions and run them to the end.
// Every execution must succeed with the right output, every logged call
// must have been applied exactly once at the sink (repeated calls are
// absorbed by their idempotency keys), and the log must verify.

var nodeExecs = flag.Int("node-executions", 600, "executions in TestKillNodes")

// nodeLease is the nodes' lease: how long a dead node's executions wait
// before another node takes them over.
const nodeLease = 2 * time.Second

// nodeReport is what a surviving node prints when there is nothing left.
type nodeReport struct {
	Node             int
	Started, Adopted int64
	// FirstAdopt is when the node first adopted an execution (Unix ns).
	FirstAdopt int64
	// Conflicts counts executions this node stopped because another node
	// appended first.
	Conflicts int64
}

func TestKillNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node crash test: not in -short")
	}
	u := pgtest.Schema(t)
	const nodes = 3
	n := *nodeExecs
	sink := &httpSink{applied: map[string]int{}, calls: map[string]int{}, answers: map[string]sinkAnswer{}}
	// Kill when a third of the effects are applied: every node is busy.
	third := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink.ServeHTTP(w, r)
		sink.mu.Lock()
		applied := len(sink.applied)
		sink.mu.Unlock()
		if applied >= n*9/3 {
			once.Do(func() { close(third) })
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	wfFile := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(wfFile, killWorkflow(t, srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(bg, u, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	type child struct {
		cmd  *exec.Cmd
		out  *bufio.Reader
		done chan error
	}
	children := make([]*child, nodes)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNodesChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), "NEXUS_NODE_CHILD=1", "NEXUS_NODE_URL="+u, "NEXUS_NODE_WORKFLOW="+wfFile,
			"NEXUS_NODE_N="+strconv.Itoa(n), "NEXUS_NODE_INDEX="+strconv.Itoa(i), "NEXUS_NODE_COUNT="+strconv.Itoa(nodes))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := &child{cmd: cmd, out: bufio.NewReader(out), done: make(chan error, 1)}
		children[i] = c
		defer cmd.Process.Kill()
		if line, err := c.out.ReadString('\n'); err != nil || !strings.HasPrefix(line, "ready") {
			t.Fatalf("node %d did not start: %q %v", i, line, err)
		}
	}
	t0 := time.Now()
	reports := make([]nodeReport, nodes)
	for i, c := range children {
		go func() {
			b, _ := io.ReadAll(c.out)
			err := c.cmd.Wait()
			if err == nil {
				err = json.Unmarshal(b, &reports[i])
			}
			c.done <- err
		}()
	}
	select {
	case <-third:
	case err := <-children[0].done:
		t.Fatalf("node 0 ended before it was killed: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("a third of the calls were not made in 2 minutes")
	}
	if err := children[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	sink.mu.Lock()
	atKill := len(sink.applied)
	sink.mu.Unlock()
	if err := <-children[0].done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("node 0 was not killed: %v", err)
	}
	deadline := time.After(2 * time.Minute)
	for i, c := range children[1:] {
		select {
		case err := <-c.done:
			if err != nil {
				t.Fatalf("node %d: %v", i+1, err)
			}
		case <-deadline:
			t.Fatalf("node %d did not finish within 2 minutes of the kill", i+1)
		}
	}
	after := time.Since(killed)

	// Every execution succeeded with the right output; every logged call
	// was applied exactly once; the log verifies.
	logged := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("k%05d", i)
		res, err := ResultOf(bg, st, id)
		if err != nil {
			t.Errorf("execution %s: %v", id, err)
			continue
		}
		if res.Status != model.Succeeded || string(res.Output) != killOutput(i) {
			t.Errorf("execution %s: %s %s %s", id, res.Status, res.Output, res.Error)
		}
		for _, en := range history(t, st, id) {
			if en.Command != nil && en.Command.Effect == model.Invoke {
				logged[en.Key] = true
			}
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	bad := 0
	for k := range logged {
		if sink.applied[k] != 1 {
			if bad++; bad < 5 {
				t.Errorf("call %s applied %d times", k, sink.applied[k])
			}
		}
	}
	for k, c := range sink.applied {
		if c > 1 || !logged[k] {
			if bad++; bad < 5 {
				t.Errorf("effect %s applied %d times, logged %v", k, c, logged[k])
			}
		}
	}
	if want := n * 9; len(logged) != want {
		t.Errorf("%d calls logged, want %d", len(logged), want)
	}
	rep, err := store.Verify(bg, st, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("log verify: %v %v", err, rep.First())
	}
	var adopted, conflicts int64
	first := int64(0)
	for _, r := range reports[1:] {
		adopted += r.Adopted
		conflicts += r.Conflicts
		if r.FirstAdopt > 0 && (first == 0 || r.FirstAdopt < first) {
			first = r.FirstAdopt
		}
	}
	if adopted == 0 {
		t.Errorf("no execution of the killed node was adopted")
	}
	t.Logf("%d nodes, %d executions, %d calls logged; node 0 killed after %.1fs with %d of %d effects applied",
		nodes, n, len(logged), killed.Sub(t0).Seconds(), atKill, n*9)
	t.Logf("%d executions adopted by the survivors (%d and %d), the first %.2fs after the kill (lease %s); all done %.2fs after the kill",
		adopted, reports[1].Adopted, reports[2].Adopted, time.Duration(first-killed.UnixNano()).Seconds(), nodeLease, after.Seconds())
	t.Logf("%d calls made for %d effects (%d repeats absorbed by idempotency keys), 0 lost, 0 duplicate effects; "+
		"%d appends lost to another node; %d records verified", sum(sink.calls), sum(sink.applied),
		sum(sink.calls)-sum(sink.applied), conflicts, rep.Records)
}

// nodeLog counts what a node's engine logs: adoptions and executions
// stopped by a conflicting append.
type nodeLog struct {
	adopted, conflicts, first atomic.Int64
}

func (h *nodeLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *nodeLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *nodeLog) WithGroup(string) slog.Handler            { return h }
func (h *nodeLog) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "adopted":
		h.adopted.Add(1)
		h.first.CompareAndSwap(0, time.Now().UnixNano())
	case "execution stopped":
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), store.ErrConflict.Error()) {
				h.conflicts.Add(1)
			}
			return true
		})
	}
	return nil
}

// TestKillNodesChild is an engine node of TestKillNodes; it does nothing
// unless NEXUS_NODE_CHILD is set.
func TestKillNodesChild(t *testing.T) {
	if os.Getenv("NEXUS_NODE_CHILD") == "" {
		t.Skip("a child process of TestKillNodes")
	}
	n, _ := strconv.Atoi(os.Getenv("NEXUS_NODE_N"))
	node, _ := strconv.Atoi(os.Getenv("NEXUS_NODE_INDEX"))
	nodes, _ := strconv.Atoi(os.Getenv("NEXUS_NODE_COUNT"))
	wfFile := os.Getenv("NEXUS_NODE_WORKFLOW")
	src, err := os.ReadFile(wfFile)
	if err != nil {
		fatalChild(err)
	}
	w, fs := model.Parse(wfFile, src)
	if fs.Errors() > 0 {
		fatalChild(fs)
	}
	m, fs := model.Compile(w)
	if m == nil {
		fatalChild(fs)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("NEXUS_NODE_URL"), postgres.Options{MaxConns: 4})
	if err != nil {
		fatalChild(err)
	}
	lg := &nodeLog{}
	// The breaker is off: F fails every first attempt on purpose.
	e, err := Open(ctx, Options{Store: st, Invokers: &invoke.Registry{}, SnapshotEvery: 16, Breaker: BreakerPolicy{Failures: -1},
		Lease: nodeLease, AdoptEvery: nodeLease / 8, Logger: slog.New(lg)})
	if err != nil {
		fatalChild(err)
	}
	fmt.Println("ready")
	// Start what nobody started yet, from this node's third on, at most
	// 32 at a time.
	sem := make(chan struct{}, 32)
	wf := &Workflow{File: wfFile, Source: src, Machine: m}
	var started int64
	for k := range n {
		id := fmt.Sprintf("k%05d", (k+node*n/nodes)%n)
		i, _ := strconv.Atoi(id[1:])
		if _, err := st.Execution(ctx, id); err == nil {
			continue
		}
		sem <- struct{}{}
		_, err := e.Start(ctx, wf, []byte(killInput(i)), StartOptions{ID: id})
		if errors.Is(err, store.ErrExists) {
			<-sem
			continue
		}
		if err != nil {
			fatalChild(err)
		}
		started++
		go func() {
			e.Wait(ctx, id) // an error is a conflict: another node runs it
			<-sem
		}()
	}
	// Run (and adopt) until no execution is left unfinished.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		open, err := st.Executions(ctx, store.Filter{Status: openStatuses(), Limit: 1})
		if err != nil {
			fatalChild(err)
		}
		if len(open) == 0 {
			break
		}
	}
	e.Close()
	st.Close()
	json.NewEncoder(os.Stdout).Encode(nodeReport{Node: node, Started: started, Adopted: lg.adopted.Load(),
		FirstAdopt: lg.first.Load(), Conflicts: lg.conflicts.Load()})
	os.Exit(0)
}

const raceWorkflow = `
version: "1.0"
name: race
functions:
  work: {uri: "go:work"}
states:
- name: M
  type: map
  items_path: $.items
  max_concurrency: 4
  processor: {states: [{name: W, action: work, end: true}]}
  end: true
`

// commits records, per execution and sequence number, which engine
// committed it and the record's time.
type commits struct {
	name string
	mu   *sync.Mutex
	by   map[string]map[uint64]string // exec → seq → "engine@time"
	// twice lists sequence numbers committed twice: a fork.
	twice *[]string
}

func (c commits) Committed(exec string, entries []*Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by[exec] == nil {
		c.by[exec] = map[uint64]string{}
	}
	for _, en := range entries {
		if prev, ok := c.by[exec][en.Seq]; ok {
			*c.twice = append(*c.twice, fmt.Sprintf("%s seq %d committed by %s and by %s", exec, en.Seq, prev, c.name))
		}
		c.by[exec][en.Seq] = fmt.Sprintf("%s@%d", c.name, en.Time)
	}
}

// TestTwoEnginesOneExecution: two engines on two nodes run the same
// executions at once (the lease of the first is released behind its back,
// as if it had paused past its lease, and the second resumes them while
// their calls are held at a gate; then the gate opens). For
// every sequence number exactly one engine's append wins: the other's
// fails with ErrConflict and it stops that execution; the winner runs it
// to the end, and the log holds exactly the records the winners
// committed, one chain, no fork.
func TestTwoEnginesOneExecution(t *testing.T) {
	u := pgtest.Schema(t)
	var mu sync.Mutex
	by := map[string]map[uint64]string{}
	var twice []string
	engines := map[string]*Engine{}
	stores := map[string]*postgres.Store{}
	// Every call waits at the gate until both engines run every
	// execution: then they race.
	gate := make(chan struct{})
	for _, name := range []string{"a", "b"} {
		st, err := postgres.Open(bg, u, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		reg := &invoke.Registry{}
		reg.Register("work", invoke.Func(func(_ context.Context, req invoke.Request) (invoke.Response, error) {
			<-gate
			return invoke.Response{Output: req.Input}, nil
		}))
		e, err := Open(bg, Options{Store: st, Invokers: reg, Observer: commits{name, &mu, by, &twice}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		engines[name], stores[name] = e, st
	}
	w, fs := model.Parse("race.yaml", []byte(raceWorkflow))
	m, _ := model.Compile(w)
	if m == nil {
		t.Fatal(fs)
	}
	items := make([]string, 40)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	input := `{"items":[` + strings.Join(items, ",") + `]}`
	want := `[` + strings.Join(items, ",") + `]`
	wf := &Workflow{File: "race.yaml", Source: []byte(raceWorkflow), Machine: m}
	const execs = 8
	type outcome struct {
		res *Result
		err error
	}
	results := map[string]map[string]chan outcome{}
	for i := range execs {
		id := fmt.Sprintf("race%d", i)
		if _, err := engines["a"].Start(bg, wf, []byte(input), StartOptions{ID: id}); err != nil {
			t.Fatal(err)
		}
		// a seems dead: its lease is gone, and b takes the execution over
		// while a runs on.
		if err := stores["a"].Release(bg, id, engines["a"].Owner()); err != nil {
			t.Fatal(err)
		}
		if _, err := engines["b"].Resume(bg, id); err != nil {
			t.Fatal(err)
		}
		results[id] = map[string]chan outcome{}
		for name, e := range engines {
			c := make(chan outcome, 1)
			results[id][name] = c
			go func() {
				res, err := e.Wait(bg, id)
				c <- outcome{res, err}
			}()
		}
	}
	close(gate)
	wins := map[string]int{}
	for i := range execs {
		id := fmt.Sprintf("race%d", i)
		a, b := <-results[id]["a"], <-results[id]["b"]
		won, lost := a, b
		if a.err != nil {
			won, lost = b, a
		}
		if won.err != nil || won.res.Status != model.Succeeded || string(won.res.Output) != want {
			t.Errorf("%s: no engine finished it: %v %v", id, a.err, b.err)
			continue
		}
		if !errors.Is(lost.err, store.ErrConflict) {
			t.Errorf("%s: the loser stopped with %v, want ErrConflict", id, lost.err)
		}
		// The log is exactly what the winners of each seq committed.
		mu.Lock()
		mine := by[id]
		mu.Unlock()
		recs := history(t, stores["a"], id)
		if len(recs) != len(mine) {
			t.Errorf("%s: %d records in the log, %d committed", id, len(recs), len(mine))
		}
		for _, r := range recs {
			who, ok := mine[r.Seq]
			if !ok || !strings.HasSuffix(who, fmt.Sprintf("@%d", r.Time)) {
				t.Fatalf("%s seq %d: the log's record is not the one committed (%q)", id, r.Seq, who)
			}
			wins[who[:1]]++
		}
	}
	mu.Lock()
	if len(twice) > 0 {
		t.Errorf("the log forked: %v", twice)
	}
	mu.Unlock()
	rep, err := store.Verify(bg, stores["b"], nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.First())
	}
	t.Logf("%d executions run by two engines at once: %d records won by a, %d by b, one chain each (%d records verified); the loser of each stopped with ErrConflict",
		execs, wins["a"], wins["b"], rep.Records)
}
