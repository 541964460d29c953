// Command checker benchmarks `nexus check` against TLC and Spin on the
// peers' model family (../shared/peers/checkers): K workflow instances,
// each a chain of S mutating steps with up to R transient-failure retries
// per step and a permanent failure that compensates the completed steps
// in reverse order, every step's intent appended to the log before it
// executes.
//
// For each size K,S,R it writes the family member as a nexus workflow
// (Chain), runs `nexus check --no-symmetry` on it, exports it with
// `nexus tla`, runs TLC on the export, checks that the two distinct-state
// counts are equal, and, when Spin is installed, runs the peers' Promela
// model of the same K,S,R with their run_spin.sh. Every tool runs as a
// child process; wall time and peak resident memory are measured the
// same way for all three. It prints one table:
//
//	go run ./benchmarks/checker -tlc /path/to/tla2tools.jar -sizes 2,2,1,2,3,2
//
// -pick lists the sizes whose state counts are closest to 10^5, 10^6 and
// 10^7; -fanout times `nexus check` on a 50-state workflow with a
// parallel state of three branches and a map (Fanout).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/model"
)

func main() {
	var (
		nexusBin  = flag.String("nexus", "", "nexus binary (default: built from ./cmd/nexus)")
		tlcJar    = flag.String("tlc", os.Getenv("NEXUS_TLC_JAR"), "tla2tools.jar (default $NEXUS_TLC_JAR); empty: no TLC")
		tlcWork   = flag.Int("tlc-workers", 1, "TLC workers")
		tlcHeap   = flag.String("tlc-heap", "4g", "TLC's Java heap (-Xmx)")
		peers     = flag.String("peers", "", "directory of the peers' models and scripts (default: ../shared/peers/checkers from the repository)")
		noSpin    = flag.Bool("no-spin", false, "do not run Spin")
		spinMem   = flag.Int("spin-memlim", 4096, "Spin's memory bound in MiB (-DMEMLIM; the peers' script says 20000)")
		sizes     = flag.String("sizes", "", "sizes to run: K,S,R triples separated by spaces or semicolons")
		pick      = flag.Bool("pick", false, "list the sizes closest to 1e5, 1e6 and 1e7 states and exit")
		fanout    = flag.Bool("fanout", false, "time nexus check (default options) on the 50-state fan-out workflow")
		workers   = flag.String("workers", "1,2", "nexus check --workers: one run series per count, comma-separated (0: all cores)")
		runs      = flag.Int("runs", 3, "runs of nexus check per size and worker count; the table shows the median")
		outDir    = flag.String("o", "", "directory for generated files and logs (default: a temporary one)")
		timeout   = flag.Duration("timeout", 2*time.Hour, "bound on each tool's run")
		jsonOut   = flag.Bool("json", false, "print the results as JSON instead of a table")
		writeOnly = flag.Bool("write", false, "only write the workflows of -sizes (and the fan-out) into -o")
	)
	flag.Parse()
	if err := run(config{nexus: *nexusBin, tlc: *tlcJar, tlcWorkers: *tlcWork, tlcHeap: *tlcHeap, peers: *peers,
		noSpin: *noSpin, spinMem: *spinMem, sizes: *sizes, pick: *pick, fanout: *fanout, workers: *workers, runs: *runs, out: *outDir,
		timeout: *timeout, json: *jsonOut, writeOnly: *writeOnly}); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks/checker:", err)
		os.Exit(1)
	}
}

type config struct {
	nexus, tlc, tlcHeap, peers, sizes, out string
	workers                                string
	tlcWorkers, runs, spinMem              int
	noSpin, pick, fanout, json, writeOnly  bool
	timeout                                time.Duration
}

// Size is one member of the family.
type Size struct{ K, S, R int }

func (s Size) String() string { return fmt.Sprintf("%d,%d,%d", s.K, s.S, s.R) }

