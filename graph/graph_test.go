package graph

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

const sample = `
version: "1.0"
name: order
states:
- {name: Reserve, action: reserve, mutates: true, compensate: release, next: Route}
- name: Route
  choices: [{variable: $.express, boolean_equals: true, next: Fan}]
  default: Each
- name: Fan
  branches:
  - states: [{name: A, action: a, end: true}]
  - states: [{name: B, action: b, end: true}]
  next: Done
  catch: [{errors: [States.ALL], next: Failed}]
- name: Each
  max_concurrency: 2
  processor: {states: [{name: Item, action: item, end: true}]}
  next: Done
- {name: Failed, type: fail, error: Oops}
- {name: Done, type: succeed}
`

func TestDOTAndMermaid(t *testing.T) {
	w := model.MustCompile(sample).Workflow
	dot := DOT(w, Options{Highlight: map[string]string{"Reserve": "step 1"}})
	for _, want := range []string{"digraph \"order\"", "cluster_", "catch States.ALL", "release()", "step 1", "default", "2 at a time"} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	mm := Mermaid(w)
	for _, want := range []string{"flowchart TD", "subgraph", "-.->|default|", "s1{"} {
		if !strings.Contains(mm, want) {
			t.Errorf("Mermaid lacks %q:\n%s", want, mm)
		}
	}
}

func TestSVG(t *testing.T) {
	svg, err := SVG(context.Background(), model.MustCompile(sample).Workflow, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.Contains(s, "<svg") || !strings.Contains(s, "Reserve") || !strings.Contains(s, "Item") {
		t.Errorf("SVG lacks the states:\n%.400s", s)
	}
}

// TestEveryExampleDraws renders every workflow in corpus/examples, the
// invalid specification example included: a missing state is drawn as a
// placeholder.
func TestEveryExampleDraws(t *testing.T) {
	files, _ := filepath.Glob("../corpus/examples/*.yaml")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".test.yaml") || strings.HasSuffix(f, ".profile.yaml") || strings.HasSuffix(f, ".bindings.yaml") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, fs := model.Parse(f, src)
		if w == nil {
			t.Fatalf("%s: %v", f, fs)
		}
		svg, err := SVG(context.Background(), w, Options{})
		if err != nil || !strings.Contains(string(svg), "</svg>") {
			t.Errorf("%s: %v", f, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no example drawn")
	}
}

func TestMissingStateIsDrawn(t *testing.T) {
	src, err := os.ReadFile("../corpus/examples/payment-reconciliation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := model.Parse("p.yaml", src)
	dot := DOT(w, Options{})
	if !strings.Contains(dot, "LogTransaction\\n(no such state)") || !strings.Contains(dot, "s2 -> missing0") {
		t.Errorf("missing LogTransaction not drawn:\n%s", dot)
	}
}
