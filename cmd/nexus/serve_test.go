package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
)

// The nexus serve tests run the command as a process of its own (this
// test binary re-executed into TestServeChild), so that it can be
// stopped with SIGTERM as an operator would.

// TestServeChild is nexus serve ARGS when NEXUS_SERVE_CHILD holds the
// arguments (JSON); otherwise it does nothing.
func TestServeChild(t *testing.T) {
	js := os.Getenv("NEXUS_SERVE_CHILD")
	if js == "" {
		t.Skip("the nexus serve process of TestServe (runs only as its child)")
	}
	var args []string
	if err := json.Unmarshal([]byte(js), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(run(args, strings.NewReader(""), os.Stdout, os.Stderr))
}

// serveProc is a running nexus serve.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stdout bytes.Buffer    // complete once the process ended
	stderr strings.Builder // complete once done is closed
	done   chan struct{}
}

var listening = regexp.MustCompile(`listening on (https?://\S+)`)

// startServe starts nexus serve with args and waits for it to listen.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	js, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), "NEXUS_SERVE_CHILD="+string(js))
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &p.stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd != nil {
			p.cmd.Process.Kill()
			<-p.done
			p.cmd.Wait()
		}
	})
	url := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(pipe)
		found := false
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil && !found {
				url <- m[1]
				found = true
			}
			p.stderr.WriteString(sc.Text() + "\n")
		}
	}()
	select {
	case p.url = <-url:
	case <-p.done:
		cmd.Wait()
		p.cmd = nil
		t.Fatalf("nexus serve did not start:\n%s", p.stderr.String())
	}
	return p
}

