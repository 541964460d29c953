package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is the engine's observer: it keeps the Prometheus metrics
// and emits the spans. It implements engine.Observer, engine.Ender and
// engine.Metrics.
type telemetry struct {
	s   *Server
	reg *prometheus.Registry

	executions  *prometheus.CounterVec
	started     prometheus.Counter
	transitions prometheus.Counter
	transition  prometheus.Histogram
	commit      prometheus.Histogram
	calls       *prometheus.HistogramVec
	callErrors  *prometheus.CounterVec
	mttr        *prometheus.HistogramVec
	deploys     *prometheus.CounterVec
	triggered   *prometheus.CounterVec
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec

	tp     *sdktrace.TracerProvider
	tracer trace.Tracer

	mu      sync.Mutex
	open    map[callKey]*openCall // invocations in flight
	starts  map[string]int64      // execution start times (Unix ns) seen here
	failing map[string]int64      // function → its first failure since its last success
	fns     map[string]bool       // functions seen, for the breaker gauge
}

type callKey struct {
	exec string
	id   uint32
}

type openCall struct {
	fn    string
	start int64
	span  trace.Span
}

func newTelemetry(s *Server, exp sdktrace.SpanExporter) (*telemetry, error) {
	t := &telemetry{s: s, reg: prometheus.NewRegistry(), open: map[callKey]*openCall{}, starts: map[string]int64{},
		failing: map[string]int64{}, fns: map[string]bool{}}
	lat := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	t.executions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workflow_executions_total",
		Help: "Executions ended by this node, by final status."}, []string{"status"})
	t.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "workflow_executions_started_total",
		Help: "Executions started through this node (API and triggers)."})
	t.transitions = prometheus.NewCounter(prometheus.CounterOpts{Name: "workflow_state_transitions_total",
		Help: "Events stepped through the kernel (state transitions)."})
	t.transition = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "workflow_transition_duration_seconds",
		Help:    "The engine's own work for one transition (kernel step, answers, encoding), without I/O.",
		Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, .01}})
	t.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "workflow_log_commit_duration_seconds",
		Help: "One append to the log, from the call until durable.", Buckets: lat})
	t.calls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workflow_function_call_duration_seconds",
		Help: "Function calls, from the intent to the outcome, by function and outcome.", Buckets: lat},
		[]string{"function", "outcome"})
	t.callErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workflow_function_errors_total",
		Help: "Failed function calls, by function and error name."}, []string{"function", "error"})
	t.mttr = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mttr_seconds",
		Help:    "Time to recovery of a function: from its first failed call after a success to its next successful call.",
		Buckets: []float64{.01, .1, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}}, []string{"function"})
	t.deploys = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexus_deploys_total",
		Help: "Deploys through the gate, by verdict and whether force let a refused one in."}, []string{"verdict", "forced"})
	t.triggered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexus_trigger_starts_total",
		Help: "Executions started by triggers, by kind (event, schedule)."}, []string{"kind"})
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nexus_api_requests_total",
		Help: "API calls, by procedure and code."}, []string{"procedure", "code"})
	t.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nexus_api_request_duration_seconds",
		Help: "API calls, by procedure.", Buckets: lat}, []string{"procedure"})
	breaker := prometheus.NewDesc("workflow_circuit_breaker_state",
		"Circuit breaker of each function called here: 0 closed, 1 open, 2 half-open.", []string{"function"}, nil)
	opened := prometheus.NewDesc("workflow_circuit_breaker_opened_total",
		"Times each function's circuit breaker opened.", []string{"function"}, nil)
	t.reg.MustRegister(t.executions, t.started, t.transitions, t.transition, t.commit, t.calls, t.callErrors, t.mttr,
		t.deploys, t.triggered, t.requests, t.latency, &breakerCollector{t: t, state: breaker, opened: opened},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if exp != nil {
		res, err := sdkresource.Merge(sdkresource.Default(), sdkresource.NewSchemaless(attribute.String("service.name", "nexus")))
		if err != nil {
			return nil, err
		}
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
			sdktrace.WithIDGenerator(idGenerator{}))
		t.tracer = t.tp.Tracer("github.com/nexus-workflows/nexus/server")
	}
	return t, nil
}

func (t *telemetry) shutdown() {
	if t.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.tp.Shutdown(ctx)
	}
}

