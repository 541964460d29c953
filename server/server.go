package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/server/ui"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options configure a Server. Store and Meta are required.
type Options struct {
	// Store is the engine's store; Meta the server's tables (tokens,
	// versions), normally in the same database.
	Store store.Store
	Meta  *Meta
	// Invokers call functions (nil: an invoke.Registry whose secrets
	// (#bearer_env=NAME) are read from the environment, then from
	// SecretsDir/NAME).
	Invokers engine.Invokers
	// Inline are in-process functions by binding URI (engine.Options).
	Inline map[string]invoke.Func
	// SecretsDir holds one file per secret, named as the variable a
	// binding names (#bearer_env=NAME): for secrets mounted as files.
	SecretsDir string
	// LogKey signs every log record (engine.Options.LogKey).
	LogKey []byte
	// MaxPayloadBytes bounds execution inputs and all data (0: 256 KiB).
	MaxPayloadBytes int
	// MaxRequestBytes bounds a request body (0: 4 MiB): a workflow source
	// and an input must fit.
	MaxRequestBytes int64
	// Parse reads workflow sources (nil: model.Parse; nexus serve passes
	// one that also reads Step Functions ASL).
	Parse func(file string, src []byte) (*model.Workflow, model.Findings)
	// Policies are applied to every deploy, beside the workflow's own.
	Policies []policy.Source
	// CheckTimeout bounds the model checking of one deploy (0: 2 min);
	// CheckMaxMemory its heap (0: 2 GiB). Checks run one at a time.
	CheckTimeout   time.Duration
	CheckMaxMemory int64
	// SpanExporter, when set, receives the spans (stdout, OTLP, a test's
	// recorder); nil: no tracing.
	SpanExporter sdktrace.SpanExporter
	// Logger (nil: discard). Request bodies, inputs, outputs and tokens
	// are never logged.
	Logger *slog.Logger
	// TriggerPoll is how often the cron schedules and the deployed
	// triggers are re-read (0: 2s).
	TriggerPoll time.Duration
	// OnTrigger, when set, is told of every execution a trigger started
	// (for tests).
	OnTrigger func(ns string, s Started)
	// UI, when set, replaces the web UI served at / (nil: package
	// server/ui's, at /ui/).
	UI http.Handler
	// Lease and PollInterval of the engine (engine.Options); zero: its
	// defaults.
	Lease, PollInterval time.Duration
	// AdoptEvery is how often the engine takes over the unfinished
	// executions whose lease ran out (engine.Options.AdoptEvery): on a
	// database several nodes share, the executions of a node that died
	// finish on the others. 0: half the lease when the store is shared
	// (a store.Adopter: PostgreSQL), never otherwise; negative: never.
	AdoptEvery time.Duration
}

