package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nexus-workflows/nexus/engine/invoke"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/dataflow"
	"github.com/nexus-workflows/nexus/model/expr"
)

// Invokers call functions by binding URI and check bindings before a
// run; *invoke.Registry is one.
type Invokers interface {
	invoke.Invoker
	Check(uri string) error
}

// Options configure an Engine. Only Store is required.
type Options struct {
	Store store.Store
	// Invokers call the functions (nil: a zero invoke.Registry: exec,
	// http(s), lambda, gcf).
	Invokers Invokers
	// Inline are in-process functions by binding URI, called on the
	// execution's own goroutine without the machinery of a call
	// (goroutine, timers): for functions that return at once and never
	// block. They take precedence over Invokers. builtin:echo and
	// builtin:fail are always there.
	Inline map[string]invoke.Func
	// SubWorkflows, when set, resolves the bindings workflow:NAME of
	// sub-workflow steps (see ChildScheme): it returns the workflow NAME
	// for a child of execution parent. Before a run, bindings are checked
	// with no parent; it may then return a nil workflow and no error to
	// accept a name it resolves only per parent (per namespace, say).
	SubWorkflows func(parent, name string) (*Workflow, error)
	// Clock (nil: the system clock).
	Clock Clock
	// LogKey, when set, signs every record and snapshot with
	// HMAC-SHA256, so that rewriting the log needs the key.
	LogKey []byte
	// MaxPayloadBytes bounds an execution's input, every function's input
	// and output, and the data of every state (0: 256 KiB). Over it, the
	// step fails with States.DataLimitExceeded; the input of a new
	// execution is refused.
	MaxPayloadBytes int
	// SnapshotEvery is how many records an execution appends between two
	// snapshots (0: 1000), which bounds the records a resume replays.
	SnapshotEvery int
	// MaxBatchRecords bounds the records of one commit of one execution
	// (0: 4096); a longer run of decisions commits in parts.
	MaxBatchRecords int
	// Breaker is the circuit breaker policy of every function, Breakers
	// that of some functions by name.
	Breaker  BreakerPolicy
	Breakers map[string]BreakerPolicy
	// Parse reads a stored workflow source when an execution is resumed
	// (nil: model.Parse; the command line passes its own, which also reads
	// Step Functions ASL).
	Parse func(file string, src []byte) (*model.Workflow, model.Findings)
	// Observer, when set, is told of every commit (and, when it is also
	// an Ender, of every end).
	Observer Observer
	// TraceParent, when set, gives the W3C traceparent handed to the
	// function of invocation id of execution exec
	// (invoke.Request.TraceParent). It is called on the execution's
	// goroutine, after the invocation's intent was committed (or, for an
	// invocation re-issued by a resume, without a new commit), and must
	// return quickly.
	TraceParent func(exec string, id uint32) string
	// Metrics, when set, receives timings.
	Metrics Metrics
	// Logger (nil: discard).
	Logger *slog.Logger
	// PollInterval is how often (in real time, whatever the Clock) the
	// inbox of signals sent by other processes is read (0: 200ms).
	// Signals sent through this engine are read at once.
	PollInterval time.Duration
	// Lease is how long an engine owns the executions it runs without
	// renewing (0: 30s). An engine that died on this host is recognised
	// at once and its executions taken over.
	Lease time.Duration
	// AdoptEvery, when set, is how often the engine takes over
	// unfinished executions whose lease ran out (Adopt): engines sharing
	// a database (PostgreSQL) set it, so that the executions of one that
	// died finish on the others. 0: never (call Resume or Adopt).
	AdoptEvery time.Duration
	// Identity names executions in the Context Object ($$.Execution.Id
	// and friends); nil: DefaultIdentity.
	Identity func(exec string, m *model.Machine) Identity

	// idle, for tests on virtual time: called when an execution has
	// nothing to do but wait for a timer.
	idle func(exec string)
	// seed, for tests comparing runs: the entropy of a decision (nil:
	// crypto/rand).
	seed func(ident *Identity, steps int, c model.Command) uint64
}

