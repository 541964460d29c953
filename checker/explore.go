package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// State flags of the execution graph.
const (
	sTerminal uint32 = 1 << iota
	sSucceeded
	sFailed // ended other than succeeded
	sDeadlock
	sExecTimer // the execution's timeout timer is armed
	sCompensating
	sRetrying
	sStarted
	// sViolation is the first of the invariant bits.
	sViolation = 1 << 16
)

func stateViolationBit(v Invariant) uint32 { return sViolation << v }

// Graph is the complete state graph of one execution of a workflow under
// the checker's model: its states at rest (numbered from 0, the execution
// not yet started, in breadth-first order) and the moves between them.
// The K-execution state space is the product of K copies of it.
//
// A Graph is what a TLA+ export or any other checker of the same model
// compares against: NumStates is the distinct-state count of one
// execution, Product the count of K executions with or without symmetry.
type Graph struct {
	m     *model.Machine
	opts  Options
	info  []model.World
	enc   encStore
	set   *idSet
	extra map[string]int32 // states whose hash collided with another's

	parent, depth []int32
	edgeStart     []int32
	edgeTo        []int32
	edgeFlags     []uint32
	flags         []uint32
	entered       []bool

	complete    bool
	stop        string
	transitions int64
	elapsed     time.Duration
}

// NumStates is the number of distinct states of one execution.
func (g *Graph) NumStates() int { return g.enc.len() }

// NumEdges is the number of distinct moves between them (moves from one
// state to the same successor counted once).
func (g *Graph) NumEdges() int { return len(g.edgeTo) }

// Transitions is the number of successors generated, duplicates included.
func (g *Graph) Transitions() int64 { return g.transitions }

// Complete reports whether every reachable state was explored; Stop says
// which bound ended the exploration otherwise.
func (g *Graph) Complete() bool { return g.complete }

// Stop names the bound that ended an incomplete exploration.
func (g *Graph) Stop() string { return g.stop }

// Successors returns the states one move leads to from state i.
func (g *Graph) Successors(i int) []int32 {
	if i+1 >= len(g.edgeStart) {
		return nil
	}
	return g.edgeTo[g.edgeStart[i]:g.edgeStart[i+1]]
}

// Encoding returns the canonical encoding of state i: the protocol state
// followed by model.Execution.AppendEncoding of the execution.
func (g *Graph) Encoding(i int) []byte { return g.enc.get(i) }

// Execution decodes the kernel state of state i.
func (g *Graph) Execution(i int) (*model.Execution, error) {
	var a inst
	if err := a.decode(g.enc.get(i)); err != nil {
		return nil, err
	}
	return &a.exec, nil
}

// Machine is the compiled workflow the graph explores.
func (g *Graph) Machine() *model.Machine { return g.m }

// Explore builds the state graph of one execution of m.
func Explore(ctx context.Context, m *model.Machine, opts Options) (*Graph, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	return explore(ctx, m, opts, nil)
}

// explore builds the graph breadth first, a chunk of states at a time:
// the states of a chunk are expanded in parallel (each worker with its own
// expander), then their successors are numbered in order, so that the
// numbering, the BFS parents and hence the traces do not depend on the
// number of workers.
func explore(ctx context.Context, m *model.Machine, opts Options, mon *monitor) (*Graph, error) {
	start := time.Now()
	g := &Graph{m: m, opts: opts, set: newIDSet(1024)}
	workers := max(1, opts.Workers)
	xs := make([]*expander, workers)
	for i := range xs {
		xs[i] = newExpander(m, opts)
		xs[i].ctx = ctx
	}
	g.info = xs[0].info
	var init inst
	g.intern(init.appendEncoding(nil), stateFlags(&init), -1)
	g.complete = true
	arenas := make([][]byte, workers)
	for lo := 0; lo < g.enc.len() && g.complete; {
		// The next states in BFS order, at most a chunk of them: a level
		// can be large, and what its expansion holds until the merge is
		// proportional to it.
		hi := min(g.enc.len(), lo+exploreChunk)
		res := make([]expansion, hi-lo)
		var failed error
		if hi-lo < 64 || workers == 1 {
			arenas[0] = arenas[0][:0]
			for i := lo; i < hi; i++ {
				if err := ctx.Err(); err != nil {
					break
				}
				if failed = g.expandOne(xs[0], i, &res[i-lo], &arenas[0]); failed != nil {
					break
				}
			}
		} else {
			failed = g.expandLevel(ctx, xs, arenas, lo, hi, res)
		}
		if errors.Is(failed, errBranches) || errors.Is(failed, errStopped) {
			g.complete, g.stop = false, stopReason(ctx)
			if errors.Is(failed, errBranches) {
				g.stop = errBranches.Error()
			}
			break
		}
		if failed != nil {
			return nil, failed
		}
		for i := lo; i < hi; i++ {
			r := &res[i-lo]
			if !r.done {
				g.complete, g.stop = false, stopReason(ctx)
				break
			}
			g.merge(i, r)
			if int64(g.enc.len()) > opts.MaxStates {
				g.complete, g.stop = false, fmt.Sprintf("max-states (%d)", opts.MaxStates)
				break
			}
		}
		if mon != nil {
			mon.states.Store(int64(g.enc.len()))
			mon.checkMemory()
		}
		if g.complete && ctx.Err() != nil {
			g.complete, g.stop = false, stopReason(ctx)
		}
		lo = hi
	}
	for len(g.edgeStart) <= g.enc.len() {
		g.edgeStart = append(g.edgeStart, int32(len(g.edgeTo)))
	}
	g.entered = make([]bool, len(m.States))
	for _, x := range xs {
		for i, e := range x.entered {
			g.entered[i] = g.entered[i] || e
		}
	}
	g.elapsed = time.Since(start)
	return g, nil
}

