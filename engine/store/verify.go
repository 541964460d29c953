package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Problem is one thing Verify found wrong, at one record (or snapshot).
type Problem struct {
	// Pos, Exec and Seq name the record (for a snapshot: the record it
	// claims to follow).
	Pos  int64
	Exec string
	Seq  uint64
	// Snapshot marks a problem with the execution's snapshot.
	Snapshot bool
	// Head marks an execution whose index entry does not point at the
	// last record of its log (records removed from the end).
	Head bool
	Err  error
}

// Error names the record and what is wrong with it.
func (p *Problem) Error() string {
	switch {
	case p.Snapshot:
		return fmt.Sprintf("snapshot of execution %s at seq %d: %v", p.Exec, p.Seq, p.Err)
	case p.Head:
		return fmt.Sprintf("execution %s: %v", p.Exec, p.Err)
	}
	return fmt.Sprintf("record #%d (execution %s, seq %d): %v", p.Pos, p.Exec, p.Seq, p.Err)
}

// Unwrap returns what is wrong, for errors.Is.
func (p *Problem) Unwrap() error { return p.Err }

// Report is what Verify found.
type Report struct {
	Records    int
	Executions int
	Snapshots  int
	// Signed counts records that carry a signature.
	Signed int
	// KeyChecked says signatures were checked (a key was given).
	KeyChecked bool
	// Problems found, the first bad record first: a record that does not
	// match its own hash or signature comes before any break in a chain
	// (a record missing, moved or inserted), since a record changed in
	// place also breaks the chain after it. At most MaxProblems are kept.
	Problems []*Problem
	// More counts problems beyond those kept.
	More int
}

// MaxProblems bounds the problems a Report keeps.
const MaxProblems = 100

// OK reports whether the log is intact.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// First is the first bad record, or nil.
func (r *Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return r.Problems[0]
}

// RangeScanner is implemented by stores that can read the records of a
// range of positions, several ranges at once: Verify then reads in
// parallel.
type RangeScanner interface {
	// Positions returns the first and last record positions.
	Positions(ctx context.Context) (first, last int64, err error)
	// ScanRange calls rec with the records whose position is in
	// [from, to), in position order; rec may keep r. The records need
	// only what Check and the chain read: Pos, Exec, Seq, Prev, Hash, MAC
	// and the stored encoding.
	ScanRange(ctx context.Context, from, to int64, rec func(r *Record) error) error
	// ScanSnapshots calls snap with every snapshot.
	ScanSnapshots(ctx context.Context, snap func(s *Snapshot) error) error
}

// link is where a chain stands: the sequence number and hash of the last
// record seen of an execution, and its position.
type link struct {
	seq  uint64
	hash [32]byte
	pos  int64
}

// part is what one reader found in its range of positions: problems, and
// for each execution the first record (to link to the previous range) and
// the last one (for the next range).
type part struct {
	integrity, chain []*Problem
	first            map[string]*Record
	last             map[string]link
	records, signed  int
}