func parseSizes(text string) ([]Size, error) {
	var out []Size
	f := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == ';' || r == '\n' })
	for _, t := range f {
		p := strings.Split(t, ",")
		if len(p) != 3 {
			return nil, fmt.Errorf("size %q: want K,S,R", t)
		}
		var v [3]int
		for i := range p {
			n, err := strconv.Atoi(p[i])
			if err != nil || n < 0 || (i < 2 && n < 1) {
				return nil, fmt.Errorf("size %q: bad number %q", t, p[i])
			}
			v[i] = n
		}
		out = append(out, Size{v[0], v[1], v[2]})
	}
	return out, nil
}

// Run is what one tool did on one size.
type Run struct {
	Tool   string  `json:"tool"`
	Model  string  `json:"model"`
	States int64   `json:"states"`
	WallS  float64 `json:"wall_s"`
	// StatesPerSec is States over the wall time of the whole run
	// (start-up, exploration, invariants, report).
	StatesPerSec float64 `json:"states_per_sec"`
	PeakRSS      int64   `json:"peak_rss_bytes"`
	// BytesPerState is what the tool itself says it stores per state
	// (nexus: its visited table; Spin: its state vector memory); 0 when
	// it does not say. RSSPerState is the peak resident memory per state.
	BytesPerState float64 `json:"bytes_per_state,omitempty"`
	RSSPerState   float64 `json:"rss_per_state"`
	// ProductStatesPerSec (nexus only) is the rate of the K-execution
	// enumeration alone, as nexus check reports it.
	ProductStatesPerSec float64 `json:"product_states_per_sec,omitempty"`
	Detail              string  `json:"detail,omitempty"`
	Err                 string  `json:"error,omitempty"`
}

// Row is one size with the runs of every tool: Nexus holds one run per
// worker count (each the median of -runs runs).
type Row struct {
	Size  Size  `json:"size"`
	Nexus []Run `json:"nexus"`
	TLC   *Run  `json:"tlc,omitempty"`
	Spin  *Run  `json:"spin,omitempty"`
	Equal *bool `json:"tlc_equals_nexus,omitempty"`
}

func run(c config) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out, err = os.MkdirTemp("", "nexus-bench-")
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	if c.pick {
		return pickSizes(os.Stdout)
	}
	ss, err := parseSizes(c.sizes)
	if err != nil {
		return err
	}
	var ws []int
	for _, f := range strings.Split(c.workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("-workers %q: want counts like 1,2", c.workers)
		}
		ws = append(ws, n)
	}
	c.runs = max(1, c.runs)
	if c.writeOnly {
		for _, s := range ss {
			if _, err := writeChain(c.out, s); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(c.out, "fanout-50.yaml"), []byte(Fanout()), 0o644)
	}
	if c.nexus == "" {
		c.nexus = filepath.Join(c.out, "nexus")
		cmd := exec.Command("go", "build", "-o", c.nexus, "./cmd/nexus")
		cmd.Dir, cmd.Stderr = root, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building nexus: %w", err)
		}
	}
	if c.peers == "" {
		c.peers = filepath.Join(root, "..", "shared", "peers", "checkers")
	}
	spin := !c.noSpin && haveSpin(c.peers)
	fmt.Fprintf(os.Stderr, "load average: %s\n", loadAvg())
	if c.fanout {
		if err := timeFanout(c, os.Stdout); err != nil {
			return err
		}
	}
	var rows []Row
	for _, s := range ss {
		fmt.Fprintf(os.Stderr, "== K,S,R = %s\n", s)
		row := Row{Size: s}
		file, err := writeChain(c.out, s)
		if err != nil {
			return err
		}
		for _, wk := range ws {
			row.Nexus = append(row.Nexus, medianNexus(c, s, file, wk))
		}
		if c.tlc != "" {
			r := runTLC(c, s, file, row.Nexus[0].States)
			row.TLC = &r
			eq := r.Err == "" && row.Nexus[0].Err == "" && r.States == row.Nexus[0].States
			row.Equal = &eq
		}
		if spin {
			r := runSpin(c, s)
			row.Spin = &r
		}
		rows = append(rows, row)
		fmt.Fprintf(os.Stderr, "load average: %s\n", loadAvg())
	}
	js, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if c.json {
		_, err := os.Stdout.Write(append(js, '\n'))
		return err
	}
	printTable(os.Stdout, rows)
	for _, r := range rows {
		if r.Equal != nil && !*r.Equal {
			return fmt.Errorf("K,S,R = %s: TLC and nexus disagree on the distinct-state count", r.Size)
		}
	}
	return nil
}