// exploreChunk is the most states expanded before their successors are
// numbered.
const exploreChunk = 1 << 15

// expansion is what expanding one state found: its successors (encodings
// in a worker's arena), how many moves the execution had, and whether the
// state's encoding round-trips.
type expansion struct {
	done   bool
	moves  int
	detBad bool
	succ   []successor
}

type successor struct {
	lo, hi int // the encoding, in the arena
	arena  *[]byte
	flags  uint32 // move flags
	state  uint32 // state flags of the successor
}

// expandLevel expands states lo..hi-1 on all workers.
func (g *Graph) expandLevel(ctx context.Context, xs []*expander, arenas [][]byte, lo, hi int, res []expansion) error {
	var next atomic.Int64
	next.Store(int64(lo))
	errs := make([]error, len(xs))
	var wg sync.WaitGroup
	for w := range xs {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			arenas[w] = arenas[w][:0]
			const chunk = 16
			for {
				i := int(next.Add(chunk)) - chunk
				if i >= hi || ctx.Err() != nil {
					return
				}
				for j := i; j < min(i+chunk, hi); j++ {
					if err := g.expandOne(xs[w], j, &res[j-lo], &arenas[w]); err != nil {
						errs[w] = err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// expandOne expands state i with expander x into r, the successors'
// encodings appended to arena.
func (g *Graph) expandOne(x *expander, i int, r *expansion, arena *[]byte) error {
	cur := &x.cur
	if err := cur.decode(g.enc.get(i)); err != nil {
		return fmt.Errorf("checker: state %d: %w", i, err)
	}
	x.enc2 = cur.appendEncoding(x.enc2[:0])
	if !bytes.Equal(x.enc2, g.enc.get(i)) {
		// The fast decoder may lag the kernel's format: decode again with
		// the kernel's own decoder before calling it a violation.
		x.cur = inst{}
		if err := cur.decodeSlow(g.enc.get(i)); err != nil {
			return fmt.Errorf("checker: state %d: %w", i, err)
		}
		x.enc2 = cur.appendEncoding(x.enc2[:0])
	}
	r.detBad = !bytes.Equal(x.enc2, g.enc.get(i))
	x.curEnc = g.enc.get(i)
	r.moves = x.expand(cur)
	if x.err != nil {
		err := x.err
		x.err = nil
		x.releaseAll()
		if err == errBranches || err == errStopped {
			return err
		}
		return fmt.Errorf("checker: %w", err)
	}
	for _, w := range x.succ {
		lo := len(*arena)
		*arena = w.in.appendEncoding(*arena)
		r.succ = append(r.succ, successor{lo: lo, hi: len(*arena), arena: arena, flags: w.flags, state: stateFlags(&w.in)})
	}
	x.releaseAll()
	r.done = true
	return nil
}

// merge numbers the successors of state i and adds its moves.
func (g *Graph) merge(i int, r *expansion) {
	if r.detBad {
		g.flags[i] |= stateViolationBit(Deterministic)
	}
	if r.moves == 0 && g.flags[i]&sStarted != 0 && g.flags[i]&sTerminal == 0 {
		g.flags[i] |= sDeadlock | stateViolationBit(NoDeadlock)
	}
	g.edgeStart = append(g.edgeStart, int32(len(g.edgeTo)))
	first := len(g.edgeTo)
	for _, s := range r.succ {
		g.transitions++
		j := g.intern((*s.arena)[s.lo:s.hi], s.state, int32(i))
		g.addEdge(first, j, s.flags)
	}
}

// addEdge adds the move to j from the state whose edges start at first,
// merging it with an earlier move to the same state.
func (g *Graph) addEdge(first int, j int32, flags uint32) {
	if flags&(fProgress|fCrash) == 0 {
		flags |= fLoop
	}
	for e := first; e < len(g.edgeTo); e++ {
		if g.edgeTo[e] == j {
			// Violations and witnesses of either move stay; the merged move
			// can drive a loop if either can.
			g.edgeFlags[e] |= flags
			return
		}
	}
	g.edgeTo = append(g.edgeTo, j)
	g.edgeFlags = append(g.edgeFlags, flags)
}

// intern returns the number of the state encoded by enc, adding it (with
// parent as its BFS parent) if it is new.
func (g *Graph) intern(enc []byte, flags uint32, parent int32) int32 {
	key := nonZero(model.HashBytes(enc))
	if id, ok := g.set.get(key); ok {
		if bytes.Equal(g.enc.get(int(id)), enc) {
			return id
		}
		if g.extra == nil {
			g.extra = map[string]int32{}
		}
		if id, ok := g.extra[string(enc)]; ok {
			return id
		}
		id = g.add(enc, flags, parent)
		g.extra[string(enc)] = id
		return id
	}
	id := g.add(enc, flags, parent)
	g.set.put(key, id)
	return id
}

func (g *Graph) add(enc []byte, flags uint32, parent int32) int32 {
	id := int32(g.enc.len())
	g.enc.add(enc)
	g.parent = append(g.parent, parent)
	d := int32(0)
	if parent >= 0 {
		d = g.depth[parent] + 1
	}
	g.depth = append(g.depth, d)
	g.flags = append(g.flags, flags)
	return id
}

// stateFlags evaluates the state predicates of a.
func stateFlags(a *inst) uint32 {
	s := &a.exec
	var f uint32
	if s.Status != model.NotStarted {
		f |= sStarted
	}
	if s.Timer != 0 {
		f |= sExecTimer
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.Comp {
			f |= sCompensating
		} else if t.Phase == model.PhaseBackoff {
			f |= sRetrying
		}
	}
	if !s.Status.Terminal() {
		return f
	}
	f |= sTerminal
	if s.Status == model.Succeeded {
		return f | sSucceeded
	}
	f |= sFailed
	if s.Status == model.Compensated || s.Status == model.CompensationFailed {
		f |= sCompensating
	}
	if a.orphan != 0 || len(s.Done) > 0 || s.Status == model.CompensationFailed {
		f |= stateViolationBit(CompensationComplete)
	}
	if a.pivot != 0 {
		f |= stateViolationBit(MutationsCompensable)
	}
	return f
}

// stopReason names the bound that cancelled ctx.
func stopReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		return c.Error()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	return "cancelled"
}

// path returns the BFS path of states from the initial state to i.
func (g *Graph) path(i int32) []int32 {
	var p []int32
	for ; i >= 0; i = g.parent[i] {
		p = append(p, i)
	}
	for l, r := 0, len(p)-1; l < r; l, r = l+1, r-1 {
		p[l], p[r] = p[r], p[l]
	}
	return p
}

// encStore holds the canonical encodings of the states, packed into
// blocks: one allocation per megabyte rather than per state, and no copy
// of everything when it grows.
type encStore struct {
	blocks [][]byte
	loc    []encLoc
}

type encLoc struct {
	block, off, n int32
}

const encBlock = 1 << 20

func (e *encStore) len() int { return len(e.loc) }

func (e *encStore) get(i int) []byte {
	l := e.loc[i]
	b := e.blocks[l.block]
	return b[l.off : l.off+l.n : l.off+l.n]
}

func (e *encStore) add(enc []byte) {
	if len(enc) > encBlock/4 {
		e.blocks = append(e.blocks, bytes.Clone(enc))
		e.loc = append(e.loc, encLoc{block: int32(len(e.blocks) - 1), n: int32(len(enc))})
		// A new block for whatever comes next.
		e.blocks = append(e.blocks, make([]byte, 0, encBlock))
		return
	}
	if len(e.blocks) == 0 || cap(e.blocks[len(e.blocks)-1])-len(e.blocks[len(e.blocks)-1]) < len(enc) {
		e.blocks = append(e.blocks, make([]byte, 0, encBlock))
	}
	k := len(e.blocks) - 1
	off := len(e.blocks[k])
	e.blocks[k] = append(e.blocks[k], enc...)
	e.loc = append(e.loc, encLoc{block: int32(k), off: int32(off), n: int32(len(enc))})
}
