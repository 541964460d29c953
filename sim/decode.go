package sim

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// ProfileSource is a profile file's syntax tree. Decode turns it into a
// Profile, applying what-if overrides ("fn.failure=0.05") to the tree
// first, so that an override is checked exactly like the file.
type ProfileSource struct {
	file string
	root *model.Node
}

// ReadProfile parses a profile file (YAML or JSON). A nil src stands for
// an empty profile: every default applies.
func ReadProfile(file string, src []byte) (*ProfileSource, model.Findings) {
	if src == nil || len(bytes.TrimSpace(src)) == 0 {
		return &ProfileSource{file: file, root: &model.Node{Kind: model.MapNode}}, nil
	}
	root, fs := model.ParseNode(file, src)
	if root == nil || fs.Errors() > 0 {
		return nil, fs
	}
	if root.Kind != model.MapNode {
		return nil, model.Findings{{File: file, Pos: root.Pos, Severity: model.SeverityError, Code: "type",
			Message: fmt.Sprintf("a profile must be a mapping (functions, states, cost, load), found %s", root.Kind)}}
	}
	return &ProfileSource{file: file, root: root}, fs
}

// NewProfileSource wraps a profile already parsed into a syntax tree: the
// way in for a profile written inside another file (a profiles: section
// of a workflow, once the workflow decoder keeps one). root must be a
// mapping.
func NewProfileSource(file string, root *model.Node) (*ProfileSource, model.Findings) {
	if root == nil || root.Kind != model.MapNode {
		pos := model.Pos{}
		if root != nil {
			pos = root.Pos
		}
		return nil, model.Findings{{File: file, Pos: pos, Severity: model.SeverityError, Code: "type",
			Message: "a profile must be a mapping (functions, states, cost, load)"}}
	}
	return &ProfileSource{file: file, root: root}, nil
}

// ParseProfile reads and decodes a profile file with overrides applied.
func ParseProfile(file string, src []byte, sets ...string) (*Profile, model.Findings) {
	ps, fs := ReadProfile(file, src)
	if ps == nil {
		return nil, fs
	}
	p, dfs := ps.Decode(sets...)
	return p, append(fs, dfs...)
}

// topKeys are the top-level keys of a profile; an override path that
// starts with anything else names a function.
var topKeys = []string{"version", "comment", "defaults", "functions", "states", "cost", "load"}

// Decode decodes the profile with overrides applied. An override is
// PATH=VALUE: PATH is a dotted path into the profile ("functions.F.failure",
// "cost.transition", "load.clients"), where a first element that is not a
// top-level key names a function ("F.failure" is "functions.F.failure");
// VALUE is YAML ("0.05", "250ms", "{dist: gamma, shape: 2, mean: 1s}").
func (ps *ProfileSource) Decode(sets ...string) (*Profile, model.Findings) {
	root := ps.root
	d := &pdec{file: ps.file, origin: map[*model.Node]string{}}
	if len(sets) > 0 {
		root = cloneNode(root)
		for _, s := range sets {
			if err := d.apply(root, s); err != nil {
				d.fs = append(d.fs, model.Finding{File: "--set " + s, Severity: model.SeverityError, Code: "set",
					Message: err.Error()})
			}
		}
		if d.fs.Errors() > 0 {
			return nil, d.fs
		}
	}
	p := d.profile(root)
	d.fs.Sort()
	if d.fs.Errors() > 0 {
		return nil, d.fs
	}
	return p, d.fs
}