// repoRoot finds the module root (the directory with go.mod) from the
// working directory up.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("run from inside the nexus repository")
		}
		d = p
	}
}

func writeChain(dir string, s Size) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("chain-s%d-r%d.yaml", s.S, s.R))
	return p, os.WriteFile(p, []byte(Chain(s.S, s.R)), 0o644)
}

// child runs a command and measures its wall time and peak resident
// memory (the largest of the process tree's, as the kernel reports for
// the waited-for children).
type childResult struct {
	stdout, stderr []byte
	wall           time.Duration
	maxRSS         int64
	err            error
}

func child(dir string, timeout time.Duration, name string, args ...string) childResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := childResult{stdout: out.Bytes(), stderr: errb.Bytes(), wall: time.Since(start), err: err}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %s", timeout)
	}
	return r
}

// nexusReport is the part of `nexus check -o json` the benchmark reads.
type nexusReport []struct {
	Verdict string `json:"verdict"`
	Error   string `json:"error"`
	Report  *struct {
		Execution struct {
			States    int   `json:"states"`
			ElapsedNS int64 `json:"elapsed_ns"`
		} `json:"execution"`
		Product struct {
			States           int64   `json:"states"`
			StatesNoSymmetry int64   `json:"states_no_symmetry"`
			Enumerated       bool    `json:"enumerated"`
			Exact            bool    `json:"exact"`
			ElapsedNS        int64   `json:"elapsed_ns"`
			StatesPerSec     float64 `json:"states_per_sec"`
			BytesPerState    float64 `json:"bytes_per_state"`
			Workers          int     `json:"workers"`
		} `json:"product"`
		ElapsedNS     int64 `json:"elapsed_ns"`
		PeakHeapBytes int64 `json:"peak_heap_bytes"`
	} `json:"report"`
}

// medianNexus runs nexus check c.runs times with the given workers and
// returns the run of median wall time (its figures are that run's).
func medianNexus(c config, s Size, file string, workers int) Run {
	var rs []Run
	for range c.runs {
		rs = append(rs, runNexus(c, s, file, workers))
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].WallS < rs[j].WallS })
	m := rs[len(rs)/2]
	if len(rs) > 1 {
		m.Detail += fmt.Sprintf("; median of %d runs (wall %.2f–%.2fs)", len(rs), rs[0].WallS, rs[len(rs)-1].WallS)
	}
	return m
}

func runNexus(c config, s Size, file string, workers int) Run {
	r := Run{Tool: fmt.Sprintf("nexus check (%d workers)", workers), Model: "nexus"}
	args := []string{"check", file, "--instances", fmt.Sprint(s.K), "--no-symmetry", "-o", "json",
		"--max-product-states", "2000000000", "--max-memory", "0", "--timeout", "0"}
	if workers > 0 {
		args = append(args, "--workers", fmt.Sprint(workers))
	}
	res := child(c.out, c.timeout, c.nexus, args...)
	r.WallS, r.PeakRSS = res.wall.Seconds(), res.maxRSS
	var rep nexusReport
	if err := json.Unmarshal(res.stdout, &rep); err != nil || len(rep) != 1 || rep[0].Report == nil {
		r.Err = fmt.Sprintf("nexus check: %v %s", res.err, firstLine(res.stderr))
		return r
	}
	p := rep[0].Report.Product
	r.States = p.StatesNoSymmetry
	r.BytesPerState = p.BytesPerState
	r.ProductStatesPerSec = p.StatesPerSec
	r.Detail = fmt.Sprintf("one execution %d states in %.2fs; product %s in %.2fs (%.0f states/s, %d workers)",
		rep[0].Report.Execution.States, float64(rep[0].Report.Execution.ElapsedNS)/1e9,
		map[bool]string{true: "enumerated", false: "by closed form"}[p.Enumerated],
		float64(p.ElapsedNS)/1e9, p.StatesPerSec, p.Workers)
	if !p.Enumerated {
		r.Err = "product not enumerated: states/s is not comparable"
	}
	r.finish()
	return r
}

