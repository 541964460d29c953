package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/spf13/cobra"
)

// exitInterrupted is the exit code of a run stopped by a signal: the
// execution is unfinished, not failed (nexus resume continues it).
const exitInterrupted = 130

// dbFlags are the flags of every command that uses the engine database:
// an SQLite file (--db) or a PostgreSQL database that many engines share
// (--postgres). nexus serve uses the same flags and the same open.
type dbFlags struct {
	db         string
	postgres   string
	logKey     string
	maxPayload int
}

func (f *dbFlags) register(cmd *cobra.Command, withKey bool) {
	cmd.Flags().StringVar(&f.db, "db", "", "engine database, an SQLite file (default $NEXUS_DB, else ./nexus.db)")
	cmd.Flags().StringVar(&f.postgres, "postgres", "", "engine database shared by many engines, a PostgreSQL URL "+
		"postgres://USER@HOST:PORT/DB?sslmode=disable (default $NEXUS_POSTGRES unless --db is given)")
	if withKey {
		cmd.Flags().StringVar(&f.logKey, "log-key", "", "key that signs (and checks) every log record with HMAC-SHA256 (default $NEXUS_LOG_KEY)")
	}
}

// path is the SQLite file: --db, else $NEXUS_DB, else ./nexus.db.
func (f *dbFlags) path() string {
	if f.db != "" {
		return f.db
	}
	if p := os.Getenv("NEXUS_DB"); p != "" {
		return p
	}
	return "nexus.db"
}

// postgresURL is the PostgreSQL database the command uses, "" when it
// uses an SQLite file: --postgres, else --db when it is a postgres:// URL,
// else $NEXUS_POSTGRES unless --db is given.
func (f *dbFlags) postgresURL() string {
	switch {
	case f.postgres != "":
		return f.postgres
	case engine.IsPostgres(f.db):
		return f.db
	case f.db == "":
		return os.Getenv("NEXUS_POSTGRES")
	}
	return ""
}

// where names the database in messages: the SQLite file, or the
// PostgreSQL URL without its password.
func (f *dbFlags) where() string {
	if u := f.postgresURL(); u != "" {
		if pu, err := url.Parse(u); err == nil {
			return pu.Redacted()
		}
		return "(PostgreSQL)"
	}
	return f.path()
}

// flag is the flag that names the same database again, for hints.
func (f *dbFlags) flag() string {
	if f.postgresURL() != "" {
		return "--postgres " + f.where()
	}
	return "--db " + f.path()
}

func (f *dbFlags) key() []byte {
	if f.logKey != "" {
		return []byte(f.logKey)
	}
	return []byte(os.Getenv("NEXUS_LOG_KEY"))
}

