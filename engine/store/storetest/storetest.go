// Package storetest is the conformance suite every store.Store backend
// must pass. A backend's test calls Run with a function that opens a
// store by name: the same name must reopen the same database (after the
// previous store was closed), a new name a new, empty one.
//
//	func TestConformance(t *testing.T) {
//		dir := t.TempDir()
//		storetest.Run(t, func(t *testing.T, name string) store.Store {
//			s, err := store.OpenSQLite(filepath.Join(dir, name+".db"), store.SQLiteOptions{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nexus-workflows/nexus/engine/store"
)

// Opener opens the store called name.
type Opener func(t *testing.T, name string) store.Store

// Run runs the suite. Each subtest uses stores of its own names.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Workflows", testWorkflows},
		{"CreateAndRead", testCreateAndRead},
		{"AppendContinues", testAppendContinues},
		{"Conflicts", testConflicts},
		{"Snapshots", testSnapshots},
		{"Scan", testScan},
		{"Leases", testLeases},
		{"Signals", testSignals},
		{"Reopen", testReopen},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Filter", testFilter},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, func(t *testing.T, name string) store.Store {
				return open(t, tc.name+"-"+name)
			})
		})
	}
}

var ctx = context.Background()

// Records makes n chained records of exec after (seq, prev), signed with
// key when not empty; every field is set so that a backend that drops one
// is caught.
func Records(exec string, seq uint64, prev [32]byte, n int, key []byte) []*store.Record {
	out := make([]*store.Record, n)
	for i := range out {
		s := seq + uint64(i) + 1
		r := &store.Record{Exec: exec, Seq: s, Time: int64(1_700_000_000_000_000_000 + s), Kind: store.KindEvent,
			Type: "succeeded", State: "State" + fmt.Sprint(s), Function: "fn-é", Attempt: uint32(s % 4), Key: exec + "/" + fmt.Sprint(s),
			Error: "", Body: []byte{0, 1, 2, byte(s), 0xff, 0}}
		if s%2 == 0 {
			r.Kind, r.Type, r.Error = store.KindIntent, "invoke", "States.TaskFailed"
		}
		r.Seal(prev, key)
		prev = r.Hash
		out[i] = r
	}
	return out
}

func create(t *testing.T, s store.Store, exec string, n int) []*store.Record {
	t.Helper()
	recs := Records(exec, 0, [32]byte{}, n, nil)
	errs, err := s.Append(ctx, &store.Batch{Exec: exec, Records: recs, Create: &store.Execution{ID: exec, Workflow: "wf",
		Bindings: []byte(`{"a":"go:a"}`), Status: "running", Created: 42}})
	if err != nil || errs[0] != nil {
		t.Fatalf("create %s: %v %v", exec, err, errs)
	}
	return recs
}

func appendTo(t *testing.T, s store.Store, exec string, head *store.Record, n int) []*store.Record {
	t.Helper()
	recs := Records(exec, head.Seq, head.Hash, n, nil)
	errs, err := s.Append(ctx, &store.Batch{Exec: exec, Records: recs})
	if err != nil || errs[0] != nil {
		t.Fatalf("append %s: %v %v", exec, err, errs)
	}
	return recs
}

func readAll(t *testing.T, s store.Store, exec string, after uint64) []*store.Record {
	t.Helper()
	var out []*store.Record
	if err := s.Records(ctx, exec, after, func(r *store.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("records of %s: %v", exec, err)
	}
	return out
}

func sameRecord(t *testing.T, got, want *store.Record) {
	t.Helper()
	g, w := *got, *want
	if g.Pos == 0 {
		t.Errorf("record %s/%d: no position", g.Exec, g.Seq)
	}
	g.Pos, w.Pos = 0, 0
	if len(g.MAC) == 0 {
		g.MAC = nil
	}
	if len(w.MAC) == 0 {
		w.MAC = nil
	}
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Errorf("record read back differs:\n got %+v\nwant %+v", g, w)
	}
	if err := got.Check(nil); err != nil {
		t.Errorf("record %s/%d read back: %v", g.Exec, g.Seq, err)
	}
}

