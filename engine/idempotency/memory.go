package idempotency

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// DefaultMemoryEntries bounds a MemoryStore built with max 0.
const DefaultMemoryEntries = 100_000

// MemoryStore is the Store of a single node: a map with a heap of
// deadlines, so expired entries go on the next call that touches the
// store without a timer or goroutine per key. When max entries are live a
// claim fails (ErrUnavailable) instead of forgetting a key that still
// protects a publish.
type MemoryStore struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]*memEntry
	byTime  deadlines
}

type memEntry struct {
	key      string
	token    string
	deadline time.Time
	index    int // in byTime
	Entry
}

// NewMemoryStore returns an empty store of at most max live entries
// (0 → DefaultMemoryEntries). now is the clock; nil → time.Now.
func NewMemoryStore(max int, now func() time.Time) *MemoryStore {
	if max <= 0 {
		max = DefaultMemoryEntries
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{max: max, now: now, entries: make(map[string]*memEntry)}
}

// Len returns the live entries, expired ones not yet dropped included.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Claim implements Store.
func (m *MemoryStore) Claim(_ context.Context, key, fingerprint string, ttl time.Duration) (string, Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	if e, ok := m.entries[key]; ok {
		return "", e.Entry, false, nil
	}
	if len(m.entries) >= m.max {
		return "", Entry{}, false, fmt.Errorf("%w: %d keys held (memory store full)", ErrUnavailable, m.max)
	}
	e := &memEntry{key: key, token: NewToken(), deadline: now.Add(ttl),
		Entry: Entry{Fingerprint: fingerprint, Pending: true}}
	m.entries[key] = e
	heap.Push(&m.byTime, e)
	return e.token, Entry{}, true, nil
}

// Commit implements Store.
func (m *MemoryStore) Commit(_ context.Context, key, token string, c Entry, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || e.token != token || !e.Pending {
		return nil
	}
	c.Pending = false
	e.Entry = c
	e.deadline = m.now().Add(ttl)
	heap.Fix(&m.byTime, e.index)
	return nil
}

// Release implements Store.
func (m *MemoryStore) Release(_ context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && e.token == token && e.Pending {
		m.remove(e)
	}
	return nil
}

// expire drops the entries whose deadline is not after now.
func (m *MemoryStore) expire(now time.Time) {
	for len(m.byTime) > 0 && !m.byTime[0].deadline.After(now) {
		m.remove(m.byTime[0])
	}
}

func (m *MemoryStore) remove(e *memEntry) {
	heap.Remove(&m.byTime, e.index)
	delete(m.entries, e.key)
}

// NewToken returns a random claim token, for every Store: a request whose
// claim expired while it ran must not commit over, or release, a later
// request's claim.
func NewToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// deadlines is a min-heap of entries by deadline (container/heap).
type deadlines []*memEntry

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].deadline.Before(d[j].deadline) }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index, d[j].index = i, j
}

func (d *deadlines) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*d)
	*d = append(*d, e)
}

func (d *deadlines) Pop() any {
	old := *d
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	return e
}

var _ Store = (*MemoryStore)(nil)