// open opens the database (engine.OpenStore): PostgreSQL, migrated on
// open, or an SQLite file, which unless create must exist already.
func (f *dbFlags) open(create bool) (store.Store, error) {
	if f.db != "" && f.postgres != "" {
		return nil, errors.New("give --db or --postgres, not both")
	}
	loc := f.postgresURL()
	if loc == "" {
		loc = f.path()
		if !create {
			if _, err := os.Stat(loc); err != nil {
				return nil, fmt.Errorf("no engine database at %s (--db PATH or NEXUS_DB; --postgres URL or NEXUS_POSTGRES)", loc)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := engine.OpenStore(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return st, nil
}

// engine opens an engine on st with the command line's invokers.
func (f *dbFlags) engine(ctx context.Context, st store.Store, obs engine.Observer) (*engine.Engine, error) {
	reg := &invoke.Registry{MaxPayloadBytes: int64(f.maxPayload)}
	return engine.Open(ctx, engine.Options{Store: st, Invokers: reg, LogKey: f.key(), MaxPayloadBytes: f.maxPayload,
		Parse: parseWorkflow, Observer: obs, SubWorkflows: subWorkflows()})
}

// subWorkflows resolves the bindings workflow:PATH of sub-workflow steps:
// PATH is a workflow file (relative to the working directory), run with
// its own NAME.bindings.yaml sidecar if it has one. Each file is read once
// per engine, so every child of a run runs the same definition.
func subWorkflows() func(string, string) (*engine.Workflow, error) {
	var mu sync.Mutex
	seen := map[string]*engine.Workflow{}
	return func(_, path string) (*engine.Workflow, error) {
		mu.Lock()
		defer mu.Unlock()
		if wf := seen[path]; wf != nil {
			return wf, nil
		}
		src, m, fs, err := load(path)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, fmt.Errorf("%s is not a valid workflow: %v", path, fs)
		}
		binds, _, err := loadBindings("", path)
		if err != nil {
			return nil, err
		}
		wf := &engine.Workflow{File: path, Source: src.src, Machine: m, Bindings: binds}
		seen[path] = wf
		return wf, nil
	}
}

type runFlags struct {
	dbFlags
	input, inputFile string
	bindings         string
	id               string
	output           string
	progress         string
}

func (e *env) runCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run FILE --input JSON",
		Short: "Run a workflow durably on the embedded engine",
		Long: `Run one execution of a workflow (nexus YAML or Step Functions ASL) on the
embedded engine: every event and every intent is appended to a hash-chained
log in an SQLite database (--db, default $NEXUS_DB or ./nexus.db), or in a
PostgreSQL database that many engines share (--postgres URL, default
$NEXUS_POSTGRES), before anything is executed, so that a crash loses
nothing: nexus resume continues the execution where it stopped.

Functions are called where their bindings say: the workflow's functions:
section, overridden by --bindings FILE (a YAML map of function name to URI).
Without --bindings, FILE's sidecar NAME.bindings.yaml is used when it exists.
URIs: exec:PATH, http(s)://..., lambda:NAME, gcf:..., and the built-in
builtin:echo (returns its input) and builtin:fail?error=NAME&cause=TEXT.

Each step is shown as it happens on standard error (a live view in a
terminal, plain lines otherwise); the output goes to standard output.
Exit 0 when the execution succeeded, 1 when it did not (failed, compensated,
cancelled, timed out), 2 when it could not run (invalid workflow, bad input,
unbound function), 130 when interrupted (the execution is left to resume).`,
		Example: `  nexus run corpus/examples/payment-reconciliation-fixed.yaml --input '{"transferId": "t-1", "amount": 42}'
  nexus run order.yaml --input-file order.json --bindings prod.bindings.yaml --db /var/lib/nexus/nexus.db
  nexus run order.yaml --input '{"id": 1}' --postgres 'postgres://nexus@db.internal:5432/nexus?sslmode=require'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.run(cmd.Context(), f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "", "input of the execution (JSON)")
	fl.StringVar(&f.inputFile, "input-file", "", "read the input from a file (- for standard input)")
	fl.StringVar(&f.bindings, "bindings", "", "YAML file binding function names to URIs")
	fl.StringVar(&f.id, "id", "", "execution id (default: a new one); starting an existing id is an error")
	fl.StringVarP(&f.output, "output", "o", "text", "result format: text (the output JSON) or json (id, status, output, error)")
	fl.StringVar(&f.progress, "progress", "auto", "show steps: auto (a live view in a terminal, lines otherwise), live, lines or none")
	fl.IntVar(&f.maxPayload, "max-payload", invoke.DefaultMaxPayloadBytes, "payload size limit in bytes (inputs, outputs, state data)")
	f.register(cmd, true)
	return cmd
}

func (e *env) run(ctx context.Context, f *runFlags, path string) error {
	if f.output != "text" && f.output != "json" {
		return usageError("-o must be text or json")
	}
	input, err := readInput(f.input, f.inputFile, e.stdin)
	if err != nil {
		return usageError("%v", err)
	}
	src, m, fs, err := load(path)
	if err != nil {
		return usageError("%v", err)
	}
	if m == nil {
		printFindings(e.stderr, src, fs)
		return usageError("%s is not a valid workflow; nothing was run", path)
	}
	binds, from, err := loadBindings(f.bindings, path)
	if err != nil {
		return usageError("%v", err)
	}
	if from != "" {
		fmt.Fprintf(e.stderr, "bindings from %s\n", from)
	}
	st, err := f.open(true)
	if err != nil {
		return usageError("%v", err)
	}
	defer st.Close()
	view := newProgress(e.stderr, f.progress, m)
	en, err := f.engine(ctx, st, view)
	if err != nil {
		return usageError("%v", err)
	}
	defer en.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	wf := &engine.Workflow{File: path, Source: src.src, Machine: m, Bindings: binds}
	id, err := en.Start(ctx, wf, input, engine.StartOptions{ID: f.id})
	if err != nil {
		var be *engine.BindingError
		if errors.As(err, &be) {
			for _, p := range be.Problems {
				fmt.Fprintf(e.stderr, "%s: %s\n", path, p)
			}
			if len(be.Unbound) > 0 {
				fmt.Fprintln(e.stderr, engine.BindingHint)
			}
			return usageError("%s: functions without a usable binding; nothing was run", path)
		}
		return usageError("%v", err)
	}
	view.started(id, f.where())
	res, err := en.Wait(ctx, id)
	view.stop()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "interrupted: execution %s is unfinished; nexus resume %s %s continues it\n", id, id, f.flag())
			return &exitError{code: exitInterrupted}
		}
		return &exitError{code: exitUsage, err: err}
	}
	return e.printResult(res, f.output)
}

// printResult writes how an execution ended and returns its exit error.
func (e *env) printResult(res *engine.Result, format string) error {
	if format == "json" {
		out := map[string]any{"execution": res.ID, "status": res.Status.String()}
		if res.Status == model.Succeeded {
			out["output"] = json.RawMessage(res.Output)
		} else {
			out["error"], out["cause"] = res.Error, res.Cause
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
	} else {
		if res.Status == model.Succeeded {
			fmt.Fprintln(e.stdout, string(res.Output))
		}
		line := fmt.Sprintf("execution %s %s", res.ID, res.Status)
		if res.Status != model.Succeeded {
			line += ": " + res.Error
			if res.Cause != "" {
				line += ": " + res.Cause
			}
		}
		fmt.Fprintln(e.stderr, line)
	}
	if res.Status != model.Succeeded {
		return findings()
	}
	return nil
}

func readInput(input, file string, stdin io.Reader) ([]byte, error) {
	var b []byte
	switch {
	case input != "" && file != "":
		return nil, errors.New("give --input or --input-file, not both")
	case file == "-":
		var err error
		if b, err = io.ReadAll(io.LimitReader(stdin, 64<<20)); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	case file != "":
		var err error
		if b, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	case input != "":
		b = []byte(input)
	default:
		b = []byte("{}")
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("input is not JSON: %.80q", b)
	}
	return b, nil
}

func printFindings(w io.Writer, src *source, fs model.Findings) {
	for _, f := range fs {
		fmt.Fprint(w, f.Render(src.src))
	}
}

// loadBindings reads a bindings file: a YAML (or JSON) map of function
// name to URI, or to {uri: URI}, optionally under a functions: key.
// Without a file, the workflow's sidecar NAME.bindings.yaml is read if it
// exists. It returns the file read ("" when none).
func loadBindings(file, workflow string) (map[string]string, string, error) {
	if file == "" {
		side := strings.TrimSuffix(workflow, filepath.Ext(workflow)) + ".bindings.yaml"
		if _, err := os.Stat(side); err != nil {
			return nil, "", nil
		}
		file = side
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("bindings: %w", err)
	}
	root, fs := model.ParseNode(file, src)
	if root == nil || fs.Errors() > 0 {
		return nil, "", fmt.Errorf("bindings: %v", fs)
	}
	if fn := root.Get("functions"); fn != nil && len(root.Keys) == 1 {
		root = fn
	}
	if root.Kind != model.MapNode {
		return nil, "", fmt.Errorf("%s:%d:%d: bindings are a map of function name to URI", file, root.Pos.Line, root.Pos.Col)
	}
	out := map[string]string{}
	for i, k := range root.Keys {
		v := root.Vals[i]
		if v.Kind == model.MapNode {
			if u := v.Get("uri"); u != nil {
				v = u
			}
		}
		if v.Kind != model.StringNode || v.Str == "" {
			return nil, "", fmt.Errorf("%s:%d:%d: the binding of %q must be a URI string (or {uri: URI})", file, v.Pos.Line, v.Pos.Col, k.Str)
		}
		out[k.Str] = v.Str
	}
	return out, file, nil
}

func (e *env) resumeCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "resume [EXECUTION...]",
		Short: "Continue unfinished executions from their logs",
		Long: `Continue executions left unfinished (an engine crashed, was killed or was
interrupted): the named ones, or every unfinished execution no live engine
runs. Each is rebuilt from its latest snapshot and the log after it; calls
whose intent was logged without an outcome are made again with the same
idempotency key. Waits until they end.

Exit 0 when all succeeded, 1 when one did not, 2 when one could not be
resumed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.resume(cmd.Context(), f, args)
		},
	}
	cmd.Flags().StringVar(&f.progress, "progress", "lines", "show steps: lines or none")
	cmd.Flags().IntVar(&f.maxPayload, "max-payload", invoke.DefaultMaxPayloadBytes, "payload size limit in bytes")
	f.register(cmd, true)
	return cmd
}

