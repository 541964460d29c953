package tla

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// The generic parts of every module: the kernel's semantics, the checker's
// driver and world, and the invariants. Only the tables change from one
// workflow to the next.
var (
	//go:embed kernel.tla.part
	kernelPart string
	//go:embed driver.tla.part
	driverPart string
	//go:embed invariants.tla.part
	invariantsPart string
)

// Default bounds: the same as `nexus check`'s.
const (
	DefaultInstances = 2
	DefaultMapSize   = 3
)

// Invariants are the names of the invariants the module defines, in the
// checker's report order. All but Termination are state predicates listed
// under INVARIANTS in the configuration; Termination is a temporal formula
// listed under PROPERTIES.
var Invariants = []string{"LoggedBeforeExecuted", "MutationsCompensable", "CompensationComplete", "NoDeadlock",
	"NoDanglingState", "Termination", "AtMostOnceEffect", "Deterministic"}

// Options are the abstraction and bounds of the model: the same fields,
// with the same meaning, as the checker's Options.
type Options struct {
	// Instances is the number K of concurrent executions (0: 2).
	Instances int
	// MapSize bounds the items of a map state (0: 3).
	MapSize int
	// DataErrors, Cancel, CompensationFailures: as in checker.Options.
	DataErrors           bool
	Cancel               bool
	CompensationFailures bool
	// NoTermination leaves the temporal property Termination out of the
	// configuration (liveness checking costs TLC much more than the
	// invariants; the distinct states are the same).
	NoTermination bool

	// Source names the file the machine was read from, for the header.
	Source string
	// States is the distinct-state count `nexus check --no-symmetry` finds
	// with the same bounds, written as a comment in the configuration;
	// 0 when not known.
	States int64
	// Note is more comment text for the configuration (the checker's
	// abstraction, its time), one line per element.
	Note []string
}

func (o Options) normalized() Options {
	if o.Instances <= 0 {
		o.Instances = DefaultInstances
	}
	if o.MapSize <= 0 {
		o.MapSize = DefaultMapSize
	}
	return o
}

// Module is a TLA+ module and its TLC configuration.
type Module struct {
	// Name is the module's name; the files are Name.tla and Name.cfg.
	Name   string
	TLA    []byte
	Config []byte
}

// Export writes machine m as a TLA+ module modelling what `nexus check`
// explores for the same options, and a TLC configuration that checks its
// invariants.
func Export(m *model.Machine, o Options) (*Module, error) {
	if m == nil || len(m.States) == 0 || len(m.Graphs) == 0 {
		return nil, fmt.Errorf("tla: no machine to export")
	}
	o = o.normalized()
	name := ModuleName(m.Name)
	var b strings.Builder
	writeHeader(&b, m, name, o)
	writeTables(&b, m)
	b.WriteString(kernelPart)
	b.WriteString(driverPart)
	b.WriteString(invariantsPart)
	b.WriteString("=============================================================================\n")
	return &Module{Name: name, TLA: []byte(b.String()), Config: []byte(config(o))}, nil
}

// ModuleName turns a workflow name into a TLA+ module name: letters,
// digits and underscores, starting with a letter.
func ModuleName(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "Workflow" + s
	}
	return s
}

func writeHeader(b *strings.Builder, m *model.Machine, name string, o Options) {
	rule := strings.Repeat("-", max(0, (69-len(name))/2))
	fmt.Fprintf(b, "%s MODULE %s %s\n", rule, name, rule)
	b.WriteString("(***************************************************************************)\n")
	src := o.Source
	if src == "" {
		src = "a compiled workflow"
	}
	comment(b, fmt.Sprintf("Workflow %q (%s), written by `nexus tla`.", m.Name, src))
	comment(b, "")
	comment(b, "The model `nexus check` explores, as TLA+: K concurrent executions of the "+
		"compiled machine (the tables below), each driven by the kernel's own step "+
		"semantics (model.Machine.Step, the part THE KERNEL) under the checker's "+
		"generic engine and world (THE DRIVER): every completion an invocation "+
		"can have, every answer a data-dependent question can get, timers firing "+
		"in any order, and an engine crash between any two effects. For the same "+
		"bounds TLC finds exactly as many distinct states as "+
		"`nexus check --no-symmetry`; the configuration file says how many.")
	comment(b, "")
	comment(b, "Constants: K executions; MapSize the most items of a map; DataErrors, "+
		"Cancel and CompensationFailures the checker's options of the same names.")
	b.WriteString("(***************************************************************************)\n")
	b.WriteString("EXTENDS Integers, Sequences, FiniteSets\n\n")
	b.WriteString("CONSTANTS K, MapSize, DataErrors, Cancel, CompensationFailures\n\n")
	b.WriteString("ASSUME K \\in Nat \\ {0} /\\ MapSize \\in Nat /\\ DataErrors \\in BOOLEAN /\\ Cancel \\in BOOLEAN\n")
	b.WriteString("       /\\ CompensationFailures \\in BOOLEAN\n\n")
}