// handler serves /metrics.
func (t *telemetry) handler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{})
}

// Transition implements engine.Metrics.
func (t *telemetry) Transition(d time.Duration) {
	t.transitions.Inc()
	t.transition.Observe(d.Seconds())
}

// Commit implements engine.Metrics.
func (t *telemetry) Commit(records int, d time.Duration) { t.commit.Observe(d.Seconds()) }

// Committed implements engine.Observer: calls start at their intent and
// end at their outcome.
func (t *telemetry) Committed(exec string, entries []*engine.Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, en := range entries {
		if c := en.Command; c != nil {
			if c.Effect == model.Invoke {
				t.startCall(exec, c.ID, en.Function, en.State, en.Attempt, en.Key, c.Comp, en.Time, false)
			}
			continue
		}
		ev := en.Event
		switch ev.Kind {
		case model.EvStart:
			t.starts[exec] = en.Time
		case model.EvSucceeded, model.EvFailed, model.EvTimedOut, model.EvHeartbeatTimeout:
			t.endCall(exec, ev, en)
		}
	}
}

// startCall opens the span of an invocation; t.mu is held.
func (t *telemetry) startCall(exec string, id uint32, fn, state string, attempt uint32, key string, comp bool, at int64, recovered bool) *openCall {
	k := callKey{exec, id}
	if oc := t.open[k]; oc != nil {
		return oc
	}
	if fn != "" {
		t.fns[fn] = true
	}
	oc := &openCall{fn: fn, start: at}
	if t.tracer != nil {
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), executionSpanContext(exec))
		attrs := []attribute.KeyValue{attribute.String("nexus.execution", exec), attribute.String("nexus.state", state),
			attribute.String("nexus.function", fn), attribute.Int("nexus.attempt", int(attempt)),
			attribute.Int("nexus.invocation", int(id)), attribute.String("nexus.idempotency_key", key)}
		if comp {
			attrs = append(attrs, attribute.Bool("nexus.compensation", true))
		}
		if recovered {
			attrs = append(attrs, attribute.Bool("nexus.reissued", true))
		}
		_, oc.span = t.tracer.Start(ctx, state+" "+fn, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(time.Unix(0, at)), trace.WithAttributes(attrs...))
	}
	t.open[k] = oc
	return oc
}

// endCall closes an invocation with its outcome; t.mu is held.
func (t *telemetry) endCall(exec string, ev *model.Event, en *engine.Entry) {
	k := callKey{exec, ev.ID}
	oc := t.open[k]
	delete(t.open, k)
	fn := en.Function
	if oc != nil && oc.fn != "" {
		fn = oc.fn
	}
	if oc != nil && oc.span != nil && oc.fn == "" {
		oc.span.SetName(en.State + " " + fn)
		oc.span.SetAttributes(attribute.String("nexus.state", en.State), attribute.String("nexus.function", fn),
			attribute.Int("nexus.attempt", int(en.Attempt)), attribute.String("nexus.idempotency_key", en.Key))
	}
	if fn == "" {
		if oc != nil && oc.span != nil {
			oc.span.End(trace.WithTimestamp(time.Unix(0, en.Time)))
		}
		return
	}
	t.fns[fn] = true
	outcome := "succeeded"
	errName := ev.Err
	switch ev.Kind {
	case model.EvFailed:
		outcome = "failed"
		if errName == "" {
			errName = model.ErrTaskFailed
		}
	case model.EvTimedOut:
		outcome, errName = "timed_out", model.ErrTimeout
	case model.EvHeartbeatTimeout:
		outcome, errName = "heartbeat_timeout", model.ErrHeartbeatTimeout
	}
	if oc != nil && oc.fn != "" {
		t.calls.WithLabelValues(fn, outcome).Observe(float64(en.Time-oc.start) / 1e9)
	}
	if outcome == "succeeded" {
		if since, ok := t.failing[fn]; ok {
			t.mttr.WithLabelValues(fn).Observe(float64(en.Time-since) / 1e9)
			delete(t.failing, fn)
		}
	} else {
		t.callErrors.WithLabelValues(fn, errName).Inc()
		if _, ok := t.failing[fn]; !ok {
			t.failing[fn] = en.Time
		}
	}
	if oc != nil && oc.span != nil {
		if outcome != "succeeded" {
			oc.span.SetStatus(codes.Error, errName)
			oc.span.SetAttributes(attribute.String("nexus.error", errName))
		}
		oc.span.SetAttributes(attribute.String("nexus.outcome", outcome))
		oc.span.End(trace.WithTimestamp(time.Unix(0, en.Time)))
	}
}

