// Package checker is nexus's explicit-state model checker: it explores
// every execution of a compiled workflow (a *model.Machine) against a
// model of the world and of the engine, and decides the invariants a
// durable workflow must keep, printing the shortest counterexample of
// each one violated.
//
// It drives the kernel; it does not copy it. Every transition is a call
// to model.Machine.Step (or Machine.Pending, for a restart after a
// crash); states are canonicalized with model.Execution.Renumber and
// stored by model.Execution.AppendEncoding and model.HashBytes. What the
// checker adds is the world (what can happen to an invocation, a timer, a
// question), the generic engine around the kernel (the order in which it
// performs commands, what a crash loses) and the invariants.
//
// # Using it
//
//	r, err := checker.Check(ctx, m, checker.Options{})      // zero Options: the defaults
//	r.WriteText(os.Stdout)                                   // or json.Marshal(r), checker.WriteSARIF
//
// Check explores the graph of one execution (Explore), decides every
// invariant on it, then explores the product of Options.Instances
// executions (Graph.Product) for the state counts. For a TLA+ export or
// any other tool that must agree with the checker on the state space:
//
//	g, _ := checker.Explore(ctx, m, checker.Options{MapSize: 3})
//	n := g.NumStates()                                        // one execution
//	full, _ := checker.ExpectedProduct(int64(n), k, false)    // k executions, no symmetry: n^k
//	ps := g.Product(ctx, k, false, workers, maxStates)        // the same, by BFS: ps.States == full
//
// nexus check --no-symmetry reports the same number as "N states
// (symmetry off)".
//
// # The model of one execution
//
// A state of one execution is "at rest": the kernel's model.Execution
// (abstract: Data is nil) after every event it received was stepped and
// made durable, plus the protocol state of the engine around it:
//
//   - queue: the commands of the last step not yet performed, in order
//     (Invoke and StartTimer; and AppendIntent when the kernel emits an
//     effect before its intent, see model.Machine.FaultInvokeBeforeIntent);
//   - sent: the invocations and timers started and not completed;
//   - eff: threads whose current step had an attempt that timed out after
//     taking effect;
//   - silent: the callbacks in sent that nobody will ever answer (below);
//   - orphan, pivot: the first step whose mutation took effect with
//     nothing to undo it, and the first irreversible step that took
//     effect.
//
// The execution itself is always what its log replays to: a step and the
// appends it puts first are one move (see below), so the durable state
// and the engine's state in memory are the same state.
//
// The moves of an execution at rest, each one Step call followed by the
// closure described below:
//
//   - start (an execution not started);
//   - if its queue is not empty: perform the first command (an Invoke or
//     StartTimer joins sent; LoggedBeforeExecuted is checked here), and
//     nothing else but a crash: the engine performs the commands of a step
//     before it takes the execution's next event;
//   - otherwise, for every thread waiting for an invocation in sent: its
//     success; a failure with each error the state's retry and catch rules
//     name (wildcards States.ALL and States.TaskFailed name none) and with
//     UndeclaredError; when the state has a timeout (a heartbeat), a
//     timeout (a heartbeat timeout), once having taken effect and once not
//     when effects matter (below); for a compensation, its own retriers'
//     errors (by default only while the retrier still retries: Options
//     CompensationFailures lifts that);
//   - for every thread waiting for a callback in sent (callback: true, an
//     ASL .waitForTaskToken resource) whose state has no timeout and no
//     heartbeat, and not yet in silent: nobody ever answers it. The
//     invocation joins silent and stays in flight; from then on the world
//     delivers nothing for it (no success, no error, no timeout, no
//     duplicate). With a timeout or a heartbeat the engine's timer ends
//     the wait, which the timeout deliveries above explore. The move does
//     not step the kernel; it is taken once per invocation;
//   - for every timer in sent (retry backoff, wait, the execution's
//     timeout): it fires;
//   - a cancellation, with Options.Cancel (a request from outside, not a
//     move of the execution's own: see NoDeadlock);
//   - a crash and restart: the queue is lost, timers are lost (sent keeps
//     invocations: the functions keep running, and silent keeps the
//     callbacks nobody answers: the re-issued invocation has the same id,
//     and nobody answers it either), and
//     model.Machine.Pending on the execution gives what to do again:
//     intents not yet logged (appended at once), questions, invocations
//     (with their ids, hence their idempotency keys), timers.
//
// The closure of a move: the appends the step returns before any other
// command are durable at once (the engine writes them in one append);
// every question the step asks (model.Decide) is answered at once with
// every possible answer, each answer a branch, and the answers' own
// commands are absorbed the same way; the other commands queue in order.
// Answers: a choice takes each branch, its default, or fails with
// States.NoChoiceMatched when it has none; a map gets 0..MapSize items;
// inputs, outputs and catches succeed (or, with Options.DataErrors, fail
// with States.Runtime / States.QueryEvaluationError where the state reads
// data through a path or expression); a fail state fails with its error;
// a wait and a jitter get one delay. CancelInvoke, CancelTimer and Finish
// change nothing the model tracks.
//
// After the closure, an invocation whose thread no longer waits for it is
// abandoned: if it belongs to a step whose effects matter, the move
// branches on whether it took effect. Then the state is canonicalized:
// Renumber renames the execution's ids to 1, 2, 3... and the protocol
// state is renamed through its callback (ids that no longer appear are
// dropped: nothing could ever deliver to them, since the real engine never
// reuses an id).
//
// Why the reductions lose nothing: a crash between a step and its first
// append loses the event, which is the same as a crash before the
// delivery (explored): the world delivers the completion again to the
// re-issued invocation, a timer is re-armed, a question is asked again.
// Answering questions at once only makes the log run ahead of effects,
// never behind, and every answer is explored. The engine performs the
// other commands one per move, so a crash between any two of them is
// explored.
//
// # Effects
//
// Effects matter for a step that mutates (mutates: true: compensable with
// compensate:, irreversible otherwise) and for a step whose function
// honours idempotency keys (its binding says idempotent: true, or it
// names an idempotency: key) when the key changes per attempt (no
// idempotency: expression: each attempt has the kernel's default key). A
// success took effect; a declared or undeclared error did not; a timeout
// and an abandoned invocation may have. A re-issued invocation (after a
// crash) has the same id, hence the same key: a function that honours keys
// absorbs it.
//
// # Invariants
//
// LoggedBeforeExecuted: when the engine performs an Invoke or StartTimer
// (a queued one, or one a later answer of the same move abandoned, which
// the engine performs anyway), the append of its intent is durable.
//
// MutationsCompensable: no execution ends other than succeeded after an
// irreversible step took effect. An irreversible step is the saga's pivot:
// it must come after every step that can fail. (That every mutating step
// names a compensation or says irreversible: true is checked by
// validation.)
//
// CompensationComplete: an execution that ends other than succeeded has
// undone every mutation that took effect: the kernel's stack of completed
// mutations is empty (so each was compensated, in reverse order of
// completion, or handled by its on-failure handler), no compensation failed
// for good (reachable only with Options.CompensationFailures), and no
// mutation took effect outside that stack: an attempt that timed out after
// taking effect in a step that then failed for good without an on-failure
// handler, or was caught; an invocation abandoned in flight (a parallel
// branch cancelled, the execution cancelled or timed out).
//
// NoDeadlock: an execution that has started and not ended always has a
// move other than a crash or a cancellation request. A callback nobody
// answers (silent) is what violates it in a correct engine: the execution,
// or the join of a parallel or map state, waits for it forever; the
// violation names the callback state. Options.Cancel does not change the
// verdict: an execution that only an operator's cancellation can end is
// stuck. An execution timeout does (its timer is a move of the
// execution's own: it ends the wait, timed out).
//
// NoDanglingState: every workflow state is entered in some execution; no
// choice can be left without a matching rule and without a default; and
// from every reachable situation some sequence of moves ends the
// execution or reaches a deadlock (which NoDeadlock reports: a situation
// whose callback will never be answered is not also dangling).
//
// Termination: the graph restricted to the moves that neither decide a
// choice nor crash has no reachable cycle, except a cycle during all of
// which the execution's timeout timer is armed (under weak fairness it
// fires). A loop through a choice is assumed to make progress (the data
// the choice reads can change); crashes are assumed finitely many; retries
// under a retry policy are counted in the state and cannot loop. The move
// that leaves a callback unanswered cannot be on a loop: silent only grows
// while the thread waits, and the callback leaves it only with its thread.
// So a violation is a loop that only failures, timers and the engine
// drive: a catch that leads back, a wait that leads back without a choice.
//
// AtMostOnceEffect: at a step whose function honours idempotency keys,
// one visit of the step takes effect at most once: no attempt takes effect
// after an earlier attempt of the same visit timed out having taken
// effect, under another key. Also, delivering a completion a second time
// changes nothing (the kernel rejects it).
//
// Deterministic: every Step the checker takes is taken twice, on copies
// of the same state with the same event: both give the same encoding and
// the same commands; every stored state decodes to itself.
//
// Invariants that do not apply are "not checked" (MutationsCompensable
// without a mutating state, CompensationComplete without mutations or
// compensations, AtMostOnceEffect without a function that honours keys).
// Witnesses ("sometimes" properties: Succeeds, Fails, Compensates,
// Retries, Catches) that are never reached are reported as warnings. An
// unanswered callback reaches none that was not reached without it, at
// the same depth: from such a situation the only ends are an execution
// timeout or a cancellation, which the answered callback's situation has
// too.
//
// # K executions
//
// The executions of a workflow share no state in this model (each has its
// own log, ids, invocations and timers; a crash is a crash of the engine
// node running that execution). Every invariant is a property of one
// execution, so it is decided exactly on the graph of one execution; the
// state space of K executions is the product of K copies of that graph:
// n^K states, or (n+K-1 choose K) when executions are interchangeable
// (symmetry reduction: tuples kept sorted). Graph.Product explores it
// breadth first in parallel (a lock-free open-addressing set of 64-bit
// keys: the exact packed tuple when it fits in 63 bits, its HashBytes
// otherwise), and Check compares the result with the closed form. A
// product larger than Options.MaxProductStates is counted, not
// enumerated; the verdicts do not depend on it.
//
// The symmetry reduction also applies inside one execution: the items of
// a map run the same processor and, without data, the kernel treats them
// alike (an item's index only addresses its result), so the items of a
// map are kept in a canonical order (sorted by their kernel encoding and
// what the protocol knows of them) before an execution state is stored.
// Options.NoSymmetry turns both reductions off; the counts another tool
// must reproduce are those without symmetry.
//
// # Bounds
//
// MaxStates bounds the graph of one execution, Timeout the wall time,
// MaxMemory the heap. A bound reached ends the check with Report.Complete
// false: invariants not violated so far are "incomplete", never "holds".
package checker
