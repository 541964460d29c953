package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// snapMeta is the engine's part of a snapshot: what the kernel state
// does not hold but a resume needs.
type snapMeta struct {
	// Timers: due time (Unix ns) of every open timer, by id. A timer's
	// intent records when it started; once the intent is behind a
	// snapshot, this is where its due time survives.
	Timers map[uint32]int64 `json:"timers,omitempty"`
	// Next and Entered: the event numbering of threads (numbering).
	Next    int                 `json:"next"`
	Entered map[uint32][2]int64 `json:"entered,omitempty"`
}

// snapshot captures the execution after its last record.
func (x *execution) snapshot() *store.Snapshot {
	live := map[uint32]bool{}
	for _, t := range x.s.Threads {
		live[t.ID] = true
		if t.Phase == model.PhaseBackoff || t.Phase == model.PhaseTimer {
			live[t.Wait] = true
		}
	}
	if x.s.Timer != 0 {
		live[x.s.Timer] = true
	}
	meta := snapMeta{Timers: map[uint32]int64{}, Next: x.num.next, Entered: map[uint32][2]int64{}}
	for id, due := range x.due {
		if live[id] {
			meta.Timers[id] = due
		} else {
			delete(x.due, id)
		}
	}
	for id, st := range x.num.state {
		if live[id] {
			meta.Entered[id] = [2]int64{int64(st), int64(x.num.entered[id])}
		} else {
			delete(x.num.state, id)
			delete(x.num.entered, id)
		}
	}
	mb, _ := json.Marshal(meta)
	sn := &store.Snapshot{Exec: x.id, Seq: x.seq, Hash: x.head, State: x.s.AppendEncoding(nil), Meta: mb,
		Time: x.e.clock.Now().UnixNano()}
	sn.Sign(x.e.opts.LogKey)
	return sn
}

