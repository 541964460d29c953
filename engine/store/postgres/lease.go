package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/nexus-workflows/nexus/engine/store"
)

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, exec, owner, takeFrom string, now, lease int64) (string, error) {
	if err := s.live(); err != nil {
		return "", err
	}
	var cur string
	err := s.pool.QueryRow(ctx, `UPDATE executions SET owner = $1, lease = $2
		WHERE id = $3 AND (owner = '' OR owner = $1 OR (owner = $4 AND $4 <> '') OR lease < $5) RETURNING owner`,
		owner, lease, exec, takeFrom, now).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `SELECT owner FROM executions WHERE id = $1`, exec).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("claim %s: %w", exec, store.ErrNotFound)
		}
	}
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", exec, err)
	}
	return cur, nil
}

// Renew implements store.Store.
func (s *Store) Renew(ctx context.Context, owner string, lease int64) error {
	if err := s.live(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE executions SET lease = $1 WHERE owner = $2 AND owner <> ''`, lease, owner); err != nil {
		return fmt.Errorf("renew the leases of %s: %w", owner, err)
	}
	return nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, exec, owner string) error {
	if err := s.live(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE executions SET owner = '', lease = 0 WHERE id = $1 AND owner = $2`, exec, owner); err != nil {
		return fmt.Errorf("release %s: %w", exec, err)
	}
	return nil
}

// Adopt implements store.Adopter: one statement finds executions in one
// of the statuses that nobody owns or whose lease ran out, the oldest
// lease first, locks them skipping rows another transaction holds (another
// engine adopting, or an append moving the head), and gives them to
// owner. The conditions are checked again on the locked rows, so a lease
// renewed in the meantime is not taken.
func (s *Store) Adopt(ctx context.Context, owner string, status []string, now, lease int64, limit int) ([]string, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	if limit <= 0 || len(status) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE executions SET owner = $1, lease = $2
		WHERE num IN (
			SELECT num FROM executions
			WHERE status = ANY($3::text[]) AND (owner = '' OR lease < $4)
			ORDER BY lease LIMIT $5
			FOR UPDATE SKIP LOCKED)
		RETURNING id`, owner, lease, status, now, limit)
	if err != nil {
		return nil, fmt.Errorf("adopt executions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("adopt executions: %w", err)
	}
	return ids, nil
}

var (
	_ store.Store        = (*Store)(nil)
	_ store.Adopter      = (*Store)(nil)
	_ store.RangeScanner = (*Store)(nil)
)