var (
	tlcDistinct = regexp.MustCompile(`(\d+) distinct states found`)
	tlcViolated = regexp.MustCompile(`Error: (Invariant \w+ is violated|Temporal properties were violated)`)
)

func runTLC(c config, s Size, file string, states int64) Run {
	r := Run{Tool: "TLC", Model: "nexus tla export"}
	dir := filepath.Join(c.out, fmt.Sprintf("tlc-%d-%d-%d", s.K, s.S, s.R))
	exp := child(c.out, c.timeout, c.nexus, "tla", file, "-o", dir, "--instances", fmt.Sprint(s.K), "--no-termination", "--no-count")
	if exp.err != nil {
		r.Err = fmt.Sprintf("nexus tla: %v %s", exp.err, firstLine(exp.stderr))
		return r
	}
	cfgs, _ := filepath.Glob(filepath.Join(dir, "*.cfg"))
	if len(cfgs) != 1 {
		r.Err = "nexus tla wrote no configuration"
		return r
	}
	mod := strings.TrimSuffix(filepath.Base(cfgs[0]), ".cfg")
	res := child(dir, c.timeout, "java", "-Xmx"+c.tlcHeap, "-XX:+UseParallelGC", "-cp", c.tlc, "tlc2.TLC",
		"-workers", fmt.Sprint(c.tlcWorkers), "-deadlock", "-metadir", filepath.Join(dir, "states"),
		"-config", mod+".cfg", mod)
	_ = os.RemoveAll(filepath.Join(dir, "states"))
	_ = os.WriteFile(filepath.Join(dir, "tlc.log"), res.stdout, 0o644)
	r.WallS, r.PeakRSS = res.wall.Seconds(), res.maxRSS
	m := tlcDistinct.FindAllSubmatch(res.stdout, -1)
	if len(m) == 0 {
		r.Err = fmt.Sprintf("TLC: %v %s", res.err, lastLines(res.stdout, 3))
		return r
	}
	r.States, _ = strconv.ParseInt(string(m[len(m)-1][1]), 10, 64)
	if v := tlcViolated.Find(res.stdout); v != nil {
		r.Err = string(v)
	}
	r.Detail = fmt.Sprintf("%d worker(s); log %s", c.tlcWorkers, filepath.Join(dir, "tlc.log"))
	r.finish()
	return r
}

func haveSpin(peers string) bool {
	if _, err := exec.LookPath("spin"); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(peers, "run_spin.sh"))
	return err == nil
}

var (
	spinStored = regexp.MustCompile(`(\d+) states, stored`)
	spinMemory = regexp.MustCompile(`([\d.]+)\s+equivalent memory usage for states`)
	spinSearch = regexp.MustCompile(`pan: elapsed time ([\d.e+]+) seconds`)
)

