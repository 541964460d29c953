package checker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// ProductStats describes the state space of K executions: the product of
// K copies of the execution graph, explored breadth first.
type ProductStats struct {
	Instances int  `json:"instances"`
	Symmetry  bool `json:"symmetry"`
	// States is the number of distinct states (under symmetry: of
	// canonical states, one per class of states equal up to a permutation
	// of the executions). StatesNoSymmetry is the number of distinct
	// states without the reduction: the sizes of the classes summed.
	States           int64 `json:"states"`
	StatesNoSymmetry int64 `json:"states_no_symmetry"`
	// Transitions is the number of successors generated.
	Transitions int64 `json:"transitions"`
	// Depth is the number of BFS levels.
	Depth int `json:"depth"`
	// Enumerated is false when the product was too large to enumerate
	// within MaxProductStates: States then comes from the closed form
	// (n^K, or (n+K-1 choose K) under symmetry), exact because the
	// executions share nothing. Complete is false when a bound stopped
	// the enumeration.
	Enumerated bool   `json:"enumerated"`
	Complete   bool   `json:"complete"`
	Stop       string `json:"stop,omitempty"`
	// Exact is true when states are stored as their exact packed encoding;
	// false when as 64-bit hashes (hash compaction).
	Exact         bool          `json:"exact"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	StatesPerSec  float64       `json:"states_per_sec"`
	TableBytes    int64         `json:"table_bytes"`
	BytesPerState float64       `json:"bytes_per_state"`
	Workers       int           `json:"workers"`
}

// ExpectedProduct returns the number of states of k executions of an
// execution graph of n states: n^k without symmetry, (n+k-1 choose k)
// with it. ok is false when it does not fit in an int64.
func ExpectedProduct(n int64, k int, symmetry bool) (count int64, ok bool) {
	if symmetry {
		c := new(big.Int).Binomial(n+int64(k)-1, int64(k))
		return c.Int64(), c.IsInt64()
	}
	c := new(big.Int).Exp(big.NewInt(n), big.NewInt(int64(k)), nil)
	return c.Int64(), c.IsInt64()
}

// Product explores the state space of k executions of the workflow: a
// state is a tuple of k execution-graph states, a move is a move of one
// of them. With symmetry, tuples are kept sorted (executions are
// interchangeable). The exploration is a level-synchronous parallel BFS
// over workers goroutines, with visited tuples in a lock-free open
// addressing set of 64-bit keys. maxStates bounds the states stored.
func (g *Graph) Product(ctx context.Context, k int, symmetry bool, workers int, maxStates int64) ProductStats {
	return g.product(ctx, k, symmetry, workers, maxStates, nil)
}

func (g *Graph) product(ctx context.Context, k int, symmetry bool, workers int, maxStates int64, mon *monitor) ProductStats {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	st := ProductStats{Instances: k, Symmetry: symmetry, Workers: workers, Complete: true, Enumerated: true}
	n := int64(g.NumStates())
	if n == 0 || k < 1 {
		return st
	}
	start := time.Now()
	width := bits.Len64(uint64(n)) // ids are stored +1, in 1..n
	st.Exact = width*k <= 63
	maxDeg := 1
	for i := 0; i < int(n); i++ {
		maxDeg = max(maxDeg, len(g.Successors(i)))
	}
	chunk := max(1, min(1024, 8192/(k*maxDeg)))
	reserve := int64(chunk * k * maxDeg)
	capacity := maxStates
	if want, ok := ExpectedProduct(n, k, symmetry); ok {
		capacity = min(want, maxStates)
	}
	set := newKeySet(capacity, reserve, workers)
	fact := make([]int64, k+1)
	fact[0] = 1
	for i := 1; i <= k; i++ {
		fact[i] = fact[i-1] * int64(i)
	}
	keyOf := func(t []int32, buf []byte) (uint64, []byte) {
		if st.Exact {
			var key uint64
			for i, id := range t {
				key |= uint64(id+1) << (uint(i) * uint(width))
			}
			return key, buf
		}
		buf = buf[:0]
		for _, id := range t {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
		}
		return nonZero(model.HashBytes(buf)), buf
	}
	// orbit is the number of tuples a sorted tuple stands for.
	orbit := func(t []int32) int64 {
		o, run := fact[k], int64(1)
		for i := 1; i < len(t); i++ {
			if t[i] == t[i-1] {
				run++
				continue
			}
			o /= fact[run]
			run = 1
		}
		return o / fact[run]
	}
	frontier := make([]int32, k) // all executions not started: state 0
	key, _ := keyOf(frontier, nil)
	set.begin()
	set.insert(key)
	set.end()
	st.States, st.StatesNoSymmetry = 1, 1
	var stopped atomic.Bool
	var stopMu sync.Mutex
	stop := func(reason string) {
		stopMu.Lock()
		if !stopped.Load() {
			st.Stop = reason
			stopped.Store(true)
		}
		stopMu.Unlock()
	}
	for len(frontier) > 0 && !stopped.Load() {
		mon.checkMemory()
		st.Depth++
		states := len(frontier) / k
		var next atomic.Int64
		outs := make([][]int32, workers)
		var wg sync.WaitGroup
		var transitions, full atomic.Int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				t := make([]int32, k)
				var buf []byte
				var out []int32
				var trans, fl int64
				for !stopped.Load() {
					lo := int(next.Add(int64(chunk))) - chunk
					if lo >= states {
						break
					}
					hi := min(lo+chunk, states)
					if ctx.Err() != nil {
						stop(stopReason(ctx))
						break
					}
					set.begin()
					for s := lo; s < hi; s++ {
						src := frontier[s*k : s*k+k]
						for p := 0; p < k; p++ {
							if symmetry && p > 0 && src[p] == src[p-1] {
								continue // the same moves as the execution before it
							}
							for _, to := range g.Successors(int(src[p])) {
								copy(t, src)
								t[p] = to
								if symmetry {
									sortTuple(t, p)
								}
								trans++
								var key uint64
								key, buf = keyOf(t, buf)
								if set.insert(key) {
									out = append(out, t...)
									if symmetry {
										fl += orbit(t)
									} else {
										fl++
									}
								}
							}
						}
					}
					set.end()
					if mon != nil {
						mon.states.Store(set.len())
					}
					if set.len() > maxStates {
						stop(fmt.Sprintf("max-product-states (%d)", maxStates))
					}
				}
				outs[w] = out
				transitions.Add(trans)
				full.Add(fl)
			}(w)
		}
		wg.Wait()
		st.Transitions += transitions.Load()
		st.StatesNoSymmetry += full.Load()
		total := 0
		for _, o := range outs {
			total += len(o)
		}
		frontier = make([]int32, 0, total)
		for _, o := range outs {
			frontier = append(frontier, o...)
		}
	}
	st.States = set.len()
	if !symmetry {
		st.StatesNoSymmetry = st.States
	}
	st.Complete = !stopped.Load()
	st.Elapsed = time.Since(start)
	st.TableBytes = set.bytes()
	if st.States > 0 {
		st.BytesPerState = float64(st.TableBytes) / float64(st.States)
	}
	if s := st.Elapsed.Seconds(); s > 0 {
		st.StatesPerSec = float64(st.States) / s
	}
	return st
}

// sortTuple restores the order of t after t[p] changed.
func sortTuple(t []int32, p int) {
	for p > 0 && t[p] < t[p-1] {
		t[p], t[p-1] = t[p-1], t[p]
		p--
	}
	for p+1 < len(t) && t[p] > t[p+1] {
		t[p], t[p+1] = t[p+1], t[p]
		p++
	}
}

// monitor watches a running check: it counts states for the progress
// line, samples the heap, and cancels the check when it passes
// MaxMemory.
type monitor struct {
	opts   Options
	cancel context.CancelCauseFunc
	sample []metrics.Sample
	smu    sync.Mutex
	states atomic.Int64
	peak   atomic.Int64
	mu     sync.Mutex
	phase  string
	since  time.Time
	start  time.Time
	done   chan struct{}
	wg     sync.WaitGroup
}

var errMemory = errors.New("max-memory")

func heapBytes(sample []metrics.Sample) int64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		v := sample[0].Value.Uint64()
		if v > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(v)
	}
	return 0
}

func startMonitor(ctx context.Context, opts Options) (*monitor, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if opts.Timeout > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, opts.Timeout)
		prev := cancel
		// The cause first: the timeout context passes it on.
		cancel = func(err error) { prev(err); c() }
	}
	mon := &monitor{opts: opts, cancel: cancel, start: time.Now(), since: time.Now(), done: make(chan struct{}),
		sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	mon.checkMemory()
	mon.wg.Add(1)
	go func() {
		defer mon.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		lastReport := time.Now()
		for {
			select {
			case <-mon.done:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				h := heapBytes(sample)
				if h > mon.peak.Load() {
					mon.peak.Store(h)
				}
				if opts.MaxMemory > 0 && h > opts.MaxMemory {
					cancel(memoryError(opts.MaxMemory))
					return
				}
				if opts.Progress != nil && now.Sub(mon.start) >= 2*time.Second && now.Sub(lastReport) >= time.Second {
					lastReport = now
					mon.mu.Lock()
					phase, since := mon.phase, mon.since
					mon.mu.Unlock()
					el := now.Sub(since)
					n := mon.states.Load()
					p := Progress{Phase: phase, States: n, Elapsed: now.Sub(mon.start), HeapBytes: h}
					if el > 0 {
						p.StatesPerSec = float64(n) / el.Seconds()
					}
					opts.Progress(p)
				}
			}
		}
	}()
	return mon, ctx, func() {
		close(mon.done)
		mon.wg.Wait()
		cancel(nil)
	}
}

func (m *monitor) setPhase(p string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.phase, m.since = p, time.Now()
	m.mu.Unlock()
	m.states.Store(0)
}

func memoryError(limit int64) error { return fmt.Errorf("%w (%s)", errMemory, formatBytes(limit)) }

// checkMemory samples the heap now (the sampler's period may be longer
// than a small exploration) and cancels the check past MaxMemory.
func (m *monitor) checkMemory() {
	if m == nil {
		return
	}
	m.smu.Lock()
	h := heapBytes(m.sample)
	m.smu.Unlock()
	if h > m.peak.Load() {
		m.peak.Store(h)
	}
	if m.opts.MaxMemory > 0 && h > m.opts.MaxMemory {
		m.cancel(memoryError(m.opts.MaxMemory))
	}
}