// traceParent implements engine.Options.TraceParent: the traceparent of
// the invocation's span, opened here if the invocation was re-issued by
// a resume (its intent was committed by an engine before).
func (t *telemetry) traceParent(exec string, id uint32) string {
	if t.tracer == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	oc := t.open[callKey{exec, id}]
	if oc == nil {
		oc = t.startCall(exec, id, "", "", 0, "", false, time.Now().UnixNano(), true)
	}
	sc := oc.span.SpanContext()
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// Ended implements engine.Ender: the execution's span is emitted, once,
// by the node that ends it.
func (t *telemetry) Ended(exec string, res *engine.Result) {
	t.executions.WithLabelValues(res.Status.String()).Inc()
	t.mu.Lock()
	start, ok := t.starts[exec]
	delete(t.starts, exec)
	var abandoned []*openCall
	for k, oc := range t.open {
		if k.exec == exec {
			abandoned = append(abandoned, oc)
			delete(t.open, k)
		}
	}
	t.mu.Unlock()
	now := time.Now()
	for _, oc := range abandoned {
		if oc.span != nil {
			oc.span.SetAttributes(attribute.String("nexus.outcome", "abandoned"))
			oc.span.End(trace.WithTimestamp(now))
		}
	}
	if t.tracer == nil {
		return
	}
	emit := func(start time.Time) {
		ctx := context.WithValue(context.Background(), forcedIDs{}, executionSpanContext(exec))
		_, sp := t.tracer.Start(ctx, "execution "+exec, trace.WithNewRoot(), trace.WithTimestamp(start),
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.String("nexus.execution", exec), attribute.String("nexus.status", res.Status.String())))
		if res.Status != model.Succeeded {
			sp.SetStatus(codes.Error, res.Error)
			sp.SetAttributes(attribute.String("nexus.error", res.Error))
		}
		sp.End(trace.WithTimestamp(now))
	}
	if ok {
		emit(time.Unix(0, start))
		return
	}
	// Started by another engine: its start time is in the store.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st := now
		if row, err := t.s.st.Execution(ctx, exec); err == nil {
			st = time.Unix(0, row.Created)
		}
		emit(st)
	}()
}

// executionSpanContext is the span context of an execution's span:
// trace and span ids derived from the execution id, so that every node
// that works on the execution, before or after a crash, joins one trace.
func executionSpanContext(exec string) trace.SpanContext {
	sum := sha256.Sum256([]byte("nexus-trace\x00" + exec))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

// forcedIDs, in a context, makes idGenerator give the ids of a span
// context: how an execution's span gets its derived ids.
type forcedIDs struct{}

// idGenerator makes random ids, except for spans started under forcedIDs.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if sc, ok := ctx.Value(forcedIDs{}).(trace.SpanContext); ok {
		return sc.TraceID(), sc.SpanID()
	}
	var tid trace.TraceID
	var sid trace.SpanID
	rand.Read(tid[:])
	rand.Read(sid[:])
	return tid, sid
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	var sid trace.SpanID
	rand.Read(sid[:])
	return sid
}

// breakerCollector reports the circuit breaker of every function seen.
type breakerCollector struct {
	t             *telemetry
	state, opened *prometheus.Desc
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.opened
}

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	c.t.mu.Lock()
	fns := make([]string, 0, len(c.t.fns))
	for fn := range c.t.fns {
		fns = append(fns, fn)
	}
	c.t.mu.Unlock()
	for _, fn := range fns {
		st, n := c.t.s.eng.BreakerState(fn)
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(st), fn)
		ch <- prometheus.MustNewConstMetric(c.opened, prometheus.CounterValue, float64(n), fn)
	}
}

// interceptor counts and times API calls.
func (t *telemetry) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			began := time.Now()
			resp, err := next(ctx, req)
			code := "ok"
			if err != nil {
				code = connect.CodeOf(err).String()
			}
			proc := req.Spec().Procedure
			t.requests.WithLabelValues(proc, code).Inc()
			t.latency.WithLabelValues(proc).Observe(time.Since(began).Seconds())
			return resp, err
		}
	})
}
