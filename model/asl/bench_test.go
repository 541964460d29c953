package asl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nexus-workflows/nexus/model"
)

// BenchmarkImportCompileLargest imports and compiles the largest
// definition of the shared corpus: the cost of reading a workflow.
func BenchmarkImportCompileLargest(b *testing.B) {
	files, _ := filepath.Glob("../../../shared/corpus/asl/*.json")
	if len(files) == 0 {
		b.Skip("shared corpus not found")
	}
	var largest string
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > size {
			largest, size = f, fi.Size()
		}
	}
	src, err := os.ReadFile(largest)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s (%d bytes)", filepath.Base(largest), size)
	b.SetBytes(size)
	b.ReportAllocs()
	for range b.N {
		w, fs := Import(largest, src)
		if fs.Errors() > 0 {
			b.Fatal(fs)
		}
		if m, fs := model.Compile(w); m == nil {
			b.Fatal(fs)
		}
	}
}