// runSpin runs the peers' run_spin.sh on their Promela model, without
// reduction, from a copy of their directory (the original is read-only
// and the script writes next to itself).
func runSpin(c config, s Size) Run {
	r := Run{Tool: "Spin", Model: "peers' workflow.pml (shared log)"}
	dir := filepath.Join(c.out, "peers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Err = err.Error()
		return r
	}
	for _, f := range []string{"run_spin.sh", "workflow.pml"} {
		b, err := os.ReadFile(filepath.Join(c.peers, f))
		if err != nil {
			r.Err = err.Error()
			return r
		}
		if f == "run_spin.sh" {
			// This machine is shared: bound Spin's memory lower.
			b = regexp.MustCompile(`-DMEMLIM=\d+`).ReplaceAll(b, []byte(fmt.Sprintf("-DMEMLIM=%d", c.spinMem)))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	res := child(dir, c.timeout, "bash", "run_spin.sh", fmt.Sprint(s.K), fmt.Sprint(s.S), fmt.Sprint(s.R), "noreduce")
	log, err := os.ReadFile(filepath.Join(dir, "out", fmt.Sprintf("spin_K%d_S%d_R%d_noreduce.log", s.K, s.S, s.R)))
	if err != nil {
		r.Err = fmt.Sprintf("run_spin.sh: %v %s", res.err, firstLine(res.stderr))
		return r
	}
	r.WallS, r.PeakRSS = res.wall.Seconds(), res.maxRSS
	// (The log's first line echoes the gcc flags, -DMEMLIM included.)
	if bytes.Contains(log, []byte("reached -DMEMLIM")) || bytes.Contains(log, []byte("out of memory")) {
		r.Err = fmt.Sprintf("incomplete: Spin reached its memory bound (%d MiB)", c.spinMem)
	}
	if m := spinStored.FindSubmatch(log); m != nil {
		r.States, _ = strconv.ParseInt(string(m[1]), 10, 64)
	} else {
		r.Err = "no state count in Spin's log"
		return r
	}
	if m := spinMemory.FindSubmatch(log); m != nil {
		mb, _ := strconv.ParseFloat(string(m[1]), 64)
		r.BytesPerState = mb * (1 << 20) / float64(r.States)
	}
	r.Detail = "wall is compile + search (run_spin.sh noreduce); states of the peers' model (shared log), not of the nexus one"
	if m := spinSearch.FindSubmatch(log); m != nil {
		sec, _ := strconv.ParseFloat(string(m[1]), 64)
		if sec > 0 {
			r.Detail += fmt.Sprintf("; search alone %.2fs, %.0f states/s", sec, float64(r.States)/sec)
		}
	}
	r.finish()
	return r
}

func (r *Run) finish() {
	if r.WallS > 0 {
		r.StatesPerSec = float64(r.States) / r.WallS
	}
	if r.States > 0 && r.PeakRSS > 0 {
		r.RSSPerState = float64(r.PeakRSS) / float64(r.States)
	}
}

func printTable(w *os.File, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "K,S,R\tnexus states\t"
	if len(rows) > 0 {
		for _, n := range rows[0].Nexus {
			w := strings.TrimSuffix(strings.TrimPrefix(n.Tool, "nexus check ("), ")")
			head += fmt.Sprintf("nexus s (%s)\tstates/s (%s)\t", w, w)
		}
	}
	fmt.Fprintln(tw, head+"nexus B/state\tnexus RSS/state\t"+
		"TLC states\tTLC s\tTLC states/s\tTLC RSS/state\tequal\tnexus÷TLC\t"+
		"Spin states (peers)\tSpin s\tSpin states/s\tSpin B/state\tnexus÷Spin\t")
	for _, r := range rows {
		n := r.Nexus[len(r.Nexus)-1] // the ratios use the last worker count
		cells := []string{r.Size.String(), count(r.Nexus[0].States)}
		for _, m := range r.Nexus {
			cells = append(cells, secs(m.WallS), rate(m.StatesPerSec))
		}
		cells = append(cells, bytesPer(n.BytesPerState), bytesPer(n.RSSPerState))
		if t := r.TLC; t != nil {
			cells = append(cells, count(t.States), secs(t.WallS), rate(t.StatesPerSec), bytesPer(t.RSSPerState),
				fmt.Sprint(*r.Equal), ratio(n.StatesPerSec, t.StatesPerSec))
		} else {
			cells = append(cells, "-", "-", "-", "-", "-", "-")
		}
		if sp := r.Spin; sp != nil {
			cells = append(cells, count(sp.States), secs(sp.WallS), rate(sp.StatesPerSec), bytesPer(sp.BytesPerState),
				ratio(n.StatesPerSec, sp.StatesPerSec))
		} else {
			cells = append(cells, "-", "-", "-", "-", "-")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	_ = tw.Flush()
	for _, r := range rows {
		runs := []*Run{r.TLC, r.Spin}
		for i := range r.Nexus {
			runs = append(runs, &r.Nexus[i])
		}
		for _, run := range runs {
			if run == nil {
				continue
			}
			if run.Detail != "" {
				fmt.Fprintf(w, "%s %s: %s\n", r.Size, run.Tool, run.Detail)
			}
			if run.Err != "" {
				fmt.Fprintf(w, "%s %s: NOTE: %s\n", r.Size, run.Tool, run.Err)
			}
		}
	}
}

func count(n int64) string { return groupDigits(n) }

func secs(s float64) string { return fmt.Sprintf("%.2f", s) }

func rate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func bytesPer(b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", b)
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f×", a/b)
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func lastLines(b []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + fmt.Sprintf(" (%d cores)", runtime.NumCPU())
}

// pickSizes computes one execution's state count n(S,R) with the checker
// and lists, for each target, the K,S,R whose n^K is closest to it (on a
// log scale), with a few runners-up.
func pickSizes(w *os.File) error {
	type cand struct {
		s      Size
		states float64
	}
	var cands []cand
	for s := 1; s <= 8; s++ {
		for r := 0; r <= 5; r++ {
			m, err := compile(Chain(s, r))
			if err != nil {
				return err
			}
			g, err := checker.Explore(context.Background(), m, checker.Options{Instances: 1, NoSymmetry: true})
			if err != nil {
				return err
			}
			n := float64(g.NumStates())
			for k := 1; k <= 4; k++ {
				cands = append(cands, cand{Size{k, s, r}, math.Pow(n, float64(k))})
			}
		}
	}
	for _, target := range []float64{1e5, 1e6, 1e7} {
		sort.Slice(cands, func(i, j int) bool {
			return math.Abs(math.Log(cands[i].states/target)) < math.Abs(math.Log(cands[j].states/target))
		})
		fmt.Fprintf(w, "closest to %.0e:", target)
		for _, c := range cands[:5] {
			fmt.Fprintf(w, "  %s (%s)", c.s, groupDigits(int64(c.states)))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func compile(src string) (*model.Machine, error) {
	wf, fs := model.Parse("chain.yaml", []byte(src))
	if fs.Errors() > 0 {
		return nil, fmt.Errorf("%v", fs)
	}
	m, fs := model.Compile(wf)
	if m == nil {
		return nil, fmt.Errorf("%v", fs)
	}
	return m, nil
}

// timeFanout times `nexus check` with its default options on Fanout.
func timeFanout(c config, w *os.File) error {
	for _, wk := range strings.Split(c.workers, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(wk))
		var walls []float64
		for range max(1, c.runs) {
			wall, err := timeFanoutOnce(c, w, n)
			if err != nil {
				return err
			}
			walls = append(walls, wall)
		}
		sort.Float64s(walls)
		fmt.Fprintf(w, "fan-out, --workers %d: median %.2fs wall over %d runs (%.2f–%.2fs)\n", n, walls[len(walls)/2], len(walls),
			walls[0], walls[len(walls)-1])
	}
	return nil
}

func timeFanoutOnce(c config, w *os.File, workers int) (float64, error) {
	file := filepath.Join(c.out, "fanout-50.yaml")
	if err := os.WriteFile(file, []byte(Fanout()), 0o644); err != nil {
		return 0, err
	}
	args := []string{"check", file, "-o", "json"}
	if workers > 0 {
		args = append(args, "--workers", fmt.Sprint(workers))
	}
	res := child(c.out, c.timeout, c.nexus, args...)
	var rep nexusReport
	if err := json.Unmarshal(res.stdout, &rep); err != nil || len(rep) != 1 || rep[0].Report == nil {
		return 0, fmt.Errorf("nexus check on the fan-out workflow: %v %s", res.err, firstLine(res.stderr))
	}
	p := rep[0].Report.Product
	fmt.Fprintf(w, "fan-out (50 states, 3 parallel branches, a map of 3; nexus check defaults: 2 instances, symmetry): "+
		"%.2fs wall, %s, one execution %d states, %d instances %d states (%s), peak RSS %.0f MiB\n",
		res.wall.Seconds(), rep[0].Verdict, rep[0].Report.Execution.States, 2, p.States,
		map[bool]string{true: "enumerated", false: "closed form"}[p.Enumerated], float64(res.maxRSS)/(1<<20))
	return res.wall.Seconds(), nil
}