// apply sets PATH=VALUE in the tree rooted at root.
func (d *pdec) apply(root *model.Node, set string) error {
	path, value, ok := strings.Cut(set, "=")
	if !ok || path == "" {
		return fmt.Errorf("an override is PATH=VALUE (fn.failure=0.05), found %q", set)
	}
	parts := strings.Split(path, ".")
	if !slices.Contains(topKeys, parts[0]) {
		parts = append([]string{"functions"}, parts...)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("empty element in path %q", path)
		}
	}
	// The value is read as YAML under a key, so that a flow mapping
	// ({dist: gamma, ...}) is not taken for malformed JSON.
	doc, fs := model.ParseNode("--set "+set, []byte("v: "+value))
	if fs.Errors() > 0 || doc == nil {
		msg := "cannot read it"
		if len(fs) > 0 {
			msg = fs[0].Message
		}
		return fmt.Errorf("value %q: %s", value, msg)
	}
	v := doc.Get("v")
	if v == nil {
		v = &model.Node{Kind: model.NullNode}
	}
	origin := "--set " + set
	v.Walk("", func(_ string, n *model.Node) bool {
		d.origin[n] = origin
		n.Pos = model.Pos{}
		for _, k := range n.Keys {
			d.origin[k] = origin
			k.Pos = model.Pos{}
		}
		return true
	})
	key := func(p string) *model.Node {
		k := &model.Node{Kind: model.StringNode, Str: p}
		d.origin[k] = origin
		return k
	}
	n := root
	for i, p := range parts {
		last := i == len(parts)-1
		child := n.Get(p)
		switch {
		case last:
			if child != nil {
				*child = *v
				d.origin[child] = origin
			} else {
				n.Keys = append(n.Keys, key(p))
				n.Vals = append(n.Vals, v)
			}
		case child == nil:
			child = &model.Node{Kind: model.MapNode}
			d.origin[child] = origin
			n.Keys = append(n.Keys, key(p))
			n.Vals = append(n.Vals, child)
		case child.Kind != model.MapNode:
			// A path through a scalar replaces it: latency: 100ms then
			// latency.median=80ms gives latency: {median: 80ms}.
			*child = model.Node{Kind: model.MapNode}
			d.origin[child] = origin
		}
		n = child
	}
	return nil
}

func cloneNode(n *model.Node) *model.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Keys = make([]*model.Node, len(n.Keys))
	c.Vals = make([]*model.Node, len(n.Vals))
	for i := range n.Keys {
		c.Keys[i], c.Vals[i] = cloneNode(n.Keys[i]), cloneNode(n.Vals[i])
	}
	c.Items = make([]*model.Node, len(n.Items))
	for i := range n.Items {
		c.Items[i] = cloneNode(n.Items[i])
	}
	return &c
}

// pdec decodes a profile tree, collecting findings.
type pdec struct {
	file string
	fs   model.Findings
	// origin names the override a node came from.
	origin map[*model.Node]string
}

func (d *pdec) errorf(n *model.Node, format string, args ...any) {
	f := model.Finding{File: d.file, Pos: n.Pos, Severity: model.SeverityError, Code: "profile",
		Message: fmt.Sprintf(format, args...)}
	if o, ok := d.origin[n]; ok {
		f.File, f.Pos = o, model.Pos{}
	}
	d.fs = append(d.fs, f)
}

// pobj reads the keys of one mapping and reports the ones left unread.
type pobj struct {
	d    *pdec
	n    *model.Node
	what string
	used map[string]bool
}

func (d *pdec) object(n *model.Node, what string) *pobj {
	o := &pobj{d: d, n: n, what: what, used: map[string]bool{}}
	if n.Kind != model.MapNode {
		d.errorf(n, "%s must be a mapping, found %s", what, n.Kind)
		o.n = &model.Node{Kind: model.MapNode, Pos: n.Pos}
	}
	return o
}

func (o *pobj) get(key string) *model.Node {
	o.used[key] = true
	return o.n.Get(key)
}

// done reports unknown keys; known lists the keys this mapping may have.
func (o *pobj) done(known ...string) {
	for _, k := range o.n.Keys {
		if !o.used[k.Str] {
			msg := fmt.Sprintf("unknown key %q in %s", k.Str, o.what)
			if len(known) > 0 {
				msg += " (known: " + strings.Join(known, ", ") + ")"
			}
			o.d.errorf(k, "%s", msg)
		}
	}
}

func (o *pobj) number(key string, dst *float64) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	x, ok := o.d.float(v, o.what+": "+key)
	if ok {
		*dst = x
	}
	return ok
}

func (d *pdec) float(v *model.Node, what string) (float64, bool) {
	switch v.Kind {
	case model.IntNode:
		return float64(v.Int), true
	case model.FloatNode:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			d.errorf(v, "%s must be a finite number", what)
			return 0, false
		}
		return v.Float, true
	case model.StringNode:
		// "5%" is 0.05; "2e-07" is a number the YAML parser left a
		// string.
		if s, ok := strings.CutSuffix(v.Str, "%"); ok {
			if x, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(x, 0) {
				return x / 100, true
			}
		}
		if x, err := strconv.ParseFloat(v.Str, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return x, true
		}
	}
	d.errorf(v, "%s must be a number, found %s", what, describe(v))
	return 0, false
}

