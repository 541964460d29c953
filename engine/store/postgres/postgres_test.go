package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/engine/store/postgres/pgtest"
	"github.com/nexus-workflows/nexus/engine/store/storetest"
)

var ctx = context.Background()

func open(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	schemas := map[string]string{}
	var mu sync.Mutex
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		mu.Lock()
		u, ok := schemas[name]
		if !ok {
			u = pgtest.Schema(t)
			schemas[name] = u
		}
		mu.Unlock()
		return open(t, u, postgres.Options{MaxConns: 4})
	})
}

// exec runs SQL on the store's database directly.
func exec(t *testing.T, s *postgres.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrations(t *testing.T) {
	u := pgtest.Schema(t)
	// Nodes starting together apply each migration once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := open(t, u, postgres.Options{})
	defer s.Close()
	var n, v int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*), max(version) FROM nexus_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != postgres.Version() || v != postgres.Version() {
		t.Errorf("%d migrations recorded, up to %d; want %d", n, v, postgres.Version())
	}
	// A schema from a newer nexus is refused, by name.
	exec(t, s, `INSERT INTO nexus_migrations(version, name) VALUES($1, 'from the future')`, postgres.Version()+1)
	if _, err := postgres.Open(ctx, u, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "knows versions up to") {
		t.Errorf("open of a newer schema: %v", err)
	}
	// A search path without a schema that exists is an error that says so.
	if _, err := postgres.Open(ctx, pgtest.WithSchema(t, pgtest.URL(t), "nx_no_such_schema"), postgres.Options{}); err == nil ||
		!strings.Contains(err.Error(), "search_path") {
		t.Errorf("open without a schema: %v", err)
	}
	// A bad URL is an error, without the password.
	if _, err := postgres.Open(ctx, "postgres://u:secret@127.0.0.1:1/x?connect_timeout=1", postgres.Options{}); err == nil ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("open of an unreachable database: %v", err)
	}
}