func testWorkflows(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	src := []byte("name: x\nstates: []\n")
	sum := sha256.Sum256(src)
	w := &store.Workflow{Digest: hex.EncodeToString(sum[:]), Name: "x", File: "x.yaml", Source: src}
	for range 2 {
		if err := s.PutWorkflow(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Workflow(ctx, w.Digest)
	if err != nil || got.Name != "x" || got.File != "x.yaml" || !bytes.Equal(got.Source, src) {
		t.Fatalf("workflow: %+v %v", got, err)
	}
	if _, err := s.Workflow(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing workflow: %v, want ErrNotFound", err)
	}
}

func testCreateAndRead(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	recs := create(t, s, "x1", 5)
	got := readAll(t, s, "x1", 0)
	if len(got) != 5 {
		t.Fatalf("%d records, want 5", len(got))
	}
	for i := range got {
		sameRecord(t, got[i], recs[i])
		if recs[i].Pos != got[i].Pos {
			t.Errorf("Append set Pos %d, read %d", recs[i].Pos, got[i].Pos)
		}
		if i > 0 && got[i].Pos <= got[i-1].Pos {
			t.Errorf("positions not increasing: %d then %d", got[i-1].Pos, got[i].Pos)
		}
	}
	if tail := readAll(t, s, "x1", 3); len(tail) != 2 || tail[0].Seq != 4 {
		t.Errorf("records after 3: %d records", len(tail))
	}
	r, err := s.Record(ctx, "x1", 3)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, r, recs[2])
	if _, err := s.Record(ctx, "x1", 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record 9: %v, want ErrNotFound", err)
	}
	x, err := s.Execution(ctx, "x1")
	if err != nil {
		t.Fatal(err)
	}
	if x.Seq != 5 || x.Hash != recs[4].Hash || x.Status != "running" || x.Workflow != "wf" || x.Created != 42 ||
		string(x.Bindings) != `{"a":"go:a"}` {
		t.Errorf("execution: %+v", x)
	}
	if _, err := s.Execution(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing execution: %v", err)
	}
	// Signed records keep their signature.
	key := []byte("k")
	signed := Records("x2", 0, [32]byte{}, 2, key)
	if errs, err := s.Append(ctx, &store.Batch{Exec: "x2", Records: signed, Create: &store.Execution{ID: "x2", Status: "running"}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	for _, r := range readAll(t, s, "x2", 0) {
		if err := r.Check(key); err != nil {
			t.Errorf("signed record %d: %v", r.Seq, err)
		}
	}
	// Creating again fails, and changes nothing.
	errs, err := s.Append(ctx, &store.Batch{Exec: "x1", Records: Records("x1", 0, [32]byte{}, 1, nil),
		Create: &store.Execution{ID: "x1", Status: "running"}})
	if err != nil || !errors.Is(errs[0], store.ErrExists) {
		t.Errorf("create twice: %v %v, want ErrExists", err, errs)
	}
	if n := len(readAll(t, s, "x1", 0)); n != 5 {
		t.Errorf("%d records after a failed create, want 5", n)
	}
}

func testAppendContinues(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	recs := create(t, s, "x", 2)
	more := appendTo(t, s, "x", recs[1], 3)
	errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: Records("x", 5, more[2].Hash, 1, nil), Status: "succeeded",
		Output: []byte(`{"ok":true}`), Release: true})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	x, _ := s.Execution(ctx, "x")
	if x.Seq != 6 || x.Status != "succeeded" || string(x.Output) != `{"ok":true}` || x.Owner != "" {
		t.Errorf("after finish: %+v", x)
	}
	all := readAll(t, s, "x", 0)
	if i, err := store.Chain(0, [32]byte{}, nil, all); err != nil {
		t.Errorf("chain broken at %d: %v", i, err)
	}
}

func testConflicts(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	a := create(t, s, "a", 3)
	b := create(t, s, "b", 3)
	stale := Records("a", 1, a[0].Hash, 1, nil)     // seq 2 again
	forged := Records("a", 3, [32]byte{1}, 1, nil)  // right seq, wrong prev
	good := Records("b", 3, b[2].Hash, 2, nil)      // continues b
	missing := Records("zz", 0, [32]byte{}, 1, nil) // no such execution
	broken := Records("b", 5, good[1].Hash, 2, nil) // internally broken below
	broken[1].Seq = 9
	errs, err := s.Append(ctx, &store.Batch{Exec: "a", Records: stale}, &store.Batch{Exec: "a", Records: forged},
		&store.Batch{Exec: "b", Records: good}, &store.Batch{Exec: "zz", Records: missing}, &store.Batch{Exec: "b", Records: broken})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], store.ErrConflict) || !errors.Is(errs[1], store.ErrConflict) {
		t.Errorf("stale and forged appends: %v, %v; want ErrConflict", errs[0], errs[1])
	}
	if errs[2] != nil {
		t.Errorf("good append in the same call: %v", errs[2])
	}
	if !errors.Is(errs[3], store.ErrNotFound) {
		t.Errorf("append to a missing execution: %v, want ErrNotFound", errs[3])
	}
	if errs[4] == nil {
		t.Errorf("records that do not chain were accepted")
	}
	if n := len(readAll(t, s, "a", 0)); n != 3 {
		t.Errorf("a has %d records, want 3", n)
	}
	if n := len(readAll(t, s, "b", 0)); n != 5 {
		t.Errorf("b has %d records, want 5", n)
	}
	errs, _ = s.Append(ctx, &store.Batch{Exec: "b"})
	if errs[0] == nil {
		t.Errorf("an empty batch was accepted")
	}
}

