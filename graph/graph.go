// Package graph draws a compiled workflow: as Graphviz DOT, as Mermaid, or
// as SVG rendered by Graphviz (compiled to WebAssembly, so nothing needs to
// be installed). nexus graph and the web UI draw with the same code, and a
// counterexample trace can be drawn over the workflow.
package graph

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/goccy/go-graphviz"
	"github.com/nexus-workflows/nexus/model"
)

// Options change what is drawn.
type Options struct {
	// Highlight maps state names to a label drawn on them (a trace's step
	// numbers, say); highlighted states are filled.
	Highlight map[string]string
	// Title overrides the workflow's name as the graph's label.
	Title string
}

// drawing numbers states and remembers which names exist, so that a
// transition to a state that does not exist (an invalid workflow is drawn
// too) ends at a red placeholder instead of vanishing.
type drawing struct {
	w       *model.Workflow
	opts    Options
	id      map[string]string
	missing map[string]string // unknown name → placeholder id
	order   []string          // unknown names in order of reference
	edges   strings.Builder
}

func newDrawing(w *model.Workflow, opts Options) *drawing {
	d := &drawing{w: w, opts: opts, id: map[string]string{}, missing: map[string]string{}}
	n := 0
	w.AllStates(func(s *model.State) {
		if _, dup := d.id[s.Name]; !dup {
			d.id[s.Name] = fmt.Sprintf("s%d", n)
		}
		n++
	})
	return d
}

// node returns the node id of a state name, or of its placeholder.
func (d *drawing) node(name string) string {
	if id, ok := d.id[name]; ok {
		return id
	}
	if id, ok := d.missing[name]; ok {
		return id
	}
	id := fmt.Sprintf("missing%d", len(d.order))
	d.missing[name] = id
	d.order = append(d.order, name)
	return id
}

func start(g *model.Graph) string {
	if g.StartAt != "" || len(g.States) == 0 {
		return g.StartAt
	}
	return g.States[0].Name
}

// DOT writes workflow w as a Graphviz graph. Parallel branches and map
// processors are clusters; retries are self-loops; catch edges are red and
// dashed; compensations hang off their step in purple; a transition to a
// state that does not exist ends at a red placeholder.
func DOT(w *model.Workflow, opts Options) string {
	d := newDrawing(w, opts)
	var b strings.Builder
	title := opts.Title
	if title == "" {
		title = w.Name
	}
	fmt.Fprintf(&b, "digraph %s {\n", quote(title))
	fmt.Fprintf(&b, "  label=%s; labelloc=t; fontname=\"Helvetica\";\n", quote(title))
	b.WriteString("  node [fontname=\"Helvetica\" fontsize=11 shape=box style=\"rounded\"];\n")
	b.WriteString("  edge [fontname=\"Helvetica\" fontsize=9];\n")
	b.WriteString("  start [shape=circle label=\"\" width=0.2 style=filled fillcolor=black];\n")
	b.WriteString("  end [shape=doublecircle label=\"\" width=0.15 style=filled fillcolor=black];\n")
	fmt.Fprintf(&d.edges, "  start -> %s;\n", d.node(start(&w.Graph)))
	d.graph(&b, &w.Graph, true, "  ")
	b.WriteString(d.edges.String())
	for _, name := range d.order {
		fmt.Fprintf(&b, "  %s [label=%s style=\"dashed\" color=red fontcolor=red];\n", d.missing[name], quote(name+"\\n(no such state)"))
	}
	b.WriteString("}\n")
	return b.String()
}

