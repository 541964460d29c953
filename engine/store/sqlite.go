package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// SQLiteOptions configure an SQLite store. The zero value is the durable
// default.
type SQLiteOptions struct {
	// Synchronous is SQLite's synchronous pragma: "FULL" (the default:
	// every commit is synced to the disk, so a power loss loses nothing
	// acknowledged), "NORMAL" (in WAL mode: survives a crash of the
	// process, not of the machine), "OFF" (tests only) or "EXTRA".
	Synchronous string
	// MaxGroup bounds how many Append calls one transaction commits
	// together (0: 512).
	MaxGroup int
	// BusyTimeoutMS is how long a connection waits for another process's
	// lock (0: 10000).
	BusyTimeoutMS int
}

// SQLite is the embedded Store: one database file in WAL mode. One
// goroutine owns the write connection and commits every write waiting for
// it (appends, claims, signals, ...) in one transaction, so one sync
// covers the appends of many executions (group commit); reads use a pool
// of other connections.
type SQLite struct {
	path   string
	w      *sql.DB
	r      *sql.DB
	conn   *sql.Conn // the writer's connection, owned by the committer
	jobs   chan *job
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	maxGrp int

	insExec, putSnap, delSig, headOf *sql.Stmt
	// The hot statements of an append, prepared on the writer's driver
	// connection: database/sql's per-call machinery costs as much as the
	// statement.
	updHead, insRec driver.Stmt
	numOf           driver.Stmt
	args            []driver.NamedValue
	// nums caches execution numbers by id (the writer's only).
	nums map[string]int64

	txs, batches, records atomic.Int64
}

// SQLiteStats count what the writer committed.
type SQLiteStats struct {
	// Transactions committed by Append, the batches and records in them:
	// Batches/Transactions is how many appends one sync covered.
	Transactions, Batches, Records int64
}

// Stats returns the writer's counters.
func (s *SQLite) Stats() SQLiteStats {
	return SQLiteStats{Transactions: s.txs.Load(), Batches: s.batches.Load(), Records: s.records.Load()}
}

// job is one request to the writer: batches to append (grouped with
// other jobs), or a function run in a transaction of its own.
type job struct {
	ctx     context.Context
	batches []*Batch
	fn      func(ctx context.Context, c *sql.Conn) error
	errs    []error
	err     error
	done    chan struct{}
}

// schemaVersion is the layout of the tables below; a database with
// another is refused rather than misread.
const schemaVersion = "2"