func (o *pobj) prob(key string, dst *float64) {
	v := o.get(key)
	if v == nil {
		return
	}
	o.d.probability(v, o.what+": "+key, dst)
}

func (d *pdec) probability(v *model.Node, what string, dst *float64) bool {
	x, ok := d.float(v, what)
	if !ok {
		return false
	}
	if x < 0 || x > 1 {
		d.errorf(v, "%s is a probability and must be in [0, 1], found %g", what, x)
		return false
	}
	*dst = x
	return true
}

func (o *pobj) integer(key string, dst *int) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	if v.Kind != model.IntNode || v.Int < 0 || v.Int > math.MaxInt32 {
		o.d.errorf(v, "%s: %s must be a whole number ≥ 0, found %s", o.what, key, describe(v))
		return false
	}
	*dst = int(v.Int)
	return true
}

func (o *pobj) str(key string, dst *string) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	if v.Kind != model.StringNode || v.Str == "" {
		o.d.errorf(v, "%s: %s must be a non-empty string, found %s", o.what, key, describe(v))
		return false
	}
	*dst = v.Str
	return true
}

func (o *pobj) duration(key string, dst *time.Duration) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	x, ok := o.d.duration(v, o.what+": "+key)
	if ok {
		*dst = x
	}
	return ok
}

// duration reads a duration: a Go duration string (250ms, 1.5s, 2m) or a
// number of seconds, as in workflow files.
func (d *pdec) duration(v *model.Node, what string) (time.Duration, bool) {
	var x time.Duration
	switch v.Kind {
	case model.IntNode:
		x = time.Duration(v.Int) * time.Second
	case model.FloatNode:
		x = seconds(v.Float)
	case model.StringNode:
		var err error
		if x, err = time.ParseDuration(v.Str); err != nil {
			d.errorf(v, "%s: %q is not a duration (write 250ms, 1.5s or 2m)", what, v.Str)
			return 0, false
		}
	default:
		d.errorf(v, "%s must be a duration (250ms, 1.5s, 2m), found %s", what, describe(v))
		return 0, false
	}
	if x < 0 {
		d.errorf(v, "%s must not be negative", what)
		return 0, false
	}
	return x, true
}

func describe(v *model.Node) string {
	switch v.Kind {
	case model.StringNode:
		return strconv.Quote(v.Str)
	case model.IntNode:
		return strconv.FormatInt(v.Int, 10)
	case model.FloatNode:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case model.BoolNode:
		return strconv.FormatBool(v.Bool)
	}
	return "a " + v.Kind.String()
}

func (d *pdec) profile(root *model.Node) *Profile {
	p := &Profile{File: d.file, Functions: map[string]*Function{}, States: map[string]*StateProfile{},
		Cost: DefaultCost}
	o := d.object(root, "profile")
	var version string
	o.str("version", &version)
	o.get("comment")
	if v := o.get("defaults"); v != nil {
		d.function(v, "defaults", &p.Default)
	}
	if v := o.get("functions"); v != nil {
		fo := d.object(v, "functions")
		for i, k := range fo.n.Keys {
			f := &Function{}
			d.function(fo.n.Vals[i], "function "+k.Str, f)
			p.Functions[k.Str] = f
			fo.used[k.Str] = true
		}
	}
	if v := o.get("states"); v != nil {
		so := d.object(v, "states")
		for i, k := range so.n.Keys {
			p.States[k.Str] = d.state(so.n.Vals[i], "state "+k.Str)
			so.used[k.Str] = true
		}
	}
	if v := o.get("cost"); v != nil {
		co := d.object(v, "cost")
		for _, f := range []struct {
			key string
			dst *float64
		}{{"transition", &p.Cost.Transition}, {"invocation", &p.Cost.Invocation}, {"gb_second", &p.Cost.GBSecond}} {
			if co.number(f.key, f.dst) && *f.dst < 0 {
				d.errorf(co.n.Get(f.key), "cost: %s must not be negative", f.key)
			}
		}
		co.duration("granularity", &p.Cost.Granularity)
		co.done("transition", "invocation", "gb_second", "granularity")
	}
	if v := o.get("load"); v != nil {
		lo := d.object(v, "load")
		lo.integer("clients", &p.Load.Clients)
		if rv := lo.get("rate"); rv != nil {
			p.Load.Rate = d.rate(rv)
		}
		if p.Load.Clients > 0 && p.Load.Rate > 0 {
			d.errorf(v, "load: give clients (a closed loop) or rate (an open loop), not both")
		}
		lo.done("clients", "rate")
	}
	o.done(topKeys...)
	p.resolvePrices()
	return p
}