func (d *drawing) graph(b *strings.Builder, g *model.Graph, top bool, indent string) {
	for _, s := range g.States {
		if d.id[s.Name] == "" {
			continue
		}
		id := d.id[s.Name]
		fmt.Fprintf(b, "%s%s [%s];\n", indent, id, d.nodeAttrs(s))
		subs := append([]*model.Graph(nil), s.Branches...)
		if s.Processor != nil {
			subs = append(subs, s.Processor)
		}
		for ci, sub := range subs {
			label := "map: each item"
			if s.Kind == model.KindParallel {
				label = fmt.Sprintf("branch %d", ci+1)
			}
			if s.Kind == model.KindMap && s.MaxConcurrency > 0 {
				label = fmt.Sprintf("map: each item, %d at a time", s.MaxConcurrency)
			}
			fmt.Fprintf(b, "%ssubgraph cluster_%s_%d {\n%s  label=%s; style=dashed; color=gray50;\n", indent, id, ci, indent, quote(label))
			d.graph(b, sub, false, indent+"  ")
			fmt.Fprintf(b, "%s}\n", indent)
			if first := start(sub); first != "" {
				fmt.Fprintf(&d.edges, "  %s -> %s [style=bold color=gray40 arrowhead=onormal];\n", id, d.node(first))
			}
		}
		d.stateEdges(s, top)
	}
}

func (d *drawing) nodeAttrs(s *model.State) string {
	label := s.Name
	switch s.Kind {
	case model.KindTask, model.KindWorkflow:
		label += "\\n" + s.Action + "()"
	case model.KindPass, model.KindChoice, model.KindParallel, model.KindMap, model.KindWait:
		label += "\\n[" + s.Kind.String() + "]"
	}
	var attrs []string
	switch s.Kind {
	case model.KindChoice:
		attrs = append(attrs, "shape=diamond", "style=\"\"")
	case model.KindSucceed:
		attrs = append(attrs, "style=\"rounded,filled\"", "fillcolor=\"#d8f5d8\"")
	case model.KindFail:
		attrs = append(attrs, "style=\"rounded,filled\"", "fillcolor=\"#f8d7d7\"")
	case model.KindWait:
		attrs = append(attrs, "style=\"rounded,dashed\"")
	}
	if s.Mutates {
		label += "\\n(mutates)"
		attrs = append(attrs, "penwidth=2")
	}
	if h, ok := d.opts.Highlight[s.Name]; ok {
		label += "\\n" + h
		attrs = append(attrs, "style=\"rounded,filled\"", "fillcolor=\"#ffe9a8\"")
	}
	if s.Pos.IsValid() {
		attrs = append(attrs, "tooltip="+quote(fmt.Sprintf("%s (line %d)", s.Name, s.Pos.Line)))
	}
	return "label=" + quote(label) + " " + strings.Join(attrs, " ")
}

