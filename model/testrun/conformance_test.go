package testrun

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"
)

// TestConformance runs every vector of the shared corpus through the
// kernel and checks that at least 95% pass and that the failures are
// exactly those listed, with reasons, in corpus/conformance-failures.md: a
// vector that regresses, or one that starts passing, fails the test.
func TestConformance(t *testing.T) {
	root := "../../../shared/corpus"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("shared corpus not found at %s (it is not part of the repository)", root)
	}
	var failed []string
	pass, total := 0, 0
	for _, dir := range []string{"vectors", "aws-recorded"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*.json"))
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, ok, err := ParseVector(src)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if !ok {
				continue
			}
			total++
			_, diff, err := RunVector(f, v)
			if err != nil || diff != "" {
				failed = append(failed, dir+"/"+filepath.Base(f))
				t.Logf("%s: %v %s", f, err, diff)
				continue
			}
			pass++
		}
	}
	if total != 703 {
		t.Errorf("%d vectors, want 703", total)
	}
	if pass*100 < total*95 {
		t.Errorf("%d of %d vectors pass (%.1f%%), want at least 95%%", pass, total, 100*float64(pass)/float64(total))
	}
	doc, err := os.ReadFile("../../corpus/conformance-failures.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^\| ((?:vectors|aws-recorded)/\S+\.json) \|`).FindAllSubmatch(doc, -1) {
		listed = append(listed, string(m[1]))
	}
	sort.Strings(failed)
	sort.Strings(listed)
	if !slices.Equal(failed, listed) {
		t.Errorf("failing vectors %v, but corpus/conformance-failures.md lists %v", failed, listed)
	}
	t.Logf("%d of %d vectors pass", pass, total)
}