// TestRace is two stores (two engine nodes) appending to the same
// executions at once, each continuing the head it read with records of its
// own: exactly one wins each sequence number, the loser gets ErrConflict,
// and every chain verifies with no gap and no fork.
func TestRace(t *testing.T) {
	u := pgtest.Schema(t)
	a := open(t, u, postgres.Options{MaxConns: 4})
	defer a.Close()
	b := open(t, u, postgres.Options{MaxConns: 4})
	defer b.Close()
	const execs, rounds = 8, 40
	for e := range execs {
		id := fmt.Sprintf("r%d", e)
		errs, err := a.Append(ctx, &store.Batch{Exec: id, Records: storetest.Records(id, 0, [32]byte{}, 1, nil),
			Create: &store.Execution{ID: id, Status: "running"}})
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	type win struct {
		node string
		hash [32]byte
	}
	var mu sync.Mutex
	wins := map[string]map[uint64]win{} // by execution and seq
	for e := range execs {
		wins[fmt.Sprintf("r%d", e)] = map[uint64]win{}
	}
	conflicts := 0
	var wg sync.WaitGroup
	for _, node := range []struct {
		name string
		s    *postgres.Store
	}{{"a", a}, {"b", b}} {
		for e := range execs {
			wg.Go(func() {
				id := fmt.Sprintf("r%d", e)
				for range rounds {
					x, err := node.s.Execution(ctx, id)
					if err != nil {
						t.Error(err)
						return
					}
					// Records that differ between the nodes: a fork would
					// show as two hashes at one sequence number.
					recs := storetest.Records(id, x.Seq, x.Hash, 1+int(x.Seq%2), []byte(node.name))
					errs, err := node.s.Append(ctx, &store.Batch{Exec: id, Records: recs})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					switch {
					case errs[0] == nil:
						for _, r := range recs {
							if w, ok := wins[id][r.Seq]; ok {
								t.Errorf("%s seq %d appended by %s and by %s", id, r.Seq, w.node, node.name)
							}
							wins[id][r.Seq] = win{node.name, r.Hash}
						}
					case errors.Is(errs[0], store.ErrConflict):
						conflicts++
					default:
						t.Errorf("append to %s: %v", id, errs[0])
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if conflicts == 0 {
		t.Errorf("no append conflicted: the nodes did not race")
	}
	byNode := map[string]int{}
	for e := range execs {
		id := fmt.Sprintf("r%d", e)
		var got []*store.Record
		if err := a.Records(ctx, id, 0, func(r *store.Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if i, err := store.Chain(0, [32]byte{}, nil, got); err != nil {
			t.Fatalf("%s: chain broken at %d: %v", id, i, err)
		}
		w := wins[id]
		if len(got) != len(w)+1 {
			t.Fatalf("%s: %d records, %d appended", id, len(got), len(w)+1)
		}
		for _, r := range got[1:] {
			// Each record in the log is the one its winner appended; the
			// MAC says whose it is.
			if r.Hash != w[r.Seq].hash || r.Check([]byte(w[r.Seq].node)) != nil {
				t.Fatalf("%s seq %d: the log holds another record than the append that won", id, r.Seq)
			}
			byNode[w[r.Seq].node]++
		}
	}
	rep, err := store.Verify(ctx, b, nil)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.First())
	}
	t.Logf("%d records won by a, %d by b, %d appends lost with ErrConflict", byNode["a"], byNode["b"], conflicts)
}

// TestAdopt: leases that ran out are taken over, each by one node, even
// when nodes adopt at once; live leases and finished executions are left.
func TestAdopt(t *testing.T) {
	u := pgtest.Schema(t)
	s := open(t, u, postgres.Options{})
	defer s.Close()
	const n = 60
	for i := range n {
		id := fmt.Sprintf("x%02d", i)
		status, lease := "running", int64(100) // ran out at 100
		switch {
		case i%10 == 0:
			status = "succeeded"
		case i%10 == 1:
			lease = 1 << 40 // alive
		}
		errs, err := s.Append(ctx, &store.Batch{Exec: id, Records: storetest.Records(id, 0, [32]byte{}, 1, nil),
			Create: &store.Execution{ID: id, Status: status, Owner: "dead", Lease: lease}})
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	nodes := make([]*postgres.Store, 3)
	for i := range nodes {
		nodes[i] = open(t, u, postgres.Options{MaxConns: 2})
		defer nodes[i].Close()
	}
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for i, st := range nodes {
		wg.Go(func() {
			me := fmt.Sprintf("node%d", i)
			for {
				ids, err := st.Adopt(ctx, me, []string{"running"}, 1000, 5000, 4)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ids) == 0 {
					return
				}
				mu.Lock()
				for _, id := range ids {
					if owner[id] != "" {
						t.Errorf("%s adopted by %s and %s", id, owner[id], me)
					}
					owner[id] = me
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if want := n - 2*n/10; len(owner) != want {
		t.Errorf("%d adopted, want %d", len(owner), want)
	}
	for id, me := range owner {
		x, err := s.Execution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.Owner != me || x.Lease != 5000 || x.Status != "running" {
			t.Errorf("%s after adoption: owner %s lease %d status %s", id, x.Owner, x.Lease, x.Status)
		}
	}
	if x, _ := s.Execution(ctx, "x01"); x.Owner != "dead" {
		t.Errorf("a live lease was adopted: %+v", x)
	}
	if ids, err := s.Adopt(ctx, "late", []string{"running"}, 1000, 5000, 100); err != nil || len(ids) != 0 {
		t.Errorf("adopt of adopted executions: %v %v", ids, err)
	}
}

// TestVerifyTampered: Verify names the first bad record of a PostgreSQL
// store as it does for SQLite, reading in parallel ranges
// (store.RangeScanner) or in one pass.
func TestVerifyTampered(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		want      error
		seq       uint64
	}{
		{"byte_changed", `UPDATE records SET rec = overlay(rec placing '\xee'::bytea from 60 for 1)
			WHERE exec = (SELECT num FROM executions WHERE id = 'v2') AND seq = 700`, store.ErrBadHash, 700},
		{"record_removed", `DELETE FROM records WHERE exec = (SELECT num FROM executions WHERE id = 'v1') AND seq = 700`,
			store.ErrBadSequence, 701},
		{"record_moved", `UPDATE records SET exec = (SELECT num FROM executions WHERE id = 'v3'), seq = 9999
			WHERE exec = (SELECT num FROM executions WHERE id = 'v0') AND seq = 700`, store.ErrMisfiled, 9999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, pgtest.Schema(t), postgres.Options{})
			defer s.Close()
			// Enough records for Verify to read in parallel ranges.
			for e := range 4 {
				id := fmt.Sprintf("v%d", e)
				recs := storetest.Records(id, 0, [32]byte{}, 1500, nil)
				errs, err := s.Append(ctx, &store.Batch{Exec: id, Records: recs, Create: &store.Execution{ID: id, Status: "running"}})
				if err != nil || errs[0] != nil {
					t.Fatal(err, errs)
				}
			}
			rep, err := store.Verify(ctx, s, nil)
			if err != nil || !rep.OK() || rep.Records != 6000 {
				t.Fatalf("verify of an intact store: %+v %v", rep, err)
			}
			exec(t, s, tc.sql)
			for _, st := range []store.Store{s, sequential{s}} {
				rep, err := store.Verify(ctx, st, nil)
				if err != nil {
					t.Fatal(err)
				}
				p := rep.First()
				if p == nil || !errors.Is(p, tc.want) || p.Seq != tc.seq {
					t.Errorf("%T: first problem %v, want %v at seq %d", st, p, tc.want, tc.seq)
				}
			}
		})
	}
}

// sequential hides the store's RangeScanner: Verify reads in one pass.
type sequential struct{ store.Store }

// TestGroupCommit: concurrent appends share commits; a batch PostgreSQL
// refuses fails alone, the others of its commit are committed.
func TestGroupCommit(t *testing.T) {
	s := open(t, pgtest.Schema(t), postgres.Options{Committers: 1})
	defer s.Close()
	const execs, rounds = 64, 10
	var wg sync.WaitGroup
	for e := range execs {
		wg.Go(func() {
			id := fmt.Sprintf("g%02d", e)
			recs := storetest.Records(id, 0, [32]byte{}, 1, nil)
			errs, err := s.Append(ctx, &store.Batch{Exec: id, Records: recs, Create: &store.Execution{ID: id, Status: "running"}})
			for r := 0; r < rounds && err == nil && errs[0] == nil; r++ {
				recs = storetest.Records(id, recs[0].Seq, recs[0].Hash, 1, nil)
				errs, err = s.Append(ctx, &store.Batch{Exec: id, Records: recs})
			}
			if err != nil || errs[0] != nil {
				t.Error(err, errs)
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Batches != execs*(rounds+1) || st.Transactions >= st.Batches {
		t.Errorf("stats %+v: appends did not share commits", st)
	}
	t.Logf("%d appends in %d commits (%.1f per commit)", st.Batches, st.Transactions, float64(st.Batches)/float64(st.Transactions))

	// A record the log's head does not know about (written behind the
	// store's back) makes the next append of g00 violate the unique index.
	exec(t, s, `INSERT INTO records(exec, seq, rec, hash) SELECT num, seq + 1, '\x00', '\x00' FROM executions WHERE id = 'g00'`)
	heads := map[string]*store.Execution{}
	for _, id := range []string{"g00", "g01"} {
		x, err := s.Execution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		heads[id] = x
	}
	errs, err := s.Append(ctx,
		&store.Batch{Exec: "g00", Records: storetest.Records("g00", heads["g00"].Seq, heads["g00"].Hash, 1, nil)},
		&store.Batch{Exec: "g01", Records: storetest.Records("g01", heads["g01"].Seq, heads["g01"].Hash, 1, nil)})
	if err != nil || errs[0] == nil || errs[1] != nil {
		t.Fatalf("append: %v %v; want g00 refused, g01 appended", err, errs)
	}
	if x, _ := s.Execution(ctx, "g01"); x.Seq != heads["g01"].Seq+1 {
		t.Errorf("g01 not appended: %+v", x)
	}
	if x, _ := s.Execution(ctx, "g00"); x.Seq != heads["g00"].Seq {
		t.Errorf("g00's head moved: %+v", x)
	}
	if s.Stats().Retries != 1 {
		t.Errorf("stats %+v, want 1 retry", s.Stats())
	}
}