func (e *env) resume(ctx context.Context, f *runFlags, ids []string) error {
	st, err := f.open(false)
	if err != nil {
		return usageError("%v", err)
	}
	defer st.Close()
	var obs engine.Observer
	if f.progress != "none" {
		obs = &lines{w: e.stderr, prefix: true, start: map[string]int64{}}
	}
	en, err := f.engine(ctx, st, obs)
	if err != nil {
		return usageError("%v", err)
	}
	defer en.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	resumed, rerr := en.Resume(ctx, ids...)
	if rerr != nil {
		fmt.Fprintln(e.stderr, "nexus:", rerr)
	}
	if len(resumed) == 0 && rerr == nil {
		fmt.Fprintln(e.stderr, "no unfinished execution to resume")
		return nil
	}
	sort.Strings(resumed)
	failed := false
	for _, id := range resumed {
		res, err := en.Wait(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(e.stderr, "interrupted; nexus resume continues again")
				return &exitError{code: exitInterrupted}
			}
			fmt.Fprintln(e.stderr, "nexus:", err)
			failed = true
			continue
		}
		line := fmt.Sprintf("execution %s %s", id, res.Status)
		if res.Status == model.Succeeded {
			line += " " + string(res.Output)
		} else {
			failed = true
			line += ": " + res.Error
		}
		fmt.Fprintln(e.stdout, line)
	}
	switch {
	case rerr != nil:
		return &exitError{code: exitUsage}
	case failed:
		return findings()
	}
	return nil
}

