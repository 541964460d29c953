package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/engine/store/postgres"
	"github.com/nexus-workflows/nexus/model"
)

// OpenStore opens the store at location: a postgres:// or postgresql://
// URL is a PostgreSQL database that many engines share (package
// store/postgres, migrated on open); anything else is the path of an
// SQLite file, created if missing.
func OpenStore(ctx context.Context, location string) (store.Store, error) {
	if IsPostgres(location) {
		return postgres.Open(ctx, location, postgres.Options{})
	}
	return store.OpenSQLite(location, store.SQLiteOptions{})
}

// IsPostgres reports whether location is a PostgreSQL URL.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// adoptMax bounds the executions one round of Adopt takes over, so that
// engines adopting at once share the work of one that died.
const adoptMax = 64

// openStatuses are the statuses of executions that are not over.
func openStatuses() []string {
	var open []string
	for s := model.Running; s < model.Succeeded; s++ {
		open = append(open, s.String())
	}
	return open
}

// Adopt takes over unfinished executions that no live engine runs (their
// lease ran out: the engine that ran them died or lost the database; or
// nobody holds one), at most 64 a call, resumes them here and returns
// their ids. On a store shared by several engines (a store.Adopter:
// PostgreSQL), each such execution goes to one engine; on another store
// they are listed and claimed one by one, and those of a process of this
// host that no longer exists are taken at once. Whatever happens, two
// engines cannot both extend one log (store.ErrConflict): leases only
// decide who works.
func (e *Engine) Adopt(ctx context.Context) ([]string, error) {
	now := e.clock.Now()
	var ids []string
	if a, ok := e.st.(store.Adopter); ok {
		got, err := a.Adopt(ctx, e.owner, openStatuses(), now.UnixNano(), now.Add(e.opts.Lease).UnixNano(), adoptMax)
		if err != nil {
			return nil, fmt.Errorf("adopt: %w", err)
		}
		ids = got
	} else {
		rows, err := e.st.Executions(ctx, store.Filter{Status: openStatuses()})
		if err != nil {
			return nil, fmt.Errorf("adopt: %w", err)
		}
		for _, r := range rows {
			if len(ids) < adoptMax && (r.Owner == "" || r.Lease < now.UnixNano() || deadOwner(r.Owner) != "") {
				ids = append(ids, r.ID)
			}
		}
	}
	var done []string
	var errs []error
	for _, id := range ids {
		e.mu.Lock()
		running := e.live[id] != nil
		e.mu.Unlock()
		if running {
			continue // its lease had run out here; Renew keeps it now
		}
		if err := e.resume(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, id)
		e.log.Info("adopted", "execution", id)
	}
	return done, errors.Join(errs...)
}

// adoptLoop adopts every Options.AdoptEvery.
func (e *Engine) adoptLoop() {
	for {
		t := time.NewTimer(e.opts.AdoptEvery)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := e.Adopt(e.ctx); err != nil && e.ctx.Err() == nil {
			e.log.Warn("adopt executions", "err", err)
		}
	}
}