// Observer is told what an engine does. Its methods are called from the
// execution's goroutine and must return quickly.
type Observer interface {
	// Committed: records of execution exec are durable, in order.
	Committed(exec string, entries []*Entry)
}

// Ender is an Observer that is also told how each execution this engine
// runs ends, once, after the end is durable. Ended is called from the
// execution's goroutine and must return quickly.
type Ender interface {
	Ended(exec string, res *Result)
}

// Identity is how an execution is named in the Context Object.
type Identity struct {
	ExecutionID, ExecutionName       string
	StateMachineID, StateMachineName string
	RoleArn                          string
	// Sync marks a synchronous (express) execution.
	Sync bool
}

// DefaultIdentity names execution exec of machine m:
// nexus:execution:WORKFLOW:EXEC, nexus:workflow:WORKFLOW.
func DefaultIdentity(exec string, m *model.Machine) Identity {
	name := cmp.Or(m.Name, "StateMachine")
	return Identity{ExecutionID: "nexus:execution:" + name + ":" + exec, ExecutionName: exec,
		StateMachineID: "nexus:workflow:" + name, StateMachineName: name}
}

// Metrics receives the engine's timings. Its methods are called from
// execution goroutines, concurrently, and must be cheap.
type Metrics interface {
	// Transition: the engine's own work for one event: stepping the
	// kernel, answering its questions, encoding and sealing the records.
	// It excludes waiting for the log and the functions.
	Transition(d time.Duration)
	// Commit: one Append of records records, from the call to durable.
	Commit(records int, d time.Duration)
}

// Engine runs executions durably: it drives the kernel (model.Machine),
// appends to the log before every effect, performs effects, and resumes
// executions after a crash. Create one with Open.
type Engine struct {
	opts     Options
	st       store.Store
	inv      Invokers
	clock    Clock
	log      *slog.Logger
	owner    string
	secret   []byte
	maxBytes int
	cel      *expr.CELCache
	brk      *breakers

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}

	mu       sync.Mutex
	stored   map[string]bool // workflow digests known to be in the store
	live     map[string]*execution
	ended    map[string]*execution // recently ended here, for Wait
	endedQ   []string
	machines map[string]*compiled
	closed   bool
}

// compiled is a workflow source compiled once per engine.
type compiled struct {
	m    *model.Machine
	file string
}

// Result is how an execution ended.
type Result struct {
	ID     string
	Status model.Status
	// Output of a succeeded execution (JSON); Error and Cause of one that
	// did not succeed.
	Output       json.RawMessage
	Error, Cause string
	// ErrorNull and CauseNull: the error or cause is JSON null rather than
	// a string (a fail state without them). Only an engine that ran the
	// execution knows; the store keeps strings.
	ErrorNull, CauseNull bool
}

// Open starts an engine on a store. It resumes nothing by itself: call
// Resume for executions left unfinished by an engine that stopped.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: no store")
	}
	e := &Engine{opts: opts, st: opts.Store, inv: opts.Invokers, clock: opts.Clock, log: opts.Logger,
		maxBytes: opts.MaxPayloadBytes, cel: &expr.CELCache{}, kick: make(chan struct{}, 1),
		stored: map[string]bool{}, live: map[string]*execution{}, ended: map[string]*execution{}, machines: map[string]*compiled{},
		brk: &breakers{def: opts.Breaker, policies: opts.Breakers}}
	if e.inv == nil {
		e.inv = &invoke.Registry{}
	}
	if opts.SubWorkflows != nil {
		e.inv = &children{e: e, lookup: opts.SubWorkflows, next: e.inv}
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.maxBytes <= 0 {
		e.maxBytes = invoke.DefaultMaxPayloadBytes
	}
	if e.opts.SnapshotEvery <= 0 {
		e.opts.SnapshotEvery = 1000
	}
	if e.opts.MaxBatchRecords <= 0 {
		e.opts.MaxBatchRecords = 4096
	}
	if e.opts.PollInterval <= 0 {
		e.opts.PollInterval = 200 * time.Millisecond
	}
	if e.opts.Lease <= 0 {
		e.opts.Lease = 30 * time.Second
	}
	if e.opts.Parse == nil {
		e.opts.Parse = model.Parse
	}
	var err error
	if e.secret, err = e.st.Secret(ctx); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	host, _ := os.Hostname()
	var nonce [4]byte
	rand.Read(nonce[:])
	e.owner = fmt.Sprintf("%s/%d/%x", host, os.Getpid(), nonce)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Go(e.pollSignals)
	e.wg.Go(e.renewLeases)
	if e.opts.AdoptEvery > 0 {
		e.wg.Go(e.adoptLoop)
	}
	return e, nil
}