// The records table keeps each record's canonical encoding (rec, the
// bytes its hash is over, see Record.Canonical) with the two columns it is
// found by; nexus history decodes it.
const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS workflows(
	digest TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, source BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS executions(
	num INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	workflow TEXT NOT NULL,
	bindings BLOB,
	status TEXT NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	hash BLOB NOT NULL,
	owner TEXT NOT NULL DEFAULT '',
	lease INTEGER NOT NULL DEFAULT 0,
	output BLOB,
	error TEXT NOT NULL DEFAULT '',
	cause TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS executions_status ON executions(status);
CREATE INDEX IF NOT EXISTS executions_owner ON executions(owner) WHERE owner != '';
CREATE TABLE IF NOT EXISTS records(
	pos INTEGER PRIMARY KEY,
	exec INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	rec BLOB NOT NULL,
	hash BLOB NOT NULL,
	mac BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS records_exec_seq ON records(exec, seq);
CREATE TABLE IF NOT EXISTS snapshots(
	exec INTEGER PRIMARY KEY,
	seq INTEGER NOT NULL,
	hash BLOB NOT NULL,
	state BLOB NOT NULL,
	meta BLOB NOT NULL,
	mac BLOB,
	time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signals(
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	exec TEXT NOT NULL,
	kind TEXT NOT NULL,
	target INTEGER NOT NULL,
	output BLOB,
	error TEXT NOT NULL,
	cause TEXT NOT NULL,
	time INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS signals_exec ON signals(exec);
`

// OpenSQLite opens (creating if needed) the SQLite store at path.
func OpenSQLite(path string, opts SQLiteOptions) (*SQLite, error) {
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL", "OFF", "EXTRA":
	default:
		return nil, fmt.Errorf("open %s: synchronous must be FULL, NORMAL, OFF or EXTRA, not %q", path, opts.Synchronous)
	}
	busy := opts.BusyTimeoutMS
	if busy <= 0 {
		busy = 10000
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy))
		for _, x := range extra {
			q.Add("_pragma", x)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	s := &SQLite{path: path, jobs: make(chan *job, 1024), quit: make(chan struct{}), done: make(chan struct{}),
		maxGrp: opts.MaxGroup}
	if s.maxGrp <= 0 {
		s.maxGrp = 512
	}
	var err error
	if s.w, err = sql.Open("sqlite", dsn()); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	ctx := context.Background()
	if s.conn, err = s.w.Conn(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := s.init(ctx); err != nil {
		s.conn.Close()
		s.w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.r, err = sql.Open("sqlite", dsn("query_only(1)")); err != nil {
		s.closeWriter()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(8)
	go s.commit()
	return s, nil
}

func (s *SQLite) init(ctx context.Context) error {
	var mode string
	if err := s.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %s, not WAL", mode)
	}
	if _, err := s.conn.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if _, err := s.conn.ExecContext(ctx, `INSERT OR IGNORE INTO meta(key, value) VALUES('secret', ?), ('schema', ?)`,
		secret, schemaVersion); err != nil {
		return err
	}
	var version string
	if err := s.conn.QueryRowContext(ctx, `SELECT CAST(value AS TEXT) FROM meta WHERE key = 'schema'`).Scan(&version); err != nil {
		return err
	}
	if version != schemaVersion {
		return fmt.Errorf("the database has layout %s; this nexus reads layout %s (use another database file)", version, schemaVersion)
	}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = s.conn.PrepareContext(ctx, q)
		return st
	}
	s.insExec = prep(`INSERT INTO executions(id, workflow, bindings, status, created, updated, seq, hash, owner, lease,
		output, error, cause) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING RETURNING num`)
	s.putSnap = prep(`INSERT OR REPLACE INTO snapshots(exec, seq, hash, state, meta, mac, time) VALUES(?,?,?,?,?,?,?)`)
	s.delSig = prep(`DELETE FROM signals WHERE id = ?`)
	s.headOf = prep(`SELECT seq FROM executions WHERE id = ?`)
	if err != nil {
		return err
	}
	s.nums = map[string]int64{}
	return s.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("driver cannot prepare with a context")
		}
		var err error
		rawPrep := func(q string) driver.Stmt {
			if err != nil {
				return nil
			}
			var st driver.Stmt
			st, err = c.PrepareContext(ctx, q)
			return st
		}
		s.updHead = rawPrep(`UPDATE executions SET seq = ?1, hash = ?2, updated = ?3,
			status = CASE WHEN ?4 = '' THEN status ELSE ?4 END,
			output = CASE WHEN ?4 = '' THEN output ELSE ?5 END,
			error = CASE WHEN ?4 = '' THEN error ELSE ?6 END,
			cause = CASE WHEN ?4 = '' THEN cause ELSE ?7 END,
			owner = CASE WHEN ?8 THEN '' ELSE owner END,
			lease = CASE WHEN ?8 THEN 0 ELSE lease END
			WHERE num = ?9 AND seq = ?10 AND hash = ?11`)
		s.insRec = rawPrep(`INSERT INTO records(exec, seq, rec, hash, mac) VALUES(?,?,?,?,?)`)
		s.numOf = rawPrep(`SELECT num FROM executions WHERE id = ?`)
		return err
	})
}

func (s *SQLite) closeWriter() {
	for _, st := range []*sql.Stmt{s.insExec, s.putSnap, s.delSig, s.headOf} {
		if st != nil {
			st.Close()
		}
	}
	s.conn.Raw(func(any) error {
		for _, st := range []driver.Stmt{s.updHead, s.insRec, s.numOf} {
			if st != nil {
				st.Close()
			}
		}
		return nil
	})
	s.conn.Close()
	s.w.Close()
}

// Path is the database file.
func (s *SQLite) Path() string { return s.path }

// Close stops the writer after the jobs it has taken and closes the
// database. Appends still waiting fail with ErrClosed.
func (s *SQLite) Close() error {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		s.closeWriter()
		s.r.Close()
	})
	return nil
}

// submit hands a job to the writer and waits for it.
func (s *SQLite) submit(j *job) error {
	j.done = make(chan struct{})
	select {
	case <-s.quit:
		return ErrClosed
	default:
	}
	select {
	case s.jobs <- j:
	case <-s.quit:
		return ErrClosed
	case <-j.ctx.Done():
		return j.ctx.Err()
	}
	select {
	case <-j.done:
		return j.err
	case <-s.done:
		// The writer has stopped; it took the job or never will.
		select {
		case <-j.done:
			return j.err
		default:
			return ErrClosed
		}
	}
}

// commit is the writer: it takes every job waiting, runs them all in one
// transaction (one sync), and answers them.
func (s *SQLite) commit() {
	defer close(s.done)
	for {
		var j *job
		select {
		case j = <-s.jobs:
		case <-s.quit:
			s.drain()
			return
		}
		// Let goroutines that are about to append (an execution the last
		// commit woke) do so first, while the queue keeps growing: a larger
		// group costs one sync and one transaction all the same.
		for range 4 {
			n := len(s.jobs)
			runtime.Gosched()
			if len(s.jobs) == n {
				break
			}
		}
		group := []*job{j}
	more:
		for len(group) < s.maxGrp {
			select {
			case k := <-s.jobs:
				group = append(group, k)
			default:
				break more
			}
		}
		s.runGroup(group)
	}
}

// drain fails the jobs nobody will run.
func (s *SQLite) drain() {
	for {
		select {
		case j := <-s.jobs:
			j.err = ErrClosed
			close(j.done)
		default:
			return
		}
	}
}

// write runs fn in the writer's next transaction, under a savepoint of
// its own: an error rolls back what fn did and nothing else.
func (s *SQLite) write(ctx context.Context, fn func(ctx context.Context, c *sql.Conn) error) error {
	return s.submit(&job{ctx: ctx, fn: fn})
}

func (s *SQLite) runGroup(group []*job) {
	defer func() {
		for _, j := range group {
			close(j.done)
		}
	}()
	live := group[:0:0]
	for _, j := range group {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	fail := func(err error) {
		for _, j := range live {
			j.err = err
		}
	}
	if _, err := s.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	type done struct {
		r   *Record
		pos int64
	}
	var positions []done
	for _, j := range live {
		if j.fn != nil {
			if _, err := s.conn.ExecContext(ctx, "SAVEPOINT job"); err != nil {
				s.conn.ExecContext(ctx, "ROLLBACK")
				fail(fmt.Errorf("savepoint: %w", err))
				return
			}
			j.err = j.fn(ctx, s.conn)
			end := "RELEASE job"
			if j.err != nil {
				end = "ROLLBACK TO job; RELEASE job"
			}
			if _, err := s.conn.ExecContext(ctx, end); err != nil {
				s.conn.ExecContext(ctx, "ROLLBACK")
				fail(fmt.Errorf("savepoint: %w", err))
				return
			}
			continue
		}
		for i, b := range j.batches {
			ps, err := s.appendBatch(ctx, b)
			if err != nil && !isBatchError(err) {
				s.conn.ExecContext(ctx, "ROLLBACK")
				fail(fmt.Errorf("append to %s: %w", b.Exec, err))
				return
			}
			j.errs[i] = err
			if err == nil {
				for k, r := range b.Records {
					positions = append(positions, done{r, ps[k]})
				}
			}
		}
	}
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		s.conn.ExecContext(ctx, "ROLLBACK")
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	for _, d := range positions {
		d.r.Pos = d.pos
	}
	s.txs.Add(1)
	for _, j := range live {
		for i, b := range j.batches {
			if j.errs[i] == nil {
				s.batches.Add(1)
				s.records.Add(int64(len(b.Records)))
			}
		}
	}
}

// batchError is an error of one batch that leaves the transaction usable.
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

func isBatchError(err error) bool {
	var be *batchError
	return errors.As(err, &be)
}

// appendBatch writes one batch inside the open transaction and returns
// the positions of its records.
func (s *SQLite) appendBatch(ctx context.Context, b *Batch) ([]int64, error) {
	bad := func(format string, args ...any) ([]int64, error) {
		return nil, &batchError{fmt.Errorf("execution %s: "+format, append([]any{b.Exec}, args...)...)}
	}
	// The records must continue each other; the first must continue the
	// log's head, which the head update below checks.
	var headSeq uint64
	var headHash [32]byte
	if len(b.Records) > 0 {
		headSeq, headHash = b.Records[0].Seq-1, b.Records[0].Prev
	}
	if len(b.Records) == 0 && b.Create == nil {
		return bad("no records to append")
	}
	for i, r := range b.Records {
		if r.Exec != b.Exec {
			return bad("record %d is for execution %s", i, r.Exec)
		}
		if i > 0 && (r.Seq != b.Records[i-1].Seq+1 || r.Prev != b.Records[i-1].Hash) {
			return bad("records %d and %d do not chain", i-1, i)
		}
	}
	lastSeq, lastHash := headSeq, headHash
	if n := len(b.Records); n > 0 {
		lastSeq, lastHash = b.Records[n-1].Seq, b.Records[n-1].Hash
	}
	if sn := b.Snapshot; sn != nil && (sn.Exec != b.Exec || sn.Seq > lastSeq) {
		return bad("snapshot at seq %d beyond the log's head %d", sn.Seq, lastSeq)
	}
	var num int64
	now := b.Time()
	if c := b.Create; c != nil {
		if headSeq != 0 || headHash != ([32]byte{}) {
			return bad("a new execution's log starts at seq 1")
		}
		if c.ID != b.Exec {
			return bad("created as %s", c.ID)
		}
		status := c.Status
		if b.Status != "" {
			status = b.Status
		}
		err := s.insExec.QueryRowContext(ctx, c.ID, c.Workflow, c.Bindings, status, c.Created, now, lastSeq, lastHash[:],
			c.Owner, c.Lease, b.Output, b.Error, b.Cause).Scan(&num)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, &batchError{fmt.Errorf("execution %s: %w", b.Exec, ErrExists)}
		}
		if err != nil {
			return nil, err
		}
		s.nums[b.Exec] = num
	} else {
		var err error
		if num, err = s.num(ctx, b.Exec); err != nil {
			return nil, err
		}
		var n int64
		err = s.conn.Raw(func(any) error {
			res, err := s.rawExec(ctx, s.updHead, int64(lastSeq), lastHash[:], now, b.Status, nullBytes(b.Output), b.Error,
				b.Cause, b.Release, num, int64(headSeq), headHash[:])
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			var seq uint64
			if err := s.headOf.QueryRowContext(ctx, b.Exec).Scan(&seq); err != nil {
				return nil, err
			}
			return nil, &batchError{fmt.Errorf("execution %s: records from seq %d, but the log's head is seq %d: %w",
				b.Exec, headSeq+1, seq, ErrConflict)}
		}
	}
	pos := make([]int64, len(b.Records))
	err := s.conn.Raw(func(any) error {
		for i, r := range b.Records {
			res, err := s.rawExec(ctx, s.insRec, num, int64(r.Seq), r.Canonical(), r.Hash[:], nullBytes(r.MAC))
			if err != nil {
				return err
			}
			pos[i], _ = res.LastInsertId()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sn := b.Snapshot; sn != nil {
		if _, err := s.putSnap.ExecContext(ctx, num, sn.Seq, sn.Hash[:], sn.State, nonNil(sn.Meta), nullBytes(sn.MAC),
			sn.Time); err != nil {
			return nil, err
		}
	}
	for _, id := range b.Consumed {
		if _, err := s.delSig.ExecContext(ctx, id); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// rawExec runs a driver statement with args (driver values); the caller
// holds the connection (inside s.conn.Raw).
func (s *SQLite) rawExec(ctx context.Context, st driver.Stmt, args ...any) (driver.Result, error) {
	s.args = s.args[:0]
	for i, a := range args {
		s.args = append(s.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return st.(driver.StmtExecContext).ExecContext(ctx, s.args)
}

// num returns the number of execution id, or ErrNotFound.
func (s *SQLite) num(ctx context.Context, id string) (int64, error) {
	if n, ok := s.nums[id]; ok {
		return n, nil
	}
	var num int64
	err := s.conn.Raw(func(any) error {
		rows, err := s.numOf.(driver.StmtQueryContext).QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: id}})
		if err != nil {
			return err
		}
		defer rows.Close()
		v := make([]driver.Value, 1)
		if err := rows.Next(v); err == io.EOF {
			return &batchError{fmt.Errorf("execution %s: %w", id, ErrNotFound)}
		} else if err != nil {
			return err
		}
		num, _ = v[0].(int64)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(s.nums) > 100000 {
		clear(s.nums)
	}
	s.nums[id] = num
	return num, nil
}

// Time is the time a batch is stamped with: its last record's.
func (b *Batch) Time() int64 {
	if n := len(b.Records); n > 0 {
		return b.Records[n-1].Time
	}
	if b.Create != nil {
		return b.Create.Created
	}
	return 0
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Append implements Store.
func (s *SQLite) Append(ctx context.Context, batches ...*Batch) ([]error, error) {
	j := &job{ctx: ctx, batches: batches, errs: make([]error, len(batches))}
	if err := s.submit(j); err != nil {
		return nil, err
	}
	return j.errs, nil
}

// PutWorkflow implements Store.
func (s *SQLite) PutWorkflow(ctx context.Context, w *Workflow) error {
	return s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT OR IGNORE INTO workflows(digest, name, file, source) VALUES(?,?,?,?)`,
			w.Digest, w.Name, w.File, w.Source)
		if err != nil {
			return fmt.Errorf("put workflow %s: %w", w.Digest, err)
		}
		return nil
	})
}

// Workflow implements Store.
func (s *SQLite) Workflow(ctx context.Context, digest string) (*Workflow, error) {
	w := &Workflow{Digest: digest}
	err := s.r.QueryRowContext(ctx, `SELECT name, file, source FROM workflows WHERE digest = ?`, digest).
		Scan(&w.Name, &w.File, &w.Source)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workflow %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", digest, err)
	}
	return w, nil
}

