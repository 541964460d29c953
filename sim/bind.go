package sim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// bound is a profile compiled against one machine: everything the event
// loop looks up is an index into a slice.
type bound struct {
	m    *model.Machine
	p    *Profile
	cost *Cost
	// fns by function index (Machine.Functions).
	fns []*Function
	// states by state index.
	states []stateAnswers
	// errs interns every error name a call or decision can end with, so
	// that heap items carry a small index.
	errs     []string
	errIndex map[string]uint16
	// fnErr: per function, the index of its throttle, breaker and
	// max-duration errors, and of each failure; timeoutErr of
	// States.Timeout.
	fnErr      []fnErrors
	timeoutErr uint16
	noMatchErr uint16
	// notes are the assumptions the profile left to defaults, and profile
	// entries the workflow does not use.
	notes []string
}

type fnErrors struct {
	throttle, breaker, maxDuration uint16
}

// stateAnswers is how the simulator answers one state's questions.
type stateAnswers struct {
	// Choice: cumulative probabilities and the branch each stands for
	// (model.No for the default; noMatch for no rule matching).
	cum    []float64
	branch []int32
	items  CountDist
	wait   Dist
	// dataErrs: cumulative probabilities of data errors on input.
	dataCum  []float64
	dataErrs []string
	// failName is the error of a fail state ("" for JSON null).
	failName string
}

// noMatch is the branch value of "no rule matched" in stateAnswers.
const noMatch = math.MinInt32

// maxErrors bounds the distinct error names of a profile and workflow.
const maxErrors = math.MaxUint16

func (b *bound) intern(name string) uint16 {
	if i, ok := b.errIndex[name]; ok {
		return i
	}
	if len(b.errs) >= maxErrors {
		return 0
	}
	i := uint16(len(b.errs))
	b.errs = append(b.errs, name)
	b.errIndex[name] = i
	return i
}

// bind compiles p against m.
func bind(m *model.Machine, p *Profile) (*bound, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	b := &bound{m: m, p: p, cost: p.cost(), errIndex: map[string]uint16{}}
	b.timeoutErr = b.intern(model.ErrTimeout)
	b.noMatchErr = b.intern(model.ErrNoChoiceMatched)
	used := map[string]bool{}
	var defaulted []string
	for _, name := range m.Functions {
		f := p.function(name)
		if p.Functions[name] != nil {
			used[name] = true
		} else {
			defaulted = append(defaulted, name)
		}
		b.fns = append(b.fns, f)
		fe := fnErrors{throttle: b.intern(f.throttleError()), maxDuration: b.intern(f.maxDurationError())}
		if f.Breaker != nil {
			fe.breaker = b.intern(f.Breaker.Error)
		}
		for _, x := range f.Failures {
			b.intern(x.Error)
		}
		b.fnErr = append(b.fnErr, fe)
	}
	if len(defaulted) > 0 {
		sort.Strings(defaulted)
		b.notes = append(b.notes, fmt.Sprintf("functions with the default profile (%s): %s", describeFunction(&p.Default),
			joinNames(defaulted)))
	}
	for _, name := range sortedKeys(p.Functions) {
		if !used[name] {
			b.notes = append(b.notes, fmt.Sprintf("the profile's function %s is not called by the workflow", name))
		}
	}
	usedStates := map[string]bool{}
	b.states = make([]stateAnswers, len(m.States))
	for i := range m.States {
		sp := &m.States[i]
		sa := &b.states[i]
		prof := p.States[sp.Name]
		if prof != nil {
			usedStates[sp.Name] = true
			for _, x := range prof.DataErrors {
				sa.dataErrs = append(sa.dataErrs, x.Error)
				sa.dataCum = append(sa.dataCum, cumLast(sa.dataCum)+x.P)
				b.intern(x.Error)
			}
			if cumLast(sa.dataCum) > 1+1e-9 {
				return nil, fmt.Errorf("state %s: data error probabilities add up to more than 1", sp.Name)
			}
		}
		switch sp.Kind {
		case model.KindChoice:
			if err := b.choice(sp, prof, sa); err != nil {
				return nil, err
			}
		case model.KindMap:
			sa.items = ConstantCount(DefaultItems)
			if prof != nil && prof.Items != nil {
				sa.items = prof.Items
			} else {
				b.notes = append(b.notes, fmt.Sprintf("map state %s: %d items per execution (no items in the profile)",
					sp.Name, DefaultItems))
			}
		case model.KindWait:
			sa.wait = literalWait(sp.Src)
			if prof != nil && prof.Wait != nil {
				sa.wait = prof.Wait
			} else if sa.wait == nil {
				sa.wait = Constant(0)
				b.notes = append(b.notes, fmt.Sprintf("wait state %s: its duration comes from data; waits 0s (no wait in the profile)",
					sp.Name))
			}
		case model.KindFail:
			if sp.Src != nil {
				sa.failName = sp.Src.Error
			}
		}
	}
	for _, name := range sortedKeys(p.States) {
		if !usedStates[name] {
			b.notes = append(b.notes, fmt.Sprintf("the profile's state %s is not in the workflow", name))
		}
	}
	return b, nil
}

