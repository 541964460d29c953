package invoke

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Lambda tests run against a real third-party emulator,
// serverless-offline (testdata/lambda-emulator, ../../shared/notes/lambda-emulator.md),
// on 127.0.0.1:3002. TestMain starts it in the background when
// node_modules is installed, nothing answers there yet and the Lambda
// tests are to run, and stops it at the end; the Lambda tests wait for it. Without it they skip, except in
// CI (CI set) or with NEXUS_TEST_LAMBDA=1, where they fail.
// NEXUS_LAMBDA_ENDPOINT points the tests at an emulator started elsewhere.
const (
	emulatorDir      = "testdata/lambda-emulator"
	emulatorEndpoint = "http://127.0.0.1:3002"
	emulatorStartMax = 120 * time.Second // 5-8 s usually, 30 s seen on a loaded 2-core machine
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(gcfServerEnv); addr != "" {
		os.Exit(serveFunctionsFramework(addr)) // this process is the GCF test server
	}
	// The SDK's default credential chain must never reach for the EC2
	// metadata address from a test.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	flag.Parse()
	if willRun("TestLambdaEmulator") {
		go emulator.start() // in the background: other tests run meanwhile
	}
	code := m.Run()
	if err := emulator.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the Lambda emulator:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// willRun reports whether the top-level test name may run in this
// process: not in fuzzing and its workers, and matching -test.run and not
// -test.skip (best effort: needLambda starts the emulator anyway).
func willRun(name string) bool {
	get := func(f string) string {
		if fl := flag.Lookup(f); fl != nil {
			return fl.Value.String()
		}
		return ""
	}
	if get("test.fuzz") != "" || get("test.fuzzworker") == "true" || get("test.list") != "" {
		return false
	}
	match := func(pattern string) bool {
		ok, err := regexp.MatchString(strings.Split(pattern, "/")[0], name)
		return err != nil || ok
	}
	if run := get("test.run"); run != "" && !match(run) {
		return false
	}
	if skip := get("test.skip"); skip != "" && !strings.Contains(skip, "/") && match(skip) {
		return false
	}
	return true
}

// lambdaEmulator is the emulator the tests share.
type lambdaEmulator struct {
	once     sync.Once
	endpoint string
	err      error     // why it is unavailable (set by start)
	cmd      *exec.Cmd // nil if we did not start it
	exited   chan struct{}
	log      bytes.Buffer
	logMu    sync.Mutex
}

var emulator = &lambdaEmulator{}

func (e *lambdaEmulator) Write(p []byte) (int, error) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.Write(p)
}

func (e *lambdaEmulator) logTail() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	s := e.log.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

const startHint = "install and start it with engine/invoke/testdata/lambda-emulator/start.sh " +
	"(or run `npm ci` there and the tests start it themselves)"

// start finds or starts the emulator, once, and waits until it answers.
func (e *lambdaEmulator) start() { e.once.Do(e.launch) }

func (e *lambdaEmulator) launch() {
	e.endpoint = emulatorEndpoint
	if ep := os.Getenv("NEXUS_LAMBDA_ENDPOINT"); ep != "" {
		e.endpoint = ep
		e.waitReady(nil)
		return
	}
	if emulatorAnswers(e.endpoint) {
		return // started by start.sh: use it, leave it running
	}
	bin := filepath.Join(emulatorDir, "node_modules", ".bin", "serverless")
	if _, err := os.Stat(bin); err != nil {
		e.err = fmt.Errorf("no Lambda emulator on %s and %s is not installed; %s", e.endpoint, bin, startHint)
		return
	}
	dir, _ := filepath.Abs(emulatorDir)
	cmd := exec.Command(filepath.Join(dir, "node_modules", ".bin", "serverless"),
		"offline", "start", "--host", "127.0.0.1", "--lambdaPort", "3002", "--noSponsor")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SLS_TELEMETRY_DISABLED=1", "SLS_NOTIFICATIONS_MODE=off", "SLS_DEPRECATION_DISABLE=*",
		"NODE_OPTIONS=--require "+filepath.Join(dir, "keep-alive-on-async-errors.cjs"))
	cmd.Stdout, cmd.Stderr = e, e
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.err = fmt.Errorf("starting the Lambda emulator: %w; %s", err, startHint)
		return
	}
	e.cmd = cmd
	e.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(e.exited) }()
	e.waitReady(e.exited)
}

// waitReady polls the invoke route until it answers (any status), the
// process exits or emulatorStartMax passes.
func (e *lambdaEmulator) waitReady(exited <-chan struct{}) {
	deadline := time.After(emulatorStartMax)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !emulatorAnswers(e.endpoint) {
		select {
		case <-exited:
			e.err = fmt.Errorf("the Lambda emulator exited during startup:\n%s", e.logTail())
			return
		case <-deadline:
			e.err = fmt.Errorf("the Lambda emulator did not answer on %s within %v:\n%s", e.endpoint, emulatorStartMax, e.logTail())
			return
		case <-tick.C:
		}
	}
}

func emulatorAnswers(endpoint string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/2015-03-31/functions/__ping__/invocations", strings.NewReader("{}"))
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// stop ends the emulator if we started it: SIGTERM to its process group,
// SIGKILL if it has not exited 15 s later.
func (e *lambdaEmulator) stop() error {
	e.once.Do(func() {}) // not started: never start it now (waits for a start under way)
	if e.cmd == nil {
		return nil
	}
	pgid := -e.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-e.exited
		return errors.New("did not exit on SIGTERM within 15 s; killed")
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL) // any worker left in the group
	return nil
}

// needLambda returns the emulator's endpoint once it answers; without one
// it skips the test, or fails it in CI and with NEXUS_TEST_LAMBDA=1.
func needLambda(t *testing.T) string {
	t.Helper()
	emulator.start()
	if emulator.err != nil {
		if os.Getenv("CI") != "" || os.Getenv("NEXUS_TEST_LAMBDA") == "1" {
			t.Fatalf("Lambda emulator required (CI or NEXUS_TEST_LAMBDA=1): %v", emulator.err)
		}
		t.Skipf("Lambda emulator unavailable: %v", emulator.err)
	}
	return emulator.endpoint
}
