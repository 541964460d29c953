// Package postgres is the store.Store that many engines share: one
// PostgreSQL database (or one schema of it) holds the logs, snapshots,
// workflows and inbox of every engine node, and the nodes divide the
// executions between them with leases.
//
// # Opening
//
//	st, err := postgres.Open(ctx, "postgres://nexus@db:5432/nexus?sslmode=disable", postgres.Options{})
//
// Open applies the schema's migrations (versioned in the table
// nexus_migrations, each once, under an advisory lock, so that nodes
// starting together do not race) in the first schema of the connection's
// search_path; a search_path parameter in the URL selects another schema.
// A database with a newer schema than this package knows is refused.
//
// # Appends
//
// Append is group commit, as in the SQLite store: appends that arrive
// while a commit is in flight wait for the next one, and each commit
// sends all of them in one round trip (a pgx batch: one implicit
// transaction, one WAL flush). Several commits may be in flight at once
// (Options.Committers). Each batch is one statement that moves the
// execution's head from the records' first Prev to their last Hash
// (UPDATE ... WHERE seq = head AND hash = head hash) and inserts the
// records only if that update took place. Under PostgreSQL's row locks,
// two appends to one head are serialised: the second waits for the first
// to commit, then finds the head moved and fails with store.ErrConflict.
// So an execution's chain cannot fork, whichever engines race on it; the
// unique index on (execution, seq) would refuse a second record at one
// sequence number even if it could.
//
// # Leases
//
// Claim, Renew and Release are single statements on the execution's row.
// Adopt (store.Adopter) takes over, in one statement, executions whose
// lease ran out, locking them with FOR UPDATE SKIP LOCKED so that nodes
// adopting at the same moment take different executions rather than
// queueing on the same rows. Lease times are the engines' clocks; keep
// the nodes' clocks synchronised to well within the lease. Leases decide
// who works on an execution, not whether its log is right: that is the
// head check above.
//
// # Signals
//
// Send takes a transaction-scoped advisory lock, so that signals commit in
// the order of their ids: an engine reading the inbox after the last id it
// saw never misses one committed late with a smaller id.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nexus-workflows/nexus/engine/store"
)

// Options configure a Store. The zero value is the default.
type Options struct {
	// MaxConns bounds the store's connections (0: the URL's
	// pool_max_conns, else 8).
	MaxConns int
	// Committers is how many group commits may be in flight at once
	// (0: 4). One gives the largest groups; more overlap one commit's
	// flush with the next one's statements.
	Committers int
	// MaxGroup bounds how many Append calls one commit takes (0: 256).
	MaxGroup int
}

// Store is the PostgreSQL store. All methods are safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	jobs chan *job
	quit chan struct{}
	// stopped is closed once no committer runs and the jobs left were
	// failed: a job still unanswered then will never be run.
	stopped chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	closed  atomic.Bool
	maxGrp  int

	txs, batches, records, retries atomic.Int64
}

// Stats count what the store committed.
type Stats struct {
	// Transactions committed by Append, and the batches and records in
	// them: Batches/Transactions is how many appends one commit covered.
	Transactions, Batches, Records int64
	// Retries counts groups that failed as a whole and were committed
	// batch by batch instead.
	Retries int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Transactions: s.txs.Load(), Batches: s.batches.Load(), Records: s.records.Load(), Retries: s.retries.Load()}
}

// job is one Append call waiting for a commit.
type job struct {
	ctx     context.Context
	batches []*store.Batch
	errs    []error
	err     error
	done    chan struct{}
}

// Open connects to the database at url (postgres://...), applies the
// migrations it lacks, and starts the committers.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	where := redact(url)
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 8
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "nexus"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	s := &Store{pool: pool, jobs: make(chan *job, 1024), quit: make(chan struct{}), stopped: make(chan struct{}),
		maxGrp: opts.MaxGroup}
	if s.maxGrp <= 0 {
		s.maxGrp = 256
	}
	n := opts.Committers
	if n <= 0 {
		n = 4
	}
	n = min(n, int(cfg.MaxConns))
	for range n {
		s.wg.Go(s.commit)
	}
	return s, nil
}

