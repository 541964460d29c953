package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/sim"
	"github.com/spf13/cobra"
)

// simFlags are the options of nexus sim.
type simFlags struct {
	profile      string
	profileFrom  string
	writeProfile string
	n            int
	seed         uint64
	output       string
	plot         string
	sets         []string
	sweep        string
	replay       string
	violation    int
	workers      int
	progress     string
}

func (e *env) simCmd() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim FILE",
		Short: "Simulate a workflow under injected latency and failures (Monte Carlo)",
		Long: `Simulate executions of a workflow (nexus YAML/JSON or Step Functions ASL)
on a virtual clock, driving the same kernel the engine runs: retries,
backoff, timeouts, catchers, compensation and map concurrency are the
kernel's, the world is the profile's.

A profile (--profile P.yaml) says how each function behaves: latency
(constant, exponential, lognormal, gamma, or empirical from a CSV),
failure probability per error name, hangs, cold starts, concurrency limit
and throttling, circuit breaker, memory and prices; how the workflow's
data-dependent questions come out (choice branches, map sizes, data
errors, wait times); and how executions arrive (a closed loop of N clients
or Poisson arrivals). Without one, every function answers in 100ms and
never fails. See package sim for the format.

The report gives the rate of each outcome (succeeded, compensated, failed,
compensation_failed, ...) with 95% Wilson intervals, end-to-end latency
p50/p90/p99/max, retries and time per state, calls, throttles and breaker
refusals per function, and cost per execution and per million. The same
seed gives the same report, byte for byte, on any number of cores.

What-if: --set PATH=VALUE overrides the profile (fn.failure=0.05 sets the
failure probability of function fn; cost.transition=0.00001;
load.clients=50); --sweep PATH=FROM..TO:STEP runs the simulation at each
value and prints success rate and p99 against it (plotted with --plot).

--replay TRACE steps a counterexample from 'nexus check -o json' (or a
plain list of events) through the kernel and prints each step.

--profile-from DB derives a profile from the history in an engine
database (latencies and error rates per function) and simulates with it;
--write-profile FILE saves it.

Exit 0 on a report, 2 on usage or I/O errors and invalid workflows or
profiles.`,
		Example: `  nexus sim corpus/examples/payment-reconciliation-fixed.yaml --profile corpus/examples/payment-reconciliation.profile.yaml
  nexus sim flow.yaml --profile p.yaml -n 1000000 --seed 7 -o json
  nexus sim flow.yaml --profile p.yaml --plot plots/
  nexus sim flow.yaml --profile p.yaml --set charge.failure=0.05
  nexus sim flow.yaml --profile p.yaml --sweep charge.failure=0..0.2:0.02 --plot plots/
  nexus check flow.yaml -o json > check.json; nexus sim flow.yaml --replay check.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return e.runSim(ctx, &f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "profile file (YAML): functions, states, cost, load")
	fl.StringVar(&f.profileFrom, "profile-from", "", "derive the profile from the history in this engine database (SQLite)")
	fl.StringVar(&f.writeProfile, "write-profile", "", "with --profile-from: write the derived profile to this file")
	fl.IntVarP(&f.n, "executions", "n", sim.DefaultExecutions, "number of executions")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random numbers")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.StringVar(&f.plot, "plot", "", "write plots (SVG and PNG) into this directory")
	fl.StringArrayVar(&f.sets, "set", nil, "override a profile value: PATH=VALUE (fn.failure=0.05); repeatable")
	fl.StringVar(&f.sweep, "sweep", "", "run at each value of a parameter: PATH=FROM..TO:STEP or PATH=V1,V2,...")
	fl.StringVar(&f.replay, "replay", "", "replay a trace (nexus check -o json, or a list of events) step by step")
	fl.IntVar(&f.violation, "violation", 1, "with --replay: which counterexample of the file (1-based)")
	fl.IntVar(&f.workers, "workers", 0, "goroutines (default: all cores); never changes the report")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on standard error for runs over 2s: auto (when a terminal), always or never")
	return cmd
}

func (e *env) runSim(ctx context.Context, f *simFlags, file string) error {
	if f.output != "text" && f.output != "json" {
		return usageError("-o must be text or json, not %q", f.output)
	}
	if f.progress != "auto" && f.progress != "always" && f.progress != "never" {
		return usageError("--progress must be auto, always or never, not %q", f.progress)
	}
	if f.profile != "" && f.profileFrom != "" {
		return usageError("give --profile or --profile-from, not both")
	}
	if f.writeProfile != "" && f.profileFrom == "" {
		return usageError("--write-profile needs --profile-from")
	}
	s, m, fs, err := load(file)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, fd := range fs {
		if m == nil || fd.Severity == model.SeverityError {
			fmt.Fprint(e.stderr, fd.Render(s.src))
		}
	}
	if m == nil {
		return usageError("%s is not a valid workflow", file)
	}
	ps, err := e.simProfileSource(ctx, f, m.Workflow)
	if err != nil {
		return err
	}
	opts := sim.Options{N: f.n, Seed: f.seed, Workers: f.workers}
	if f.replay != "" {
		return e.runReplay(m, ps, f)
	}
	if f.sweep != "" {
		sw, err := sim.ParseSweep(f.sweep)
		if err != nil {
			return usageError("%v", err)
		}
		stop := e.startProgress(f.progress, &opts)
		res, pfs, err := sim.RunSweep(ctx, m, ps, f.sets, sw, opts)
		stop()
		if err != nil {
			e.printProfileFindings(pfs, f.profile)
			return &exitError{code: exitUsage, err: err}
		}
		if f.output == "json" {
			err = res.WriteJSON(e.stdout)
		} else {
			err = res.WriteText(e.stdout)
		}
		if err != nil {
			return err
		}
		if f.plot != "" {
			files, err := res.WritePlot(f.plot)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(e.stderr, "wrote %s\n", strings.Join(files, ", "))
		}
		return nil
	}
	p, pfs := ps.Decode(f.sets...)
	e.printProfileFindings(pfs, f.profile)
	if p == nil {
		return usageError("the profile is invalid")
	}
	start := time.Now()
	stop := e.startProgress(f.progress, &opts)
	r, err := sim.Run(ctx, m, p, opts)
	stop()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	elapsed := time.Since(start)
	if f.output == "json" {
		err = r.WriteJSON(e.stdout)
	} else {
		err = r.WriteText(e.stdout)
	}
	if err != nil {
		return err
	}
	// Speed goes to standard error: the report itself depends only on
	// the inputs and the seed.
	fmt.Fprintf(e.stderr, "simulated %d executions (%d events) in %s: %.0f executions/s, %.0f events/s\n",
		r.Executions, r.Events, elapsed.Round(time.Millisecond), float64(r.Executions)/elapsed.Seconds(),
		float64(r.Events)/elapsed.Seconds())
	if f.plot != "" {
		files, err := r.WritePlots(f.plot)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		fmt.Fprintf(e.stderr, "wrote %s\n", strings.Join(files, ", "))
	}
	return nil
}

// simProfileSource reads the profile file, derives one from a database,
// or starts from the empty profile.
func (e *env) simProfileSource(ctx context.Context, f *simFlags, w *model.Workflow) (*sim.ProfileSource, error) {
	var file string
	var src []byte
	// A profile named in the workflow's profiles: section, when no file
	// of that name exists; without --profile, the section's "default"
	// profile or its only one.
	if name, node := workflowProfile(w, f.profile); node != nil {
		ps, fs := sim.NewProfileSource(w.File+" (profile "+name+")", node)
		e.printProfileFindings(fs, w.File)
		if ps == nil {
			return nil, usageError("profile %q of %s is invalid", name, w.File)
		}
		return ps, nil
	} else if f.profile == "" && f.profileFrom == "" && name != "" {
		return nil, usageError("%s has several profiles (%s); choose one with --profile NAME", w.File, name)
	}
	switch {
	case f.profile != "":
		b, err := os.ReadFile(f.profile)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		file, src = f.profile, b
	case f.profileFrom != "":
		b, err := e.deriveProfile(ctx, f.profileFrom)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		file, src = f.profileFrom+" (derived profile)", b
		if f.writeProfile != "" {
			if err := os.WriteFile(f.writeProfile, b, 0o644); err != nil {
				return nil, &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(e.stderr, "wrote %s\n", f.writeProfile)
		}
	default:
		fmt.Fprintln(e.stderr, "nexus sim: no --profile: every function answers in 100ms and never fails")
	}
	ps, fs := sim.ReadProfile(file, src)
	e.printProfileFindings(fs, f.profile)
	if ps == nil {
		return nil, usageError("the profile is invalid")
	}
	return ps, nil
}

func (e *env) printProfileFindings(fs model.Findings, file string) {
	var src []byte
	if file != "" {
		src, _ = os.ReadFile(file)
	}
	for _, fd := range fs {
		if fd.File == file {
			fmt.Fprint(e.stderr, fd.Render(src))
		} else {
			fmt.Fprint(e.stderr, fd.Render(nil))
		}
	}
}

func (e *env) runReplay(m *model.Machine, ps *sim.ProfileSource, f *simFlags) error {
	src, err := os.ReadFile(f.replay)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	tr, err := sim.ReadTrace(src, f.violation)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", f.replay, err)}
	}
	p, pfs := ps.Decode(f.sets...)
	e.printProfileFindings(pfs, f.profile)
	if p == nil {
		return usageError("the profile is invalid")
	}
	res, err := sim.Replay(m, p, tr, f.seed, e.stdout)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", f.replay, err)}
	}
	if len(res.Mismatch) > 0 {
		return &exitError{code: exitFindings, err: fmt.Errorf("%s: the replay and the trace disagree at %d move(s)", f.replay,
			len(res.Mismatch))}
	}
	return nil
}

// progressDelay is how long a run goes before it shows a progress bar.
const progressDelay = 2 * time.Second

// startProgress hooks a progress bar onto opts: drawn on standard error
// once the run has gone on for progressDelay (when mode says so). The
// returned function stops it and clears the line.
func (e *env) startProgress(mode string, opts *sim.Options) func() {
	show := mode == "always"
	if mode == "auto" {
		if fd, ok := e.stderr.(interface{ Fd() uintptr }); ok {
			show = isatty.IsTerminal(fd.Fd())
		}
	}
	if !show {
		return func() {}
	}
	var done, total atomic.Int64
	opts.Progress = func(d, t int) {
		done.Store(int64(d))
		total.Store(int64(t))
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		drawn := false
		for {
			select {
			case <-stop:
				if drawn {
					fmt.Fprint(e.stderr, "\r\033[K")
				}
				return
			case now := <-tick.C:
				elapsed := now.Sub(start)
				if elapsed < progressDelay {
					continue
				}
				drawn = true
				fmt.Fprint(e.stderr, "\r"+progressBar(int(done.Load()), int(total.Load()), elapsed, 30))
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}

// progressBar renders one line of progress: a bar of width cells, the
// share done, the count and an estimate of the time left.
func progressBar(done, total int, elapsed time.Duration, width int) string {
	if total <= 0 {
		return ""
	}
	done = min(max(done, 0), total)
	frac := float64(done) / float64(total)
	full := int(frac * float64(width))
	bar := strings.Repeat("=", full)
	if full < width {
		bar += ">" + strings.Repeat(" ", width-full-1)
	}
	left := "?"
	if done > 0 {
		rest := time.Duration(float64(elapsed) * (1 - frac) / frac)
		left = rest.Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %3.0f%% %d/%d executions, %s left", bar, 100*frac, done, total, left)
}

// deriveProfile reads the history in an engine database and derives a
// profile from it (sim.DeriveProfile), in profile syntax. It uses the
// store's public API only: every execution's records, pairing the intent
// of each invocation with the outcome event that follows it for the same
// state, function and attempt, in log order.
func (e *env) deriveProfile(ctx context.Context, path string) ([]byte, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	st, err := store.OpenSQLite(path, store.SQLiteOptions{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	execs, err := st.Executions(ctx, store.Filter{})
	if err != nil {
		return nil, err
	}
	type call struct {
		state, fn string
		attempt   uint32
	}
	var obs []sim.Observation
	for _, x := range execs {
		open := map[call][]int64{}
		err := st.Records(ctx, x.ID, 0, func(r *store.Record) error {
			k := call{r.State, r.Function, r.Attempt}
			switch {
			case r.Kind == store.KindIntent && r.Type == model.Invoke.String():
				open[k] = append(open[k], r.Time)
			case r.Kind == store.KindEvent:
				kind, ok := model.ParseEventKind(r.Type)
				if !ok || (kind != model.EvSucceeded && kind != model.EvFailed && kind != model.EvTimedOut &&
					kind != model.EvHeartbeatTimeout) || len(open[k]) == 0 {
					return nil
				}
				start := open[k][0]
				open[k] = open[k][1:]
				o := sim.Observation{Function: r.Function, Latency: time.Duration(max(r.Time-start, 0))}
				switch kind {
				case model.EvFailed:
					o.Error = r.Error
					if o.Error == "" {
						o.Error = model.ErrTaskFailed
					}
				case model.EvTimedOut, model.EvHeartbeatTimeout:
					o.TimedOut = true
				}
				obs = append(obs, o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(obs) == 0 {
		return nil, fmt.Errorf("%s: no completed invocation in %d execution(s) to derive a profile from", path, len(execs))
	}
	p := sim.DeriveProfile(obs)
	return p.Format(fmt.Sprintf("Derived by nexus sim --profile-from %s\nfrom %d calls in %d executions.", path, len(obs),
		len(execs))), nil
}

// workflowProfile picks a profile from the workflow's profiles: section:
// the one named want (when no file of that name exists), else "default",
// else the only one. With several and no choice it returns their names
// and no node.
func workflowProfile(w *model.Workflow, want string) (string, *model.Node) {
	if w.Profiles == nil {
		return "", nil
	}
	if want != "" {
		if _, err := os.Stat(want); err == nil {
			return "", nil
		}
		return want, w.Profiles.Get(want)
	}
	if n := w.Profiles.Get("default"); n != nil {
		return "default", n
	}
	if len(w.Profiles.Keys) == 1 {
		return w.Profiles.Keys[0].Str, w.Profiles.Vals[0]
	}
	var names []string
	for _, k := range w.Profiles.Keys {
		names = append(names, k.Str)
	}
	return strings.Join(names, ", "), nil
}
