package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one step of the schema. Steps are applied in order, each
// in a transaction of its own together with the row that records it, and
// never changed once released: a new layout is a new step.
type migration struct {
	name string
	sql  string
}

// migrations is the schema's history; migration i+1 is version i+1.
//
// The records table keeps each record's canonical encoding (rec, the bytes
// its hash is over, see store.Record.Canonical) with the two columns it is
// found by, as the SQLite store does. pos, from a sequence, is the order
// of appends: an append takes its positions after it holds the head of its
// execution (see appendSQL), so the positions of one execution increase
// with its sequence numbers. There are no foreign keys: the hash chains
// are the integrity check, and Verify reports what is missing or moved.
var migrations = []migration{
	{"initial layout", `
CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE workflows(
	digest text PRIMARY KEY, name text NOT NULL, file text NOT NULL, source bytea NOT NULL);
CREATE TABLE executions(
	num bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id text NOT NULL UNIQUE,
	workflow text NOT NULL,
	bindings bytea,
	status text NOT NULL,
	created bigint NOT NULL,
	updated bigint NOT NULL,
	seq bigint NOT NULL,
	hash bytea NOT NULL,
	owner text NOT NULL DEFAULT '',
	lease bigint NOT NULL DEFAULT 0,
	output bytea,
	error text NOT NULL DEFAULT '',
	cause text NOT NULL DEFAULT '');
CREATE INDEX executions_status_lease ON executions(status, lease);
CREATE INDEX executions_owner ON executions(owner) WHERE owner <> '';
CREATE INDEX executions_workflow ON executions(workflow);
CREATE TABLE records(
	pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	exec bigint NOT NULL,
	seq bigint NOT NULL,
	rec bytea NOT NULL,
	hash bytea NOT NULL,
	mac bytea,
	UNIQUE (exec, seq));
CREATE TABLE snapshots(
	exec bigint PRIMARY KEY,
	seq bigint NOT NULL,
	hash bytea NOT NULL,
	state bytea NOT NULL,
	meta bytea NOT NULL,
	mac bytea,
	time bigint NOT NULL);
CREATE TABLE signals(
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	exec text NOT NULL,
	kind text NOT NULL,
	target bigint NOT NULL,
	output bytea,
	error text NOT NULL,
	cause text NOT NULL,
	time bigint NOT NULL);
CREATE INDEX signals_exec ON signals(exec);
`},
}

// Version is the schema version this package writes: the number of
// migrations it knows.
func Version() int { return len(migrations) }

// lockMigrations is the key of the advisory lock that serialises stores
// opening the same schema at once (mixed with the schema's name).
const lockMigrations = "nexus/migrations"

// migrate brings the schema of the connection's search path up to Version,
// under an advisory lock so that engines starting together apply each
// step once; then it makes sure the store's secret exists. A database
// with a newer schema than this package knows is refused rather than
// misread.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if schema == "" {
		return errors.New("no schema to create the tables in: the search_path names none that exists (create it, or set search_path in the URL)")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1 || current_schema()))`, lockMigrations); err != nil {
		return fmt.Errorf("lock the schema: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1 || current_schema()))`, lockMigrations)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS nexus_migrations(
		version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM nexus_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("schema %s has version %d; this nexus knows versions up to %d (upgrade nexus, or use another schema)",
			schema, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		m := migrations[v-1]
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO nexus_migrations(version, name) VALUES($1, $2)`, v, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("schema %s: migration %d (%s): %w", schema, v, m.name, err)
		}
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if _, err := conn.Exec(ctx, `INSERT INTO meta(key, value) VALUES('secret', $1) ON CONFLICT (key) DO NOTHING`, secret); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}
