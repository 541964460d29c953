package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "modernc.org/sqlite"             // the database/sql driver "sqlite"
)

// Meta is what the server keeps beside the engine's store: API tokens and
// the versions of deployed workflows. Workflow sources live in the
// engine's store (by digest, so that any engine can resume an execution);
// executions are the engine's own, named NAMESPACE/ID. The SQL is plain
// enough for SQLite and PostgreSQL ($N placeholders, TEXT and BIGINT).
type Meta struct {
	db *sql.DB
}

const metaSchema = `
CREATE TABLE IF NOT EXISTS nexus_tokens(
	id TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	created BIGINT NOT NULL,
	revoked BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS nexus_versions(
	namespace TEXT NOT NULL,
	name TEXT NOT NULL,
	version BIGINT NOT NULL,
	digest TEXT NOT NULL,
	file TEXT NOT NULL,
	bindings TEXT NOT NULL,
	verification TEXT NOT NULL,
	forced BIGINT NOT NULL,
	deployed BIGINT NOT NULL,
	deployed_by TEXT NOT NULL,
	PRIMARY KEY(namespace, name, version));
CREATE INDEX IF NOT EXISTS nexus_versions_digest ON nexus_versions(namespace, digest);
`

// OpenMeta opens the server's tables in the engine's database: a
// PostgreSQL URL (postgres://...) or an SQLite file.
func OpenMeta(ctx context.Context, location string) (*Meta, error) {
	if !strings.HasPrefix(location, "postgres://") && !strings.HasPrefix(location, "postgresql://") {
		return OpenMetaSQLite(location)
	}
	db, err := sql.Open("pgx", location)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	db.SetMaxOpenConns(8)
	// Nodes starting together on one database create the tables once: a
	// concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL.
	err = func() error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('nexus/meta' || current_schema()))`); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('nexus/meta' || current_schema()))`)
		_, err = NewMeta(ctx, db)
		return err
	}()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	return &Meta{db: db}, nil
}

// OpenMetaSQLite opens (creating if needed) the server's tables in the
// SQLite database at path: normally the engine's own file.
func OpenMetaSQLite(path string) (*Meta, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	m, err := NewMeta(context.Background(), db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return m, nil
}

// NewMeta creates the server's tables in db if needed.
func NewMeta(ctx context.Context, db *sql.DB) (*Meta, error) {
	for _, stmt := range strings.Split(metaSchema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("server schema: %w", err)
		}
	}
	return &Meta{db: db}, nil
}

// Close closes the database.
func (m *Meta) Close() error { return m.db.Close() }

// Token is an API token as stored: its hash, never the token.
type Token struct {
	ID        string
	Namespace string
	Name      string
	Created   time.Time
	Revoked   bool
}

// tokenPrefix starts every API token, so that a leaked one is easy to
// recognise (and to scan for).
const tokenPrefix = "nexus_"

var namespaceRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidNamespace reports whether ns is a namespace name: lowercase
// letters, digits and '-', at most 63, as a DNS label.
func ValidNamespace(ns string) bool { return namespaceRE.MatchString(ns) }

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken makes a new API token for namespace and stores its SHA-256.
// The token itself is returned once and kept nowhere.
func (m *Meta) CreateToken(ctx context.Context, namespace, name string) (token string, t *Token, err error) {
	if !ValidNamespace(namespace) {
		return "", nil, fmt.Errorf("namespace %q: use lowercase letters, digits and '-' (at most 63, as a DNS label)", namespace)
	}
	var b [32]byte
	rand.Read(b[:])
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := hashToken(token)
	t = &Token{ID: h[:12], Namespace: namespace, Name: name, Created: time.Now().UTC()}
	if _, err := m.db.ExecContext(ctx, `INSERT INTO nexus_tokens(id, hash, namespace, name, created) VALUES($1,$2,$3,$4,$5)`,
		t.ID, h, namespace, name, t.Created.UnixNano()); err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return token, t, nil
}

// errBadToken: the token is unknown or revoked.
var errBadToken = errors.New("unknown or revoked token")