// stop sends SIGTERM, waits for the process to end and returns its exit
// code.
func (p *serveProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	err := p.cmd.Wait()
	p.cmd = nil
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

func call(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServe: nexus token create, nexus serve on an SQLite file, nexus
// deploy refused for a violation (by the local check, and by the
// server's with --local=false), forced with the verdict recorded, a
// clean workflow deployed, an execution started and read over JSON,
// metrics, and a graceful stop.
func TestServe(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts nexus serve")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "nexus.db")
	code, tok, stderr := nexus(t, "token", "create", "--namespace", "team-a", "--name", "ci", "--db", db)
	tok = strings.TrimSpace(tok)
	if code != exitOK || !strings.HasPrefix(tok, "nexus_") || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("token create: exit %d %q %s", code, tok, stderr)
	}
	if code, out, _ := nexus(t, "token", "list", "--db", db); code != exitOK || !strings.Contains(out, "team-a") || strings.Contains(out, tok) {
		t.Fatalf("token list: exit %d\n%s", code, out)
	}
	p := startServe(t, "--db", db, "--trace", "stdout")

	bug := filepath.Join(dir, "bug.yaml")
	os.WriteFile(bug, []byte(`version: "1.0"
name: pay-then-ship
functions: {pay: {uri: "builtin:echo"}, ship: {uri: "builtin:echo"}}
states:
- {name: Pay, action: pay, mutates: true, irreversible: true, next: Ship}
- {name: Ship, action: ship, end: true}
`), 0o644)
	deploy := func(args ...string) (int, string, string) {
		t.Helper()
		return nexus(t, append([]string{"deploy", "--server", p.url, "--token", tok}, args...)...)
	}
	if code, _, stderr := deploy(bug); code != exitFindings || !strings.Contains(stderr, "refused here") {
		t.Fatalf("deploy a violation: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := deploy(bug, "--local=false")
	if code != exitFindings || !strings.Contains(stdout, "verdict: violated") || !strings.Contains(stdout, "MutationsCompensable") ||
		!strings.Contains(stderr, "failed_precondition") {
		t.Fatalf("deploy a violation, checked by the server: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = deploy(bug, "--force")
	if code != exitOK || !strings.Contains(stdout, `deployed pay-then-ship version 1`) || !strings.Contains(stdout, `FORCED despite verdict "violated"`) {
		t.Fatalf("forced deploy: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := deploy(bug, "--local=false", "--token", "nexus_wrong"); code != exitUsage || !strings.Contains(stderr, "unauthenticated") {
		t.Fatalf("deploy with a wrong token: exit %d\n%s", code, stderr)
	}
	pay := "../../corpus/examples/payment-reconciliation-fixed.yaml"
	code, stdout, stderr = deploy(pay)
	if code != exitOK || !strings.Contains(stdout, "verdict: holds") || !strings.Contains(stdout, "version 1") {
		t.Fatalf("deploy the payment example: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := deploy(pay); code != exitOK || !strings.Contains(stdout, "already the latest") {
		t.Fatalf("deploy the same again: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = deploy(pay, "-o", "json")
	var dv struct{ Version struct{ Name string } }
	if code != exitOK || json.Unmarshal([]byte(stdout), &dv) != nil || dv.Version.Name == "" {
		t.Fatalf("deploy -o json: exit %d\n%s", code, stdout)
	}
	name := dv.Version.Name

	// The JSON API.
	c := http.DefaultClient
	st, body := call(t, c, "POST", p.url+"/nexus.v1.NexusService/StartExecution", tok,
		`{"workflow": "`+name+`", "executionId": "p-1", "input": {"transferId": "t-1", "amount": 42}}`)
	if st != 200 || !strings.Contains(body, `"created":true`) {
		t.Fatalf("start: %d %s", st, body)
	}
	st, body = call(t, c, "POST", p.url+"/nexus.v1.NexusService/GetExecution", tok, `{"executionId": "p-1", "waitMs": 20000}`)
	if st != 200 || !strings.Contains(body, `"status":"succeeded"`) {
		t.Fatalf("get: %d %s", st, body)
	}
	st, body = call(t, c, "GET", p.url+"/metrics", tok, "")
	for _, want := range []string{`workflow_executions_total{status="succeeded"} 1`, "workflow_state_transitions_total ",
		"workflow_transition_duration_seconds_count ", `workflow_function_call_duration_seconds_count{function="validate-user-function"`,
		`nexus_deploys_total{forced="true",verdict="violated"} 1`} {
		if st != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics: %d, no %s in\n%.3000s", st, want, body)
		}
	}
	if st, _ := call(t, c, "GET", p.url+"/metrics", "", ""); st != 401 {
		t.Fatalf("metrics without a token: %d", st)
	}
	if code := p.stop(t); code != exitOK || !strings.Contains(p.stderr.String(), "stopped") || strings.Contains(p.stderr.String(), tok) {
		t.Fatalf("stop: exit %d\n%s", code, p.stderr.String())
	}
	// --trace stdout: the execution's span and its steps', flushed at the
	// stop.
	for _, want := range []string{`"Name":"execution team-a/p-1"`, `"Name":"ValidateUser validate-user-function"`} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("the spans on stdout lack %s:\n%.3000s", want, p.stdout.String())
		}
	}
	// Only the token's hash is stored.
	for _, f := range []string{db, db + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(tok)) {
			t.Errorf("the token is stored in clear in %s", f)
		}
	}
}

// TestServePostgresTLS: nexus serve on PostgreSQL over HTTPS, with a
// token made on that database.
func TestServePostgresTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts nexus serve")
	}
	u := pgtest.Schema(t)
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	code, tok, stderr := nexus(t, "token", "create", "--namespace", "ops", "--postgres", u)
	tok = strings.TrimSpace(tok)
	if code != exitOK {
		t.Fatalf("token create: exit %d %s", code, stderr)
	}
	p := startServe(t, "--postgres", u, "--tls-cert", cert, "--tls-key", key, "--lease", "5s")
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("url %s", p.url)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if st, body := call(t, c, "GET", p.url+"/healthz", "", ""); st != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", st, body)
	}
	src := `version: \"1.0\"\nname: hello\nstates:\n- {name: A, type: pass, result: {hello: world}, end: true}\n`
	if st, body := call(t, c, "POST", p.url+"/nexus.v1.NexusService/DeployWorkflow", tok, `{"file": "hello.yaml", "source": "`+src+`"}`); st != 200 {
		t.Fatalf("deploy: %d %s", st, body)
	}
	if st, body := call(t, c, "POST", p.url+"/nexus.v1.NexusService/StartExecution", tok, `{"workflow": "hello", "executionId": "h1"}`); st != 200 {
		t.Fatalf("start: %d %s", st, body)
	}
	if st, body := call(t, c, "POST", p.url+"/nexus.v1.NexusService/GetExecution", tok, `{"executionId": "h1", "waitMs": 20000}`); st != 200 ||
		!strings.Contains(body, `"status":"succeeded"`) || !strings.Contains(body, `"hello":"world"`) {
		t.Fatalf("get: %d %s", st, body)
	}
	// Plain HTTP to the TLS port is refused (400: an HTTP request to an
	// HTTPS server).
	if st, _ := call(t, http.DefaultClient, "GET", "http://"+strings.TrimPrefix(p.url, "https://")+"/healthz", "", ""); st != 400 {
		t.Fatalf("plain HTTP to the TLS port: %d", st)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("stop: exit %d\n%s", code, p.stderr.String())
	}
	// Usage errors: a certificate without a key, a bad lease.
	if code, _, stderr := nexus(t, "serve", "--postgres", u, "--tls-cert", cert, "--addr", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "TLS") {
		t.Fatalf("--tls-cert alone: exit %d %s", code, stderr)
	}
	if code, _, stderr := nexus(t, "serve", "--postgres", u, "--lease", "0s"); code != exitUsage || !strings.Contains(stderr, "--lease") {
		t.Fatalf("--lease 0: exit %d %s", code, stderr)
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nexus test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}
