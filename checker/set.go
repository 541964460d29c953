package checker

import (
	"sync"
	"sync/atomic"
)

// Visited sets: open addressing with linear probing over 64-bit keys. A
// key is a state's canonical encoding reduced to 64 bits: exactly when it
// fits (a product state's packed tuple of execution-state numbers), or as
// a hash of the encoding (model.HashBytes). The key 0 marks an empty slot,
// so keys are never 0.

// mix spreads a key's bits over the slot index (a 64-bit finalizer, as in
// SplitMix64): packed tuples and FNV hashes both have weak low bits.
func mix(k uint64) uint64 {
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	return k
}

// nonZero maps a hash to a usable key.
func nonZero(k uint64) uint64 {
	if k == 0 {
		return 1
	}
	return k
}

// idSet maps keys to execution-state numbers (single goroutine).
type idSet struct {
	keys []uint64
	vals []int32
	n    int
	mask uint64
}

func newIDSet(capacity int) *idSet {
	size := 1024
	for size < capacity*2 {
		size *= 2
	}
	return &idSet{keys: make([]uint64, size), vals: make([]int32, size), mask: uint64(size - 1)}
}

// lookup returns the slot of key: where it is, or where it would go.
func (s *idSet) lookup(key uint64) (slot uint64, found bool) {
	i := mix(key) & s.mask
	for {
		switch s.keys[i] {
		case key:
			return i, true
		case 0:
			return i, false
		}
		i = (i + 1) & s.mask
	}
}

// get returns the value stored under key. A key is stored once: callers
// resolve two encodings with the same hash themselves.
func (s *idSet) get(key uint64) (int32, bool) {
	i, ok := s.lookup(key)
	if !ok {
		return 0, false
	}
	return s.vals[i], true
}

func (s *idSet) put(key uint64, v int32) {
	if (s.n+1)*4 > len(s.keys)*3 {
		s.grow()
	}
	i, ok := s.lookup(key)
	if !ok {
		s.n++
		s.keys[i] = key
	}
	s.vals[i] = v
}

func (s *idSet) grow() {
	old, oldVals := s.keys, s.vals
	s.keys = make([]uint64, 2*len(old))
	s.vals = make([]int32, 2*len(old))
	s.mask = uint64(len(s.keys) - 1)
	for i, k := range old {
		if k != 0 {
			j, _ := s.lookup(k)
			s.keys[j] = k
			s.vals[j] = oldVals[i]
		}
	}
}

// keySet is a set of keys that many goroutines insert into at once
// (lock-free: a slot is claimed with compare-and-swap). It grows between
// batches of inserts: a goroutine holds the read lock while it inserts a
// batch of at most reserve keys, and growth takes the write lock.
type keySet struct {
	mu      sync.RWMutex
	keys    []uint64
	mask    uint64
	n       atomic.Int64
	reserve int64 // the most keys one batch may insert
	workers int64
}

func newKeySet(capacity int64, reserve int64, workers int) *keySet {
	s := &keySet{reserve: reserve, workers: int64(workers)}
	size := int64(1 << 10)
	for size*3 < capacity*4 {
		size *= 2
	}
	s.keys = make([]uint64, size)
	s.mask = uint64(size - 1)
	return s
}

// begin is called before a batch of inserts: it grows the table if the
// batch could fill it past three quarters, then takes the read lock.
func (s *keySet) begin() {
	for {
		s.mu.RLock()
		if (s.n.Load()+s.reserve*s.workers)*4 <= int64(len(s.keys))*3 {
			return
		}
		s.mu.RUnlock()
		s.mu.Lock()
		for (s.n.Load()+s.reserve*s.workers)*4 > int64(len(s.keys))*3 {
			s.grow()
		}
		s.mu.Unlock()
	}
}

// end releases the read lock of begin.
func (s *keySet) end() { s.mu.RUnlock() }

// insert adds key (non-zero) and reports whether it was new. It must be
// called between begin and end.
func (s *keySet) insert(key uint64) bool {
	i := mix(key) & s.mask
	for {
		k := atomic.LoadUint64(&s.keys[i])
		if k == key {
			return false
		}
		if k == 0 {
			if atomic.CompareAndSwapUint64(&s.keys[i], 0, key) {
				s.n.Add(1)
				return true
			}
			continue // lost the race for this slot: look at it again
		}
		i = (i + 1) & s.mask
	}
}

func (s *keySet) grow() {
	old := s.keys
	s.keys = make([]uint64, 2*len(old))
	s.mask = uint64(len(s.keys) - 1)
	for _, k := range old {
		if k == 0 {
			continue
		}
		i := mix(k) & s.mask
		for s.keys[i] != 0 {
			i = (i + 1) & s.mask
		}
		s.keys[i] = k
	}
}

func (s *keySet) len() int64   { return s.n.Load() }
func (s *keySet) bytes() int64 { return int64(len(s.keys)) * 8 }