// rate reads an arrival rate: a number per second, or "50/s", "300/m",
// "1000/h".
func (d *pdec) rate(v *model.Node) float64 {
	if v.Kind == model.StringNode {
		num, unit, ok := strings.Cut(v.Str, "/")
		if ok {
			x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			per := map[string]float64{"s": 1, "m": 60, "min": 60, "h": 3600}[strings.TrimSpace(unit)]
			if err == nil && per > 0 && x >= 0 {
				return x / per
			}
		}
		d.errorf(v, "load: rate must be a number per second or N/s, N/m, N/h, found %q", v.Str)
		return 0
	}
	x, ok := d.float(v, "load: rate")
	if ok && x < 0 {
		d.errorf(v, "load: rate must not be negative")
		return 0
	}
	return x
}

var functionKeys = []string{"latency", "failure_latency", "failure", "failures", "hang", "cold_start", "max_duration",
	"max_duration_error", "concurrency", "breaker", "memory_mb", "cost"}

func (d *pdec) function(n *model.Node, what string, f *Function) {
	o := d.object(n, what)
	if v := o.get("latency"); v != nil {
		f.Latency = d.dist(v, what+": latency")
	}
	if v := o.get("failure_latency"); v != nil {
		f.FailureLatency = d.dist(v, what+": failure_latency")
	}
	if v := o.get("failures"); v != nil {
		f.Failures = d.failures(v, what+": failures")
	}
	if v := o.get("failure"); v != nil {
		var total float64
		if d.probability(v, what+": failure", &total) {
			f.Failures = scaleFailures(f.Failures, total)
		}
	}
	o.prob("hang", &f.Hang)
	if v := o.get("cold_start"); v != nil {
		if v.Kind == model.MapNode {
			co := d.object(v, what+": cold_start")
			co.prob("probability", &f.ColdStart)
			if lv := co.get("latency"); lv != nil {
				f.ColdStartLatency = d.dist(lv, what+": cold_start: latency")
			}
			co.done("probability", "latency")
		} else {
			d.probability(v, what+": cold_start", &f.ColdStart)
		}
	}
	o.duration("max_duration", &f.MaxDuration)
	o.str("max_duration_error", &f.MaxDurationError)
	if v := o.get("concurrency"); v != nil {
		if v.Kind == model.MapNode {
			co := d.object(v, what+": concurrency")
			co.integer("limit", &f.Concurrency)
			co.str("error", &f.ThrottleError)
			co.duration("latency", &f.ThrottleLatency)
			co.done("limit", "error", "latency")
		} else if v.Kind == model.IntNode && v.Int >= 0 && v.Int <= math.MaxInt32 {
			f.Concurrency = int(v.Int)
		} else {
			d.errorf(v, "%s: concurrency must be a limit (a whole number) or {limit, error, latency}", what)
		}
	}
	if v := o.get("breaker"); v != nil {
		b := &Breaker{Failures: DefaultBreakerFailures, Cooldown: DefaultBreakerCooldown, Error: DefaultBreakerError}
		bo := d.object(v, what+": breaker")
		bo.integer("failures", &b.Failures)
		bo.duration("cooldown", &b.Cooldown)
		bo.str("error", &b.Error)
		bo.done("failures", "cooldown", "error")
		if b.Failures < 1 {
			d.errorf(v, "%s: breaker: failures must be at least 1", what)
		}
		f.Breaker = b
	}
	if o.integer("memory_mb", &f.MemoryMB) && f.MemoryMB == 0 {
		d.errorf(o.n.Get("memory_mb"), "%s: memory_mb must be at least 1", what)
	}
	if v := o.get("cost"); v != nil {
		pr := &Price{Invocation: -1, GBSecond: -1}
		co := d.object(v, what+": cost")
		co.number("invocation", &pr.Invocation)
		co.number("gb_second", &pr.GBSecond)
		co.done("invocation", "gb_second")
		f.Price = pr
	}
	o.done(functionKeys...)
	total := f.Hang + f.FailureP()
	if total > 1+1e-9 {
		d.errorf(n, "%s: failure and hang probabilities add up to %g, more than 1", what, total)
	}
}