// progress shows the steps of one execution as they are committed.
type progress interface {
	engine.Observer
	started(id, db string)
	stop()
}

func newProgress(w io.Writer, mode string, m *model.Machine) progress {
	switch mode {
	case "none":
		return quiet{}
	case "auto":
		mode = "lines"
		if fd, ok := w.(interface{ Fd() uintptr }); ok && isatty.IsTerminal(fd.Fd()) {
			mode = "live"
		}
	}
	if mode == "live" {
		return newLive(w, m)
	}
	return &lines{w: w, start: map[string]int64{}}
}

type quiet struct{}

func (quiet) Committed(string, []*engine.Entry) {}
func (quiet) started(string, string)            {}
func (quiet) stop()                             {}

// lines prints one line per step event.
type lines struct {
	w      io.Writer
	prefix bool             // name the execution on every line (several at once)
	start  map[string]int64 // intent time by idempotency key
	t0     int64
}

func (l *lines) started(id, db string) {}
func (l *lines) stop()                 {}

func (l *lines) Committed(exec string, entries []*engine.Entry) {
	for _, en := range entries {
		if l.t0 == 0 {
			l.t0 = en.Time
		}
		s := describe(en, l.start)
		if s == "" {
			continue
		}
		at := time.Duration(en.Time - l.t0).Round(time.Millisecond)
		if l.prefix {
			fmt.Fprintf(l.w, "%s %8s  %s\n", exec, at, s)
		} else {
			fmt.Fprintf(l.w, "%8s  %s\n", at, s)
		}
	}
}

// describe says in words what a record means, or "" for records that
// only the engine cares about (answers to data questions).
func describe(en *engine.Entry, start map[string]int64) string {
	if c := en.Command; c != nil {
		switch c.Effect {
		case model.Invoke:
			start[en.Key] = en.Time
			what := "call"
			if c.Comp {
				what = "compensate with"
			}
			s := fmt.Sprintf("%-20s %s %s", en.State, what, en.Function)
			if en.Attempt > 1 {
				s += fmt.Sprintf(" (attempt %d)", en.Attempt)
			}
			return s
		case model.StartTimer:
			d := c.Delay
			if c.Until != 0 {
				d = time.Duration(c.Until - en.Time)
			}
			if en.State == "" {
				return fmt.Sprintf("%-20s execution timeout in %s", "", d.Round(time.Millisecond))
			}
			return fmt.Sprintf("%-20s wait %s", en.State, d.Round(time.Millisecond))
		}
		return ""
	}
	ev := en.Event
	took := ""
	if t, ok := start[en.Key]; ok && en.Key != "" {
		took = " in " + time.Duration(en.Time-t).Round(time.Microsecond).String()
		delete(start, en.Key)
	}
	switch ev.Kind {
	case model.EvStart:
		return fmt.Sprintf("%-20s input %s", "started", clip(ev.Data))
	case model.EvSucceeded:
		return fmt.Sprintf("%-20s %s returned%s %s", en.State, en.Function, took, clip(ev.Data))
	case model.EvFailed:
		return fmt.Sprintf("%-20s %s failed%s: %s", en.State, en.Function, took, errText(ev.Err, ev.Cause))
	case model.EvTimedOut:
		return fmt.Sprintf("%-20s %s timed out%s", en.State, en.Function, took)
	case model.EvHeartbeatTimeout:
		return fmt.Sprintf("%-20s %s stopped sending heartbeats", en.State, en.Function)
	case model.EvTimerFired:
		if en.State == "" {
			return "execution timed out"
		}
		return ""
	case model.EvCancel:
		return fmt.Sprintf("%-20s %s", "cancel requested", ev.Cause)
	case model.EvDecided:
		if ev.Err != "" && ev.Decide != model.DecideFail {
			return fmt.Sprintf("%-20s %s", en.State, errText(ev.Err, ev.Cause))
		}
		if ev.Decide == model.DecideCatch {
			return fmt.Sprintf("%-20s error caught", en.State)
		}
	}
	return ""
}

func errText(name, cause string) string {
	if cause == "" {
		return name
	}
	return name + ": " + cause
}

// clip shortens JSON for one line.
func clip(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