func testSnapshots(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	recs := create(t, s, "x", 2)
	if _, err := s.Snapshot(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no snapshot yet: %v", err)
	}
	for i := range 2 {
		more := Records("x", recs[len(recs)-1].Seq, recs[len(recs)-1].Hash, 2, nil)
		last := more[1]
		sn := &store.Snapshot{Exec: "x", Seq: last.Seq, Hash: last.Hash, State: []byte{1, byte(i)}, Meta: []byte("m"), Time: 7}
		sn.Sign([]byte("k"))
		errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: more, Snapshot: sn})
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
		recs = append(recs, more...)
		got, err := s.Snapshot(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != last.Seq || got.Hash != last.Hash || !bytes.Equal(got.State, sn.State) || string(got.Meta) != "m" ||
			got.Time != 7 || got.CheckMAC([]byte("k")) != nil {
			t.Errorf("snapshot %d: %+v", i, got)
		}
	}
	// A snapshot ahead of the log is refused.
	more := Records("x", 6, recs[5].Hash, 1, nil)
	errs, _ := s.Append(ctx, &store.Batch{Exec: "x", Records: more, Snapshot: &store.Snapshot{Exec: "x", Seq: 99, State: []byte{1}}})
	if errs[0] == nil {
		t.Errorf("snapshot beyond the head accepted")
	}
}