// Verify recomputes every record's hash and signature (with key), every
// execution's chain, the head each execution's index entry points at, and
// the binding of each snapshot to its chain. A store that is a
// RangeScanner is read in parallel ranges; the chains are then followed
// across ranges in order, which checks exactly what one pass in store
// order checks.
func Verify(ctx context.Context, st Store, key []byte) (*Report, error) {
	rep := &Report{KeyChecked: len(key) > 0}
	snaps := map[string]*Snapshot{}
	var chain, integrity []*Problem
	addSnap := func(s *Snapshot) error {
		rep.Snapshots++
		snaps[s.Exec] = s
		if err := s.CheckMAC(key); err != nil {
			chain = append(chain, &Problem{Exec: s.Exec, Seq: s.Seq, Snapshot: true, Err: err})
		}
		return nil
	}
	// checkSnap compares a record with the snapshot that claims to follow
	// it.
	checkSnap := func(r *Record, p *part) {
		if s := snaps[r.Exec]; s != nil && s.Seq == r.Seq && s.Hash != r.Hash {
			p.chain = append(p.chain, &Problem{Exec: s.Exec, Seq: s.Seq, Snapshot: true,
				Err: errors.New("snapshot is not bound to the record it follows (hash differs)")})
		}
	}
	var parts []*part
	rs, parallel := st.(RangeScanner)
	workers := max(runtime.GOMAXPROCS(0), 1)
	if parallel {
		if err := rs.ScanSnapshots(ctx, addSnap); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		lo, hi, err := rs.Positions(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		n := int64(workers)
		if hi-lo < 4096 {
			n = 1
		}
		step := (hi - lo + n) / n
		parts = make([]*part, n)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			p := &part{first: map[string]*Record{}, last: map[string]link{}}
			parts[i] = p
			from, to := lo+i*step, lo+(i+1)*step
			if i == n-1 {
				to = hi + 1
			}
			wg.Go(func() {
				errs[i] = rs.ScanRange(ctx, from, to, func(r *Record) error {
					scanOne(r, key, p)
					checkSnap(r, p)
					return nil
				})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	} else {
		// One reader in store order; hashing on all cores.
		p := &part{first: map[string]*Record{}, last: map[string]link{}}
		parts = []*part{p}
		work := make(chan []*Record, workers*2)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for b := range work {
					for _, r := range b {
						if err := r.Check(key); err != nil {
							mu.Lock()
							p.integrity = append(p.integrity, &Problem{Pos: r.Pos, Exec: r.Exec, Seq: r.Seq, Err: err})
							mu.Unlock()
						}
					}
				}
			})
		}
		cur := make([]*Record, 0, 512)
		err := st.Scan(ctx, addSnap, func(r *Record) error {
			follow(r, p)
			checkSnap(r, p)
			cur = append(cur, r)
			if len(cur) == cap(cur) {
				work <- cur
				cur = make([]*Record, 0, 512)
			}
			return nil
		})
		work <- cur
		close(work)
		wg.Wait()
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	// Follow each chain across the ranges, in order.
	heads := map[string]link{}
	for _, p := range parts {
		rep.Records += p.records
		rep.Signed += p.signed
		integrity = append(integrity, p.integrity...)
		chain = append(chain, p.chain...)
		for id, r := range p.first {
			h := heads[id]
			if pr := linkProblem(h, r); pr != nil {
				chain = append(chain, pr)
			}
			heads[id] = p.last[id]
		}
	}
	rep.Executions = len(heads)
	for id, s := range snaps {
		if h, ok := heads[id]; !ok || h.seq < s.Seq {
			chain = append(chain, &Problem{Exec: id, Seq: s.Seq, Snapshot: true,
				Err: errors.New("snapshot follows a record that is not in the log")})
		}
	}
	// Each execution's index entry must point at the end of its log.
	execs, err := st.Executions(ctx, Filter{})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for _, x := range execs {
		h, ok := heads[x.ID]
		if !ok {
			if x.Seq != 0 {
				chain = append(chain, &Problem{Exec: x.ID, Head: true,
					Err: fmt.Errorf("the log should end at seq %d but has no records", x.Seq)})
			}
			continue
		}
		if h.seq != x.Seq || h.hash != x.Hash {
			chain = append(chain, &Problem{Pos: h.pos, Exec: x.ID, Seq: h.seq, Head: true,
				Err: fmt.Errorf("the log ends at seq %d but should end at seq %d (records removed or added at the end)", h.seq, x.Seq)})
		}
	}
	byPos := func(ps []*Problem) {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Pos < ps[j].Pos })
	}
	byPos(integrity)
	byPos(chain)
	all := append(integrity, chain...)
	if len(all) > MaxProblems {
		rep.More = len(all) - MaxProblems
		all = all[:MaxProblems]
	}
	rep.Problems = all
	return rep, nil
}

// scanOne checks a record's own hash and follows its chain within a part.
func scanOne(r *Record, key []byte, p *part) {
	if err := r.Check(key); err != nil {
		p.integrity = append(p.integrity, &Problem{Pos: r.Pos, Exec: r.Exec, Seq: r.Seq, Err: err})
	}
	follow(r, p)
}

// follow checks that r continues the chain of its execution within part
// p (the first record of an execution in p is linked later, across parts).
func follow(r *Record, p *part) {
	p.records++
	if len(r.MAC) > 0 {
		p.signed++
	}
	if h, ok := p.last[r.Exec]; ok {
		if pr := linkProblem(h, r); pr != nil {
			p.chain = append(p.chain, pr)
		}
	} else {
		p.first[r.Exec] = r
	}
	p.last[r.Exec] = link{seq: r.Seq, hash: r.Hash, pos: r.Pos}
}

// linkProblem says what is wrong with r following head h, or nil.
func linkProblem(h link, r *Record) *Problem {
	switch {
	case r.Seq != h.seq+1:
		return &Problem{Pos: r.Pos, Exec: r.Exec, Seq: r.Seq, Err: fmt.Errorf("%w: seq %d after %d", ErrBadSequence, r.Seq, h.seq)}
	case r.Prev != h.hash:
		return &Problem{Pos: r.Pos, Exec: r.Exec, Seq: r.Seq, Err: ErrBadPrev}
	}
	return nil
}
