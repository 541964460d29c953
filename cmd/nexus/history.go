package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nexus-workflows/nexus/engine"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/spf13/cobra"
)

func (e *env) historyCmd() *cobra.Command {
	f := &dbFlags{}
	var format string
	cmd := &cobra.Command{
		Use:   "history [EXECUTION]",
		Short: "Show an execution's log, or list the executions",
		Long: `Show the log of one execution, record by record: sequence number, time,
what was recorded (an event, or the intent of an effect), the state and
function concerned, the attempt, the idempotency key and the error. With -o
json every record comes with the event or command it holds, data included.

Without an execution, list the executions in the database.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("-o must be text or json")
			}
			st, err := f.open(false)
			if err != nil {
				return usageError("%v", err)
			}
			defer st.Close()
			if len(args) == 0 {
				return e.listExecutions(cmd.Context(), st, format)
			}
			hist, err := engine.History(cmd.Context(), st, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			if format == "json" {
				return writeJSON(e.stdout, historyJSON(hist))
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tRECORD\tSTATE\tFUNCTION\tATTEMPT\tKEY\tERROR")
			for _, en := range hist {
				attempt := ""
				if en.Attempt > 0 {
					attempt = fmt.Sprint(en.Attempt)
				}
				rec := en.Type
				if en.Kind == store.KindIntent {
					rec = "intent " + rec
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Seq, stamp(en.Time), rec, en.State, en.Function,
					attempt, en.Key, en.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	f.register(cmd, false)
	return cmd
}

func notFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &exitError{code: exitFindings, err: fmt.Errorf("no execution %s in this database", id)}
	}
	return &exitError{code: exitUsage, err: err}
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z")
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// rawOrNil keeps JSON data as it is, and drops what is absent.
func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return json.RawMessage(b)
}

func historyJSON(hist []*engine.Entry) []map[string]any {
	out := make([]map[string]any, 0, len(hist))
	for _, en := range hist {
		r := map[string]any{"seq": en.Seq, "time": stamp(en.Time), "record": en.Kind.String(), "type": en.Type}
		for k, v := range map[string]string{"state": en.State, "function": en.Function, "key": en.Key, "error": en.Error} {
			if v != "" {
				r[k] = v
			}
		}
		if en.Attempt > 0 {
			r["attempt"] = en.Attempt
		}
		if ev := en.Event; ev != nil {
			e := map[string]any{"kind": ev.Kind.String()}
			if ev.ID != 0 {
				e["id"] = ev.ID
			}
			if ev.Thread != 0 {
				e["thread"], e["decide"] = ev.Thread, ev.Decide.String()
			}
			if ev.Decide == model.DecideChoice {
				e["branch"] = ev.Branch
			}
			if ev.Count != 0 {
				e["count"] = ev.Count
			}
			if ev.Delay != 0 {
				e["delay_ns"] = int64(ev.Delay)
			}
			if ev.Cause != "" {
				e["cause"] = ev.Cause
			}
			if d := rawOrNil(ev.Data); d != nil {
				e["data"] = d
			}
			if d := rawOrNil(ev.Vars); d != nil {
				e["vars"] = d
			}
			r["event"] = e
		}
		if c := en.Command; c != nil {
			e := map[string]any{"effect": c.Effect.String(), "id": c.ID}
			if c.Effect == model.Invoke {
				e["attempt"] = c.Attempt
				if d := rawOrNil(c.Input); d != nil {
					e["input"] = d
				}
				if c.Comp {
					e["compensation"] = true
				}
				if c.Callback {
					e["callback"] = true
				}
				if c.Timeout > 0 {
					e["timeout_ns"] = int64(c.Timeout)
				}
			}
			if c.Delay != 0 {
				e["delay_ns"] = int64(c.Delay)
			}
			if c.Until != 0 {
				e["until"] = stamp(c.Until)
			}
			r["intent"] = e
		}
		out = append(out, r)
	}
	return out
}

func (e *env) listExecutions(ctx context.Context, st store.Store, format string) error {
	rows, err := st.Executions(ctx, store.Filter{})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	names := map[string]string{}
	if format == "json" {
		var out []map[string]any
		for _, r := range rows {
			out = append(out, map[string]any{"execution": r.ID, "workflow": workflowName(ctx, st, r.Workflow, names),
				"status": r.Status, "created": stamp(r.Created), "updated": stamp(r.Updated), "records": r.Seq})
		}
		return writeJSON(e.stdout, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tWORKFLOW\tSTATUS\tSTARTED\tRECORDS")
	count := map[string]int{}
	for _, r := range rows {
		count[r.Status]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.ID, workflowName(ctx, st, r.Workflow, names), r.Status, stamp(r.Created), r.Seq)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Every ending counted, compensation_failed included: never silent.
	var parts []string
	for s := model.Running; s <= model.TimedOut; s++ {
		if n := count[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	fmt.Fprintf(e.stdout, "%d executions: %s\n", len(rows), strings.Join(parts, ", "))
	return nil
}

func workflowName(ctx context.Context, st store.Store, digest string, cache map[string]string) string {
	if n, ok := cache[digest]; ok {
		return n
	}
	n := digest[:min(12, len(digest))]
	if w, err := st.Workflow(ctx, digest); err == nil && w.Name != "" {
		n = w.Name
	}
	cache[digest] = n
	return n
}

func (e *env) traceCmd() *cobra.Command {
	f := &dbFlags{}
	var format string
	cmd := &cobra.Command{
		Use:   "trace EXECUTION",
		Short: "Show where an execution's data went and why it failed",
		Long: `Show the provenance of an execution: every call with its input, output or
error, its attempt and timing, every wait, and for an execution that did not
succeed the step that made it fail (the root cause), first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("-o must be text or json")
			}
			st, err := f.open(false)
			if err != nil {
				return usageError("%v", err)
			}
			defer st.Close()
			tr, err := engine.TraceOf(cmd.Context(), st, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			if format == "json" {
				return writeJSON(e.stdout, tr)
			}
			printTrace(e.stdout, tr)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	f.register(cmd, false)
	return cmd
}

func printTrace(w io.Writer, tr *engine.Trace) {
	fmt.Fprintf(w, "execution %s of %s: %s after %s (%d calls, %d retries)\n", tr.Execution, tr.Workflow, tr.Status,
		time.Duration(tr.End-tr.Start).Round(time.Microsecond), tr.Attempts, tr.Retries)
	fmt.Fprintf(w, "input   %s\n", clipN(tr.Input, 200))
	if tr.Status == model.Succeeded.String() {
		fmt.Fprintf(w, "output  %s\n", clipN(tr.Output, 200))
	} else if tr.Error != "" {
		fmt.Fprintf(w, "error   %s\n", errText(tr.Error, tr.Cause))
	}
	if tr.RootCause >= 0 {
		s := tr.Steps[tr.RootCause]
		fmt.Fprintf(w, "root cause (step %d): %s\n", tr.RootCause+1, s.Describe())
		if len(s.Input) > 0 {
			fmt.Fprintf(w, "  with input %s\n", clipN(s.Input, 200))
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTATE\tFUNCTION\tATTEMPT\tAT\tTOOK\tOUTCOME")
	for i, s := range tr.Steps {
		fn := s.Function
		if s.Kind == "compensation" {
			fn = "↺ " + fn
		}
		if s.Kind == "wait" {
			fn = fmt.Sprintf("(wait %s)", time.Duration(s.Delay).Round(time.Millisecond))
		}
		attempt := ""
		if s.Attempt > 0 {
			attempt = fmt.Sprint(s.Attempt)
		}
		took := ""
		if s.End > 0 {
			took = time.Duration(s.End - s.Start).Round(time.Microsecond).String()
		}
		outcome := s.Outcome
		if s.Error != "" {
			outcome += " " + errText(s.Error, s.Cause)
		}
		mark := " "
		if i == tr.RootCause {
			mark = "!"
		}
		fmt.Fprintf(tw, "%s%d\t%s\t%s\t%s\t+%s\t%s\t%s\n", mark, i+1, s.State, fn, attempt,
			time.Duration(s.Start-tr.Start).Round(time.Microsecond), took, clipN([]byte(outcome), 100))
		if len(s.Input) > 0 {
			fmt.Fprintf(tw, "\t\t\t\t\t\t  in  %s\n", clipN(s.Input, 100))
		}
		if len(s.Output) > 0 {
			fmt.Fprintf(tw, "\t\t\t\t\t\t  out %s\n", clipN(s.Output, 100))
		}
	}
	tw.Flush()
}

func clipN(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

func (e *env) logCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Check the engine's event log",
	}
	cmd.AddCommand(e.logVerifyCmd())
	return cmd
}

func (e *env) logVerifyCmd() *cobra.Command {
	f := &dbFlags{}
	var format string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the log's hash chains and name the first bad record",
		Long: `Recompute the SHA-256 of every record of the log, check that each one holds
the hash of the record before it in its execution, that each execution's
log ends where its index says, that each snapshot follows a record of its
chain and, with a log key (--log-key or NEXUS_LOG_KEY), every record's and
snapshot's HMAC signature.

Exit 0 when the log is intact, 1 when it is not (the first bad record is
named: its position in the database, its execution and its sequence
number), 2 when the database cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("-o must be text or json")
			}
			st, err := f.open(false)
			if err != nil {
				return usageError("%v", err)
			}
			defer st.Close()
			start := time.Now()
			rep, err := store.Verify(cmd.Context(), st, f.key())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			took := time.Since(start)
			if format == "json" {
				out := map[string]any{"intact": rep.OK(), "records": rep.Records, "executions": rep.Executions,
					"snapshots": rep.Snapshots, "signed": rep.Signed, "signatures_checked": rep.KeyChecked,
					"seconds": took.Seconds()}
				var probs []map[string]any
				for _, p := range rep.Problems {
					probs = append(probs, map[string]any{"record": p.Pos, "execution": p.Exec, "seq": p.Seq,
						"snapshot": p.Snapshot, "problem": p.Err.Error(), "message": p.Error()})
				}
				if probs != nil {
					out["problems"] = probs
				}
				if err := writeJSON(e.stdout, out); err != nil {
					return err
				}
			} else if rep.OK() {
				sig := "signatures not checked (no log key)"
				switch {
				case rep.KeyChecked:
					sig = "signatures checked"
				case rep.Signed > 0:
					sig = fmt.Sprintf("%d records are signed: give --log-key to check their signatures", rep.Signed)
				}
				fmt.Fprintf(e.stdout, "log intact: %d records in %d executions, %d snapshots; %s (%s)\n", rep.Records,
					rep.Executions, rep.Snapshots, sig, took.Round(time.Millisecond))
			} else {
				fmt.Fprintf(e.stdout, "log NOT intact: first bad record: %v\n", rep.First())
				if n := len(rep.Problems) + rep.More - 1; n > 0 {
					fmt.Fprintf(e.stdout, "%d more problem(s) after it (-o json lists them)\n", n)
				}
			}
			if !rep.OK() {
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	f.register(cmd, true)
	return cmd
}

func (e *env) completeCmd() *cobra.Command {
	f := &dbFlags{}
	var output, errName, cause string
	var heartbeat bool
	cmd := &cobra.Command{
		Use:   "complete TOKEN [--output JSON | --error NAME [--cause TEXT] | --heartbeat]",
		Short: "Complete a step that waits for a callback",
		Long: `Complete the step holding a task token (a step with callback: true hands its
function a token): with its output, or with an error its retry and catch
rules see, or only tell the engine the step is alive (--heartbeat). The
completion is durable when the command returns; the engine running the
execution applies it within its poll interval (an engine resuming the
execution later applies it then).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := engine.Completion{Error: errName, Cause: cause, Heartbeat: heartbeat}
			n := 0
			for _, set := range []bool{output != "", errName != "", heartbeat} {
				if set {
					n++
				}
			}
			if n > 1 || (cause != "" && errName == "") {
				return usageError("give one of --output, --error (with --cause) or --heartbeat")
			}
			if output != "" {
				if !json.Valid([]byte(output)) {
					return usageError("--output is not JSON")
				}
				c.Output = []byte(output)
			}
			st, err := f.open(false)
			if err != nil {
				return usageError("%v", err)
			}
			defer st.Close()
			exec, id, err := engine.Complete(cmd.Context(), st, args[0], c, time.Now().UnixNano())
			if err != nil {
				if errors.Is(err, engine.ErrBadToken) || errors.Is(err, store.ErrNotFound) {
					return &exitError{code: exitFindings, err: err}
				}
				return &exitError{code: exitFindings, err: err}
			}
			what := "completion"
			if heartbeat {
				what = "heartbeat"
			}
			fmt.Fprintf(e.stdout, "%s of execution %s call #%d recorded\n", what, exec, id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&output, "output", "", "the step's output (JSON)")
	fl.StringVar(&errName, "error", "", "fail the step with this error name")
	fl.StringVar(&cause, "cause", "", "the cause of the error")
	fl.BoolVar(&heartbeat, "heartbeat", false, "only say the step is alive")
	f.register(cmd, false)
	return cmd
}

func (e *env) cancelCmd() *cobra.Command {
	f := &dbFlags{}
	var cause string
	cmd := &cobra.Command{
		Use:   "cancel EXECUTION",
		Short: "Cancel an execution (its compensations run)",
		Long: `Ask the engine running an execution to cancel it: its calls in flight are
abandoned, its completed mutations compensated in reverse order, and it ends
cancelled. The request is durable when the command returns; an execution no
engine runs is cancelled when it is resumed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.open(false)
			if err != nil {
				return usageError("%v", err)
			}
			defer st.Close()
			if err := engine.Cancel(cmd.Context(), st, args[0], cause, time.Now().UnixNano()); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return notFound(err, args[0])
				}
				return &exitError{code: exitFindings, err: err}
			}
			row, _ := st.Execution(cmd.Context(), args[0])
			note := ""
			if row != nil && (row.Owner == "" || row.Lease < time.Now().UnixNano()) {
				note = " (no engine runs it now: nexus resume " + args[0] + " applies it)"
			}
			fmt.Fprintf(e.stdout, "cancellation of %s requested%s\n", args[0], note)
			return nil
		},
	}
	cmd.Flags().StringVar(&cause, "cause", "cancelled from the command line", "why")
	f.register(cmd, false)
	return cmd
}
