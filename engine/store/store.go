// Package store is the engine's durable state: an append-only,
// hash-chained log of records per execution, the snapshots that let an
// execution resume without replaying its whole history, the workflow
// sources executions run, and an inbox of signals (callback completions,
// heartbeats, cancellations) sent from outside the engine.
//
// Store is the interface; SQLite (this package) is the embedded default,
// PostgreSQL (package store/postgres) the store many engines share. Every
// backend must pass the conformance suite in package storetest.
//
// # The log
//
// Each execution has its own chain: record n holds the SHA-256 of record
// n-1 (Prev) and its own hash over every field (Hash), and, when the
// engine has a log key, an HMAC-SHA256 of that hash under the key (MAC).
// Chains are per execution rather than one per database so that engines
// sharing a database (PostgreSQL) append to different executions without
// serialising on one chain head, so that verification runs in parallel,
// and so that an execution's log is a self-contained, checkable unit
// (export, retention). Verify recomputes every chain and names the first
// record that does not match.
//
// The store never interprets a record's Body: the engine encodes the
// kernel's event or command there, and copies the fields an auditor reads
// first (type, state, function, attempt, idempotency key, error) into
// plain columns. The hash covers all of them.
package store

import (
	"context"
	"errors"
)

// Errors a Store returns; test with errors.Is.
var (
	// ErrNotFound: no such execution, workflow, snapshot or signal.
	ErrNotFound = errors.New("not found")
	// ErrExists: an execution with this id exists already.
	ErrExists = errors.New("execution exists")
	// ErrConflict: the records do not continue the execution's log (their
	// first sequence number or previous hash is not the log's head), so
	// someone else appended to it: the caller no longer owns the execution.
	ErrConflict = errors.New("append conflict")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
)

// Store is the durable state of one or more engines. All methods are safe
// for concurrent use. Append is the hot path: an implementation commits
// concurrent appends together (one transaction and one sync for many
// executions) and returns only once the records are durable.
type Store interface {
	// PutWorkflow stores a workflow source under its digest; storing the
	// same digest again does nothing.
	PutWorkflow(ctx context.Context, w *Workflow) error
	// Workflow returns the workflow stored under digest.
	Workflow(ctx context.Context, digest string) (*Workflow, error)

	// Append makes batches durable, atomically per batch: the records,
	// the execution's new head, status and lease, its snapshot, and the
	// removal of the signals it consumed. A batch with Create registers a
	// new execution (ErrExists when the id is taken). A batch whose first
	// record does not continue the log fails with ErrConflict; the other
	// batches of the call are not affected by that. The error returned
	// for batch i is errs[i]; err is for failures of the whole call.
	Append(ctx context.Context, batches ...*Batch) (errs []error, err error)

	// Execution returns what the store knows about one execution.
	Execution(ctx context.Context, id string) (*Execution, error)
	// Executions lists executions, oldest first.
	Executions(ctx context.Context, f Filter) ([]*Execution, error)
	// Snapshot returns the latest snapshot of an execution (ErrNotFound
	// when none was taken).
	Snapshot(ctx context.Context, exec string) (*Snapshot, error)
	// Records calls fn with the records of execution exec whose sequence
	// number is above after, in order; fn may keep r.
	Records(ctx context.Context, exec string, after uint64, fn func(r *Record) error) error
	// Scan calls snap with every snapshot, then rec with every record of
	// the store in the order they were appended (for verification).
	Scan(ctx context.Context, snap func(s *Snapshot) error, rec func(r *Record) error) error
	// Record returns the record of exec with sequence number seq.
	Record(ctx context.Context, exec string, seq uint64) (*Record, error)

	// Claim makes owner the owner of execution exec until the lease time
	// (Unix nanoseconds), if it is unowned, owned by owner already, owned
	// by takeFrom (an owner the caller knows is dead), or its lease ran
	// out before now. It returns the owner after the call.
	Claim(ctx context.Context, exec, owner, takeFrom string, now, lease int64) (string, error)
	// Renew extends the lease of every execution owner holds.
	Renew(ctx context.Context, owner string, lease int64) error
	// Release gives up owner's lease on exec.
	Release(ctx context.Context, exec, owner string) error

	// Send puts a signal in the inbox and returns its id.
	Send(ctx context.Context, s *Signal) (int64, error)
	// Signals returns signals with an id above after, in id order; with
	// exec set, only that execution's.
	Signals(ctx context.Context, after int64, exec string) ([]*Signal, error)
	// Ack removes signals from the inbox (those not consumed by an Append).
	Ack(ctx context.Context, ids ...int64) error

	// Secret returns a random 32-byte secret created with the store: the
	// key of task tokens.
	Secret(ctx context.Context) ([]byte, error)

	// Close releases the store; pending appends fail with ErrClosed.
	Close() error
}

