package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/nexus-workflows/nexus/engine/store"
)

// PutWorkflow implements store.Store.
func (s *Store) PutWorkflow(ctx context.Context, w *store.Workflow) error {
	if err := s.live(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO workflows(digest, name, file, source) VALUES($1, $2, $3, $4)
		ON CONFLICT (digest) DO NOTHING`, w.Digest, w.Name, w.File, nonNil(w.Source))
	if err != nil {
		return fmt.Errorf("put workflow %s: %w", w.Digest, err)
	}
	return nil
}

// Workflow implements store.Store.
func (s *Store) Workflow(ctx context.Context, digest string) (*store.Workflow, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	w := &store.Workflow{Digest: digest}
	err := s.pool.QueryRow(ctx, `SELECT name, file, source FROM workflows WHERE digest = $1`, digest).
		Scan(&w.Name, &w.File, &w.Source)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("workflow %s: %w", digest, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", digest, err)
	}
	return w, nil
}

const execColumns = `id, workflow, bindings, status, created, updated, seq, hash, owner, lease, output, error, cause`

func scanExecution(row pgx.Row) (*store.Execution, error) {
	x := &store.Execution{}
	var hash []byte
	var seq int64
	if err := row.Scan(&x.ID, &x.Workflow, &x.Bindings, &x.Status, &x.Created, &x.Updated, &seq, &hash, &x.Owner,
		&x.Lease, &x.Output, &x.Error, &x.Cause); err != nil {
		return nil, err
	}
	x.Seq = uint64(seq)
	copy(x.Hash[:], hash)
	return x, nil
}

// Execution implements store.Store.
func (s *Store) Execution(ctx context.Context, id string) (*store.Execution, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	x, err := scanExecution(s.pool.QueryRow(ctx, `SELECT `+execColumns+` FROM executions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	return x, nil
}

// Executions implements store.Store.
func (s *Store) Executions(ctx context.Context, f store.Filter) ([]*store.Execution, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if len(f.Status) > 0 {
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf(`status = ANY($%d::text[])`, len(args)))
	}
	if f.Workflow != "" {
		args = append(args, f.Workflow)
		where = append(where, fmt.Sprintf(`workflow = $%d`, len(args)))
	}
	q := `SELECT ` + execColumns + ` FROM executions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY num`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	var out []*store.Execution
	for rows.Next() {
		x, err := scanExecution(rows)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return out, nil
}

// Snapshot implements store.Store.
func (s *Store) Snapshot(ctx context.Context, exec string) (*store.Snapshot, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	sn := &store.Snapshot{Exec: exec}
	var hash []byte
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT s.seq, s.hash, s.state, s.meta, s.mac, s.time FROM snapshots s
		JOIN executions e ON e.num = s.exec WHERE e.id = $1`, exec).Scan(&seq, &hash, &sn.State, &sn.Meta, &sn.MAC, &sn.Time)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("snapshot of %s: %w", exec, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", exec, err)
	}
	sn.Seq = uint64(seq)
	copy(sn.Hash[:], hash)
	return sn, nil
}

// scanRecord reads a record row: position, execution id, seq, encoding,
// hash and signature.
func scanRecord(row pgx.Row) (*store.Record, error) {
	var pos, seq int64
	var exec string
	var raw, hash, mac []byte
	if err := row.Scan(&pos, &exec, &seq, &raw, &hash, &mac); err != nil {
		return nil, err
	}
	return store.Stored(pos, exec, uint64(seq), raw, hash, mac), nil
}

// eachRecord calls fn with the records a query returns.
func (s *Store) eachRecord(ctx context.Context, fn func(r *store.Record) error, q string, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return &callbackError{err}
		}
	}
	return rows.Err()
}

// callbackError carries a callback's error through unchanged.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// wrap gives a read error context, but returns a callback's error as the
// callback returned it.
func wrap(err error, format string, args ...any) error {
	var ce *callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Records implements store.Store.
func (s *Store) Records(ctx context.Context, exec string, after uint64, fn func(r *store.Record) error) error {
	if err := s.live(); err != nil {
		return err
	}
	err := s.eachRecord(ctx, fn, `SELECT r.pos, $1::text, r.seq, r.rec, r.hash, r.mac FROM records r
		WHERE r.exec = (SELECT num FROM executions WHERE id = $1) AND r.seq > $2 ORDER BY r.seq`, exec, int64(after))
	return wrap(err, "records of %s", exec)
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, exec string, seq uint64) (*store.Record, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	r, err := scanRecord(s.pool.QueryRow(ctx, `SELECT r.pos, $1::text, r.seq, r.rec, r.hash, r.mac FROM records r
		WHERE r.exec = (SELECT num FROM executions WHERE id = $1) AND r.seq = $2`, exec, int64(seq)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("record %d of %s: %w", seq, exec, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("record %d of %s: %w", seq, exec, err)
	}
	return r, nil
}

// recordsIn selects records with their execution ids; a record whose
// execution number names no execution gets the id "?N", which no hash
// matches.
const recordsIn = `SELECT r.pos, coalesce(e.id, '?' || r.exec), r.seq, r.rec, r.hash, r.mac
	FROM records r LEFT JOIN executions e ON e.num = r.exec`

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, snap func(s *store.Snapshot) error, rec func(r *store.Record) error) error {
	if err := s.ScanSnapshots(ctx, snap); err != nil {
		return err
	}
	return wrap(s.eachRecord(ctx, rec, recordsIn+` ORDER BY r.pos`), "scan records")
}

// ScanSnapshots implements store.RangeScanner.
func (s *Store) ScanSnapshots(ctx context.Context, snap func(*store.Snapshot) error) error {
	if err := s.live(); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT coalesce(e.id, '?' || s.exec), s.seq, s.hash, s.state, s.meta, s.mac, s.time
		FROM snapshots s LEFT JOIN executions e ON e.num = s.exec ORDER BY s.exec`)
	if err != nil {
		return fmt.Errorf("scan snapshots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		sn := &store.Snapshot{}
		var hash []byte
		var seq int64
		if err := rows.Scan(&sn.Exec, &seq, &hash, &sn.State, &sn.Meta, &sn.MAC, &sn.Time); err != nil {
			return fmt.Errorf("scan snapshots: %w", err)
		}
		sn.Seq = uint64(seq)
		copy(sn.Hash[:], hash)
		if err := snap(sn); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan snapshots: %w", err)
	}
	return nil
}

// Positions implements store.RangeScanner.
func (s *Store) Positions(ctx context.Context) (first, last int64, err error) {
	if err := s.live(); err != nil {
		return 0, 0, err
	}
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(min(pos), 0), coalesce(max(pos), 0) FROM records`).Scan(&first, &last); err != nil {
		return 0, 0, fmt.Errorf("positions: %w", err)
	}
	return first, last, nil
}

// ScanRange implements store.RangeScanner: Verify reads several ranges at
// once, each on a connection of its own.
func (s *Store) ScanRange(ctx context.Context, from, to int64, rec func(*store.Record) error) error {
	if err := s.live(); err != nil {
		return err
	}
	return wrap(s.eachRecord(ctx, rec, recordsIn+` WHERE r.pos >= $1 AND r.pos < $2 ORDER BY r.pos`, from, to),
		"scan records %d-%d", from, to)
}

// Send implements store.Store. The signal is inserted under a
// transaction-scoped advisory lock, so that signals commit in id order.
func (s *Store) Send(ctx context.Context, sg *store.Signal) (int64, error) {
	if !sg.Kind.Valid() {
		return 0, fmt.Errorf("send: unknown signal kind %q", sg.Kind)
	}
	if err := s.live(); err != nil {
		return 0, err
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))`, lockSignals); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO signals(exec, kind, target, output, error, cause, time)
			VALUES($1, $2, $3, $4, $5, $6, $7) RETURNING id`, sg.Exec, string(sg.Kind), int64(sg.Target),
			nullBytes(sg.Output), sg.Error, sg.Cause, sg.Time).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("send %s to %s: %w", sg.Kind, sg.Exec, err)
	}
	return id, nil
}

// lockSignals is the key of the advisory lock that orders signals.
const lockSignals = "nexus/signals"

// Signals implements store.Store.
func (s *Store) Signals(ctx context.Context, after int64, exec string) ([]*store.Signal, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	q := `SELECT id, exec, kind, target, output, error, cause, time FROM signals WHERE id > $1`
	args := []any{after}
	if exec != "" {
		q += ` AND exec = $2`
		args = append(args, exec)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	defer rows.Close()
	var out []*store.Signal
	for rows.Next() {
		sg := &store.Signal{}
		var kind string
		var target int64
		if err := rows.Scan(&sg.ID, &sg.Exec, &kind, &target, &sg.Output, &sg.Error, &sg.Cause, &sg.Time); err != nil {
			return nil, fmt.Errorf("signals: %w", err)
		}
		sg.Kind, sg.Target = store.SignalKind(kind), uint32(target)
		out = append(out, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	return out, nil
}

// Ack implements store.Store.
func (s *Store) Ack(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.live(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM signals WHERE id = ANY($1::bigint[])`, ids); err != nil {
		return fmt.Errorf("ack signals %v: %w", ids, err)
	}
	return nil
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context) ([]byte, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	var v []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'secret'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return v, nil
}
