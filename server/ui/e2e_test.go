package ui_test

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/goccy/go-yaml"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/server"
	"google.golang.org/protobuf/types/known/structpb"
)

// chromium is Debian's chromium package: the browser the end-to-end test
// drives (playwright-core downloads none).
const chromium = "/usr/bin/chromium"

// e2eDir holds the Node package of the end-to-end script.
const e2eDir = "testdata/e2e"

// highlight is the fill package graph gives the states a trace or an
// execution goes through (graph.go: fillcolor "#ffe9a8").
var highlight = [3]uint8{0xff, 0xe9, 0xa8}

// testServer is nexus serve on 127.0.0.1 over a fresh SQLite database.
type testServer struct {
	url   string
	token string
	c     nexusv1connect.NexusServiceClient
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nexus.db")
	st, err := store.OpenSQLite(path, store.SQLiteOptions{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := server.OpenMetaSQLite(path)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Options{Store: st, Meta: meta, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		meta.Close()
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() {
		done <- server.Serve(ctx, srv.Handler(), server.ServeOptions{Addr: "127.0.0.1:0", Ready: func(a net.Addr) { ready <- a }})
	}()
	ts := &testServer{}
	select {
	case a := <-ready:
		ts.url = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
		meta.Close()
		st.Close()
	})
	if ts.token, _, err = meta.CreateToken(context.Background(), "team-a", "ui test"); err != nil {
		t.Fatal(err)
	}
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+ts.token)
			return next(ctx, req)
		}
	})
	ts.c = nexusv1connect.NewNexusServiceClient(http.DefaultClient, ts.url, connect.WithProtoJSON(), connect.WithInterceptors(auth))
	return ts
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bindings reads a bindings file of corpus/examples.
func bindings(t *testing.T, path string) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := yaml.Unmarshal([]byte(readFile(t, path)), &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func (ts *testServer) deploy(t *testing.T, file string, binds map[string]string, force bool) *nexusv1.WorkflowVersion {
	t.Helper()
	resp, err := ts.c.DeployWorkflow(ctxT(t), connect.NewRequest(&nexusv1.DeployWorkflowRequest{Source: readFile(t, file),
		File: filepath.Base(file), Bindings: binds, Force: force, Check: &nexusv1.CheckOptions{Instances: 1}}))
	if err != nil {
		t.Fatalf("deploy %s: %v", file, err)
	}
	return resp.Msg.Version
}

// run starts an execution and waits (on the server) for its end.
func (ts *testServer) run(t *testing.T, workflow string, version int64, id, input string) *nexusv1.Execution {
	t.Helper()
	in := &structpb.Value{}
	if err := in.UnmarshalJSON([]byte(input)); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.c.StartExecution(ctxT(t), connect.NewRequest(&nexusv1.StartExecutionRequest{Workflow: workflow, Version: version,
		ExecutionId: id, Input: in})); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	for {
		resp, err := ts.c.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id, WaitMs: 30000}))
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if resp.Msg.Execution.Terminal {
			return resp.Msg.Execution
		}
	}
}

