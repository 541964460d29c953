// Package model is the nexus workflow language and its pure kernel: what a
// workflow means, with no driver in sight.
//
// # The language
//
// A workflow file (YAML or JSON, one schema) is read by Parse into a
// Workflow: states with their transitions, retry and catch rules, saga
// declarations (mutates, compensate, irreversible), data flow and policies,
// every element carrying the line and column it was written at. Step
// Functions definitions are read by package model/asl into the same
// Workflow. Validate reports every problem of a workflow at once as
// Findings (FILE:LINE:COL: message), and Compile turns a valid workflow
// into a Machine: states numbered, transitions tabulated, functions
// resolved.
//
// # The kernel
//
// The state of one execution is an Execution, a plain value: Clone copies
// it, AppendEncoding gives canonical bytes and Hash a 64-bit hash of them,
// so that a model checker can store millions. Step applies one Event to an
// Execution and returns the Commands the driver must perform:
//
//	out, err := m.Step(exec, event, out[:0])
//
// Step is pure and total: no I/O, no clock, no randomness, no goroutine; the
// same execution and event always give the same result, and an event that
// does not apply (a duplicate completion, an answer to a question not
// asked) returns a *RejectError and changes nothing.
//
// Everything that depends on data is asked, not computed: entering a choice
// state, Step returns a Decide command and waits for an EvDecided event
// with the branch; entering a map, one with the number of items; a task's
// input and output, a fail state's error, a retry's jittered delay, all
// the same way. A driver with data (the engine, the test runner) answers
// with package model/dataflow, which evaluates JSONPath, JSONata, CEL and
// intrinsic functions; the model checker answers with every possible
// answer; the simulator samples one. The control state therefore stays
// finite and small, and data rides along only for drivers that keep it.
//
// # Driving the kernel
//
// Every driver is the same loop:
//
//	exec := &model.Execution{}
//	queue := []model.Event{{Kind: model.EvStart, Data: input, Time: now}}
//	for len(queue) > 0 {
//		e := queue[0]; queue = queue[1:]
//		cmds, err := m.Step(exec, e, cmds[:0])
//		if err != nil { continue } // rejected: a stale event
//		for _, c := range cmds {
//			switch c.Kind {
//			case model.AppendEvent, model.AppendIntent:
//				// Append to the durable log. All appends of one step come
//				// first: make them durable (one write) before going on.
//			case model.Invoke:
//				// Call function m.Functions[c.Fn] with c.Input under an
//				// idempotency key; later, queue EvSucceeded, EvFailed or
//				// EvTimedOut with ID c.ID.
//			case model.StartTimer:
//				// Later, queue EvTimerFired with ID c.ID.
//			case model.Decide:
//				// Answer at once: queue dataflow.Decide(m, exec, c, env).
//			case model.CancelInvoke, model.CancelTimer:
//				// Best effort: the outcome no longer matters.
//			case model.Finish:
//				// exec.Status is terminal.
//			}
//		}
//	}
//
// # The durable-execution protocol
//
// The order of commands is the protocol: every Invoke and StartTimer is
// preceded by the AppendIntent announcing it, and the appends of a step come
// before its effects. A driver that performs commands in order and makes
// appends durable before going on can crash at any point: Recover replays
// the log and returns the commands that resume the execution, re-issuing
// every invocation whose intent was logged without an outcome under the
// same id (hence the same idempotency key) and appending any intent lost
// with the crash before its effect. The model checker explores crashes
// between any two commands against exactly this code.
//
// # Sagas
//
// A step that completes and names a compensation is pushed on the
// execution's stack of completed mutations; a step that fails for good and
// names an on-failure handler is pushed too. So is a compensable step whose
// effect is uncertain because it ended without completing after an attempt
// timed out, or was abandoned in flight (a sibling branch failed, the
// execution was cancelled or timed out): its compensation is told
// "uncertain": true and must tolerate finding nothing to undo. When the
// execution fails, is cancelled or times out, the stack is unwound in
// reverse order, each compensation with its own retries. The execution
// ends Compensated when all ran, CompensationFailed when one failed for
// good; Execution.Stuck then names what an operator must undo by hand.
package model
