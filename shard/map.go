package shard

import (
	"hash/maphash"
	"sync"
)

// Map is a map from K to V split over independently locked shards. The
// zero value is not usable; call NewMap. Safe for concurrent use.
type Map[K comparable, V any] struct {
	seed   maphash.Seed
	mask   uint64
	shards []mapShard[K, V]
}

type mapShard[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
	_  [40]byte // keep neighbouring shard locks off one cache line
}

// NewMap returns a Map with n shards, rounded up to a power of two (≥ 1).
func NewMap[K comparable, V any](n int) *Map[K, V] {
	size := 1
	for size < n {
		size <<= 1
	}
	m := &Map[K, V]{seed: maphash.MakeSeed(), mask: uint64(size - 1), shards: make([]mapShard[K, V], size)}
	for i := range m.shards {
		m.shards[i].m = make(map[K]V)
	}
	return m
}

func (m *Map[K, V]) shard(k K) *mapShard[K, V] {
	return &m.shards[maphash.Comparable(m.seed, k)&m.mask]
}

// Update calls fn with the current value of k (ok false when absent) under
// the shard lock; fn returns the new value and whether to keep it (false
// deletes k). fn must not call back into m.
func (m *Map[K, V]) Update(k K, fn func(v V, ok bool) (V, bool)) {
	s := m.shard(k)
	s.mu.Lock()
	v, ok := s.m[k]
	nv, keep := fn(v, ok)
	if keep {
		s.m[k] = nv
	} else if ok {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

// View calls fn with the value of k under the shard lock, if present, and
// reports whether it was. Use it to read values that are mutated in place.
func (m *Map[K, V]) View(k K, fn func(v V)) bool {
	s := m.shard(k)
	s.mu.Lock()
	v, ok := s.m[k]
	if ok {
		fn(v)
	}
	s.mu.Unlock()
	return ok
}

// Load returns the value of k.
func (m *Map[K, V]) Load(k K) (V, bool) {
	s := m.shard(k)
	s.mu.Lock()
	v, ok := s.m[k]
	s.mu.Unlock()
	return v, ok
}

// Range calls fn for every entry, one shard at a time under that shard's
// lock, until fn returns false. Entries added or removed meanwhile in other
// shards may or may not be seen.
func (m *Map[K, V]) Range(fn func(k K, v V) bool) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if !fn(k, v) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
	}
}

// Len counts the entries.
func (m *Map[K, V]) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Sweep deletes every entry for which drop returns true, one shard at a
// time under its lock.
func (m *Map[K, V]) Sweep(drop func(k K, v V) bool) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if drop(k, v) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}