// redact is url without its password, for messages.
func redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unreadable URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Pool is the store's connection pool, for tools and tests that inspect
// the database directly.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the committers after the commits they have begun, fails the
// appends still waiting with store.ErrClosed, and closes the connections.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		s.wg.Wait()
		for {
			select {
			case j := <-s.jobs:
				j.err = store.ErrClosed
				close(j.done)
				continue
			default:
			}
			break
		}
		close(s.stopped)
		s.pool.Close()
	})
	return nil
}

// live fails calls on a closed store.
func (s *Store) live() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, batches ...*store.Batch) ([]error, error) {
	j := &job{ctx: ctx, batches: batches, errs: make([]error, len(batches)), done: make(chan struct{})}
	if err := s.live(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.jobs <- j:
	case <-s.quit:
		return nil, store.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-j.done:
	case <-s.stopped:
		select {
		case <-j.done:
		default:
			return nil, store.ErrClosed // queued after Close drained the queue
		}
	}
	if j.err != nil {
		return nil, j.err
	}
	return j.errs, nil
}

// commit is a committer: it takes the jobs waiting and commits them
// together.
func (s *Store) commit() {
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-s.quit:
			return
		}
		group := []*job{first}
	more:
		for len(group) < s.maxGrp {
			select {
			case j := <-s.jobs:
				group = append(group, j)
			default:
				break more
			}
		}
		s.run(group)
		for _, j := range group {
			close(j.done)
		}
	}
}

// item is one batch of a group, with where its answer goes.
type item struct {
	j   *job
	i   int
	b   *store.Batch
	sql string
	arg []any
}

// run commits a group: the batches of every job, ordered by execution so
// that concurrent commits lock heads in one order, in one round trip and
// one transaction. If PostgreSQL refuses the group as a whole, the batches
// are committed one by one, so that one bad batch fails alone.
func (s *Store) run(group []*job) {
	var items []*item
	for _, j := range group {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			continue
		}
		for i, b := range j.batches {
			q, args, err := statement(b)
			if err != nil {
				j.errs[i] = err
				continue
			}
			items = append(items, &item{j: j, i: i, b: b, sql: q, arg: args})
		}
	}
	if len(items) == 0 {
		return
	}
	slices.SortStableFunc(items, func(a, b *item) int { return strings.Compare(a.b.Exec, b.b.Exec) })
	ctx := context.Background()
	err := s.send(ctx, items)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server refused the transaction: nothing of it was committed.
		s.retries.Add(1)
		for _, it := range items {
			if err := s.send(ctx, []*item{it}); err != nil {
				it.j.errs[it.i] = fmt.Errorf("append to %s: %w", it.b.Exec, err)
			}
		}
		return
	}
	if err != nil {
		// The connection failed: whether the group committed is unknown,
		// and the log says. Every append of the group fails.
		for _, it := range items {
			it.j.err = fmt.Errorf("append to %s: %w", it.b.Exec, err)
		}
	}
}

// send runs items in one implicit transaction (a pgx batch: one round trip
// and one commit) and answers each item that the database decided: its
// records' positions on success, ErrExists, ErrNotFound or ErrConflict
// otherwise. An error means nothing was answered.
func (s *Store) send(ctx context.Context, items []*item) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	pb := &pgx.Batch{}
	for _, it := range items {
		pb.Queue(it.sql, it.arg...)
	}
	type answer struct {
		num  *int64
		head *int64
		pos  []int64
	}
	answers := make([]answer, len(items))
	br := conn.SendBatch(ctx, pb)
	for k := range items {
		a := &answers[k]
		if err := br.QueryRow().Scan(&a.num, &a.head, &a.pos); err != nil {
			br.Close()
			return err
		}
	}
	// Close reads to the end of the batch: the implicit transaction has
	// committed when it returns nil.
	if err := br.Close(); err != nil {
		return err
	}
	committed := 0
	for k, it := range items {
		a, b := answers[k], it.b
		switch {
		case a.num != nil:
			if len(a.pos) != len(b.Records) {
				it.j.errs[it.i] = fmt.Errorf("append to %s: %d positions for %d records", b.Exec, len(a.pos), len(b.Records))
				continue
			}
			for i, r := range b.Records {
				r.Pos = a.pos[i]
			}
			committed++
			s.batches.Add(1)
			s.records.Add(int64(len(b.Records)))
		case b.Create != nil:
			it.j.errs[it.i] = fmt.Errorf("execution %s: %w", b.Exec, store.ErrExists)
		case a.head == nil:
			it.j.errs[it.i] = fmt.Errorf("execution %s: %w", b.Exec, store.ErrNotFound)
		default:
			it.j.errs[it.i] = fmt.Errorf("execution %s: records from seq %d, but the log's head is seq %d: %w",
				b.Exec, b.Records[0].Seq, *a.head, store.ErrConflict)
		}
	}
	if committed > 0 {
		s.txs.Add(1)
	}
	return nil
}