func (b *bound) choice(sp *model.Spec, prof *StateProfile, sa *stateAnswers) error {
	type option struct {
		branch int32
		w      float64
	}
	var opts []option
	if prof == nil || len(prof.Branches) == 0 {
		// Uniform over the rules and the default.
		n := len(sp.Choices)
		if sp.Default != model.No {
			n++
		}
		for i := range sp.Choices {
			opts = append(opts, option{int32(i), 1 / float64(n)})
		}
		if sp.Default != model.No {
			opts = append(opts, option{model.No, 1 / float64(n)})
		}
		b.notes = append(b.notes, fmt.Sprintf("choice state %s: branches equally likely (no branches in the profile)", sp.Name))
	} else {
		known := map[string]bool{}
		targets := map[string]int{}
		for _, t := range sp.Choices {
			targets[b.m.States[t].Name]++
		}
		var total float64
		for _, w := range prof.Branches {
			total += w
		}
		if total <= 0 {
			return fmt.Errorf("state %s: branch weights add up to 0", sp.Name)
		}
		for i, t := range sp.Choices {
			name := b.m.States[t].Name
			known[name] = true
			if w := prof.Branches[name]; w > 0 {
				opts = append(opts, option{int32(i), w / total / float64(targets[name])})
			}
		}
		if w := prof.Branches["default"]; w > 0 {
			if sp.Default == model.No {
				return fmt.Errorf("state %s: a weight for the default branch, but the choice has no default", sp.Name)
			}
			opts = append(opts, option{model.No, w / total})
		}
		known["default"] = true
		for _, name := range sortedKeys(prof.Branches) {
			if !known[name] {
				return fmt.Errorf("state %s: no branch leads to %s (branches are named by the state they lead to, or default)",
					sp.Name, name)
			}
		}
	}
	scale := 1.0
	if prof != nil && prof.NoMatch > 0 {
		if sp.Default != model.No {
			return fmt.Errorf("state %s: no_match is impossible, the choice has a default", sp.Name)
		}
		scale = 1 - prof.NoMatch
		opts = append(opts, option{noMatch, prof.NoMatch / scale})
	}
	for _, o := range opts {
		sa.cum = append(sa.cum, cumLast(sa.cum)+o.w*scale)
		sa.branch = append(sa.branch, o.branch)
	}
	if len(sa.cum) == 0 {
		return fmt.Errorf("state %s: no branch has a weight", sp.Name)
	}
	sa.cum[len(sa.cum)-1] = 1 // no rounding gap at the end
	return nil
}

// literalWait is the duration of a wait state written as a number of
// seconds, or nil when it comes from data.
func literalWait(s *model.State) Dist {
	if s == nil {
		return nil
	}
	switch v := s.Seconds.(type) {
	case int64:
		return Constant(time.Duration(v) * time.Second)
	case float64:
		return Constant(seconds(v))
	}
	return nil
}

func cumLast(c []float64) float64 {
	if len(c) == 0 {
		return 0
	}
	return c[len(c)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinNames(names []string) string {
	const most = 8
	if len(names) > most {
		return fmt.Sprintf("%s and %d more", joinNames(names[:most]), len(names)-most)
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// describeFunction summarises a function profile in one phrase.
func describeFunction(f *Function) string {
	s := "latency " + f.latency().String()
	if p := f.FailureP(); p > 0 {
		s += fmt.Sprintf(", fails %.3g%%", 100*p)
	} else {
		s += ", never fails"
	}
	return s
}