// load rebuilds an execution from its latest snapshot and the records
// after it, checking them, and returns it with the commands that resume
// it (model.Machine.RecoverFrom).
func (e *Engine) load(ctx context.Context, id string) (*execution, []model.Command, error) {
	row, err := e.st.Execution(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	m, err := e.machine(ctx, row.Workflow)
	if err != nil {
		return nil, nil, err
	}
	var binds map[string]string
	if err := json.Unmarshal(row.Bindings, &binds); err != nil {
		return nil, nil, fmt.Errorf("bindings: %w", err)
	}
	var problems []string
	for _, fn := range m.Functions {
		if uri, ok := binds[fn]; !ok {
			problems = append(problems, fmt.Sprintf("function %q has no binding", fn))
		} else if err := e.checkURI(uri); err != nil {
			problems = append(problems, fmt.Sprintf("function %q: %v", fn, err))
		}
	}
	if len(problems) > 0 {
		return nil, nil, &BindingError{Problems: problems}
	}
	x := e.newExecution(id, m, binds)
	base := &model.Execution{}
	var meta snapMeta
	var headSeq uint64
	var headHash [32]byte
	sn, err := e.st.Snapshot(ctx, id)
	switch {
	case err == nil:
		if err := sn.CheckMAC(e.opts.LogKey); err != nil {
			return nil, nil, fmt.Errorf("snapshot at seq %d: %w", sn.Seq, err)
		}
		r, err := e.st.Record(ctx, id, sn.Seq)
		if err != nil {
			return nil, nil, fmt.Errorf("snapshot at seq %d: %w", sn.Seq, err)
		}
		if r.Hash != sn.Hash {
			return nil, nil, fmt.Errorf("snapshot at seq %d is not bound to its record", sn.Seq)
		}
		if base, err = model.DecodeExecution(sn.State); err != nil {
			return nil, nil, fmt.Errorf("snapshot at seq %d: %w", sn.Seq, err)
		}
		if err := json.Unmarshal(sn.Meta, &meta); err != nil {
			return nil, nil, fmt.Errorf("snapshot at seq %d: meta: %w", sn.Seq, err)
		}
		headSeq, headHash = sn.Seq, sn.Hash
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	}
	var recs []*store.Record
	if err := e.st.Records(ctx, id, headSeq, func(r *store.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if i, err := store.Chain(headSeq, headHash, e.opts.LogKey, recs); err != nil {
		return nil, nil, fmt.Errorf("record %d of the log: %w (nexus log verify tells more)", recs[i].Seq, err)
	}
	lastSeq, lastHash := headSeq, headHash
	if n := len(recs); n > 0 {
		lastSeq, lastHash = recs[n-1].Seq, recs[n-1].Hash
	}
	if lastSeq != row.Seq || lastHash != row.Hash {
		if now, err := e.st.Execution(ctx, id); err == nil && now.Seq != row.Seq {
			return nil, nil, fmt.Errorf("another engine appended to the log while it was read: %w", store.ErrConflict)
		}
		return nil, nil, fmt.Errorf("the log ends at seq %d but its index says %d (nexus log verify tells more)", lastSeq, row.Seq)
	}
	tail := make([]model.Record, len(recs))
	for i, r := range recs {
		switch r.Kind {
		case store.KindEvent:
			ev, err := DecodeEvent(r.Body)
			if err != nil {
				return nil, nil, fmt.Errorf("record %d: %w", r.Seq, err)
			}
			tail[i].Event = ev
		case store.KindIntent:
			c, err := DecodeCommand(r.Body)
			if err != nil {
				return nil, nil, fmt.Errorf("record %d: %w", r.Seq, err)
			}
			tail[i].Intent = c
		default:
			return nil, nil, fmt.Errorf("record %d: unknown kind %d", r.Seq, r.Kind)
		}
	}
	s, cmds, err := m.RecoverFrom(base, tail)
	if err != nil {
		return nil, nil, err
	}
	x.s = *s
	x.seq, x.head = lastSeq, lastHash
	x.sinceSnap = len(recs)
	x.status, _ = model.ParseStatus(row.Status)
	for id, due := range meta.Timers {
		x.due[id] = due
	}
	if meta.Next > 0 {
		x.num.next = meta.Next
	}
	for id, v := range meta.Entered {
		x.num.state[id], x.num.entered[id] = int32(v[0]), int(v[1])
	}
	// Replay the tail once more for what the kernel state does not keep:
	// timer due times (intent time + delay) and the event numbering.
	replay := base.Clone()
	var scratch []model.Command
	for i, r := range tail {
		if r.Intent != nil {
			if r.Intent.Effect == model.StartTimer {
				x.due[r.Intent.ID] = dueOf(*r.Intent, recs[i].Time)
			}
			continue
		}
		scratch, _ = m.Step(replay, *r.Event, scratch[:0])
		saved := x.s
		x.s = *replay
		x.number()
		x.s = saved
	}
	return x, cmds, nil
}

// Entry is one record of an execution's log, decoded for people.
type Entry struct {
	Seq      uint64
	Time     int64 // Unix ns
	Kind     store.Kind
	Type     string
	State    string
	Function string
	Attempt  uint32
	Key      string
	Error    string
	// Event or Command is what the record holds.
	Event   *model.Event
	Command *model.Command
}

func entryOf(r *store.Record, ev *model.Event, c *model.Command) *Entry {
	return &Entry{Seq: r.Seq, Time: r.Time, Kind: r.Kind, Type: r.Type, State: r.State, Function: r.Function,
		Attempt: r.Attempt, Key: r.Key, Error: r.Error, Event: ev, Command: c}
}

// History reads the log of execution exec, decoded.
func History(ctx context.Context, st store.Store, exec string) ([]*Entry, error) {
	if _, err := st.Execution(ctx, exec); err != nil {
		return nil, err
	}
	var out []*Entry
	err := st.Records(ctx, exec, 0, func(r *store.Record) error {
		en := entryOf(r, nil, nil)
		var err error
		switch r.Kind {
		case store.KindEvent:
			en.Event, err = DecodeEvent(r.Body)
		case store.KindIntent:
			en.Command, err = DecodeCommand(r.Body)
		default:
			err = fmt.Errorf("unknown record kind %d", r.Kind)
		}
		if err != nil {
			return fmt.Errorf("record %d of %s: %w", r.Seq, exec, err)
		}
		out = append(out, en)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, err
}
