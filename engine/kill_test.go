package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// The crash test. The engine runs as a child process (this test binary,
// re-executed with NEXUS_CRASH_CHILD set) on N executions whose functions
// are HTTP calls to an idempotent sink in the parent; the parent kills it
// with SIGKILL at random moments, restarts it, and repeats; a last child
// runs to the end. Every execution must finish with the right output,
// every logged call must have been applied exactly once at the sink, and
// the log must verify.
//
// go test ./engine -run TestKill -kills 1000 runs the long version.

var (
	killsFlag = flag.Int("kills", 100, "SIGKILLs in TestKill")
	killSeed  = flag.Uint64("kill-seed", 0, "seed of TestKill's kill moments (0: from the clock)")
)

// killWorkflow is the load of the crash tests with its functions bound
// to the sink at url (testdata/sink-load.yaml, shared with the server's
// failover test).
func killWorkflow(t *testing.T, url string) []byte {
	t.Helper()
	src, err := os.ReadFile("testdata/sink-load.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(src, []byte("SINK"), []byte(url))
}

func killInput(i int) string {
	return fmt.Sprintf(`{"id":%d,"items":[1,2,3]}`, i)
}

func killOutput(i int) string {
	return fmt.Sprintf(`{"a":{"s":"A"},"f":{"s":"F"},"id":%d,"items":[1,2,3],"mapped":[{"s":"Item"},{"s":"Item"},{"s":"Item"}],`+
		`"par":[{"s":"B1"},{"s":"B2"}],"z":{"s":"Z"}}`, i)
}

// httpSink is the idempotent sink: the first request with a key applies
// its effect and is answered; a repeat gets the same answer and applies
// nothing.
type httpSink struct {
	mu      sync.Mutex
	applied map[string]int
	calls   map[string]int
	answers map[string]sinkAnswer
}

type sinkAnswer struct {
	status int
	body   string
}

func (s *httpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.calls[key]++
	a, ok := s.answers[key]
	if !ok {
		s.applied[key]++
		a = sinkAnswer{200, fmt.Sprintf(`{"s":%q}`, r.Header.Get("Nexus-State"))}
		if r.URL.Path == "/flaky" && r.Header.Get("Nexus-Attempt") == "1" {
			a = sinkAnswer{503, "try again"}
		}
		s.answers[key] = a
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short")
	}
	kills := *killsFlag
	n := 300 // executions
	if kills > 100 {
		n = 3 * kills
	}
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kills %d, executions %d, seed %d (-kill-seed to repeat)", kills, n, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	sink := &httpSink{applied: map[string]int{}, calls: map[string]int{}, answers: map[string]sinkAnswer{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "kill.db")
	wfFile := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(wfFile, killWorkflow(t, srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	child := func() (*exec.Cmd, *bufio.Reader) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), "NEXUS_CRASH_CHILD=1", "NEXUS_CRASH_DB="+db, "NEXUS_CRASH_WORKFLOW="+wfFile,
			"NEXUS_CRASH_N="+strconv.Itoa(n))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewReader(out)
	}
	killed := 0
	for killed < kills {
		cmd, out := child()
		// Wait until the child has opened the database, then let it work
		// for a random while, and kill it.
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ready") {
			cmd.Wait()
			t.Fatalf("child did not start: %q %v", line, err)
		}
		time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed++
			continue
		}
		// It finished before the kill: everything is done.
		if err != nil {
			t.Fatalf("child failed: %v", err)
		}
		break
	}
	// The last run, to the end.
	cmd, out := child()
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("last child: %v\n%s", err, rest)
	}
	t.Logf("%d kills; %d calls made for %d effects", killed, sum(sink.calls), sum(sink.applied))
	if killed < kills {
		t.Errorf("the work ended after %d kills, before the %d wanted: give it more executions", killed, kills)
	}

	// Every execution finished with the right output; every logged call
	// was applied exactly once; the log verifies.
	st, err := store.OpenSQLite(db, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	dup, lost := 0, 0
	for k := range logged {
		if sink.applied[k] != 1 {
			lost++
			if lost < 5 {
				t.Errorf("call %s applied %d times", k, sink.applied[k])
			}
		}
	}
	for k, c := range sink.applied {
		if c > 1 || !logged[k] {
			dup++
			if dup < 5 {
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
	t.Logf("%d executions, %d records, %d snapshots: 0 lost, %d duplicate effects", n, rep.Records, rep.Snapshots, dup)
}

func sum(m map[string]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

// TestKillChild is the engine process of TestKill; it does nothing
// unless NEXUS_CRASH_CHILD is set.
func TestKillChild(t *testing.T) {
	if os.Getenv("NEXUS_CRASH_CHILD") == "" {
		t.Skip("the child process of TestKill")
	}
	n, _ := strconv.Atoi(os.Getenv("NEXUS_CRASH_N"))
	wfFile := os.Getenv("NEXUS_CRASH_WORKFLOW")
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
	st, err := store.OpenSQLite(os.Getenv("NEXUS_CRASH_DB"), store.SQLiteOptions{})
	if err != nil {
		fatalChild(err)
	}
	// The breaker is off: F fails every first attempt on purpose, which
	// would open it across executions (TestCircuitBreaker tests it).
	e, err := Open(bg, Options{Store: st, Invokers: &invoke.Registry{}, SnapshotEvery: 16, Breaker: BreakerPolicy{Failures: -1}})
	if err != nil {
		fatalChild(err)
	}
	fmt.Println("ready")
	ctx := context.Background()
	// Resume what a killed engine left, then start what was never
	// started, at most 32 at a time.
	resumed, err := e.Resume(ctx)
	if err != nil {
		fatalChild(err)
	}
	var wg sync.WaitGroup
	fail := make(chan error, n+len(resumed))
	wait := func(id string) {
		defer wg.Done()
		if _, err := e.Wait(ctx, id); err != nil {
			fail <- err
		}
	}
	for _, id := range resumed {
		wg.Add(1)
		go wait(id)
	}
	sem := make(chan struct{}, 32)
	wf := &Workflow{File: wfFile, Source: src, Machine: m}
	for i := range n {
		id := fmt.Sprintf("k%05d", i)
		if _, err := st.Execution(ctx, id); err == nil {
			continue
		}
		sem <- struct{}{}
		if _, err := e.Start(ctx, wf, []byte(killInput(i)), StartOptions{ID: id}); err != nil {
			fatalChild(err)
		}
		wg.Add(1)
		go func() {
			wait(id)
			<-sem
		}()
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		fatalChild(err)
	}
	e.Close()
	st.Close()
	var out struct{ Done int }
	out.Done = n
	json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(0)
}

func fatalChild(err any) {
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(3)
}
