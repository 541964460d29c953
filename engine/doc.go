// Package engine runs workflows for real: it drives the pure kernel
// (model.Machine.Step) against real functions, a real clock and a durable,
// hash-chained log, and resumes executions after a crash. It decides
// nothing about what a workflow means: retries, backoff, jitter, timeouts,
// catchers, compensation, parallel and map fan-out all come out of the
// kernel as commands. The engine supplies what the kernel cannot: time,
// storage, calls, and answers to data questions (package model/dataflow).
//
// # The loop
//
// Each execution has one goroutine that owns its state. It takes what has
// arrived (completions of calls, fired timers, signals from outside), and
// for each event:
//
//	cmds := m.Step(exec, event)            // pure
//	AppendEvent, AppendIntent  → records of this round (sealed onto the chain)
//	Decide                     → answered at once with dataflow.Decide and
//	                             stepped next, in the same round
//	Invoke, StartTimer, ...    → effects of this round
//
// then makes the round's records durable with one store.Append (which the
// store commits together with the other executions' appends: one
// transaction, one sync), and only then performs the effects, in order:
// Invoke calls a function through the invokers with the idempotency key
// model.DefaultKey(execution, id) or the workflow's own; StartTimer arms a
// durable timer whose due time is the intent's record time plus the delay;
// CancelInvoke and CancelTimer abandon; Finish ends the execution.
//
// A run of steps linked only by decisions is committed once: decisions have
// no effect outside the engine, so losing them in a crash is the same as
// crashing before they were made, a point the kernel's protocol (and the
// model checker) already covers.
//
// # Recovery
//
// Resume rebuilds an execution from its latest snapshot and the records
// after it (model.Machine.RecoverFrom) and performs the commands that
// returns: a call whose intent is logged without an outcome is made again
// with the same id, hence the same idempotency key; an intent lost with
// the crash is appended before its effect; open questions are asked again;
// timers are armed for their original due time. Snapshots are written
// every Options.SnapshotEvery records, in the same transaction as the
// records they follow, so a resume reads a bounded tail whatever the
// history.
//
// # Ownership
//
// An engine holds a lease on each execution it runs (store.Claim), renewed
// while it runs and given up when the execution ends or the engine
// closes. A lease held by a process of this host that no longer exists
// (an engine killed with SIGKILL) is taken over at once; otherwise it
// must run out. Appends are also checked against the log's head, so two
// engines can never both extend one log.
//
// Engines on many machines share one PostgreSQL database (OpenStore with
// a postgres:// URL; package store/postgres). Each runs what it starts;
// with Options.AdoptEvery set, each also takes over, every so often, the
// unfinished executions whose lease ran out (Adopt): those of an engine
// that died. If an engine only seemed dead (a long pause) and runs on,
// the first of the two to append wins and the other stops that execution
// with store.ErrConflict; calls both made carry the same idempotency keys.
//
// # Around the calls
//
// Per-function circuit breakers fail attempts fast with ErrCircuitOpen
// (an ordinary error to the workflow's retry rules) after consecutive
// failures; per-attempt timeouts and heartbeat timeouts become the kernel's
// EvTimedOut and EvHeartbeatTimeout; a step with callback: true hands its
// function a task token (Token) and waits for Complete; Cancel asks an
// execution to stop; payloads over Options.MaxPayloadBytes fail the step
// with States.DataLimitExceeded. Signals from other processes (nexus
// complete, nexus cancel) go through the store's inbox, consumed in the
// same transaction as the event they cause.
//
// # Usage
//
//	st, _ := engine.OpenStore(ctx, "nexus.db") // or "postgres://..."
//	e, _ := engine.Open(ctx, engine.Options{Store: st, Invokers: &invoke.Registry{}})
//	defer e.Close()
//	e.Resume(ctx)                          // what a previous engine left
//	res, err := e.Run(ctx, &engine.Workflow{File: f, Source: src, Machine: m}, input, engine.StartOptions{})
package engine