func (d *drawing) stateEdges(s *model.State, top bool) {
	id, e := d.id[s.Name], &d.edges
	switch {
	case s.Next != "":
		fmt.Fprintf(e, "  %s -> %s;\n", id, d.node(s.Next))
	case top && (s.End || s.Kind == model.KindSucceed):
		fmt.Fprintf(e, "  %s -> end;\n", id)
	}
	for _, c := range s.Choices {
		if c.Next != "" {
			fmt.Fprintf(e, "  %s -> %s [label=%s];\n", id, d.node(c.Next), quote(clip(ruleText(&c.Rule))))
		}
	}
	if s.Default != "" {
		fmt.Fprintf(e, "  %s -> %s [label=\"default\" style=dashed];\n", id, d.node(s.Default))
	}
	for _, c := range s.Catch {
		fmt.Fprintf(e, "  %s -> %s [label=%s color=red fontcolor=red style=dashed];\n", id, d.node(c.Next), quote("catch "+strings.Join(c.Errors, ", ")))
	}
	for _, r := range s.Retry {
		fmt.Fprintf(e, "  %s -> %s [label=%s style=dotted color=gray40];\n", id, id,
			quote(fmt.Sprintf("retry ×%d %s", r.MaxAttempts, strings.Join(r.Errors, ","))))
	}
	for i, c := range []*model.Compensation{s.Compensate, s.OnFailure} {
		if c == nil {
			continue
		}
		what := []string{"undo", "on failure"}[i]
		fmt.Fprintf(e, "  %s_c%d [label=%s shape=note color=purple fontcolor=purple];\n", id, i, quote(c.Action+"()"))
		fmt.Fprintf(e, "  %s -> %s_c%d [label=%s style=dotted color=purple fontcolor=purple arrowhead=none];\n", id, id, i, quote(what))
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func ruleText(r *model.Rule) string {
	switch {
	case r.Condition != "":
		return r.Condition
	case r.Not != nil:
		return "not (" + ruleText(r.Not) + ")"
	case len(r.And) > 0 || len(r.Or) > 0:
		parts, op := r.And, " and "
		if len(r.Or) > 0 {
			parts, op = r.Or, " or "
		}
		var s []string
		for _, p := range parts {
			s = append(s, ruleText(p))
		}
		return strings.Join(s, op)
	}
	return fmt.Sprintf("%s %s %v", r.Variable, r.Op, r.Value)
}

// quote makes a DOT string literal.
func quote(s string) string {
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// Mermaid writes workflow w as a Mermaid flowchart.
func Mermaid(w *model.Workflow) string {
	d := newDrawing(w, Options{})
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	b.WriteString("  start((start))\n")
	fmt.Fprintf(&d.edges, "  start --> %s\n", d.node(start(&w.Graph)))
	d.mermaid(&b, &w.Graph, "  ")
	for _, name := range d.order {
		fmt.Fprintf(&b, "  %s[\"%s (no such state)\"]\n", d.missing[name], mermaidText(name))
	}
	b.WriteString(d.edges.String())
	return b.String()
}

func (d *drawing) mermaid(b *strings.Builder, g *model.Graph, indent string) {
	for _, s := range g.States {
		id := d.id[s.Name]
		label := mermaidText(s.Name)
		if s.Kind == model.KindTask || s.Kind == model.KindWorkflow {
			label += "<br/>" + mermaidText(s.Action+"()")
		}
		switch s.Kind {
		case model.KindChoice:
			fmt.Fprintf(b, "%s%s{\"%s\"}\n", indent, id, label)
		case model.KindSucceed, model.KindFail:
			fmt.Fprintf(b, "%s%s([\"%s\"])\n", indent, id, label)
		default:
			fmt.Fprintf(b, "%s%s[\"%s\"]\n", indent, id, label)
		}
		subs := append([]*model.Graph(nil), s.Branches...)
		if s.Processor != nil {
			subs = append(subs, s.Processor)
		}
		for ci, sub := range subs {
			name := "each item"
			if s.Kind == model.KindParallel {
				name = fmt.Sprintf("branch %d", ci+1)
			}
			fmt.Fprintf(b, "%ssubgraph %s_g%d [\"%s: %s\"]\n", indent, id, ci, mermaidText(s.Name), name)
			d.mermaid(b, sub, indent+"  ")
			fmt.Fprintf(b, "%send\n", indent)
			if first := start(sub); first != "" {
				fmt.Fprintf(&d.edges, "  %s ==> %s\n", id, d.node(first))
			}
		}
		e := &d.edges
		if s.Next != "" {
			fmt.Fprintf(e, "  %s --> %s\n", id, d.node(s.Next))
		}
		for _, c := range s.Choices {
			fmt.Fprintf(e, "  %s -->|\"%s\"| %s\n", id, mermaidText(clip(ruleText(&c.Rule))), d.node(c.Next))
		}
		if s.Default != "" {
			fmt.Fprintf(e, "  %s -.->|default| %s\n", id, d.node(s.Default))
		}
		for _, c := range s.Catch {
			fmt.Fprintf(e, "  %s -.->|\"catch %s\"| %s\n", id, mermaidText(strings.Join(c.Errors, ", ")), d.node(c.Next))
		}
	}
}

func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

// SVG renders workflow w as an SVG image with Graphviz's dot layout.
func SVG(ctx context.Context, w *model.Workflow, opts Options) ([]byte, error) {
	return Render(ctx, DOT(w, opts), graphviz.SVG)
}

// Render lays out a DOT graph and renders it in format (SVG or PNG).
func Render(ctx context.Context, dot string, format graphviz.Format) ([]byte, error) {
	gv, err := graphviz.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("graphviz: %w", err)
	}
	defer gv.Close()
	g, err := graphviz.ParseBytes([]byte(dot))
	if err != nil {
		return nil, fmt.Errorf("graphviz: parse: %w", err)
	}
	defer g.Close()
	var buf bytes.Buffer
	if err := gv.Render(ctx, g, format, &buf); err != nil {
		return nil, fmt.Errorf("graphviz: render: %w", err)
	}
	return buf.Bytes(), nil
}