const execColumns = `id, workflow, bindings, status, created, updated, seq, hash, owner, lease, output, error, cause`

func scanExecution(sc interface{ Scan(...any) error }) (*Execution, error) {
	x := &Execution{}
	var hash []byte
	if err := sc.Scan(&x.ID, &x.Workflow, &x.Bindings, &x.Status, &x.Created, &x.Updated, &x.Seq, &hash, &x.Owner,
		&x.Lease, &x.Output, &x.Error, &x.Cause); err != nil {
		return nil, err
	}
	copy(x.Hash[:], hash)
	return x, nil
}

// Execution implements Store.
func (s *SQLite) Execution(ctx context.Context, id string) (*Execution, error) {
	x, err := scanExecution(s.r.QueryRowContext(ctx, `SELECT `+execColumns+` FROM executions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("execution %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	return x, nil
}

// Executions implements Store.
func (s *SQLite) Executions(ctx context.Context, f Filter) ([]*Execution, error) {
	q := `SELECT ` + execColumns + ` FROM executions WHERE 1`
	var args []any
	if len(f.Status) > 0 {
		q += ` AND status IN (` + strings.TrimSuffix(strings.Repeat("?,", len(f.Status)), ",") + `)`
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if f.Workflow != "" {
		q += ` AND workflow = ?`
		args = append(args, f.Workflow)
	}
	q += ` ORDER BY num`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	var out []*Execution
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

// Snapshot implements Store.
func (s *SQLite) Snapshot(ctx context.Context, exec string) (*Snapshot, error) {
	sn := &Snapshot{Exec: exec}
	var hash []byte
	err := s.r.QueryRowContext(ctx, `SELECT s.seq, s.hash, s.state, s.meta, s.mac, s.time FROM snapshots s
		JOIN executions e ON e.num = s.exec WHERE e.id = ?`, exec).Scan(&sn.Seq, &hash, &sn.State, &sn.Meta, &sn.MAC, &sn.Time)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("snapshot of %s: %w", exec, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", exec, err)
	}
	copy(sn.Hash[:], hash)
	return sn, nil
}

const recordColumns = `r.pos, r.seq, r.rec, r.hash, r.mac`

// loadRecord decodes a stored record. One that cannot be decoded, or whose
// content names another execution or sequence number than it is stored
// under, comes back named by where it is stored, with the reason Check
// will give.
func loadRecord(pos int64, exec string, seq uint64, raw, hash, mac []byte) *Record {
	r, err := DecodeRecord(raw)
	switch {
	case err != nil:
		r = &Record{Exec: exec, Seq: seq, raw: raw, bad: err}
	case r.Exec != exec || r.Seq != seq:
		r.bad = fmt.Errorf("%w (stored as %s seq %d, holds %s seq %d)", ErrMisfiled, exec, seq, r.Exec, r.Seq)
		r.Exec, r.Seq = exec, seq
	}
	r.Pos = pos
	copy(r.Hash[:], hash)
	if len(hash) != 32 && r.bad == nil {
		r.bad = ErrBadHash
	}
	if len(mac) > 0 {
		r.MAC = mac
	}
	return r
}

// loadHeader is loadRecord for verification: it decodes only what the
// chain needs (the hash is over the stored bytes).
func loadHeader(pos int64, exec string, seq uint64, raw, hash, mac []byte) *Record {
	r := &Record{Pos: pos, Exec: exec, Seq: seq, raw: raw}
	prev, e, s, ok := decodeHeader(raw)
	switch {
	case !ok:
		r.bad = ErrBadEncoding
	case string(e) != exec || s != seq:
		r.bad = fmt.Errorf("%w (stored as %s seq %d, holds %s seq %d)", ErrMisfiled, exec, seq, e, s)
	}
	r.Prev = prev
	copy(r.Hash[:], hash)
	if len(hash) != 32 && r.bad == nil {
		r.bad = ErrBadHash
	}
	if len(mac) > 0 {
		r.MAC = mac
	}
	return r
}

func scanRecord(sc interface{ Scan(...any) error }, exec string) (*Record, error) {
	var pos int64
	var seq uint64
	var raw, hash, mac []byte
	if err := sc.Scan(&pos, &seq, &raw, &hash, &mac); err != nil {
		return nil, err
	}
	return loadRecord(pos, exec, seq, raw, hash, mac), nil
}

// Records implements Store.
func (s *SQLite) Records(ctx context.Context, exec string, after uint64, fn func(r *Record) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM records r
		WHERE r.exec = (SELECT num FROM executions WHERE id = ?) AND r.seq > ? ORDER BY r.seq`, exec, after)
	if err != nil {
		return fmt.Errorf("records of %s: %w", exec, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows, exec)
		if err != nil {
			return fmt.Errorf("records of %s: %w", exec, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("records of %s: %w", exec, err)
	}
	return nil
}

// Record implements Store.
func (s *SQLite) Record(ctx context.Context, exec string, seq uint64) (*Record, error) {
	r, err := scanRecord(s.r.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM records r
		WHERE r.exec = (SELECT num FROM executions WHERE id = ?) AND r.seq = ?`, exec, seq), exec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("record %d of %s: %w", seq, exec, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("record %d of %s: %w", seq, exec, err)
	}
	return r, nil
}

// Scan implements Store. A record or snapshot whose execution number
// names no execution is reported with an execution id of "?N", which no
// hash matches.
func (s *SQLite) Scan(ctx context.Context, snap func(s *Snapshot) error, rec func(r *Record) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT coalesce(e.id, '?' || s.exec), s.seq, s.hash, s.state, s.meta, s.mac, s.time
		FROM snapshots s LEFT JOIN executions e ON e.num = s.exec ORDER BY s.exec`)
	if err != nil {
		return fmt.Errorf("scan snapshots: %w", err)
	}
	for rows.Next() {
		sn := &Snapshot{}
		var hash []byte
		if err := rows.Scan(&sn.Exec, &sn.Seq, &hash, &sn.State, &sn.Meta, &sn.MAC, &sn.Time); err != nil {
			rows.Close()
			return fmt.Errorf("scan snapshots: %w", err)
		}
		copy(sn.Hash[:], hash)
		if err := snap(sn); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("scan snapshots: %w", err)
	}
	rows.Close()
	rows, err = s.r.QueryContext(ctx, `SELECT r.pos, coalesce(e.id, '?' || r.exec), r.seq, r.rec, r.hash, r.mac
		FROM records r LEFT JOIN executions e ON e.num = r.exec ORDER BY r.pos`)
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos int64
		var exec string
		var seq uint64
		var raw, hash, mac []byte
		if err := rows.Scan(&pos, &exec, &seq, &raw, &hash, &mac); err != nil {
			return fmt.Errorf("scan records: %w", err)
		}
		if err := rec(loadRecord(pos, exec, seq, raw, hash, mac)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	return nil
}

// Positions implements RangeScanner.
func (s *SQLite) Positions(ctx context.Context) (first, last int64, err error) {
	var lo, hi sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(pos), max(pos) FROM records`).Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("positions: %w", err)
	}
	return lo.Int64, hi.Int64, nil
}

// ScanSnapshots implements RangeScanner.
func (s *SQLite) ScanSnapshots(ctx context.Context, snap func(*Snapshot) error) error {
	stop := errors.New("stop")
	err := s.Scan(ctx, snap, func(*Record) error { return stop })
	if errors.Is(err, stop) {
		return nil
	}
	return err
}

// ScanRange implements RangeScanner: it reads on a connection of its own,
// at the driver level (no per-column conversions), so that several ranges
// read at once. The records it passes carry their stored bytes, hash,
// chain fields and position, not the audit fields and body: it is meant
// for Verify.
func (s *SQLite) ScanRange(ctx context.Context, from, to int64, rec func(*Record) error) error {
	ids := map[int64]string{}
	rows, err := s.r.QueryContext(ctx, `SELECT num, id FROM executions`)
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	for rows.Next() {
		var num int64
		var id string
		if err := rows.Scan(&num, &id); err != nil {
			rows.Close()
			return fmt.Errorf("scan records: %w", err)
		}
		ids[num] = id
	}
	rows.Close()
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		// Four columns rather than six: every column read costs modernc
		// two mutex round trips, which is most of the cost of a row. The
		// execution number and sequence number travel as one integer
		// (when both fit), the hash and the signature as one blob.
		st, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, `SELECT pos,
			CASE WHEN exec BETWEEN 0 AND 2147483647 AND seq BETWEEN 0 AND 4294967295 THEN exec * 4294967296 + seq ELSE -1 END,
			rec, hash || coalesce(mac, x'')
			FROM records WHERE pos >= ? AND pos < ? ORDER BY pos`)
		if err != nil {
			return fmt.Errorf("scan records: %w", err)
		}
		defer st.Close()
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: from},
			{Ordinal: 2, Value: to}})
		if err != nil {
			return fmt.Errorf("scan records: %w", err)
		}
		defer rows.Close()
		v := make([]driver.Value, 4)
		for {
			if err := rows.Next(v); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("scan records: %w", err)
			}
			var num int64
			var seq uint64
			if packed := asInt(v[1]); packed >= 0 {
				num, seq = packed>>32, uint64(packed&(1<<32-1))
			} else if err := s.r.QueryRowContext(ctx, `SELECT exec, seq FROM records WHERE pos = ?`, asInt(v[0])).
				Scan(&num, &seq); err != nil {
				num = -1 // unreadable: the record is reported as misfiled
			}
			exec, ok := ids[num]
			if !ok {
				exec = fmt.Sprintf("?%d", num)
			}
			hm := asBytes(v[3])
			hash, mac := hm, []byte(nil)
			switch len(hm) {
			case 32:
			case 64:
				hash, mac = hm[:32], hm[32:]
			default:
				hash = nil // cannot be told apart: the record fails its hash
			}
			r := loadHeader(asInt(v[0]), exec, seq, asBytes(v[2]), hash, mac)
			if err := rec(r); err != nil {
				return err
			}
		}
	})
}

// asInt, asString and asBytes read driver values of whatever type a
// damaged column may hold; what cannot be read is the zero value, which
// then fails the record's hash.
func asInt(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return -1
}

func asBytes(v driver.Value) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

// Claim implements Store.
func (s *SQLite) Claim(ctx context.Context, exec, owner, takeFrom string, now, lease int64) (string, error) {
	var cur string
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		err := c.QueryRowContext(ctx, `UPDATE executions SET owner = ?1, lease = ?2
			WHERE id = ?3 AND (owner = '' OR owner = ?1 OR (owner = ?4 AND ?4 != '') OR lease < ?5) RETURNING owner`,
			owner, lease, exec, takeFrom, now).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			err = c.QueryRowContext(ctx, `SELECT owner FROM executions WHERE id = ?`, exec).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("claim %s: %w", exec, ErrNotFound)
			}
		}
		return err
	})
	return cur, err
}

// Renew implements Store.
func (s *SQLite) Renew(ctx context.Context, owner string, lease int64) error {
	return s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE executions SET lease = ? WHERE owner = ? AND owner != ''`, lease, owner)
		return err
	})
}

// Release implements Store.
func (s *SQLite) Release(ctx context.Context, exec, owner string) error {
	return s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE executions SET owner = '', lease = 0 WHERE id = ? AND owner = ?`, exec, owner)
		return err
	})
}

// Send implements Store.
func (s *SQLite) Send(ctx context.Context, sg *Signal) (int64, error) {
	if !sg.Kind.Valid() {
		return 0, fmt.Errorf("send: unknown signal kind %q", sg.Kind)
	}
	var id int64
	err := s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		return c.QueryRowContext(ctx, `INSERT INTO signals(exec, kind, target, output, error, cause, time)
			VALUES(?,?,?,?,?,?,?) RETURNING id`, sg.Exec, string(sg.Kind), sg.Target, sg.Output, sg.Error, sg.Cause, sg.Time).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("send %s to %s: %w", sg.Kind, sg.Exec, err)
	}
	return id, nil
}

// Signals implements Store.
func (s *SQLite) Signals(ctx context.Context, after int64, exec string) ([]*Signal, error) {
	q := `SELECT id, exec, kind, target, output, error, cause, time FROM signals WHERE id > ?`
	args := []any{after}
	if exec != "" {
		q += ` AND exec = ?`
		args = append(args, exec)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	defer rows.Close()
	var out []*Signal
	for rows.Next() {
		sg := &Signal{}
		var kind string
		if err := rows.Scan(&sg.ID, &sg.Exec, &kind, &sg.Target, &sg.Output, &sg.Error, &sg.Cause, &sg.Time); err != nil {
			return nil, fmt.Errorf("signals: %w", err)
		}
		sg.Kind = SignalKind(kind)
		out = append(out, sg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signals: %w", err)
	}
	return out, nil
}

// Ack implements Store.
func (s *SQLite) Ack(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, c *sql.Conn) error {
		for _, id := range ids {
			if _, err := c.ExecContext(ctx, `DELETE FROM signals WHERE id = ?`, id); err != nil {
				return fmt.Errorf("ack signal %d: %w", id, err)
			}
		}
		return nil
	})
}

// Secret implements Store.
func (s *SQLite) Secret(ctx context.Context) ([]byte, error) {
	var v []byte
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'secret'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return v, nil
}

// DB returns a read-only handle on the database, for tools and tests that
// inspect it directly.
func (s *SQLite) DB() *sql.DB { return s.r }
