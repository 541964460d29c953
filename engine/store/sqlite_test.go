package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/storetest"
)

func openSQLite(t *testing.T, path string) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(path, store.SQLiteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		return openSQLite(t, filepath.Join(dir, name+".db"))
	})
}

func TestSQLiteOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		sync string
		want int
		ok   bool
	}{{"", 2, true}, {"full", 2, true}, {"NORMAL", 1, true}, {"OFF", 0, true}, {"sometimes", 0, false}} {
		s, err := store.OpenSQLite(filepath.Join(dir, "s"+tc.sync+".db"), store.SQLiteOptions{Synchronous: tc.sync})
		if !tc.ok {
			if err == nil {
				s.Close()
				t.Errorf("synchronous %q accepted", tc.sync)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal mode %q %v", mode, err)
		}
		// The pragma is per connection; the reader pool opens the same
		// way as the writer.
		var got int
		if err := s.DB().QueryRow("PRAGMA synchronous").Scan(&got); err != nil || got != tc.want {
			t.Errorf("synchronous %q: got %d, want %d (%v)", tc.sync, got, tc.want, err)
		}
		s.Close()
	}
	if _, err := store.OpenSQLite(filepath.Join(dir, "no", "such", "dir.db"), store.SQLiteOptions{}); err == nil {
		t.Errorf("opening in a missing directory succeeded")
	}
}

// column is a column of the records table and how to flip one of its
// bits in place with SQL.
type column struct {
	name string
	blob bool // BLOB or TEXT: flip a byte; INTEGER: flip a bit
}

var recordColumns = []column{{"exec", false}, {"seq", false}, {"rec", true}, {"hash", true}, {"mac", true}}

// sequential hides a store's RangeScanner, so that Verify takes its
// one-reader path.
type sequential struct{ store.Store }

// TestVerifyNamesFlippedRecord flips one byte (or bit) of one column of
// one record, anywhere in the log, and checks that Verify names exactly
// that record; then flips it back and checks the log is intact again.
func TestVerifyNamesFlippedRecord(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), "log.db"))
	defer s.Close()
	key := []byte("log key")
	heads := map[string]*store.Record{}
	var all []*store.Record
	for round := range 6 {
		for e := range 5 {
			exec := fmt.Sprintf("exec-%d", e)
			var recs []*store.Record
			b := &store.Batch{Exec: exec}
			if h := heads[exec]; h == nil {
				recs = storetest.Records(exec, 0, [32]byte{}, 3, key)
				b.Create = &store.Execution{ID: exec, Status: "running"}
			} else {
				recs = storetest.Records(exec, h.Seq, h.Hash, 1+round%2, key)
			}
			b.Records = recs
			if errs, err := s.Append(ctx, b); err != nil || errs[0] != nil {
				t.Fatal(err, errs)
			}
			heads[exec] = recs[len(recs)-1]
			all = append(all, recs...)
		}
	}
	rep, err := store.Verify(ctx, s, key)
	if err != nil || !rep.OK() || rep.Signed != len(all) {
		t.Fatalf("intact log: %+v %v", rep, err)
	}
	db := s.DB()
	rng := rand.New(rand.NewPCG(1, 2))
	flips := 0
	for i := 0; i < 400; i++ {
		// A byte anywhere in the record: a column in proportion to its size
		// (integers count 8), a byte in it.
		r := all[rng.IntN(len(all))]
		sizes := make([]int, len(recordColumns))
		total := 0
		for i, c := range recordColumns {
			sizes[i] = 8
			if c.blob {
				if err := db.QueryRow(fmt.Sprintf("SELECT coalesce(length(CAST(%s AS BLOB)), 0) FROM records WHERE pos = ?", c.name), r.Pos).Scan(&sizes[i]); err != nil {
					t.Fatal(err)
				}
			}
			total += sizes[i]
		}
		pick := rng.IntN(total)
		var col column
		var n int
		for i, c := range recordColumns {
			if pick < sizes[i] {
				col, n = c, sizes[i]
				break
			}
			pick -= sizes[i]
		}
		var update, undo string
		if col.blob {
			at := rng.IntN(n) + 1
			bit := 1 << rng.IntN(8)
			update = fmt.Sprintf("UPDATE records SET %[1]s = %[2]s WHERE pos = ?", col.name, flipByteSQL(col.name, at, bit))
			undo = update
		} else {
			bit := int64(1) << rng.IntN(8)
			update = fmt.Sprintf("UPDATE records SET %[1]s = (%[1]s | %[2]d) - (%[1]s & %[2]d) WHERE pos = ?", col.name, bit)
			undo = update
		}
		if _, err := rawExec(s, update, r.Pos); err != nil {
			// A flip that breaks a uniqueness constraint cannot happen
			// in place; try another.
			continue
		}
		flips++
		for _, st := range []store.Store{s, sequential{s}} {
			rep, err := store.Verify(ctx, st, key)
			if err != nil {
				t.Fatal(err)
			}
			if p := rep.First(); p == nil || p.Pos != r.Pos {
				t.Fatalf("flipped %s of record #%d (%s seq %d): verify (%T) named %v", col.name, r.Pos, r.Exec, r.Seq, st, p)
			}
		}
		if _, err := rawExec(s, undo, r.Pos); err != nil {
			t.Fatal(err)
		}
		if rep, _ := store.Verify(ctx, s, key); !rep.OK() {
			t.Fatalf("after flipping %s back: %v", col.name, rep.First())
		}
	}
	if flips < 300 {
		t.Errorf("only %d flips", flips)
	}
}

