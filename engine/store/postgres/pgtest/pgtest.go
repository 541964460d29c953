// Package pgtest gives tests a PostgreSQL schema of their own, so that
// test runs (and the tests of one run) sharing a database never see each
// other's tables.
//
// The database is the URL in NEXUS_TEST_POSTGRES, for example
//
//	NEXUS_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// When it is unset, a test that needs it is skipped, saying so; when CI is
// also set, it fails instead, so that CI cannot pass without running it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable that holds the test database's URL.
const Env = "NEXUS_TEST_POSTGRES"

// URL returns the test database's URL, or skips t (fails it under CI)
// when there is none.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		why := Env + " is not set: no PostgreSQL to test against (e.g. " + Env +
			"='postgres://postgres@127.0.0.1:5432/test?sslmode=disable')"
		if os.Getenv("CI") != "" {
			t.Fatal(why + "; CI is set, so this is a failure")
		}
		t.Skip(why)
	}
	return u
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// Schema creates a new, empty schema in the test database, named after t,
// drops it (and everything in it) when t ends, and returns the database's
// URL with search_path set to it: a store opened on that URL has its own
// tables.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	var nonce [4]byte
	rand.Read(nonce[:])
	name := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = "nx_" + name + "_" + hex.EncodeToString(nonce[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if os.Getenv("NEXUS_TEST_POSTGRES_KEEP") != "" {
			t.Logf("pgtest: kept schema %s (NEXUS_TEST_POSTGRES_KEEP)", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return WithSchema(t, base, name)
}

// WithSchema returns url with search_path set to schema.
func WithSchema(t testing.TB, rawURL, schema string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s is not a postgres:// URL: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Name is a fresh name for a schema, for tests that create schemas
// themselves.
func Name(prefix string) string {
	var nonce [4]byte
	rand.Read(nonce[:])
	return fmt.Sprintf("%s_%s", prefix, hex.EncodeToString(nonce[:]))
}
