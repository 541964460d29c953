package asl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nexus-workflows/nexus/model"
)

// This file reads the error handling (Retry, Catch) and the Choice rules.

var retryFields = []string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}

func (im *importer) retriers(f field) []*model.Retrier {
	if f.v.Kind != model.SeqNode {
		f.typeErr("an array of retriers")
		return nil
	}
	f.at("retry")
	rs := make([]*model.Retrier, 0, len(f.v.Items))
	for i, it := range f.v.Items {
		r := &model.Retrier{MaxAttempts: model.DefaultMaxAttempts, Interval: model.DefaultInterval,
			BackoffRate: model.DefaultBackoffRate, Jitter: model.JitterNone}
		o := im.object(it, fmt.Sprintf("%s/%d", f.ptr, i), fmt.Sprintf("retrier %d of %s", i+1, f.o.what), retryFields)
		o.each(func(g field) bool {
			switch g.key {
			case "ErrorEquals":
				r.Errors = g.errorEquals()
			case "IntervalSeconds":
				g.seconds("interval", 1, &r.Interval, nil)
			case "MaxAttempts":
				g.integer("max_attempts", 0, &r.MaxAttempts)
			case "BackoffRate":
				if g.number("backoff_rate", &r.BackoffRate) && !(r.BackoffRate >= 1) {
					im.errorf(g.v.Pos, g.ptr, CodeValue, "%s: BackoffRate must be at least 1.0, found %s", o.what, text(g.v))
				}
			case "MaxDelaySeconds":
				g.seconds("max_delay", 1, &r.MaxDelay, nil)
			case "JitterStrategy":
				var j string
				if !g.str("jitter", &j) {
					break
				}
				switch j {
				case "FULL":
					r.Jitter = model.JitterFull
				case "NONE":
					r.Jitter = model.JitterNone
				default:
					im.errorf(g.v.Pos, g.ptr, CodeValue, "%s: JitterStrategy must be \"FULL\" or \"NONE\", found %q", o.what, j)
				}
			case "Comment":
				g.str("comment", &r.Comment)
			default:
				return false
			}
			return true
		})
		o.requireErrors()
		r.Src = o.src
		rs = append(rs, r)
	}
	return rs
}

var catchFields = []string{"ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"}

func (im *importer) catchers(f field) []*model.Catcher {
	if f.v.Kind != model.SeqNode {
		f.typeErr("an array of catchers")
		return nil
	}
	f.at("catch")
	cs := make([]*model.Catcher, 0, len(f.v.Items))
	for i, it := range f.v.Items {
		c := &model.Catcher{}
		o := im.object(it, fmt.Sprintf("%s/%d", f.ptr, i), fmt.Sprintf("catcher %d of %s", i+1, f.o.what), catchFields)
		o.each(func(g field) bool {
			switch g.key {
			case "ErrorEquals":
				c.Errors = g.errorEquals()
			case "Next":
				g.str("next", &c.Next)
			case "ResultPath":
				g.path("result_path", &c.ResultPath)
			case "Comment":
				g.str("comment", &c.Comment)
			case "Assign":
				g.value("assign", &c.Assign)
			case "Output":
				g.value("output", &c.Output)
			default:
				return false
			}
			return true
		})
		o.requireErrors()
		o.requireNext()
		c.Src = o.src
		cs = append(cs, c)
	}
	return cs
}

// errorEquals reads a non-empty list of error names.
func (f field) errorEquals() []string {
	if f.v.Kind != model.SeqNode {
		f.typeErr("an array of error names")
		return nil
	}
	f.at("errors")
	var errs []string
	for i, it := range f.v.Items {
		if it.Kind != model.StringNode {
			f.o.im.errorf(it.Pos, fmt.Sprintf("%s/%d", f.ptr, i), CodeType, "%s: ErrorEquals must hold strings, found %s", f.o.what, it.Kind)
			continue
		}
		errs = append(errs, it.Str)
	}
	if len(f.v.Items) == 0 {
		f.o.im.errorf(f.v.Pos, f.ptr, CodeValue, "%s: ErrorEquals must name at least one error (States.ALL matches every error)", f.o.what)
	}
	return errs
}

func (o *object) requireErrors() {
	if o.n.Get("ErrorEquals") == nil {
		o.im.errorf(o.n.Pos, o.ptr, CodeMissing, "%s has no ErrorEquals", o.what)
	}
}

func (o *object) requireNext() {
	if n := o.n.Get("Next"); n == nil || n.Kind == model.StringNode && n.Str == "" {
		o.im.errorf(o.n.Pos, o.ptr, CodeMissing, "%s has no Next", o.what)
	}
}