// needE2E says what the end-to-end test lacks, if anything: in CI (CI
// set) a lack fails the test, elsewhere it skips it.
func needE2E(t *testing.T) string {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" is missing (apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core is not installed (cd server/ui/testdata/e2e && npm ci)")
	}
	if len(missing) > 0 {
		msg := "the browser test needs: " + strings.Join(missing, "; ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// TestBrowser drives the UI in headless Chromium: sign in, the workflows
// and their verdicts, a counterexample drawn on the graph, the executions
// filtered, an execution's timeline, an execution started from the page.
// The Node script asserts on the pages; this test then asserts on the
// screenshots it took.
func TestBrowser(t *testing.T) {
	node := needE2E(t)
	ts := startServer(t)
	const (
		example   = "../../corpus/examples/payment-reconciliation-fixed.yaml"
		bug       = "../../corpus/bugs/irreversible-before-failable-step.yaml"
		holds     = "Betalningsrekoncilering"
		violated  = "irreversible-before-failable-step"
		invariant = "MutationsCompensable"
	)
	// The example twice: bound to echo (v1), and to a transfer that keeps
	// failing (v2); the bug forced in despite its verdict.
	v1 := ts.deploy(t, example, bindings(t, "../../corpus/examples/payment-reconciliation-fixed.bindings.yaml"), false)
	v2 := ts.deploy(t, example, bindings(t, "../../corpus/examples/payment-reconciliation-fixed.failing.bindings.yaml"), false)
	if v1.Name != holds || v1.Version != 1 || v2.Version != 2 || v1.Verification.GetVerdict() != "holds" {
		t.Fatalf("deployed %s v%d (%s) and v%d", v1.Name, v1.Version, v1.Verification.GetVerdict(), v2.Version)
	}
	echo := map[string]string{}
	for _, fn := range []string{"reserve-stock", "release-stock", "send-email", "charge-card", "refund-card"} {
		echo[fn] = "builtin:echo"
	}
	if b := ts.deploy(t, bug, echo, true); b.Name != violated || b.Verification.GetVerdict() != "violated" {
		t.Fatalf("deployed %s: %s", b.Name, b.Verification.GetVerdict())
	}
	if x := ts.run(t, holds, 1, "e2e-succeeded", `{"transferId": "t-1", "amount": 42}`); x.Status != "succeeded" {
		t.Fatalf("e2e-succeeded: %s %s", x.Status, x.Error)
	}
	if x := ts.run(t, holds, 2, "e2e-compensated", `{"transferId": "t-2", "amount": 42}`); x.Status != "compensated" {
		t.Fatalf("e2e-compensated: %s %s", x.Status, x.Error)
	}

	shots := os.Getenv("NEXUS_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	} else if shots, err = filepath.Abs(shots); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(map[string]string{"holds": holds, "violated": violated, "invariant": invariant,
		"succeeded": "e2e-succeeded", "compensated": "e2e-compensated"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "NEXUS_URL="+ts.url, "NEXUS_TOKEN="+ts.token, "NEXUS_UI_SCREENSHOTS="+shots,
		"NEXUS_UI_E2E="+string(want), "CHROMIUM="+chromium)
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node e2e.mjs (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("the browser test failed: %v (screenshots in %s)", err, shots)
	}
	t.Logf("screenshots in %s", shots)

	// The counterexample is drawn: the states of the trace are filled with
	// the highlight; the graph of a holding version has none of it.
	cex := decode(t, filepath.Join(shots, "graph-counterexample.png"))
	if b := cex.Bounds(); b.Dx() < 150 || b.Dy() < 150 {
		t.Errorf("graph-counterexample.png is %dx%d: too small for the graph", b.Dx(), b.Dy())
	}
	if n := count(cex, highlight); n < 2000 {
		t.Errorf("graph-counterexample.png has %d pixels of the trace highlight #ffe9a8, want the visited states filled (≥ 2000)", n)
	} else {
		t.Logf("graph-counterexample.png: %d highlighted pixels of %d", n, cex.Bounds().Dx()*cex.Bounds().Dy())
	}
	if n := count(decode(t, filepath.Join(shots, "graph-holds.png")), highlight); n != 0 {
		t.Errorf("graph-holds.png has %d pixels of the trace highlight, want none (no counterexample)", n)
	}
	if n := count(decode(t, filepath.Join(shots, "graph-execution.png")), highlight); n < 2000 {
		t.Errorf("graph-execution.png has %d pixels of the highlight, want the execution's path filled", n)
	}
	// The pages are whole pages of the viewport's width.
	for _, name := range []string{"01-sign-in.png", "02-workflows.png", "03-workflow-counterexample.png", "05-executions-succeeded.png",
		"06-execution-succeeded.png", "07-execution-compensated.png"} {
		if b := decode(t, filepath.Join(shots, name)).Bounds(); b.Dx() != 1280 || b.Dy() < 600 {
			t.Errorf("%s is %dx%d, want 1280 wide and a page high", name, b.Dx(), b.Dy())
		}
	}
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// count is the number of pixels within a small distance of colour c
// (anti-aliasing and colour conversion move a few units).
func count(img image.Image, c [3]uint8) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c[0]) && near(g>>8, c[1]) && near(bl>>8, c[2]) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, c uint8) bool {
	d := int(v) - int(c)
	return d >= -4 && d <= 4
}

// TestServedByServer: nexus serve's handler serves the UI without a
// token (the page holds no data), redirects / to it, and leaves the API,
// its authentication and the other endpoints as they are.
func TestServedByServer(t *testing.T) {
	ts := startServer(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, token string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, ts.url+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", "/", ""); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d to %q, want 302 to /ui/", r.StatusCode, r.Header.Get("Location"))
	}
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css", "/healthz", "/openapi.json"} {
		if r := do("GET", p, ""); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", p, r.StatusCode)
		}
	}
	if r := do("GET", "/nowhere", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere: %d, want 404", r.StatusCode)
	}
	const list = "/nexus.v1.NexusService/ListWorkflows"
	if r := do("POST", list, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST %s without a token: %d, want 401", list, r.StatusCode)
	}
	if r := do("POST", list, ts.token); r.StatusCode != http.StatusOK {
		t.Errorf("POST %s with the token: %d, want 200", list, r.StatusCode)
	}
	if r := do("GET", "/metrics", ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token: %d, want 401", r.StatusCode)
	}
}