// flipByteSQL is an SQL expression: column with bit flipped in its byte
// number at (1-based), keeping the column's type (BLOB or TEXT).
func flipByteSQL(col string, at, bit int) string {
	b := fmt.Sprintf("CAST(%s AS BLOB)", col)
	byteHex := fmt.Sprintf("hex(substr(%s, %d, 1))", b, at)
	// The byte's value from its two hex digits.
	val := fmt.Sprintf("((instr('0123456789ABCDEF', substr(%[1]s, 1, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(%[1]s, 2, 1)) - 1)", byteHex)
	flipped := fmt.Sprintf("unhex(printf('%%02X', (%[1]s | %[2]d) - (%[1]s & %[2]d)))", val, bit)
	expr := fmt.Sprintf("substr(%[1]s, 1, %[2]d) || %[3]s || substr(%[1]s, %[4]d)", b, at-1, flipped, at+1)
	return fmt.Sprintf("CASE typeof(%[1]s) WHEN 'text' THEN CAST(%[2]s AS TEXT) ELSE %[2]s END", col, expr)
}

// rawExec runs a statement on a separate writable connection.
func rawExec(s *store.SQLite, q string, args ...any) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	res, err := db.Exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func TestVerifyFindsMissingAndReordered(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), "log.db"))
	defer s.Close()
	recs := storetest.Records("x", 0, [32]byte{}, 6, nil)
	if errs, err := s.Append(ctx, &store.Batch{Exec: "x", Records: recs, Create: &store.Execution{ID: "x"}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	// Remove a record in the middle: the chain breaks at the next one.
	if _, err := rawExec(s, "DELETE FROM records WHERE pos = ?", recs[2].Pos); err != nil {
		t.Fatal(err)
	}
	rep, _ := store.Verify(ctx, s, nil)
	if p := rep.First(); p == nil || p.Pos != recs[3].Pos || !errors.Is(p, store.ErrBadSequence) {
		t.Fatalf("deleted record: first problem %v", p)
	}
	// Remove the last record: the index entry no longer matches.
	s2 := openSQLite(t, filepath.Join(t.TempDir(), "log2.db"))
	defer s2.Close()
	if errs, err := s2.Append(ctx, &store.Batch{Exec: "x", Records: recs, Create: &store.Execution{ID: "x"}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if _, err := rawExec(s2, "DELETE FROM records WHERE seq = 6"); err != nil {
		t.Fatal(err)
	}
	rep, _ = store.Verify(ctx, s2, nil)
	if p := rep.First(); p == nil || !p.Head {
		t.Fatalf("truncated log: first problem %v", p)
	}
}

// TestVerifyNamesRecordFlippedInFile flips one bit of a record's stored
// bytes in the database file itself, with no engine or SQL involved, and
// checks that Verify names that record (SQLite keeps no checksums of its
// own, so only the chain can notice).
func TestVerifyNamesRecordFlippedInFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "file.db")
	s := openSQLite(t, path)
	var all []*store.Record
	for e := range 4 {
		exec := fmt.Sprintf("x%d", e)
		recs := storetest.Records(exec, 0, [32]byte{}, 25, nil)
		if errs, err := s.Append(ctx, &store.Batch{Exec: exec, Records: recs, Create: &store.Execution{ID: exec}}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
		all = append(all, recs...)
	}
	s.Close() // checkpoints the WAL into the file
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 40; i++ {
		r := all[rng.IntN(len(all))]
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The record's stored bytes: its encoding, then its hash (the
		// columns rec and hash, next to each other in SQLite's cell).
		part := append(append([]byte{}, r.Canonical()...), r.Hash[:]...)
		// SQLite may leave stale copies of a page in free space: flip the
		// byte in every copy, one of which is the live one.
		var copies []int
		for from := 0; ; {
			i := bytes.Index(file[from:], part)
			if i < 0 {
				break
			}
			copies = append(copies, from+i)
			from += i + 1
		}
		if len(copies) == 0 {
			t.Fatalf("record #%d is not stored contiguously in the file", r.Pos)
		}
		orig := append([]byte{}, file...)
		rel, bit := rng.IntN(len(part)), byte(1)<<rng.IntN(8)
		for _, at := range copies {
			file[at+rel] ^= bit
		}
		off := copies[0] + rel
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		s := openSQLite(t, path)
		rep, err := store.Verify(ctx, s, nil)
		s.Close()
		if err != nil {
			t.Fatalf("verify after flipping byte %d: %v", off, err)
		}
		if p := rep.First(); p == nil || p.Pos != r.Pos {
			t.Fatalf("flipped byte %d of the file, in record #%d (%s seq %d): verify named %v", off, r.Pos, r.Exec, r.Seq, p)
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
