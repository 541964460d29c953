package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-graphviz"
	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/graph"
	"github.com/nexus-workflows/nexus/model"
	"github.com/spf13/cobra"
)

// checkFlags are the options of nexus check.
type checkFlags struct {
	output       string
	opts         checker.Options
	timeout      time.Duration
	maxMemory    string
	policies     []string
	traceSVG     string
	faultInvoke  bool
	maxStates    int64
	maxProduct   int64
	instances    int
	mapSize      int
	workers      int
	noSymmetry   bool
	dataErrors   bool
	cancel       bool
	compFailures bool
}

func (e *env) checkCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Model-check workflows: every interleaving, every fault, against the invariants and policies",
		Long: `Model-check workflow files (nexus YAML/JSON or Step Functions ASL).

nexus check explores every execution of the compiled workflow under a
model of the world and of the engine: every outcome of every invocation
(success, each declared error, an undeclared one, a timeout with or
without effect), a callback (task token) nobody ever answers when its
state has no timeout and no heartbeat, every answer a data-dependent
question can get (each choice branch, map sizes 0..--map-size), timers
firing in any order, duplicate deliveries, and an engine crash and
restart between any two commands. It decides these invariants, each by a stable name:

  LoggedBeforeExecuted  every invocation and timer starts after its intent is durable
  MutationsCompensable  no execution fails after an irreversible mutation took effect
  CompensationComplete  a failed execution leaves no mutation that took effect undone
  NoDeadlock            an execution that has not ended can always move (a cancellation does not count)
  NoDanglingState       every state is entered, every choice has a way out, every situation can end
  Termination           no loop that only failures, timers and the engine drive
  AtMostOnceEffect      at a function that honours idempotency keys, each step takes effect once
  Deterministic         the same event on the same state gives the same result

and prints, per invariant, holds, violated or not checked, with the
shortest trace to each violation (numbered steps, each with the workflow
file's line:col). The abstraction and the bounds are printed with every
verdict. The workflow's policies: and those of --policy files are
evaluated too (CEL; see package checker/policy).

Files named *.test.yaml, *.bindings.yaml and *.profile.yaml (test suites,
function bindings, simulation profiles) are skipped, so that
nexus check dir/* checks the workflows of a directory.

Exit 0 when every invariant holds and no policy error fails, 1 on a
violation, an invalid workflow or a failing policy of severity error, 2 on
usage or I/O errors and when a bound (--max-states, --timeout,
--max-memory) stopped the exploration first: an incomplete check is not a
pass.`,
		Example: `  nexus check corpus/examples/*.yaml
  nexus check flow.asl.json -o sarif > results.sarif
  nexus check flow.yaml --instances 3 --no-symmetry --policy org-policies.yaml
  nexus check flow.yaml --trace-svg trace.svg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runCheck(cmd.Context(), &f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text, json or sarif")
	fl.IntVar(&f.instances, "instances", checker.DefaultInstances, "number of concurrent executions")
	fl.IntVar(&f.mapSize, "map-size", checker.DefaultMapSize, "largest number of items a map state gets (every count from 0 is explored)")
	fl.BoolVar(&f.noSymmetry, "no-symmetry", false, "turn off the symmetry reduction over identical executions")
	fl.BoolVar(&f.dataErrors, "data-errors", false, "let decisions of states with data-dependent paths fail with their evaluation error")
	fl.BoolVar(&f.cancel, "cancel", false, "let the world cancel a running execution at any point (NoDeadlock does not count it as a move)")
	fl.BoolVar(&f.compFailures, "compensation-failures", false, "let compensations fail for good (default: they fail only while retried)")
	fl.Int64Var(&f.maxStates, "max-states", checker.DefaultMaxStates, "bound on the distinct states of one execution")
	fl.Int64Var(&f.maxProduct, "max-product-states", checker.DefaultMaxProductStates, "bound on the states of all executions enumerated; beyond it they are counted in closed form (verdicts do not depend on it)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "bound on the time of the check of each file (0: none)")
	fl.StringVar(&f.maxMemory, "max-memory", "4GiB", "bound on the heap (e.g. 512MiB, 8GiB; 0: none)")
	fl.IntVar(&f.workers, "workers", 0, "goroutines exploring (default: all cores)")
	fl.StringArrayVar(&f.policies, "policy", nil, "policy file (a policies: list of CEL rules); repeatable")
	fl.StringVar(&f.traceSVG, "trace-svg", "", "draw the first violation's trace over the workflow graph into this SVG file")
	fl.BoolVar(&f.faultInvoke, "fault-invoke-before-intent", false, "test only: run the kernel with the invoke-before-intent protocol bug")
	_ = fl.MarkHidden("fault-invoke-before-intent")
	return cmd
}

// checkResult is the JSON form of what nexus check found in one file.
type checkResult struct {
	File     string          `json:"file"`
	Workflow string          `json:"workflow,omitempty"`
	Verdict  string          `json:"verdict"`
	Error    string          `json:"error,omitempty"`
	Findings []findingJSON   `json:"findings"`
	Report   *checker.Report `json:"report,omitempty"`
}

func (e *env) runCheck(ctx context.Context, f *checkFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch f.output {
	case "text", "json", "sarif":
	default:
		return usageError("-o must be text, json or sarif, not %q", f.output)
	}
	mem, err := parseBytes(f.maxMemory)
	if err != nil {
		return usageError("--max-memory: %v", err)
	}
	if f.timeout < 0 {
		return usageError("--timeout must not be negative")
	}
	f.opts = checker.Options{Instances: f.instances, MapSize: f.mapSize, NoSymmetry: f.noSymmetry, DataErrors: f.dataErrors,
		Cancel: f.cancel, CompensationFailures: f.compFailures, MaxStates: f.maxStates, MaxProductStates: f.maxProduct,
		Timeout: f.timeout, MaxMemory: mem, Workers: f.workers}
	if f.instances < 1 || f.instances > checker.MaxInstances {
		return usageError("--instances must be between 1 and %d", checker.MaxInstances)
	}
	if f.mapSize < 1 || f.mapSize > checker.MaxMapSize {
		return usageError("--map-size must be between 1 and %d", checker.MaxMapSize)
	}
	if f.maxStates < 1 || f.maxProduct < 1 {
		return usageError("--max-states and --max-product-states must be positive")
	}
	var extra []policy.Source
	var policyFindings model.Findings
	for _, p := range f.policies {
		src, err := os.ReadFile(p)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		ps, fs := policy.Load(p, src)
		policyFindings = append(policyFindings, fs...)
		extra = append(extra, ps...)
	}
	if policyFindings.Errors() > 0 {
		for _, fd := range policyFindings {
			fmt.Fprint(e.stderr, fd.Error()+"\n")
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("the policy files have errors")}
	}

	var results []checkResult
	var files []checker.FileResult
	var violated, invalid, incomplete, failed, held int
	svgDone := false
	for _, path := range args {
		if kind := sidecarKind(path); kind != "" {
			fmt.Fprintf(e.stderr, "nexus check: skipping %s: %s, not a workflow\n", path, kind)
			continue
		}
		res := checkResult{File: path, Findings: []findingJSON{}}
		s, m, fs, err := load(path)
		if err != nil {
			fmt.Fprintf(e.stderr, "nexus: %v\n", err)
			res.Verdict, res.Error = "error", err.Error()
			failed++
			results = append(results, res)
			continue
		}
		fr := checker.FileResult{File: path}
		if m != nil {
			res.Workflow = m.Name
			fs = append(fs, policy.Evaluate(m, append(policy.FromWorkflow(m.Workflow), extra...))...)
		}
		for _, fd := range fs {
			res.Findings = append(res.Findings, toJSON(fd))
			if f.output == "text" {
				if fd.File == path {
					fmt.Fprint(e.stderr, fd.Render(s.src))
				} else {
					fmt.Fprintln(e.stderr, fd.Error())
				}
			}
		}
		fr.Findings = fs
		if m == nil || fs.Errors() > 0 {
			invalid++
			res.Verdict = "invalid"
			if m != nil {
				// A failing policy does not stop the model checking.
				res.Verdict = "policy"
			}
		}
		if m != nil {
			m.FaultInvokeBeforeIntent = f.faultInvoke
			opts := f.opts
			file := path
			opts.Progress = func(p checker.Progress) { fmt.Fprintf(e.stderr, "nexus check: %s: %s\n", file, p) }
			r, err := checker.Check(ctx, m, opts)
			if err != nil {
				fmt.Fprintf(e.stderr, "nexus: %s: %v\n", path, err)
				res.Verdict, res.Error = "error", err.Error()
				failed++
				results = append(results, res)
				continue
			}
			r.File = path
			res.Report, fr.Report = r, r
			switch r.Verdict() {
			case "violated":
				violated++
				res.Verdict = "violated"
			case "incomplete":
				incomplete++
				if res.Verdict == "" {
					res.Verdict = "incomplete"
				}
			default:
				if res.Verdict == "" {
					held++
					res.Verdict = "holds"
				}
			}
			if f.output == "text" {
				if err := r.WriteText(e.stdout); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout)
			}
			if f.traceSVG != "" && !svgDone {
				if done, err := writeTraceSVG(ctx, f.traceSVG, m, r); err != nil {
					return &exitError{code: exitUsage, err: err}
				} else if done {
					svgDone = true
					fmt.Fprintf(e.stderr, "wrote %s\n", f.traceSVG)
				}
			}
		}
		results = append(results, res)
		files = append(files, fr)
	}
	switch f.output {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if results == nil {
			results = []checkResult{}
		}
		if err := enc.Encode(results); err != nil {
			return err
		}
	case "sarif":
		if err := checker.WriteSARIF(e.stdout, files); err != nil {
			return err
		}
	default:
		if len(results) > 1 {
			fmt.Fprintf(e.stdout, "%d file(s): %d hold, %d violated, %d invalid or failing a policy, %d incomplete, %d error(s)\n",
				len(results), held, violated, invalid, incomplete, failed)
		}
	}
	if f.traceSVG != "" && !svgDone {
		fmt.Fprintf(e.stderr, "nexus check: no violation with a trace: %s not written\n", f.traceSVG)
	}
	switch {
	case failed > 0:
		return &exitError{code: exitUsage}
	case violated > 0 || invalid > 0:
		return findings()
	case incomplete > 0:
		return &exitError{code: exitUsage}
	}
	return nil
}

// sidecarKind says what a file that sits next to workflows is by its
// name (NAME.test.yaml, NAME.bindings.yaml, NAME.profile.yaml, also .yml
// and .json), or "" for a workflow: so that nexus check dir/* checks the
// workflows of a directory.
func sidecarKind(path string) string {
	switch {
	case isTestSuite(path):
		return "a test suite (run it with nexus test)"
	case hasSuffix(path, ".bindings"):
		return "function bindings (for nexus run)"
	case hasSuffix(path, ".profile"):
		return "a simulation profile (for nexus sim)"
	}
	return ""
}

// isTestSuite reports whether path names a nexus test suite.
func isTestSuite(path string) bool { return hasSuffix(path, ".test") }

// hasSuffix reports whether the file name ends in suffix followed by
// .yaml, .yml or .json.
func hasSuffix(path, suffix string) bool {
	base := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".yaml", ".yml", ".json"} {
		if strings.HasSuffix(base, suffix+ext) {
			return true
		}
	}
	return false
}

// writeTraceSVG draws the first violation with a trace over the workflow
// graph: each state the trace involves is filled and labelled with the
// numbers of its steps. It reports whether it wrote the file.
func writeTraceSVG(ctx context.Context, file string, m *model.Machine, r *checker.Report) (bool, error) {
	for _, res := range r.Results {
		for _, v := range res.Violations {
			if v.Trace == nil {
				continue
			}
			steps := map[string][]string{}
			for i, s := range v.Trace.Steps {
				for _, st := range s.States {
					n := strconv.Itoa(i + 1)
					if l := steps[st.Name]; len(l) == 0 || l[len(l)-1] != n {
						steps[st.Name] = append(steps[st.Name], n)
					}
				}
			}
			hl := map[string]string{}
			names := make([]string, 0, len(steps))
			for name := range steps {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				hl[name] = "steps " + strings.Join(steps[name], ",")
			}
			if _, ok := hl[v.State.Name]; ok {
				hl[v.State.Name] += " ✗ " + v.Invariant.String()
			} else {
				hl[v.State.Name] = "✗ " + v.Invariant.String()
			}
			title := fmt.Sprintf("%s: %s violated", m.Name, v.Invariant)
			data, err := graph.Render(ctx, graph.DOT(m.Workflow, graph.Options{Highlight: hl, Title: title}), graphviz.Format("svg"))
			if err != nil {
				return false, err
			}
			return true, os.WriteFile(file, data, 0o644)
		}
	}
	return false, nil
}

// parseBytes reads a size such as 512MiB, 4GiB, 2G or 1048576 (bytes).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size (write 512MiB, 4GiB, or a number of bytes)", s)
	}
	return int64(v * float64(mult)), nil
}
