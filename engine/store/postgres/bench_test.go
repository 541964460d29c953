package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
	"github.com/nexus-workflows/nexus/engine/store/storetest"
)

// BenchmarkAppend is one execution appending 3 records at a time, alone:
// the latency of one durable append.
func BenchmarkAppend(b *testing.B) {
	s := open(b, pgtest.Schema(b), postgres.Options{})
	defer s.Close()
	recs := storetest.Records("x", 0, [32]byte{}, 1, nil)
	if errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: recs, Create: &store.Execution{ID: "x", Status: "running"}}); err != nil || errs[0] != nil {
		b.Fatal(err, errs)
	}
	last := recs[0]
	b.ResetTimer()
	for range b.N {
		recs := storetest.Records("x", last.Seq, last.Hash, 3, nil)
		errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: recs})
		if err != nil || errs[0] != nil {
			b.Fatal(err, errs)
		}
		last = recs[2]
	}
}

// BenchmarkAppendParallel is many executions appending at once: group
// commit.
func BenchmarkAppendParallel(b *testing.B) {
	s := open(b, pgtest.Schema(b), postgres.Options{})
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("x%d", n.Add(1))
		recs := storetest.Records(id, 0, [32]byte{}, 1, nil)
		if errs, err := s.Append(ctx, &store.Batch{Exec: id, Records: recs, Create: &store.Execution{ID: id, Status: "running"}}); err != nil || errs[0] != nil {
			b.Fatal(err, errs)
		}
		last := recs[0]
		for pb.Next() {
			recs := storetest.Records(id, last.Seq, last.Hash, 3, nil)
			errs, err := s.Append(ctx, &store.Batch{Exec: id, Records: recs})
			if err != nil || errs[0] != nil {
				b.Fatal(err, errs)
			}
			last = recs[2]
		}
	})
	st := s.Stats()
	b.ReportMetric(float64(st.Batches)/float64(st.Transactions), "appends/commit")
}
