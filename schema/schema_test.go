package schema

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

// workflowFiles lists the nexus workflow files of the repository's corpus
// (test suites, simulation profiles and Step Functions files aside).
func workflowFiles(t *testing.T) []string {
	var files []string
	for _, dir := range []string{"../corpus/examples", "../corpus/bugs"} {
		for _, ext := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(dir, ext))
			files = append(files, m...)
		}
	}
	var out []string
	for _, f := range files {
		if strings.Contains(f, ".test.") || strings.Contains(f, ".profile.") || strings.Contains(f, ".bindings.") {
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatal("no workflow files found")
	}
	return out
}

func TestCorpusValidatesAgainstSchema(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range workflowFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, fs := model.ParseNode(f, src)
		if n == nil {
			t.Fatalf("%s: %v", f, fs)
		}
		if err := s.Validate(n.Value()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		"version: \"1.0\"\nstates:\n- {name: A, type: succeed, nxet: B}\n",
		"version: \"1.0\"\nstates: []\n",
		"states:\n- {name: A, type: succeed}\n",
		"version: \"1.0\"\nstates:\n- {name: A, type: sucseed}\n",
		"version: \"1.0\"\nstates:\n- {name: A, action: f, timeout: soon, end: true}\n",
		"version: \"1.0\"\nstates:\n- name: C\n  choices: [{variable: $.x, numeric_equal: 1, next: D}]\n",
	} {
		n, _ := model.ParseNode("t.yaml", []byte(src))
		if err := s.Validate(n.Value()); err == nil {
			t.Errorf("schema accepts:\n%s", src)
		}
	}
}

// TestSchemaMatchesDecoder keeps the schema and the decoder in step: each
// kind of element allows in the schema exactly the keys Parse reads.
func TestSchemaMatchesDecoder(t *testing.T) {
	n, _ := model.ParseNode("schema.json", JSON)
	defs := n.Get("$defs")
	for element, props := range map[string]*model.Node{
		"workflow":   n.Get("properties"),
		"state":      defs.Get("state").Get("properties"),
		"retrier":    defs.Get("retrier").Get("properties"),
		"catcher":    defs.Get("catcher").Get("properties"),
		"on_failure": defs.Get("on_failure").Get("properties"),
		"graph":      defs.Get("graph").Get("properties"),
		"policy":     defs.Get("policy").Get("properties"),
		"trigger":    defs.Get("trigger").Get("properties"),
	} {
		var keys []string
		for _, k := range props.Keys {
			keys = append(keys, k.Str)
		}
		sort.Strings(keys)
		want := model.SchemaKeys(element)
		sort.Strings(want)
		if !slices.Equal(keys, want) {
			t.Errorf("%s: schema has %v, Parse reads %v", element, keys, want)
		}
	}
}