func testScan(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	a := create(t, s, "a", 2)
	create(t, s, "b", 2)
	appendTo(t, s, "a", a[1], 2)
	more := Records("a", 4, readAll(t, s, "a", 3)[0].Hash, 1, nil)
	s.Append(ctx, &store.Batch{Exec: "a", Records: more, Snapshot: &store.Snapshot{Exec: "a", Seq: 5, Hash: more[0].Hash, State: []byte{1}}})
	var order []string
	snaps := 0
	var last int64
	err := s.Scan(ctx, func(sn *store.Snapshot) error {
		if len(order) > 0 {
			t.Errorf("snapshot after records")
		}
		snaps++
		return nil
	}, func(r *store.Record) error {
		if r.Pos <= last {
			t.Errorf("scan out of order: %d after %d", r.Pos, last)
		}
		last = r.Pos
		order = append(order, fmt.Sprintf("%s%d", r.Exec, r.Seq))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order); got != "[a1 a2 b1 b2 a3 a4 a5]" || snaps != 1 {
		t.Errorf("scan order %s, %d snapshots", got, snaps)
	}
	rep, err := store.Verify(ctx, s, nil)
	if err != nil || !rep.OK() || rep.Records != 7 || rep.Executions != 2 || rep.Snapshots != 1 {
		t.Errorf("verify of an intact store: %+v %v", rep, err)
	}
	stop := errors.New("stop")
	if err := s.Scan(ctx, func(*store.Snapshot) error { return nil }, func(*store.Record) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("scan did not return the callback's error: %v", err)
	}
}

func testLeases(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	create(t, s, "x", 1)
	claim := func(owner, takeFrom string, now, lease int64) string {
		t.Helper()
		got, err := s.Claim(ctx, "x", owner, takeFrom, now, lease)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := claim("A", "", 10, 100); got != "A" {
		t.Errorf("claim of an unowned execution: owner %q", got)
	}
	if got := claim("B", "", 50, 200); got != "A" {
		t.Errorf("claim of a leased execution: owner %q, want A", got)
	}
	if got := claim("B", "A", 50, 200); got != "B" {
		t.Errorf("claim from a dead owner: owner %q, want B", got)
	}
	if got := claim("A", "", 150, 300); got != "B" {
		t.Errorf("claim before the lease ran out: owner %q, want B", got)
	}
	if err := s.Renew(ctx, "B", 1000); err != nil {
		t.Fatal(err)
	}
	if got := claim("A", "", 500, 600); got != "B" {
		t.Errorf("claim after renewal: owner %q, want B", got)
	}
	if got := claim("A", "", 1001, 2000); got != "A" {
		t.Errorf("claim after the lease ran out: owner %q, want A", got)
	}
	if err := s.Release(ctx, "x", "B"); err != nil {
		t.Fatal(err)
	}
	if x, _ := s.Execution(ctx, "x"); x.Owner != "A" || x.Lease != 2000 {
		t.Errorf("release by a non-owner changed the lease: %+v", x)
	}
	if err := s.Release(ctx, "x", "A"); err != nil {
		t.Fatal(err)
	}
	if got := claim("C", "", 0, 5); got != "C" {
		t.Errorf("claim after release: owner %q", got)
	}
	if _, err := s.Claim(ctx, "nope", "A", "", 0, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("claim of a missing execution: %v", err)
	}
}

func testSignals(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	recs := create(t, s, "x", 1)
	var ids []int64
	for i, sg := range []*store.Signal{
		{Exec: "x", Kind: store.SignalSucceed, Target: 7, Output: []byte(`{"a":1}`), Time: 1},
		{Exec: "y", Kind: store.SignalCancel, Cause: "stop", Time: 2},
		{Exec: "x", Kind: store.SignalFail, Target: 8, Error: "E", Cause: "c", Time: 3},
		{Exec: "x", Kind: store.SignalHeartbeat, Target: 8, Time: 4},
	} {
		id, err := s.Send(ctx, sg)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && id <= ids[i-1] {
			t.Errorf("signal ids not increasing")
		}
		ids = append(ids, id)
	}
	if _, err := s.Send(ctx, &store.Signal{Exec: "x", Kind: "bogus"}); err == nil {
		t.Errorf("unknown signal kind accepted")
	}
	all, err := s.Signals(ctx, 0, "")
	if err != nil || len(all) != 4 {
		t.Fatalf("signals: %d, %v", len(all), err)
	}
	if g := all[0]; g.Exec != "x" || g.Kind != store.SignalSucceed || g.Target != 7 || string(g.Output) != `{"a":1}` || g.Time != 1 {
		t.Errorf("signal read back: %+v", g)
	}
	if g := all[2]; g.Error != "E" || g.Cause != "c" {
		t.Errorf("signal read back: %+v", g)
	}
	if xs, _ := s.Signals(ctx, ids[0], "x"); len(xs) != 2 || xs[0].ID != ids[2] {
		t.Errorf("signals of x after the first: %d", len(xs))
	}
	// An append consumes signals; Ack removes others.
	errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: Records("x", 1, recs[0].Hash, 1, nil), Consumed: ids[:1]})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if err := s.Ack(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Signals(ctx, 0, "")
	if len(left) != 2 || left[0].ID != ids[1] || left[1].ID != ids[2] {
		t.Errorf("signals left: %+v", left)
	} // Ids are never reused, not even once the inbox is empty: engines
	// read it from the last id they saw.
	if err := s.Ack(ctx, ids[1], ids[2]); err != nil {
		t.Fatal(err)
	}
	id, err := s.Send(ctx, &store.Signal{Exec: "x", Kind: store.SignalCancel, Time: 5})
	if err != nil {
		t.Fatal(err)
	}
	if id <= ids[3] {
		t.Errorf("signal id %d reused after the inbox emptied (the last was %d): an engine reading from the last id it saw misses it", id, ids[3])
	}
}

func testReopen(t *testing.T, open Opener) {
	s := open(t, "a")
	recs := create(t, s, "x", 3)
	secret, err := s.Secret(ctx)
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret: %x %v", secret, err)
	}
	s.Close()
	s = open(t, "a")
	defer s.Close()
	again, err := s.Secret(ctx)
	if err != nil || !bytes.Equal(secret, again) {
		t.Errorf("secret changed on reopen")
	}
	got := readAll(t, s, "x", 0)
	if len(got) != 3 {
		t.Fatalf("%d records after reopen", len(got))
	}
	for i := range got {
		sameRecord(t, got[i], recs[i])
	}
	other := open(t, "b")
	defer other.Close()
	if s2, _ := other.Secret(ctx); bytes.Equal(s2, secret) {
		t.Errorf("two stores share a secret")
	}
}

