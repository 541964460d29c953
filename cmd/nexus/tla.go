package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/tla"
	"github.com/spf13/cobra"
)

// tlaFlags are the options of nexus tla: the model's bounds, as in nexus
// check.
type tlaFlags struct {
	dir           string
	instances     int
	mapSize       int
	dataErrors    bool
	cancel        bool
	compFailures  bool
	noCount       bool
	noTermination bool
	maxStates     int64
	timeout       time.Duration
	faultInvoke   bool
}

func (e *env) tlaCmd() *cobra.Command {
	var f tlaFlags
	cmd := &cobra.Command{
		Use:   "tla FILE -o DIR",
		Short: "Export a workflow as a TLA+ module and TLC configuration of the model nexus check explores",
		Long: `Export a workflow (nexus YAML/JSON or Step Functions ASL) as a TLA+ module
DIR/<Name>.tla and a TLC configuration DIR/<Name>.cfg.

The module models exactly what nexus check explores with the same bounds:
K concurrent executions of the compiled machine (its states, transitions,
retry, catch and compensation tables as TLA+ constants), the kernel's step
semantics written once as TLA+ operators over those tables, the checker's
engine and world (every invocation outcome, every answer a data-dependent
question can get, timers in any order, a crash between any two effects),
and the invariants under the names nexus check reports.

The configuration lists the invariants (and the temporal property
Termination) and says, in a comment, how many distinct states
nexus check --no-symmetry finds for these bounds: TLC must report the same
number. Run it with

  java -cp tla2tools.jar tlc2.TLC -workers 1 -config DIR/<Name>.cfg DIR/<Name>.tla

Exit 0 when the files were written, 2 on an invalid workflow, usage or
I/O errors.`,
		Example: `  nexus tla corpus/examples/payment-reconciliation-fixed.yaml -o out/
  nexus tla flow.asl.json -o out/ --instances 3 --map-size 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return e.runTLA(ctx, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dir, "output", "o", ".", "directory to write <Name>.tla and <Name>.cfg into (created if missing)")
	fl.IntVar(&f.instances, "instances", checker.DefaultInstances, "number of concurrent executions (K)")
	fl.IntVar(&f.mapSize, "map-size", checker.DefaultMapSize, "largest number of items a map state gets")
	fl.BoolVar(&f.dataErrors, "data-errors", false, "let decisions of states with data-dependent paths fail with their evaluation error")
	fl.BoolVar(&f.cancel, "cancel", false, "let the world cancel a running execution at any point")
	fl.BoolVar(&f.compFailures, "compensation-failures", false, "let compensations fail for good")
	fl.BoolVar(&f.noCount, "no-count", false, "do not run nexus check for the distinct-state count")
	fl.BoolVar(&f.noTermination, "no-termination", false, "leave the temporal property Termination out of the configuration (liveness checking is slow in TLC)")
	fl.Int64Var(&f.maxStates, "max-states", checker.DefaultMaxStates, "bound on the distinct states of one execution, for the count")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "bound on the time of the count (0: none)")
	fl.BoolVar(&f.faultInvoke, "fault-invoke-before-intent", false, "test only: export the kernel with the invoke-before-intent protocol bug")
	_ = fl.MarkHidden("fault-invoke-before-intent")
	return cmd
}

func (e *env) runTLA(ctx context.Context, f *tlaFlags, path string) error {
	if f.instances < 1 || f.instances > checker.MaxInstances {
		return usageError("--instances must be between 1 and %d", checker.MaxInstances)
	}
	if f.mapSize < 1 || f.mapSize > checker.MaxMapSize {
		return usageError("--map-size must be between 1 and %d", checker.MaxMapSize)
	}
	if f.maxStates < 1 || f.timeout < 0 {
		return usageError("--max-states must be positive and --timeout not negative")
	}
	s, m, fs, err := load(path)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, fd := range fs {
		if fd.File == path {
			fmt.Fprint(e.stderr, fd.Render(s.src))
		} else {
			fmt.Fprintln(e.stderr, fd.Error())
		}
	}
	if m == nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s is not a valid workflow", path)}
	}
	m.FaultInvokeBeforeIntent = f.faultInvoke
	opts := tla.Options{Instances: f.instances, MapSize: f.mapSize, DataErrors: f.dataErrors, Cancel: f.cancel,
		CompensationFailures: f.compFailures, NoTermination: f.noTermination, Source: filepath.Base(path)}
	if !f.noCount {
		n, note, err := tlaCount(ctx, m, f)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", path, err)}
		}
		opts.States, opts.Note = n, note
	}
	mod, err := tla.Export(m, opts)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, out := range []struct {
		ext  string
		data []byte
	}{{".tla", mod.TLA}, {".cfg", mod.Config}} {
		p := filepath.Join(f.dir, mod.Name+out.ext)
		if err := os.WriteFile(p, out.data, 0o644); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", p, len(out.data))
	}
	if opts.States > 0 {
		fmt.Fprintf(e.stdout, "%s: %d distinct states (nexus check --no-symmetry, --instances %d, --map-size %d)\n",
			mod.Name, opts.States, f.instances, f.mapSize)
	}
	return nil
}

// tlaCount runs the checker's exploration with the export's bounds and
// returns the distinct-state count of K executions without symmetry
// reduction (the number nexus check --no-symmetry reports), with notes
// for the configuration's comment. An exploration a bound stopped gives
// 0 and a note saying so.
func tlaCount(ctx context.Context, m *model.Machine, f *tlaFlags) (int64, []string, error) {
	opts := checker.Options{Instances: f.instances, MapSize: f.mapSize, NoSymmetry: true, DataErrors: f.dataErrors,
		Cancel: f.cancel, CompensationFailures: f.compFailures, MaxStates: f.maxStates}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	start := time.Now()
	g, err := checker.Explore(ctx, m, opts)
	if err != nil {
		return 0, nil, err
	}
	if !g.Complete() {
		return 0, []string{"nexus check did not finish the exploration (" + g.Stop() + "): no count"}, nil
	}
	n, ok := checker.ExpectedProduct(int64(g.NumStates()), f.instances, false)
	if !ok {
		return 0, []string{fmt.Sprintf("one execution has %d states; %d executions have more than 2^63", g.NumStates(), f.instances)}, nil
	}
	note := []string{
		fmt.Sprintf("(one execution: %d states; with --instances %d: %d^%d; explored in %s)", g.NumStates(), f.instances,
			g.NumStates(), f.instances, time.Since(start).Round(time.Millisecond)),
		"The model (nexus check's abstraction):",
	}
	for _, a := range opts.Abstraction() {
		note = append(note, "  "+strings.TrimSpace(a))
	}
	return n, note, nil
}
