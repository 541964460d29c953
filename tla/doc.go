// Package tla exports a compiled workflow as a TLA+ module and a TLC
// configuration that model exactly what `nexus check` explores: the same
// kernel, the same engine and world, the same bounds. For the same
// options, TLC's count of distinct states on the export equals the
// count `nexus check --no-symmetry` reports; the configuration says it in
// a comment, and the tests of cmd/nexus hold the two to it whenever TLC
// is at hand (NEXUS_TLC_JAR).
//
// # What the module is
//
// A module is three kinds of text:
//
//   - THE MACHINE: the tables of the compiled workflow (model.Machine) as
//     TLA+ constants: each state's kind, transitions, choice targets,
//     retry and catch tables (with the backoff delay of every retry),
//     fan-out (branches, processor, concurrency limit) and saga
//     declarations (compensation, on-failure handler); the start of each
//     graph; and THE WORLD, what the checker's abstraction lets the world
//     do at each state (the errors an invocation may fail with, whether it
//     can time out, whether it is a callback nobody may ever answer,
//     whether a decision can fail on data) and what an
//     effect means to the invariants (mutating, irreversible, honouring
//     idempotency keys). Only these change from one workflow to another.
//   - THE KERNEL: model.Machine.Step written once as TLA+ operators over
//     those tables (kernel.tla.part). Each operator is one method of the
//     Go stepper in model/step.go, a pure function from a work record to
//     a work record: Ask is stepper.decide, Effect is stepper.effect,
//     Invoke, StartTimer, Spawn, Remove, Enter (enterThread),
//     StartChildren, Fork, Advance, CancelDescendants, CompensateNext, End,
//     Handle and Fail are their namesakes, and StartEv, SucceededEv,
//     FailedEv, TimerFiredEv, CancelEv and DecidedEv are the cases of
//     stepper.apply and stepper.decided. PendingEffects is
//     model.Machine.Pending. Records hold the same fields with the same
//     values as model.Execution and model.Thread (statuses, phases and
//     question kinds by their Go names, state indexes from 0), so two
//     states are equal in TLA+ exactly when their canonical encodings are
//     equal in Go.
//   - THE DRIVER: the checker's generic engine and world
//     (checker/expand.go) as TLA+ actions (driver.tla.part): an execution
//     at rest moves by one event stepped and the closure of its questions
//     (every answer a branch: Closure is the checker's answerAll), by one
//     queued effect performed (Perform), by a crash and restart
//     (Crash, through PendingEffects), or by the world's decision that
//     nobody will ever answer a callback with no timeout and no heartbeat
//     (UnansweredNext: its invocation joins silent, the set of invocations
//     no completion is delivered for, and the execution may deadlock, as
//     NoDeadlock reports); Finish resolves abandoned
//     invocations and effects as the checker's finish does, and Canon
//     renumbers identifiers as model.Execution.Renumber does. The K
//     executions share nothing, so TLC explores n^K states for an
//     execution graph of n, as the checker counts.
//
// Then THE INVARIANTS, under the names the checker reports
// (invariants.tla.part): the state predicates LoggedBeforeExecuted,
// MutationsCompensable, CompensationComplete, NoDeadlock,
// AtMostOnceEffect, the expressible part of NoDanglingState, and
// Deterministic (true by construction), listed under INVARIANTS; and the
// temporal formula Termination under PROPERTIES.
//
// # Using it
//
//	mod, err := tla.Export(machine, tla.Options{Instances: 2, States: n})
//	os.WriteFile(mod.Name+".tla", mod.TLA, 0o644)
//	os.WriteFile(mod.Name+".cfg", mod.Config, 0o644)
//
// then java -cp tla2tools.jar tlc2.TLC -config Name.cfg Name.tla. The
// command `nexus tla FILE -o DIR` does this, with n computed by the
// checker. Package tla imports model only: the per-state view of the
// world is model.Machine.Worlds, the code the checker uses too; the
// kernel and the driver are restated in TLA+, and the equal counts are
// what keeps them in step with model/step.go and checker/expand.go.
package tla