// Owner is the name under which this engine holds its leases.
func (e *Engine) Owner() string { return e.owner }

// Close stops the engine: executions stop where they are (their logs say
// where; Resume continues them), invocations in flight are abandoned,
// leases are given up. It does not close the store.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	live := make([]*execution, 0, len(e.live))
	for _, x := range e.live {
		live = append(live, x)
	}
	e.mu.Unlock()
	for _, x := range live {
		x.halt()
	}
	e.cancel()
	e.wg.Wait()
	ctx := context.Background()
	for _, x := range live {
		<-x.exited
		if !x.finished() {
			if err := e.st.Release(ctx, x.id, e.owner); err != nil {
				e.log.Warn("release lease", "execution", x.id, "err", err)
			}
		}
	}
	return nil
}

// Workflow is what Start runs: a compiled workflow, its source (stored,
// so that any engine can resume the execution) and its bindings.
type Workflow struct {
	// File and Source the machine was compiled from.
	File   string
	Source []byte
	// Machine, compiled from Source.
	Machine *model.Machine
	// Bindings map function names to URIs; they take precedence over the
	// workflow's own functions: section.
	Bindings map[string]string
}

// StartOptions are the options of one execution.
type StartOptions struct {
	// ID of the execution (empty: a new unique id). Starting an id that
	// exists fails with store.ErrExists, which makes Start idempotent for
	// callers that choose their ids.
	ID string
}

// BindingError lists the functions of a workflow that cannot be called.
type BindingError struct {
	// Problems, one per function.
	Problems []string
	// Unbound names the functions without any binding.
	Unbound []string
}

// BindingHint says how to bind a function.
const BindingHint = `bind a function with a uri in the workflow's functions: section (NAME: {uri: URI}) or in a ` +
	`bindings file (nexus run --bindings FILE: a YAML map of function name to URI, e.g. "charge: exec:./bin/charge" ` +
	`or "charge: https://payments.example.com/charge"; builtin:echo returns its input)`

// Error lists the problems, then how to bind a function.
func (e *BindingError) Error() string {
	s := strings.Join(e.Problems, "\n")
	if len(e.Unbound) > 0 {
		s += "\n" + BindingHint
	}
	return s
}

// bindings resolves the URI of every function the machine calls.
func (e *Engine) bindings(m *model.Machine, over map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m.Functions))
	be := &BindingError{}
	for _, fn := range m.Functions {
		uri := over[fn]
		if uri == "" && m.Workflow != nil {
			if f := m.Workflow.Function(fn); f != nil {
				uri = f.URI
			}
		}
		if uri == "" {
			be.Problems = append(be.Problems, fmt.Sprintf("function %q has no binding", fn))
			be.Unbound = append(be.Unbound, fn)
			continue
		}
		if err := e.checkURI(uri); err != nil {
			be.Problems = append(be.Problems, fmt.Sprintf("function %q: %v", fn, err))
			continue
		}
		out[fn] = uri
	}
	if len(be.Problems) > 0 {
		return nil, be
	}
	return out, nil
}