// resolvePrices fills the prices a function's cost section left out from
// the profile's cost.
func (p *Profile) resolvePrices() {
	fix := func(f *Function) {
		if f.Price == nil {
			return
		}
		if f.Price.Invocation < 0 {
			f.Price.Invocation = p.Cost.Invocation
		}
		if f.Price.GBSecond < 0 {
			f.Price.GBSecond = p.Cost.GBSecond
		}
	}
	fix(&p.Default)
	for _, f := range p.Functions {
		fix(f)
	}
}

// scaleFailures sets the total failure probability: the named errors keep
// their proportions, and a function without named errors fails with
// States.TaskFailed.
func scaleFailures(fs []Failure, total float64) []Failure {
	var sum float64
	for _, f := range fs {
		sum += f.P
	}
	if len(fs) == 0 || sum == 0 {
		if len(fs) == 0 {
			return []Failure{{Error: model.ErrTaskFailed, P: total}}
		}
		out := slices.Clone(fs)
		for i := range out {
			out[i].P = total / float64(len(out))
		}
		return out
	}
	out := slices.Clone(fs)
	for i := range out {
		out[i].P *= total / sum
	}
	return out
}

func (d *pdec) failures(n *model.Node, what string) []Failure {
	o := d.object(n, what)
	var out []Failure
	for i, k := range o.n.Keys {
		o.used[k.Str] = true
		var p float64
		if d.probability(o.n.Vals[i], what+": "+k.Str, &p) {
			out = append(out, Failure{Error: k.Str, P: p})
		}
	}
	return out
}

var stateKeys = []string{"branches", "no_match", "items", "wait", "data_errors"}

func (d *pdec) state(n *model.Node, what string) *StateProfile {
	s := &StateProfile{}
	o := d.object(n, what)
	if v := o.get("branches"); v != nil {
		bo := d.object(v, what+": branches")
		s.Branches = map[string]float64{}
		for i, k := range bo.n.Keys {
			bo.used[k.Str] = true
			x, ok := d.float(bo.n.Vals[i], what+": branches: "+k.Str)
			if ok && x < 0 {
				d.errorf(bo.n.Vals[i], "%s: branches: %s: a weight must not be negative", what, k.Str)
			}
			s.Branches[k.Str] = x
		}
	}
	o.prob("no_match", &s.NoMatch)
	if v := o.get("items"); v != nil {
		s.Items = d.count(v, what+": items")
	}
	if v := o.get("wait"); v != nil {
		s.Wait = d.dist(v, what+": wait")
	}
	if v := o.get("data_errors"); v != nil {
		s.DataErrors = d.failures(v, what+": data_errors")
	}
	o.done(stateKeys...)
	return s
}

// count reads a count distribution: a whole number, or
// {dist: poisson, mean: M}, {dist: uniform, min: A, max: B}.
func (d *pdec) count(n *model.Node, what string) CountDist {
	if n.Kind == model.IntNode {
		if n.Int < 0 || n.Int > math.MaxUint16 {
			d.errorf(n, "%s must be between 0 and %d", what, math.MaxUint16)
			return ConstantCount(0)
		}
		return ConstantCount(n.Int)
	}
	o := d.object(n, what)
	var kind string
	o.str("dist", &kind)
	switch kind {
	case "constant":
		var v int
		o.integer("value", &v)
		o.done("dist", "value")
		return ConstantCount(min(v, math.MaxUint16))
	case "poisson":
		var mean float64
		if !o.number("mean", &mean) || mean < 0 || mean > math.MaxUint16 {
			d.errorf(n, "%s: a poisson count needs a mean between 0 and %d", what, math.MaxUint16)
		}
		o.done("dist", "mean")
		return PoissonCount{Lambda: mean}
	case "uniform":
		var lo, hi int
		o.integer("min", &lo)
		if !o.integer("max", &hi) || hi < lo || hi > math.MaxUint16 {
			d.errorf(n, "%s: a uniform count needs min ≤ max ≤ %d", what, math.MaxUint16)
			hi = lo
		}
		o.done("dist", "min", "max")
		return UniformCount{Min: uint32(lo), Max: uint32(hi)}
	}
	d.errorf(n, "%s must be a whole number or {dist: constant|poisson|uniform, ...}", what)
	return ConstantCount(0)
}