// The statements of an append. Each moves (or creates) the head of one
// execution in its first part, h, and does the rest only if h returned a
// row: insert the records (their positions taken after the head is held),
// replace the snapshot, remove the signals the batch consumed. It returns
// the execution's number (NULL when h did nothing), the head before the
// statement (NULL when there is no such execution) and the positions of
// the records in order. An empty status keeps the execution's status and
// ending. The statements name their parameters (@name); compile numbers
// them once.
const (
	appendHead = `WITH h AS (
	UPDATE executions SET seq = @seq, hash = @hash, updated = @time,
		status = CASE WHEN @status::text = '' THEN status ELSE @status::text END,
		output = CASE WHEN @status::text = '' THEN output ELSE @output::bytea END,
		error = CASE WHEN @status::text = '' THEN error ELSE @error::text END,
		cause = CASE WHEN @status::text = '' THEN cause ELSE @cause::text END,
		owner = CASE WHEN @release::boolean THEN '' ELSE owner END,
		lease = CASE WHEN @release::boolean THEN 0 ELSE lease END
	WHERE id = @id AND seq = @head_seq::bigint AND hash = @head_hash::bytea
	RETURNING num),`
	createHead = `WITH h AS (
	INSERT INTO executions(id, workflow, bindings, status, created, updated, seq, hash, owner, lease, output, error, cause)
	VALUES(@id, @workflow, @bindings, @status, @created, @time, @seq, @hash, @owner, @lease, @output, @error, @cause)
	ON CONFLICT (id) DO NOTHING
	RETURNING num),`
	appendRest = `
r AS (
	INSERT INTO records(exec, seq, rec, hash, mac)
	SELECT h.num, u.seq, u.rec, u.hash, u.mac
	FROM h, unnest(@r_seq::bigint[], @r_rec::bytea[], @r_hash::bytea[], @r_mac::bytea[]) WITH ORDINALITY AS u(seq, rec, hash, mac, i)
	ORDER BY u.i
	RETURNING pos, seq),
s AS (
	INSERT INTO snapshots(exec, seq, hash, state, meta, mac, time)
	SELECT h.num, @s_seq::bigint, @s_hash::bytea, @s_state::bytea, @s_meta::bytea, @s_mac::bytea, @s_time::bigint
	FROM h WHERE @snapshot::boolean
	ON CONFLICT (exec) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, state = excluded.state,
		meta = excluded.meta, mac = excluded.mac, time = excluded.time),
d AS (
	DELETE FROM signals WHERE id = ANY(@consumed::bigint[]) AND EXISTS (SELECT 1 FROM h))
SELECT (SELECT num FROM h), (SELECT seq FROM executions WHERE id = @id),
	coalesce((SELECT array_agg(pos ORDER BY seq) FROM r), '{}'::bigint[])`
	appendSQL = appendHead + appendRest
	createSQL = createHead + appendRest
)

var appendStmt, createStmt = compile(appendSQL), compile(createSQL)

// compiled is a statement whose @names are numbered ($1, $2, ... in order
// of first use): pgx.NamedArgs would parse the statement on every call.
type compiled struct {
	sql   string
	names []string // names[i] is $i+1
}

var atName = regexp.MustCompile(`@[a-z_]+`)