// Adopter is implemented by stores that several engines share: engines
// call Adopt to take over the executions of an engine that died.
type Adopter interface {
	// Adopt makes owner the owner, until the lease time (Unix
	// nanoseconds), of at most limit executions in one of the statuses
	// that nobody owns or whose lease ran out before now, and returns
	// their ids. Executions another caller is claiming at the same moment
	// are skipped rather than waited for, so that engines adopting at
	// once share the work.
	Adopt(ctx context.Context, owner string, status []string, now, lease int64, limit int) ([]string, error)
}

// Stored rebuilds a record a backend read back: its canonical encoding
// (raw, see Record.Canonical), the hash and signature stored with it,
// where it is stored (exec, seq) and its position. A record whose encoding
// cannot be read, or that holds another execution or sequence number than
// it is stored under, comes back named by where it is stored, and Check
// says what is wrong with it.
func Stored(pos int64, exec string, seq uint64, raw, hash, mac []byte) *Record {
	return loadRecord(pos, exec, seq, raw, hash, mac)
}

// Workflow is a workflow source, stored once for every execution of it,
// so that any engine can recompile the machine to resume an execution.
type Workflow struct {
	// Digest is the hex SHA-256 of Source.
	Digest string
	Name   string
	// File is the path the source was read from, for error messages.
	File   string
	Source []byte
}

// Execution is the store's index entry for one execution. The log is the
// truth; this row is kept up to date with it by Append.
type Execution struct {
	ID       string
	Workflow string // digest
	// Bindings is the JSON object of function name → URI the execution
	// was started with.
	Bindings []byte
	Status   string
	Created  int64 // Unix nanoseconds
	Updated  int64
	// Seq and Hash are the head of the log: the last record's sequence
	// number and hash.
	Seq  uint64
	Hash [32]byte
	// Owner holds the lease until Lease (Unix nanoseconds); "" when none.
	Owner string
	Lease int64
	// Output, Error and Cause of a finished execution.
	Output       []byte
	Error, Cause string
}

// Filter selects executions.
type Filter struct {
	// Status, when not empty, keeps only executions in one of them.
	Status []string
	// Workflow keeps only executions of this digest.
	Workflow string
	Limit    int
}

// Batch is what one Append makes durable for one execution.
type Batch struct {
	Exec string
	// Create registers the execution; its records then start at seq 1.
	Create *Execution
	// Records continue the log: the first has Seq = head + 1 and Prev =
	// the head's hash; each next one continues the previous.
	Records []*Record
	// Status, when not empty, is the execution's new status; Output,
	// Error and Cause are stored with it.
	Status       string
	Output       []byte
	Error, Cause string
	// Release gives up the lease (the execution ended).
	Release bool
	// Snapshot, when not nil, replaces the execution's snapshot.
	Snapshot *Snapshot
	// Consumed are inbox signals this batch consumed; they are removed.
	Consumed []int64
}

// Snapshot is an execution's state after its record Seq, so that resuming
// reads the snapshot and the records after it, whatever the history.
type Snapshot struct {
	Exec string
	Seq  uint64
	// Hash is the hash of record Seq: it binds the snapshot to the chain.
	Hash [32]byte
	// State is the kernel state (model.Execution.AppendEncoding); Meta the
	// engine's own (timers, numbering), opaque to the store.
	State []byte
	Meta  []byte
	// MAC is HMAC-SHA256 under the log key of the snapshot's digest, when
	// the engine has a key.
	MAC  []byte
	Time int64
}

// Signal is a message to an execution from outside the engine: a callback
// completion or heartbeat (Target is the invocation), or a cancellation.
type Signal struct {
	ID   int64
	Exec string
	Kind SignalKind
	// Target is the invocation id a completion or heartbeat is for.
	Target uint32
	Output []byte
	Error  string
	Cause  string
	Time   int64
}

// SignalKind says what a signal asks.
type SignalKind string

// Signal kinds.
const (
	SignalSucceed   SignalKind = "succeed"
	SignalFail      SignalKind = "fail"
	SignalHeartbeat SignalKind = "heartbeat"
	SignalCancel    SignalKind = "cancel"
)

// Valid reports whether k is a known kind.
func (k SignalKind) Valid() bool {
	switch k {
	case SignalSucceed, SignalFail, SignalHeartbeat, SignalCancel:
		return true
	}
	return false
}