var distKeys = map[string][]string{
	"constant":    {"dist", "value"},
	"exponential": {"dist", "mean", "offset"},
	"lognormal":   {"dist", "median", "sigma", "p99", "mu", "offset"},
	"gamma":       {"dist", "shape", "mean", "scale", "offset"},
	"empirical":   {"dist", "csv", "column", "unit", "values"},
}

// dist reads a duration distribution:
//
//	250ms                                       constant
//	{dist: constant, value: 250ms}
//	{dist: exponential, mean: 100ms}
//	{dist: lognormal, median: 80ms, sigma: 0.5}  or median and p99, or mu and sigma
//	{dist: gamma, shape: 2, mean: 100ms}        or shape and scale
//	{dist: empirical, csv: FILE, column: 0, unit: ms}  or values: [...]
//
// Without dist, the keys say which: value, median, shape, mean, csv or
// values. Every form but empirical takes an offset added to each sample.
func (d *pdec) dist(n *model.Node, what string) Dist {
	if n.Kind != model.MapNode {
		x, ok := d.duration(n, what)
		if !ok {
			return Constant(0)
		}
		return Constant(x)
	}
	o := d.object(n, what)
	var kind string
	if !o.str("dist", &kind) {
		switch {
		case n.Get("value") != nil:
			kind = "constant"
		case n.Get("median") != nil || n.Get("mu") != nil:
			kind = "lognormal"
		case n.Get("shape") != nil:
			kind = "gamma"
		case n.Get("csv") != nil || n.Get("values") != nil:
			kind = "empirical"
		case n.Get("mean") != nil:
			kind = "exponential"
		default:
			d.errorf(n, "%s: say which distribution: dist: constant, exponential, lognormal, gamma or empirical", what)
			return Constant(0)
		}
	}
	keys, ok := distKeys[kind]
	if !ok {
		d.errorf(n.Get("dist"), "%s: unknown distribution %q (constant, exponential, lognormal, gamma, empirical)", what, kind)
		return Constant(0)
	}
	defer o.done(keys...)
	var offset time.Duration
	if kind != "empirical" && kind != "constant" {
		o.duration("offset", &offset)
	}
	switch kind {
	case "constant":
		var v time.Duration
		if !o.duration("value", &v) {
			d.errorf(n, "%s: a constant needs a value", what)
		}
		return Constant(v)
	case "exponential":
		var mean time.Duration
		if !o.duration("mean", &mean) {
			d.errorf(n, "%s: an exponential needs a mean", what)
		}
		return Exponential{MeanD: mean, Offset: offset}
	case "lognormal":
		return d.lognormal(o, what, offset)
	case "gamma":
		var shape float64
		if !o.number("shape", &shape) || shape <= 0 {
			d.errorf(n, "%s: a gamma needs a shape > 0", what)
			return Constant(0)
		}
		var mean, scale time.Duration
		hasMean, hasScale := o.duration("mean", &mean), o.duration("scale", &scale)
		switch {
		case hasMean && hasScale:
			d.errorf(n, "%s: give a gamma's mean or its scale, not both", what)
		case hasScale:
			mean = time.Duration(float64(scale) * shape)
		case !hasMean:
			d.errorf(n, "%s: a gamma needs a mean (or a scale)", what)
		}
		return Gamma{Shape: shape, MeanD: mean, Offset: offset}
	}
	return d.empirical(o, what)
}

func (d *pdec) lognormal(o *pobj, what string, offset time.Duration) Dist {
	n := o.n
	var median, p99 time.Duration
	var sigma, mu float64
	hasMedian, hasP99 := o.duration("median", &median), o.duration("p99", &p99)
	hasSigma, hasMu := o.number("sigma", &sigma), o.number("mu", &mu)
	switch {
	case hasMu && hasMedian:
		d.errorf(n, "%s: give a lognormal's median or its mu, not both", what)
		return Constant(0)
	case hasMedian:
		if median <= 0 {
			d.errorf(n, "%s: a lognormal's median must be positive", what)
			return Constant(0)
		}
		mu = math.Log(median.Seconds())
	case !hasMu:
		d.errorf(n, "%s: a lognormal needs a median (or mu)", what)
		return Constant(0)
	}
	switch {
	case hasSigma && hasP99:
		d.errorf(n, "%s: give a lognormal's sigma or its p99, not both", what)
	case hasP99:
		if !hasMedian || p99 <= median {
			d.errorf(n, "%s: a lognormal's p99 must be above its median", what)
			return Constant(0)
		}
		// p99 = median · exp(z₀.₉₉ σ).
		sigma = math.Log(p99.Seconds()/median.Seconds()) / z99
	case !hasSigma:
		d.errorf(n, "%s: a lognormal needs a sigma (or a p99)", what)
	case sigma < 0:
		d.errorf(n, "%s: a lognormal's sigma must not be negative", what)
	}
	return LogNormal{Mu: mu, Sigma: sigma, Offset: offset}
}

