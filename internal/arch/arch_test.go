// Package arch holds the test that keeps the layering of ARCHITECTURE.md
// §2 true: the kernel knows no driver, and the drivers (checker, sim,
// engine) never import each other.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nexus-workflows/nexus/"

// never lists, for each layer (a path prefix inside the module), the
// layers it must not import, directly or not, with the reason.
var never = []struct {
	from, to, why string
}{
	{"model", "checker", "the kernel knows no driver"},
	{"model", "sim", "the kernel knows no driver"},
	{"model", "engine", "the kernel knows no driver"},
	{"model", "server", "the kernel knows no driver"},
	{"model", "cmd", "the kernel knows no command line"},
	{"model", "graph", "the kernel knows no drawing"},
	{"checker", "engine", "drivers never import each other"},
	{"checker", "sim", "drivers never import each other"},
	{"sim", "engine", "drivers never import each other"},
	{"sim", "checker", "drivers never import each other"},
	{"engine", "sim", "drivers never import each other"},
	{"engine", "checker", "drivers never import each other; the deploy gate lives in server/"},
	{"engine", "server", "the engine knows nothing of the API above it"},
	{"tla", "checker", "the TLA+ export models the kernel, not the checker"},
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, dep := range fields[1:] {
			if !strings.HasPrefix(dep, module) {
				continue
			}
			dep = strings.TrimPrefix(dep, module)
			for _, r := range never {
				if under(pkg, r.from) && under(dep, r.to) {
					t.Errorf("%s imports %s: %s", pkg, dep, r.why)
				}
			}
		}
		n++
	}
	if n < 5 {
		t.Fatalf("only %d packages listed", n)
	}
}

func under(pkg, layer string) bool { return pkg == layer || strings.HasPrefix(pkg, layer+"/") }
