package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/server"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// serveFlags are the options of nexus serve.
type serveFlags struct {
	dbFlags
	addr            string
	tlsCert, tlsKey string
	maxRequest      int64
	policies        []string
	secretsDir      string
	checkTimeout    time.Duration
	trace           string
	logLevel        string
	lease, adopt    time.Duration
}

func (e *env) serveCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API, the deploy gate, triggers and metrics over the engine",
		Long: `Serve nexus over HTTP: the API (gRPC, gRPC-Web and JSON over HTTP, one
handler; the OpenAPI document at /openapi.json), the deploy gate (nexus
deploy), CloudEvents (POST /events) and cron triggers, Prometheus metrics
(/metrics) and OpenTelemetry traces (--trace). Executions left unfinished
by an engine that stopped are resumed at start.

Every call but /healthz and /openapi.json needs a bearer token made with
nexus token create (on the same database). Function secrets are named by
bindings (#bearer_env=NAME) and read from the environment or from
--secrets-dir/NAME; they are never stored or logged.

Several servers may share one PostgreSQL database (--postgres): each runs
the executions it starts under a lease it renews; when a node dies, its
leases run out (--lease) and the others take its unfinished executions
over (checking every --adopt-every). Any node answers for any execution.

The server runs until SIGINT or SIGTERM, then stops accepting calls and
leaves its executions to resume.`,
		Example: `  nexus token create --namespace team-a --db nexus.db
  nexus serve --db nexus.db --addr 127.0.0.1:8080
  nexus serve --postgres 'postgres://nexus@db:5432/nexus' --addr :8080 --lease 10s
  nexus serve --db /var/lib/nexus/nexus.db --addr :8443 --tls-cert cert.pem --tls-key key.pem --trace otlp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (HOST:PORT)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fl.IntVar(&f.maxPayload, "max-payload", invoke.DefaultMaxPayloadBytes, "payload size limit in bytes (inputs, outputs, state data)")
	fl.Int64Var(&f.maxRequest, "max-request", 4<<20, "request body size limit in bytes")
	fl.StringArrayVar(&f.policies, "policy", nil, "policy file applied to every deploy (repeatable)")
	fl.StringVar(&f.secretsDir, "secrets-dir", "", "directory of secret files, one per name a binding's #bearer_env=NAME gives")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 2*time.Minute, "bound on the model checking of one deploy")
	fl.StringVar(&f.trace, "trace", "none", "OpenTelemetry traces: none, stdout, or otlp (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.DurationVar(&f.lease, "lease", 30*time.Second, "how long a node owns its executions without renewing; a dead node's are taken over after it")
	fl.DurationVar(&f.adopt, "adopt-every", 0, "how often to take over executions whose lease ran out (0: half the lease on PostgreSQL, never on SQLite)")
	f.register(cmd, true)
	return cmd
}

func (e *env) serve(ctx context.Context, f *serveFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.lease <= 0 || f.adopt < 0 {
		return usageError("--lease must be positive and --adopt-every not negative")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	var policies []policy.Source
	for _, p := range f.policies {
		src, err := os.ReadFile(p)
		if err != nil {
			return usageError("--policy: %v", err)
		}
		ps, fs := policy.Load(p, src)
		if fs.Errors() > 0 {
			for _, fd := range fs {
				fmt.Fprintln(e.stderr, fd.Error())
			}
			return usageError("the policy file %s has errors", p)
		}
		policies = append(policies, ps...)
	}
	var exp sdktrace.SpanExporter
	switch f.trace {
	case "none", "":
	case "stdout":
		x, err := stdouttrace.New(stdouttrace.WithWriter(e.stdout))
		if err != nil {
			return usageError("--trace: %v", err)
		}
		exp = x
	case "otlp":
		x, err := otlptracehttp.New(ctx)
		if err != nil {
			return usageError("--trace: %v", err)
		}
		exp = x
	default:
		return usageError("--trace must be none, stdout or otlp, not %q", f.trace)
	}
	st, err := f.open(true)
	if err != nil {
		return usageError("%v", err)
	}
	defer st.Close()
	loc := f.postgresURL()
	if loc == "" {
		loc = f.path()
	}
	meta, err := server.OpenMeta(ctx, loc)
	if err != nil {
		return usageError("%v", err)
	}
	defer meta.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, server.Options{Store: st, Meta: meta, LogKey: f.key(), MaxPayloadBytes: f.maxPayload,
		MaxRequestBytes: f.maxRequest, Parse: parseWorkflow, Policies: policies, SecretsDir: f.secretsDir,
		CheckTimeout: f.checkTimeout, SpanExporter: exp, Logger: log, Lease: f.lease, AdoptEvery: f.adopt})
	if err != nil {
		return usageError("%v", err)
	}
	defer srv.Close()
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	err = server.Serve(ctx, srv.Handler(), server.ServeOptions{Addr: f.addr, TLSCert: f.tlsCert, TLSKey: f.tlsKey,
		Ready: func(a net.Addr) {
			fmt.Fprintf(e.stderr, "nexus serve: listening on %s://%s (database %s)\n", scheme, a, f.where())
		}})
	if err != nil {
		if strings.Contains(err.Error(), "listen") || strings.Contains(err.Error(), "TLS") {
			return usageError("%v", err)
		}
		return &exitError{code: exitUsage, err: err}
	}
	fmt.Fprintln(e.stderr, "nexus serve: stopped; unfinished executions resume at the next start")
	return nil
}