func (e *Engine) checkURI(uri string) error {
	if _, ok := e.opts.Inline[uri]; ok {
		return nil
	}
	if f, err := builtin(uri); f != nil || err != nil {
		return err
	}
	return e.inv.Check(uri)
}

// inline returns the in-process function of uri called inline, or nil.
func (e *Engine) inline(uri string) invoke.Func {
	if f := e.opts.Inline[uri]; f != nil {
		return f
	}
	f, _ := builtin(uri)
	return f
}

// Digest is the digest under which a workflow source is stored.
func Digest(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// Start begins an execution of wf with input (JSON) and returns its id
// once the start is durable: from then on, a crash loses nothing and
// Resume continues it.
func (e *Engine) Start(ctx context.Context, wf *Workflow, input []byte, opts StartOptions) (string, error) {
	if wf.Machine == nil {
		return "", errors.New("start: workflow not compiled")
	}
	if len(input) > e.maxBytes {
		return "", fmt.Errorf("start: input of %d bytes is over the %d-byte payload limit", len(input), e.maxBytes)
	}
	if !json.Valid(input) {
		return "", errors.New("start: input is not JSON")
	}
	binds, err := e.bindings(wf.Machine, wf.Bindings)
	if err != nil {
		return "", err
	}
	bj, _ := json.Marshal(binds)
	digest := Digest(wf.Source)
	name := wf.Machine.Name
	e.mu.Lock()
	stored := e.stored[digest]
	e.mu.Unlock()
	if !stored {
		if err := e.st.PutWorkflow(ctx, &store.Workflow{Digest: digest, Name: name, File: wf.File, Source: wf.Source}); err != nil {
			return "", fmt.Errorf("start: %w", err)
		}
		e.mu.Lock()
		e.stored[digest] = true
		e.mu.Unlock()
	}
	id := opts.ID
	if id == "" {
		id = newID(e.clock.Now())
	}
	now := e.clock.Now()
	x := e.newExecution(id, wf.Machine, binds)
	x.create = &store.Execution{ID: id, Workflow: digest, Bindings: bj, Status: model.Running.String(),
		Created: now.UnixNano(), Owner: e.owner, Lease: now.Add(e.opts.Lease).UnixNano()}
	if err := e.register(x); err != nil {
		return "", err
	}
	x.push(msg{ev: model.Event{Kind: model.EvStart, Data: input}})
	go x.run()
	select {
	case err = <-x.started:
	case <-ctx.Done():
		return id, ctx.Err()
	}
	if err != nil {
		// Once it has exited, Wait and Start see the id's earlier
		// execution (if any) rather than this failed one.
		<-x.exited
		return "", fmt.Errorf("start %s: %w", id, err)
	}
	return id, nil
}

// Run starts an execution and waits for its end.
func (e *Engine) Run(ctx context.Context, wf *Workflow, input []byte, opts StartOptions) (*Result, error) {
	id, err := e.Start(ctx, wf, input, opts)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx, id)
}

func (e *Engine) register(x *execution) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("engine closed")
	}
	if e.live[x.id] != nil {
		return fmt.Errorf("execution %s: %w", x.id, store.ErrExists)
	}
	e.live[x.id] = x
	return nil
}

func (e *Engine) unregister(x *execution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.live[x.id] == x {
		delete(e.live, x.id)
	}
	if x.create != nil {
		// Its creation never committed (the id was taken): how the
		// execution of that id ended, if remembered, still stands.
		return
	}
	// Remember how it ended, for a Wait that comes late.
	if e.ended[x.id] == nil {
		e.endedQ = append(e.endedQ, x.id)
	}
	e.ended[x.id] = x
	if len(e.endedQ) > maxEnded {
		delete(e.ended, e.endedQ[0])
		e.endedQ = e.endedQ[1:]
	}
}

// maxEnded bounds how many ended executions an engine remembers.
const maxEnded = 10000

// ErrNotRunning: the execution is not over and this engine does not run
// it.
var ErrNotRunning = errors.New("not running in this engine")