var (
	ruleFields   = append([]string{"Variable", "And", "Or", "Not", "Condition"}, model.Operators...)
	choiceFields = append([]string{"Next", "Comment", "Assign", "Output"}, ruleFields...)
	nestedFields = append([]string{"Comment"}, ruleFields...)
)

func (im *importer) choices(f field) []*model.Choice {
	if f.v.Kind != model.SeqNode {
		f.typeErr("an array of choice rules")
		return nil
	}
	f.at("choices")
	cs := make([]*model.Choice, 0, len(f.v.Items))
	for i, it := range f.v.Items {
		c := &model.Choice{}
		o := im.object(it, fmt.Sprintf("%s/%d", f.ptr, i), fmt.Sprintf("choice %d of %s", i+1, f.o.what), choiceFields)
		forms := 0
		o.each(func(g field) bool {
			switch g.key {
			case "Next":
				g.str("next", &c.Next)
			case "Comment":
				g.str("comment", &c.Comment)
			case "Assign":
				g.value("assign", &c.Assign)
			case "Output":
				g.value("output", &c.Output)
			default:
				return im.ruleField(g, &c.Rule, &forms)
			}
			return true
		})
		o.checkRule(&c.Rule, forms)
		o.requireNext()
		c.Src = o.src
		cs = append(cs, c)
	}
	return cs
}

// rule reads a rule nested in And, Or or Not.
func (im *importer) rule(n *model.Node, ptr, what string) *model.Rule {
	r := &model.Rule{}
	o := im.object(n, ptr, what, nestedFields)
	forms := 0
	o.each(func(g field) bool {
		if g.key == "Comment" {
			g.str("comment", &r.Comment)
			return true
		}
		return im.ruleField(g, r, &forms)
	})
	o.checkRule(r, forms)
	r.Src = o.src
	return r
}

// ruleField reads one field of the condition of a rule, counting the
// forms of condition written.
func (im *importer) ruleField(g field, r *model.Rule, forms *int) bool {
	switch g.key {
	case "Condition":
		*forms++
		if g.v.Kind == model.BoolNode {
			// A constant condition; the model holds it as the JSONata
			// expression of the same meaning.
			r.Condition = "{% " + strconv.FormatBool(g.v.Bool) + " %}"
			g.at("condition")
			return true
		}
		if g.str("condition", &r.Condition) && r.Condition == "" {
			im.errorf(g.v.Pos, g.ptr, CodeValue, "%s: Condition is empty", g.o.what)
		}
	case "And", "Or":
		*forms++
		if g.v.Kind != model.SeqNode {
			g.typeErr("an array of rules")
			return true
		}
		g.at(strings.ToLower(g.key))
		rules := make([]*model.Rule, 0, len(g.v.Items))
		for i, it := range g.v.Items {
			rules = append(rules, im.rule(it, fmt.Sprintf("%s/%d", g.ptr, i), fmt.Sprintf("rule %d of %s of %s", i+1, g.key, g.o.what)))
		}
		if len(rules) == 0 {
			im.errorf(g.v.Pos, g.ptr, CodeValue, "%s: %s must hold at least one rule", g.o.what, g.key)
		}
		if g.key == "And" {
			r.And = rules
		} else {
			r.Or = rules
		}
	case "Not":
		*forms++
		g.at("not")
		r.Not = im.rule(g.v, g.ptr, "Not of "+g.o.what)
	case "Variable":
		g.str("variable", &r.Variable)
	default:
		if !slices.Contains(model.Operators, g.key) {
			return false
		}
		if r.Op != "" {
			im.errorf(g.keyPos, g.ptr, CodeValue, "%s: one comparison per rule; found %s after %s", g.o.what, g.key, r.Op)
			return true
		}
		*forms++
		r.Op, r.Value = g.key, g.v.Value()
		g.at(model.OperatorKey(g.key))
	}
	return true
}

func (o *object) checkRule(r *model.Rule, forms int) {
	switch {
	case forms == 0 && r.Variable == "":
		o.im.errorf(o.n.Pos, o.ptr, CodeMissing, "%s has no condition (Variable with a comparison, And, Or, Not or Condition)", o.what)
	case forms > 1:
		o.im.errorf(o.n.Pos, o.ptr, CodeValue, "%s has more than one condition; combine them with And or Or", o.what)
	}
	if r.Op != "" && r.Variable == "" {
		o.im.errorf(o.n.Pos, o.ptr, CodeMissing, "%s compares with %s but has no Variable", o.what, r.Op)
	}
	if r.Op == "" && r.Variable != "" {
		o.im.errorf(o.n.KeyPos("Variable"), o.ptr+"/Variable", CodeMissing, "%s has a Variable but no comparison operator", o.what)
	}
}