// Server serves the API over one engine. Create one with New; Handler is
// the HTTP handler; Close stops it.
type Server struct {
	opts   Options
	st     store.Store
	meta   *Meta
	eng    *engine.Engine
	log    *slog.Logger
	tel    *telemetry
	auth   *authenticator
	trig   *triggers
	secret []byte

	checkSem chan struct{}

	mu       sync.Mutex
	versions map[string]*loaded // ns/name/version → compiled
	byDigest map[string]string  // ns, digest, bindings → "name\x00version"

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New opens an engine on opts.Store, resumes the executions no live
// engine owns, and starts the cron triggers.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil || opts.Meta == nil {
		return nil, errors.New("server: Store and Meta are required")
	}
	if opts.Parse == nil {
		opts.Parse = model.Parse
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 4 << 20
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = invoke.DefaultMaxPayloadBytes
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 2 * time.Minute
	}
	if opts.CheckMaxMemory <= 0 {
		opts.CheckMaxMemory = 2 << 30
	}
	if opts.TriggerPoll <= 0 {
		opts.TriggerPoll = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, st: opts.Store, meta: opts.Meta, log: log, checkSem: make(chan struct{}, 1),
		versions: map[string]*loaded{}, byDigest: map[string]string{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.secret, err = s.st.Secret(ctx); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.tel, err = newTelemetry(s, opts.SpanExporter); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	inv := opts.Invokers
	if inv == nil {
		reg := &invoke.Registry{MaxPayloadBytes: int64(opts.MaxPayloadBytes)}
		reg.HTTP.LookupEnv = secretLookup(opts.SecretsDir)
		reg.GCF.LookupEnv = reg.HTTP.LookupEnv
		inv = reg
	}
	s.opts.Invokers = inv
	adoptEvery := opts.AdoptEvery
	if _, shared := s.st.(store.Adopter); adoptEvery == 0 && shared {
		lease := opts.Lease
		if lease <= 0 {
			lease = 30 * time.Second
		}
		adoptEvery = lease / 2
	}
	if adoptEvery < 0 {
		adoptEvery = 0
	}
	s.eng, err = engine.Open(ctx, engine.Options{Store: s.st, Invokers: inv, SubWorkflows: s.subWorkflow, Inline: opts.Inline, LogKey: opts.LogKey,
		MaxPayloadBytes: opts.MaxPayloadBytes, Parse: opts.Parse, Observer: s.tel, Metrics: s.tel,
		TraceParent: s.tel.traceParent, Logger: log, Identity: identity, Lease: opts.Lease, PollInterval: opts.PollInterval,
		AdoptEvery: adoptEvery})
	if err != nil {
		s.tel.shutdown()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.auth = newAuthenticator(opts.Meta)
	s.trig = newTriggers(s)
	if resumed, err := s.eng.Resume(ctx); err != nil {
		log.Warn("resume", "err", err)
	} else if len(resumed) > 0 {
		log.Info("resumed executions", "count", len(resumed))
	}
	s.wg.Go(s.trig.cronLoop)
	return s, nil
}

// identity names an execution NAMESPACE/ID in the Context Object by its
// id alone, and its workflow by name.
func identity(exec string, m *model.Machine) engine.Identity {
	id := engine.DefaultIdentity(exec, m)
	if ns, name, ok := strings.Cut(exec, "/"); ok {
		id.ExecutionName = name
		id.ExecutionID = "nexus:execution:" + ns + ":" + m.Name + ":" + name
		id.StateMachineID = "nexus:workflow:" + ns + ":" + m.Name
	}
	return id
}

// secretLookup resolves a binding's #bearer_env=NAME from the
// environment, then from the file dir/NAME.
func secretLookup(dir string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		if dir == "" || name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return "", false
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", false
		}
		return strings.TrimRight(string(b), "\r\n"), true
	}
}

// Engine is the server's engine.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Close stops the triggers and the engine (executions stop where they
// are; another engine, or this one restarted, resumes them) and flushes
// the spans. It closes neither the store nor Meta.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	err := s.eng.Close()
	s.tel.shutdown()
	return err
}

// Handler is the server's HTTP handler: the API, /openapi.json,
// /metrics, /events, /healthz and the web UI.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	path, h := nexusv1connect.NewNexusServiceHandler(&api{s: s},
		connect.WithInterceptors(s.tel.interceptor(), s.auth.interceptor()),
		connect.WithReadMaxBytes(int(s.opts.MaxRequestBytes)))
	mux.Handle(path, h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	mux.Handle("GET /metrics", s.auth.http(s.tel.handler()))
	mux.Handle("POST /events", s.auth.http(http.HandlerFunc(s.trig.serveEvents)))
	if s.opts.UI != nil {
		mux.Handle("/", s.opts.UI)
	} else {
		mux.Handle("/", ui.Handler())
	}
	return mux
}

// ServeOptions say how Serve listens.
type ServeOptions struct {
	// Addr is HOST:PORT (":0" picks a free port).
	Addr string
	// TLSCert and TLSKey, when set, serve HTTPS (HTTP/2 with ALPN);
	// otherwise plain HTTP/1.1 and HTTP/2 without TLS (h2c, for gRPC).
	TLSCert, TLSKey string
	// Ready, when set, is called with the address listened on.
	Ready func(addr net.Addr)
}

// Serve serves h until ctx ends, then shuts down gracefully (requests in
// flight get 10 seconds).
func Serve(ctx context.Context, h http.Handler, o ServeOptions) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	if o.TLSCert != "" || o.TLSKey != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			ln.Close()
			return errors.New("TLS needs both a certificate and a key")
		}
		if _, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey); err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