// z99 is the 0.99 quantile of the standard normal distribution.
const z99 = 2.3263478740408408

func (d *pdec) empirical(o *pobj, what string) Dist {
	n := o.n
	unit := time.Millisecond
	if v := o.get("unit"); v != nil {
		u, ok := units[v.Str]
		if !ok || v.Kind != model.StringNode {
			d.errorf(v, "%s: unit must be ns, us, ms, s or m", what)
		}
		unit = u
	}
	var values []time.Duration
	if v := o.get("values"); v != nil {
		if v.Kind != model.SeqNode {
			d.errorf(v, "%s: values must be a list of durations", what)
			return Constant(0)
		}
		for _, it := range v.Items {
			if it.Kind == model.IntNode || it.Kind == model.FloatNode {
				x, _ := d.float(it, what)
				values = append(values, seconds(x*unit.Seconds()))
				continue
			}
			if x, ok := d.duration(it, what+": values"); ok {
				values = append(values, x)
			}
		}
	}
	if v := o.get("csv"); v != nil {
		if v.Kind != model.StringNode {
			d.errorf(v, "%s: csv must be a file name", what)
			return Constant(0)
		}
		col := 0
		colName := ""
		if cv := o.get("column"); cv != nil {
			switch cv.Kind {
			case model.IntNode:
				col = int(cv.Int)
			case model.StringNode:
				colName = cv.Str
			default:
				d.errorf(cv, "%s: column must be a column number (from 0) or a header name", what)
			}
		}
		path := v.Str
		if !filepath.IsAbs(path) && d.file != "" {
			path = filepath.Join(filepath.Dir(d.file), path)
		}
		vs, err := readCSV(path, col, colName, unit)
		if err != nil {
			d.errorf(v, "%s: %v", what, err)
			return Constant(0)
		}
		values = append(values, vs...)
	} else {
		o.get("column")
	}
	if len(values) == 0 {
		d.errorf(n, "%s: an empirical distribution needs values or a csv file with at least one value", what)
		return Constant(0)
	}
	src := ""
	if v := n.Get("csv"); v != nil {
		src = v.Str
	}
	return NewEmpirical(values, src)
}

var units = map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute}

// maxCSVValues and maxCSVBytes bound what an empirical distribution
// reads.
const (
	maxCSVValues = 10_000_000
	maxCSVBytes  = 512 << 20
)

// readCSV reads one column of numbers (in unit) from a CSV file. A first
// row that is not a number is a header; column may then be named.
func readCSV(path string, col int, name string, unit time.Duration) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	} else if fi.Size() > maxCSVBytes {
		return nil, fmt.Errorf("%s: %d bytes; the limit is %d", path, fi.Size(), maxCSVBytes)
	}
	r := csv.NewReader(io.LimitReader(f, maxCSVBytes))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var out []time.Duration
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if line == 1 && name != "" {
			col = slices.Index(rec, name)
			if col < 0 {
				return nil, fmt.Errorf("%s: no column %q in the header", path, name)
			}
			continue
		}
		if col >= len(rec) {
			if len(rec) == 1 && rec[0] == "" {
				continue
			}
			return nil, fmt.Errorf("%s:%d: no column %d", path, line, col)
		}
		s := strings.TrimSpace(rec[col])
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			if line == 1 {
				continue // a header
			}
			return nil, fmt.Errorf("%s:%d: %q is not a number", path, line, s)
		}
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s:%d: a latency must be a finite number ≥ 0, found %s", path, line, s)
		}
		out = append(out, seconds(x*unit.Seconds()))
		if len(out) > maxCSVValues {
			return nil, fmt.Errorf("%s: more than %d values", path, maxCSVValues)
		}
	}
	return out, nil
}