// LookupToken returns the token's record if token is valid.
func (m *Meta) LookupToken(ctx context.Context, token string) (*Token, error) {
	t := &Token{}
	var created, revoked int64
	err := m.db.QueryRowContext(ctx, `SELECT id, namespace, name, created, revoked FROM nexus_tokens WHERE hash = $1`,
		hashToken(token)).Scan(&t.ID, &t.Namespace, &t.Name, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	t.Created, t.Revoked = time.Unix(0, created).UTC(), revoked != 0
	if t.Revoked {
		return nil, errBadToken
	}
	return t, nil
}

// Tokens lists the tokens, revoked ones included.
func (m *Meta) Tokens(ctx context.Context) ([]*Token, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT id, namespace, name, created, revoked FROM nexus_tokens ORDER BY created`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t := &Token{}
		var created, revoked int64
		if err := rows.Scan(&t.ID, &t.Namespace, &t.Name, &created, &revoked); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Created, t.Revoked = time.Unix(0, created).UTC(), revoked != 0
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes the token with id.
func (m *Meta) RevokeToken(ctx context.Context, id string) error {
	res, err := m.db.ExecContext(ctx, `UPDATE nexus_tokens SET revoked = $1 WHERE id = $2`, time.Now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token: no token %s", id)
	}
	return nil
}

// Version is one deployed version of a workflow, as stored.
type Version struct {
	Namespace, Name string
	Version         int64
	Digest, File    string
	Bindings        map[string]string
	// Verification is the protojson of the nexusv1.Verification.
	Verification []byte
	Forced       bool
	Deployed     time.Time
	DeployedBy   string
}

const versionColumns = `namespace, name, version, digest, file, bindings, verification, forced, deployed, deployed_by`

func scanVersion(sc interface{ Scan(...any) error }) (*Version, error) {
	v := &Version{}
	var binds, verif string
	var forced, deployed int64
	if err := sc.Scan(&v.Namespace, &v.Name, &v.Version, &v.Digest, &v.File, &binds, &verif, &forced, &deployed, &v.DeployedBy); err != nil {
		return nil, err
	}
	v.Verification, v.Forced, v.Deployed = []byte(verif), forced != 0, time.Unix(0, deployed).UTC()
	if err := json.Unmarshal([]byte(binds), &v.Bindings); err != nil {
		return nil, fmt.Errorf("bindings of %s/%s v%d: %w", v.Namespace, v.Name, v.Version, err)
	}
	return v, nil
}

// AddVersion registers v as the next version of its workflow and sets
// v.Version. When the latest version has the same digest and bindings,
// it returns that one instead and created is false.
func (m *Meta) AddVersion(ctx context.Context, v *Version) (out *Version, created bool, err error) {
	binds, _ := json.Marshal(v.Bindings)
	if v.Bindings == nil {
		binds = []byte("{}")
	}
	for range 10 {
		latest, err := m.Version(ctx, v.Namespace, v.Name, 0)
		var next int64 = 1
		switch {
		case err == nil:
			lb, _ := json.Marshal(latest.Bindings)
			if latest.Bindings == nil {
				lb = []byte("{}")
			}
			if latest.Digest == v.Digest && string(lb) == string(binds) && latest.Forced == v.Forced {
				return latest, false, nil
			}
			next = latest.Version + 1
		case !errors.Is(err, errNoVersion):
			return nil, false, err
		}
		forced := 0
		if v.Forced {
			forced = 1
		}
		_, err = m.db.ExecContext(ctx, `INSERT INTO nexus_versions(`+versionColumns+`) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			v.Namespace, v.Name, next, v.Digest, v.File, string(binds), string(v.Verification), forced, v.Deployed.UnixNano(), v.DeployedBy)
		if err == nil {
			c := *v
			c.Version = next
			return &c, true, nil
		}
		if !isConstraint(err) {
			return nil, false, fmt.Errorf("deploy %s: %w", v.Name, err)
		}
		// Another deploy took this number: read the latest again.
	}
	return nil, false, fmt.Errorf("deploy %s: too many concurrent deploys", v.Name)
}

func isConstraint(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "unique") || strings.Contains(s, "constraint") || strings.Contains(s, "duplicate key")
}

// errNoVersion: no such workflow or version.
var errNoVersion = errors.New("no such workflow version")

// Version returns version n of workflow name (0: the latest).
func (m *Meta) Version(ctx context.Context, ns, name string, n int64) (*Version, error) {
	q := `SELECT ` + versionColumns + ` FROM nexus_versions WHERE namespace = $1 AND name = $2`
	args := []any{ns, name}
	if n > 0 {
		q += ` AND version = $3`
		args = append(args, n)
	} else {
		q += ` ORDER BY version DESC LIMIT 1`
	}
	v, err := scanVersion(m.db.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		if n > 0 {
			return nil, fmt.Errorf("workflow %s version %d: %w", name, n, errNoVersion)
		}
		return nil, fmt.Errorf("workflow %s: %w", name, errNoVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", name, err)
	}
	return v, nil
}

// Versions lists the versions of workflow name (every workflow of the
// namespace when name is ""), newest first.
func (m *Meta) Versions(ctx context.Context, ns, name string) ([]*Version, error) {
	q := `SELECT ` + versionColumns + ` FROM nexus_versions WHERE namespace = $1`
	args := []any{ns}
	if name != "" {
		q += ` AND name = $2`
		args = append(args, name)
	}
	q += ` ORDER BY name, version DESC`
	return m.versions(ctx, q, args...)
}

// AllLatest returns the latest version of every workflow of every
// namespace (for the triggers).
func (m *Meta) AllLatest(ctx context.Context) ([]*Version, error) {
	return m.versions(ctx, `SELECT `+versionColumns+` FROM nexus_versions v WHERE version =
		(SELECT MAX(version) FROM nexus_versions w WHERE w.namespace = v.namespace AND w.name = v.name) ORDER BY namespace, name`)
}

// ByDigest returns the versions of namespace ns with digest.
func (m *Meta) ByDigest(ctx context.Context, ns, digest string) ([]*Version, error) {
	return m.versions(ctx, `SELECT `+versionColumns+` FROM nexus_versions WHERE namespace = $1 AND digest = $2 ORDER BY version`, ns, digest)
}

// Generation changes whenever a version is added: a cheap way to know
// when cached definitions are stale.
func (m *Meta) Generation(ctx context.Context) (string, error) {
	var n, last int64
	if err := m.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(deployed), 0) FROM nexus_versions`).Scan(&n, &last); err != nil {
		return "", fmt.Errorf("generation: %w", err)
	}
	return fmt.Sprintf("%d.%d", n, last), nil
}

func (m *Meta) versions(ctx context.Context, q string, args ...any) ([]*Version, error) {
	rows, err := m.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
