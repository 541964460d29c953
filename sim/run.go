package sim

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nexus-workflows/nexus/model"
)

// Options of a simulation run. The zero value runs DefaultExecutions
// executions with seed 0 on every core.
type Options struct {
	// N is the number of executions (0: DefaultExecutions).
	N int
	// Seed of the random numbers: the same seed, workflow, profile and N
	// give the same report, byte for byte, on any number of cores.
	Seed uint64
	// Workers is the number of goroutines (0: GOMAXPROCS). It changes
	// how fast a run goes, never what it reports.
	Workers int
	// ChunkSize is the number of executions of one chunk (0:
	// DefaultChunkSize). Each chunk is a world of its own with its own
	// random numbers, derived from the seed and the chunk's index; the
	// executions of a chunk share one clock, and with it the functions'
	// concurrency limits and breakers.
	ChunkSize int
	// MaxEvents bounds the events of one execution (0: DefaultMaxEvents);
	// an execution that reaches it ends as EndEventLimit.
	MaxEvents int
	// Progress, when not nil, is called after every chunk with the number
	// of executions done so far and in all. It is called from the worker
	// goroutines and must be safe for concurrent use.
	Progress func(done, total int)
}

// Defaults of Options.
const (
	DefaultExecutions = 100_000
	DefaultChunkSize  = 4096
	DefaultMaxEvents  = 100_000
	// MaxExecutions bounds N: every latency is kept for exact quantiles
	// (8 bytes each).
	MaxExecutions = 100_000_000
)

// Run simulates o.N executions of m in the world p describes and reports
// what happened. A nil p is the default profile.
func Run(ctx context.Context, m *model.Machine, p *Profile, o Options) (*Report, error) {
	if p == nil {
		p = &Profile{}
	}
	b, err := bind(m, p)
	if err != nil {
		return nil, err
	}
	n := o.N
	if n == 0 {
		n = DefaultExecutions
	}
	if n < 0 || n > MaxExecutions {
		return nil, fmt.Errorf("sim: %d executions; between 1 and %d", n, MaxExecutions)
	}
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	maxEvents := o.MaxEvents
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	chunks := (n + chunk - 1) / chunk
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, chunks)
	tallies := make([]*tally, chunks)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorld(b, maxEvents)
			for {
				i := int(next.Add(1) - 1)
				if i >= chunks || ctx.Err() != nil {
					return
				}
				cn := min(chunk, n-i*chunk)
				t := newTally(b, cn)
				s1, s2 := chunkSeeds(o.Seed, uint64(i))
				w.run(cn, s1, s2, t)
				tallies[i] = t
				d := done.Add(int64(cn))
				if o.Progress != nil {
					o.Progress(int(d), n)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return b.report(tallies, n, o.Seed), nil
}

// chunkSeeds derives the two PCG seeds of chunk i from the run's seed.
func chunkSeeds(seed, i uint64) (uint64, uint64) {
	a := splitmix64(seed ^ 0x6e65787573) // "nexus"
	return splitmix64(a ^ splitmix64(i)), splitmix64(a + i + 1)
}

// splitmix64 is the SplitMix64 finaliser: a bijective mixing of 64 bits.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// merge adds the tallies up in chunk order and gathers the latencies of
// each ending, sorted.
func (b *bound) merge(ts []*tally) (*tally, [numEndings][]int64) {
	total := newTally(b, 0)
	var samples [numEndings][]int64
	var counts [numEndings]int64
	for _, t := range ts {
		for e := range counts {
			counts[e] += t.counts[e]
		}
	}
	for e := range samples {
		samples[e] = make([]int64, 0, counts[e])
	}
	for _, t := range ts {
		total.add(t)
		for i, l := range t.lat {
			samples[t.end[i]] = append(samples[t.end[i]], l)
		}
	}
	for e := range samples {
		slices.Sort(samples[e])
	}
	return total, samples
}