func testConcurrentAppends(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	const execs, rounds = 32, 40
	var wg sync.WaitGroup
	errc := make(chan error, execs)
	for e := range execs {
		wg.Go(func() {
			exec := fmt.Sprintf("c%02d", e)
			recs := Records(exec, 0, [32]byte{}, 2, nil)
			errs, err := s.Append(ctx, &store.Batch{Exec: exec, Records: recs, Create: &store.Execution{ID: exec, Status: "running"}})
			if err == nil {
				err = errs[0]
			}
			for r := 0; err == nil && r < rounds; r++ {
				last := recs[len(recs)-1]
				recs = Records(exec, last.Seq, last.Hash, 1+r%3, nil)
				errs, err = s.Append(ctx, &store.Batch{Exec: exec, Records: recs})
				if err == nil {
					err = errs[0]
				}
			}
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := store.Verify(ctx, s, nil)
	if err != nil || !rep.OK() || rep.Executions != execs {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	want := 2
	for r := range rounds {
		want += 1 + r%3
	}
	want *= execs
	if rep.Records != want {
		t.Errorf("%d records, want %d", rep.Records, want)
	}
}

func testFilter(t *testing.T, open Opener) {
	s := open(t, "a")
	defer s.Close()
	for i, st := range []string{"running", "succeeded", "running", "failed"} {
		exec := fmt.Sprintf("f%d", i)
		wf := "w1"
		if i == 3 {
			wf = "w2"
		}
		errs, err := s.Append(ctx, &store.Batch{Exec: exec, Records: Records(exec, 0, [32]byte{}, 1, nil),
			Create: &store.Execution{ID: exec, Workflow: wf, Status: st}})
		if err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	ids := func(f store.Filter) string {
		xs, err := s.Executions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range xs {
			out = append(out, x.ID)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		f    store.Filter
		want string
	}{
		{store.Filter{}, "[f0 f1 f2 f3]"},
		{store.Filter{Status: []string{"running"}}, "[f0 f2]"},
		{store.Filter{Status: []string{"running", "failed"}}, "[f0 f2 f3]"},
		{store.Filter{Workflow: "w2"}, "[f3]"},
		{store.Filter{Limit: 2}, "[f0 f1]"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("filter %+v: %s, want %s", tc.f, got, tc.want)
		}
	}
}

func testClosed(t *testing.T, open Opener) {
	s := open(t, "a")
	create(t, s, "x", 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, &store.Batch{Exec: "x", Records: Records("x", 1, [32]byte{}, 1, nil)}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s2 := open(t, "b")
	defer s2.Close()
	if _, err := s2.Append(cctx, &store.Batch{Exec: "x", Records: Records("x", 0, [32]byte{}, 1, nil),
		Create: &store.Execution{ID: "x"}}); err == nil {
		t.Errorf("append with a cancelled context succeeded")
	}
	if _, err := s2.Execution(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a cancelled append was committed: %v", err)
	}
}