func compile(q string) *compiled {
	c := &compiled{}
	num := map[string]int{}
	c.sql = atName.ReplaceAllStringFunc(q, func(m string) string {
		i, ok := num[m[1:]]
		if !ok {
			c.names = append(c.names, m[1:])
			i = len(c.names)
			num[m[1:]] = i
		}
		return "$" + strconv.Itoa(i)
	})
	return c
}

// args are the named values in the statement's order.
func (c *compiled) args(named map[string]any) []any {
	out := make([]any, len(c.names))
	for i, n := range c.names {
		out[i] = named[n]
	}
	return out
}

// statement checks a batch and returns the statement that appends it and
// its arguments, or the batch's error.
func statement(b *store.Batch) (string, []any, error) {
	bad := func(format string, args ...any) (string, []any, error) {
		return "", nil, fmt.Errorf("execution %s: "+format, append([]any{b.Exec}, args...)...)
	}
	if len(b.Records) == 0 && b.Create == nil {
		return bad("no records to append")
	}
	var headSeq uint64
	var headHash [32]byte
	if len(b.Records) > 0 {
		headSeq, headHash = b.Records[0].Seq-1, b.Records[0].Prev
	}
	n := len(b.Records)
	seqs := make([]int64, n)
	recs := make([][]byte, n)
	hashes := make([][]byte, n)
	macs := make([][]byte, n)
	for i, r := range b.Records {
		if r.Exec != b.Exec {
			return bad("record %d is for execution %s", i, r.Exec)
		}
		if i > 0 && (r.Seq != b.Records[i-1].Seq+1 || r.Prev != b.Records[i-1].Hash) {
			return bad("records %d and %d do not chain", i-1, i)
		}
		if r.Seq > 1<<63-1 {
			return bad("sequence number %d out of range", r.Seq)
		}
		seqs[i], recs[i], hashes[i] = int64(r.Seq), r.Canonical(), r.Hash[:]
		if len(r.MAC) > 0 {
			macs[i] = r.MAC
		}
	}
	lastSeq, lastHash := headSeq, headHash
	if n > 0 {
		lastSeq, lastHash = b.Records[n-1].Seq, b.Records[n-1].Hash
	}
	consumed := b.Consumed
	if consumed == nil {
		consumed = []int64{}
	}
	args := map[string]any{"id": b.Exec, "seq": int64(lastSeq), "hash": lastHash[:], "time": b.Time(),
		"status": b.Status, "output": nullBytes(b.Output), "error": b.Error, "cause": b.Cause, "release": b.Release,
		"head_seq": int64(headSeq), "head_hash": headHash[:],
		"r_seq": seqs, "r_rec": recs, "r_hash": hashes, "r_mac": macs,
		"snapshot": false, "s_seq": nil, "s_hash": nil, "s_state": nil, "s_meta": nil, "s_mac": nil, "s_time": nil,
		"consumed": consumed}
	if sn := b.Snapshot; sn != nil {
		if sn.Exec != b.Exec || sn.Seq > lastSeq {
			return bad("snapshot at seq %d beyond the log's head %d", sn.Seq, lastSeq)
		}
		args["snapshot"], args["s_seq"], args["s_hash"], args["s_state"], args["s_meta"], args["s_mac"], args["s_time"] =
			true, int64(sn.Seq), sn.Hash[:], nonNil(sn.State), nonNil(sn.Meta), nullBytes(sn.MAC), sn.Time
	}
	c := b.Create
	if c == nil {
		return appendStmt.sql, appendStmt.args(args), nil
	}
	if headSeq != 0 || headHash != ([32]byte{}) {
		return bad("a new execution's log starts at seq 1")
	}
	if c.ID != b.Exec {
		return bad("created as %s", c.ID)
	}
	if b.Status == "" {
		args["status"] = c.Status
	}
	args["workflow"], args["bindings"], args["created"], args["owner"], args["lease"] =
		c.Workflow, nullBytes(c.Bindings), c.Created, c.Owner, c.Lease
	return createStmt.sql, createStmt.args(args), nil
}

func nullBytes(b []byte) []byte {
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