// comment writes text as a boxed comment, wrapped at 71 columns.
func comment(b *strings.Builder, text string) {
	const width = 71
	if text == "" {
		fmt.Fprintf(b, "(* %-*s *)\n", width, "")
		return
	}
	words := strings.Fields(safeComment(text))
	line := ""
	for _, w := range words {
		if line != "" && len(line)+1+len(w) > width {
			fmt.Fprintf(b, "(* %-*s *)\n", width, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		fmt.Fprintf(b, "(* %-*s *)\n", width, line)
	}
}

// safeComment keeps comment text ASCII and free of comment delimiters.
func safeComment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	out = strings.ReplaceAll(out, "(*", "( *")
	return strings.ReplaceAll(out, "*)", "* )")
}

// str writes s as a TLA+ string literal. Escapes keep it ASCII and the
// mapping one-to-one: a backslash is doubled, a byte outside printable
// ASCII becomes \xNN written out (backslash, x, two hex digits).
func str(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\\\`)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func boolean(v bool) string {
	if v {
		return "TRUE"
	}
	return "FALSE"
}

func strSet(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = str(s)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func intSeq(xs []int) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprint(x)
	}
	return "<<" + strings.Join(q, ", ") + ">>"
}

// delays lists RetrySpec.Delay(n) for n = 1, 2, ... up to MaxAttempts, or
// up to the first n from which the delay no longer grows (a cap, a rate
// of 1): the TLA+ side reads the last entry for any n beyond.
func delays(r model.RetrySpec) []time.Duration {
	var out []time.Duration
	for n := 1; n <= r.MaxAttempts; n++ {
		d := r.Delay(n)
		if len(out) > 0 && out[len(out)-1] == d {
			break
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		out = append(out, 0)
	}
	return out
}

func retries(rs []model.RetrySpec) string {
	if len(rs) == 0 {
		return "<<>>"
	}
	q := make([]string, len(rs))
	for i, r := range rs {
		ds := delays(r)
		dq := make([]string, len(ds))
		for j, d := range ds {
			dq[j] = str(d.String())
		}
		q[i] = fmt.Sprintf("[errors |-> %s, max |-> %d, delays |-> <<%s>>, jitter |-> %s]",
			strSet(r.Errors), r.MaxAttempts, strings.Join(dq, ", "), boolean(r.FullJitter))
	}
	return "<<" + strings.Join(q, ",\n                  ") + ">>"
}

func fn(m *model.Machine, i int) string {
	if i == model.No || i < 0 || i >= len(m.Functions) {
		return `""`
	}
	return str(m.Functions[i])
}

func writeTables(b *strings.Builder, m *model.Machine) {
	b.WriteString("-----------------------------------------------------------------------------\n")
	b.WriteString("(***************************************************************************)\n")
	comment(b, "THE MACHINE: the tables of the compiled workflow (model.Machine). State "+
		"i of Machine.States is S(i), indexes from 0 as in Go; No (-1) means none. "+
		"Functions are named by their logical names, \"\" for none.")
	b.WriteString("(***************************************************************************)\n")
	b.WriteString("No == -1\n")
	fmt.Fprintf(b, "NumStates == %d\n", len(m.States))
	nr := 1
	for i := range m.States {
		sp := &m.States[i]
		nr = max(nr, len(sp.Retry), len(sp.CompRetry), len(sp.OnFailureRetry))
	}
	b.WriteString("\\* Entries of a thread's retry counters (model.Thread.Retries): the most retriers of a state.\n")
	fmt.Fprintf(b, "NumRetriers == %d\n", nr)
	fmt.Fprintf(b, "\\* The whole execution has a timeout (Machine.Timeout = %s).\n", m.Timeout)
	fmt.Fprintf(b, "HasTimeout == %s\n", boolean(m.Timeout > 0))
	b.WriteString("\\* Some loop of states can be run by decisions alone, with no invocation or timer\n")
	b.WriteString("\\* in between (choice, pass, empty map, catch): the closure of a move cuts it.\n")
	fmt.Fprintf(b, "DecisionLoops == %s\n", boolean(decisionLoops(m)))
	b.WriteString("\\* The protocol bug of model.Machine.FaultInvokeBeforeIntent (tests only).\n")
	fmt.Fprintf(b, "FaultInvokeBeforeIntent == %s\n\n", boolean(m.FaultInvokeBeforeIntent))

	starts := make([]int, len(m.Graphs))
	for g := range m.Graphs {
		starts[g] = m.Graphs[g].Start
	}
	b.WriteString("\\* The first state of each graph (Machine.Graphs[g].Start at g + 1): the top level, then each\n")
	b.WriteString("\\* parallel branch and map processor.\n")
	fmt.Fprintf(b, "GraphStart == %s\n\n", intSeq(starts))

	b.WriteString("\\* Machine.States: each state's kind, transitions, retry and catch tables, fan-out and saga.\n")
	b.WriteString("States == <<\n")
	for i := range m.States {
		sp := &m.States[i]
		catch := make([]string, len(sp.Catch))
		for k, c := range sp.Catch {
			catch[k] = fmt.Sprintf("[errors |-> %s, next |-> %d]", strSet(c.Errors), c.Next)
		}
		sep := ","
		if i == len(m.States)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  \\* %d: %s\n", i, safeComment(sp.Name))
		fmt.Fprintf(b, "  [name |-> %s, kind |-> %s, next |-> %d, choices |-> %s, default |-> %d,\n",
			str(sp.Name), str(sp.Kind.String()), sp.Next, intSeq(sp.Choices), sp.Default)
		fmt.Fprintf(b, "   catch |-> <<%s>>,\n", strings.Join(catch, ", "))
		fmt.Fprintf(b, "   retry |-> %s,\n", retries(sp.Retry))
		fmt.Fprintf(b, "   branches |-> %s, processor |-> %d, maxConcurrency |-> %d,\n",
			intSeq(sp.Branches), sp.Processor, sp.MaxConcurrency)
		fmt.Fprintf(b, "   fn |-> %s, compensate |-> %s, compRetry |-> %s,\n", fn(m, sp.Fn), fn(m, sp.Compensate), retries(sp.CompRetry))
		fmt.Fprintf(b, "   onFailure |-> %s, onFailureRetry |-> %s]%s\n", fn(m, sp.OnFailure), retries(sp.OnFailureRetry), sep)
	}
	b.WriteString(">>\n")
	b.WriteString("S(i) == States[i + 1]\n\n")

	b.WriteString("(***************************************************************************)\n")
	comment(b, "THE WORLD at each state, as `nexus check` abstracts it (model.Machine."+
		"Worlds): the errors an invocation, its compensation and its on-failure "+
		"handler may fail with (those the rules name, then "+UndeclaredError+"); "+
		"whether it can time out; whether it is a callback (completed later "+
		"through a task token: with no timeout and no heartbeat, nobody may ever "+
		"answer it); whether a decision about its input or output "+
		"reads data and can fail (with dataErr); the error of a fail state; and what "+
		"its effects mean: mutating, irreversible (mutating without compensation), "+
		"handler (an on-failure handler cleans up), honours (the function honours "+
		"idempotency keys), perAttempt (the key changes with every attempt).")
	b.WriteString("(***************************************************************************)\n")
	b.WriteString("World == <<\n")
	ws := m.Worlds()
	for i, w := range ws {
		sep := ","
		if i == len(ws)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "  \\* %d: %s\n", i, safeComment(m.States[i].Name))
		fmt.Fprintf(b, "  [errs |-> %s, compErrs |-> %s, onFailErrs |-> %s,\n", strSet(w.Errs), strSet(w.CompErrs), strSet(w.OnFailErrs))
		fmt.Fprintf(b, "   timeout |-> %s, heartbeat |-> %s, callback |-> %s, dataIn |-> %s, dataOut |-> %s, dataErr |-> %s,\n",
			boolean(w.Timeout), boolean(w.Heartbeat), boolean(w.Callback), boolean(w.DataIn), boolean(w.DataOut), str(w.DataErr))
		fmt.Fprintf(b, "   inCause |-> %s,\n   outCause |-> %s,\n", str(w.InCause), str(w.OutCause))
		fmt.Fprintf(b, "   failErr |-> %s, mutating |-> %s, irreversible |-> %s, handler |-> %s, honours |-> %s, perAttempt |-> %s]%s\n",
			str(w.FailErr), boolean(w.Mutating), boolean(w.Irreversible), boolean(w.Handler), boolean(w.Honours), boolean(w.PerAttempt), sep)
	}
	b.WriteString(">>\n\n")
}

// config writes the TLC configuration.
func config(o Options) string {
	var b strings.Builder
	b.WriteString("\\* TLC configuration written by `nexus tla`.\n")
	if o.States > 0 {
		fmt.Fprintf(&b, "\\* nexus check --no-symmetry finds %d distinct states with these bounds;\n", o.States)
		b.WriteString("\\* TLC must report the same number of distinct states.\n")
	} else {
		b.WriteString("\\* The distinct-state count of nexus check was not computed.\n")
	}
	for _, n := range o.Note {
		for _, l := range strings.Split(n, "\n") {
			fmt.Fprintf(&b, "\\* %s\n", safeComment(l))
		}
	}
	b.WriteString("CONSTANTS\n")
	fmt.Fprintf(&b, "  K = %d\n", o.Instances)
	fmt.Fprintf(&b, "  MapSize = %d\n", o.MapSize)
	fmt.Fprintf(&b, "  DataErrors = %s\n", boolean(o.DataErrors))
	fmt.Fprintf(&b, "  Cancel = %s\n", boolean(o.Cancel))
	fmt.Fprintf(&b, "  CompensationFailures = %s\n", boolean(o.CompensationFailures))
	b.WriteString("SPECIFICATION Spec\n")
	b.WriteString("INVARIANTS\n  TypeOK\n")
	for _, n := range Invariants {
		if n != "Termination" {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	if !o.NoTermination {
		b.WriteString("PROPERTIES\n  Termination\n")
	}
	b.WriteString("\\* A state without moves is an ended execution, not a deadlock of the model\n")
	b.WriteString("\\* (NoDeadlock says which executions must have a move).\n")
	b.WriteString("CHECK_DEADLOCK FALSE\n")
	return b.String()
}

// decisionLoops reports whether the machine has a cycle of states that a
// thread can go around while the engine only answers questions: no
// invocation, no timer, no new thread, so that the same execution state
// can come back within one move. Such a move is cut where it repeats
// itself, by the checker and by the TLA+ closure alike; the cut costs
// TLC a set of visited work records, so it is on only when needed. The
// edges are a superset of what decisions can do: a choice to each
// target, a pass or a map (of no items) to its next state, any state to
// its catchers' targets.
func decisionLoops(m *model.Machine) bool {
	edges := make([][]int, len(m.States))
	for i := range m.States {
		sp := &m.States[i]
		switch sp.Kind {
		case model.KindChoice:
			edges[i] = append(edges[i], sp.Choices...)
			if sp.Default != model.No {
				edges[i] = append(edges[i], sp.Default)
			}
		case model.KindPass, model.KindMap:
			if sp.Next != model.No {
				edges[i] = append(edges[i], sp.Next)
			}
		}
		for _, c := range sp.Catch {
			edges[i] = append(edges[i], c.Next)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(m.States))
	var visit func(int) bool
	visit = func(v int) bool {
		color[v] = grey
		for _, w := range edges[v] {
			if w < 0 || w >= len(color) {
				continue
			}
			if color[w] == grey || color[w] == white && visit(w) {
				return true
			}
		}
		color[v] = black
		return false
	}
	for v := range color {
		if color[v] == white && visit(v) {
			return true
		}
	}
	return false
}