// Wait waits for execution id to end and returns how it ended. For an
// execution this engine does not run, it reports the ending recorded in
// the store, or an error if the execution is not over.
func (e *Engine) Wait(ctx context.Context, id string) (*Result, error) {
	e.mu.Lock()
	x := e.live[id]
	if x == nil {
		x = e.ended[id]
	}
	e.mu.Unlock()
	if x != nil {
		select {
		case <-x.exited:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if x.err != nil {
			return nil, x.err
		}
		if x.result != nil {
			return x.result, nil
		}
	}
	return ResultOf(ctx, e.st, id)
}

// ResultOf reads how execution id ended from the store; it is an error if
// it has not ended.
func ResultOf(ctx context.Context, st store.Store, id string) (*Result, error) {
	row, err := st.Execution(ctx, id)
	if err != nil {
		return nil, err
	}
	s, _ := model.ParseStatus(row.Status)
	if !s.Terminal() {
		return nil, fmt.Errorf("execution %s is not over (%s) and %w (nexus resume continues it)", id, row.Status, ErrNotRunning)
	}
	return &Result{ID: id, Status: s, Output: row.Output, Error: row.Error, Cause: row.Cause}, nil
}

// Cancel asks execution id to stop; its compensations run. The request is
// durable when Cancel returns.
func (e *Engine) Cancel(ctx context.Context, id, cause string) error {
	if err := Cancel(ctx, e.st, id, cause, e.clock.Now().UnixNano()); err != nil {
		return err
	}
	e.poke()
	return nil
}

// Complete completes the callback step holding token (see Complete).
func (e *Engine) Complete(ctx context.Context, token string, c Completion) error {
	if _, _, err := Complete(ctx, e.st, token, c, e.clock.Now().UnixNano()); err != nil {
		return err
	}
	e.poke()
	return nil
}

// Token is the task token of invocation id of execution exec.
func (e *Engine) Token(exec string, id uint32) string { return Token(e.secret, exec, id) }

func (e *Engine) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// pollSignals delivers inbox signals to the executions this engine runs.
func (e *Engine) pollSignals() {
	var last int64
	for {
		t := time.NewTimer(e.opts.PollInterval)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-e.kick:
		case <-t.C:
		}
		t.Stop()
		sigs, err := e.st.Signals(e.ctx, last, "")
		if err != nil {
			if e.ctx.Err() == nil {
				e.log.Warn("read inbox", "err", err)
			}
			continue
		}
		for _, sg := range sigs {
			last = sg.ID
			e.mu.Lock()
			x := e.live[sg.Exec]
			e.mu.Unlock()
			if x != nil {
				x.push(msg{signal: sg})
			}
		}
	}
}

// renewLeases keeps the leases of the executions this engine runs.
func (e *Engine) renewLeases() {
	for {
		t := time.NewTimer(e.opts.Lease / 3)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.st.Renew(e.ctx, e.owner, e.clock.Now().Add(e.opts.Lease).UnixNano()); err != nil && e.ctx.Err() == nil {
			e.log.Warn("renew leases", "err", err)
		}
	}
}

// Resume continues unfinished executions: those named, or with none every
// unfinished execution in the store that no live engine owns. It returns
// the ids it resumed; an execution that cannot be resumed (owned by a live
// engine, bound to a function this engine cannot call) is reported in the
// error and the others still resume.
func (e *Engine) Resume(ctx context.Context, ids ...string) ([]string, error) {
	if len(ids) == 0 {
		var open []string
		for s := model.Running; s < model.Succeeded; s++ {
			open = append(open, s.String())
		}
		rows, err := e.st.Executions(ctx, store.Filter{Status: open})
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
	}
	var done []string
	var errs []error
	for _, id := range ids {
		if err := e.resume(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, id)
	}
	return done, errors.Join(errs...)
}

