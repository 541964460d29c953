// Package server is what nexus serve exposes: the API over the engine,
// the deploy gate that model-checks a workflow before a version is
// accepted, event and cron triggers, authentication, metrics and traces.
// It is the one package that combines the engine and the checker
// (ARCHITECTURE.md §2).
//
// # The API
//
// One service, nexus.v1.NexusService (api/nexus/v1/nexus.proto), served
// with connect: gRPC, gRPC-Web and JSON over HTTP from one handler. A JSON
// client POSTs a message to /nexus.v1.NexusService/METHOD; the read-only
// methods also answer GET (connect's ?encoding=json&message=...). The
// OpenAPI 3 document of the JSON API is served at /openapi.json. Besides
// the service:
//
//	GET  /healthz       liveness (no token)
//	GET  /openapi.json  the OpenAPI document (no token)
//	GET  /metrics       Prometheus metrics (a token)
//	POST /events        a CloudEvent over HTTP, binary or structured mode (a token)
//
// # Namespaces and tokens
//
// Every call but /healthz and /openapi.json carries "Authorization:
// Bearer TOKEN". A token (nexus token create) belongs to one namespace;
// only its SHA-256 is stored (Meta). Workflow names are per namespace, and
// executions are the engine's executions named NAMESPACE/ID: a call reads
// and writes its own namespace only, and an id or a task token of another
// namespace is not found.
//
// # Versions
//
// DeployWorkflow registers a workflow's next version after the deploy
// gate (verify): parse, validate, compile, check the bindings and the
// triggers, evaluate the policies (the workflow's own and the server's),
// and model-check it with package checker. A violated invariant, a
// failing policy of severity error or an incomplete check refuses the
// version unless the request forces it, and the verdict is stored with
// the version either way. The source is stored in the engine's store
// under its SHA-256, and every execution is pinned to that digest: a new
// version never changes a running execution.
//
// # Triggers
//
// A workflow's triggers: start executions of its latest version: a
// CloudEvent (SendEvent, or POST /events) whose type matches and whose
// CEL filter (over event and data) holds, with the input mapped from the
// event by a payload template; or a cron schedule. The execution id is
// derived from the event (source and id) or the scheduled time, so a
// redelivered event or a schedule firing on several nodes starts one
// execution.
//
// # Telemetry
//
// The engine reports to the server through engine.Options.Observer (every
// commit, and every end: engine.Ender), Options.Metrics (transition and
// commit timings) and Options.TraceParent (the traceparent handed to a
// function). From them the server keeps the Prometheus metrics and emits
// OpenTelemetry spans: one per execution, emitted when it ends, and one
// per invocation attempt, its traceparent passed to the function. Spans
// are made from live commits only, so replaying a log re-emits nothing;
// trace and execution-span ids are derived from the execution id, so the
// spans of an execution resumed by another node join the same trace.
package server