func (e *Engine) resume(ctx context.Context, id string) error {
	e.mu.Lock()
	running := e.live[id] != nil
	e.mu.Unlock()
	if running {
		return nil
	}
	row, err := e.st.Execution(ctx, id)
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if s, _ := model.ParseStatus(row.Status); s.Terminal() {
		return fmt.Errorf("resume %s: it is over (%s)", id, row.Status)
	}
	now := e.clock.Now()
	owner, err := e.st.Claim(ctx, id, e.owner, deadOwner(row.Owner), now.UnixNano(), now.Add(e.opts.Lease).UnixNano())
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if owner != e.owner {
		return fmt.Errorf("resume %s: engine %s runs it (its lease ends %s)", id, owner,
			time.Unix(0, row.Lease).UTC().Format(time.RFC3339))
	}
	x, cmds, err := e.load(ctx, id)
	if err != nil {
		e.st.Release(ctx, id, e.owner)
		return fmt.Errorf("resume %s: %w", id, err)
	}
	if err := e.register(x); err != nil {
		e.st.Release(ctx, id, e.owner)
		return err
	}
	x.recovery = cmds
	sigs, err := e.st.Signals(ctx, 0, id)
	if err != nil {
		e.unregister(x)
		e.st.Release(ctx, id, e.owner)
		return fmt.Errorf("resume %s: %w", id, err)
	}
	for _, sg := range sigs {
		x.push(msg{signal: sg})
	}
	go x.run()
	if err := <-x.started; err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	e.log.Info("resumed", "execution", id)
	return nil
}

// deadOwner returns owner when it names a process of this host that no
// longer exists (an engine killed without releasing its leases), "" when
// the owner may be alive.
func deadOwner(owner string) string {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return ""
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if parts[0] != host || err != nil || pid <= 0 || pid == os.Getpid() {
		return ""
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return owner
	}
	return ""
}

// machine compiles (once) the workflow stored under digest.
func (e *Engine) machine(ctx context.Context, digest string) (*model.Machine, error) {
	e.mu.Lock()
	c := e.machines[digest]
	e.mu.Unlock()
	if c != nil {
		return c.m, nil
	}
	w, err := e.st.Workflow(ctx, digest)
	if err != nil {
		return nil, err
	}
	if Digest(w.Source) != digest {
		return nil, fmt.Errorf("workflow %s: stored source does not match its digest", digest)
	}
	wf, fs := e.opts.Parse(w.File, w.Source)
	if wf == nil || fs.Errors() > 0 {
		return nil, fmt.Errorf("workflow %s (%s): %v", w.Name, w.File, fs)
	}
	m, fs := model.Compile(wf)
	if m == nil {
		return nil, fmt.Errorf("workflow %s (%s): %v", w.Name, w.File, fs)
	}
	e.mu.Lock()
	e.machines[digest] = &compiled{m: m, file: w.File}
	e.mu.Unlock()
	return m, nil
}

// newID makes an execution id: sortable by start time, unique.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return strconv.FormatInt(now.UnixMilli(), 36) + "-" + hex.EncodeToString(b[:])
}

// seed draws fresh entropy for one decision (a jitter, a UUID): the
// answer is logged, never the seed, so replay does not need it again.
func seed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// Live lists the executions this engine runs, sorted.
func (e *Engine) Live() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.live))
	for id := range e.live {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// BreakerState reports the state of the circuit breaker of function fn
// and how many times it opened.
func (e *Engine) BreakerState(fn string) (BreakerState, int) { return e.brk.get(fn).snapshot() }

func (e *Engine) env(x *execution, c model.Command) *dataflow.Env {
	id := &x.ident
	env := &dataflow.Env{ExecutionID: id.ExecutionID, ExecutionName: id.ExecutionName, StateMachineID: id.StateMachineID,
		StateMachineName: id.StateMachineName, RoleArn: id.RoleArn, Sync: id.Sync, Now: e.clock.Now(),
		CEL: e.cel, EnteredEvent: x.enteredEvent}
	if e.opts.seed != nil {
		env.Seed = e.opts.seed(id, x.steps, c)
	} else {
		env.Seed = seed()
	}
	return env
}
