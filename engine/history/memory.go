// Package history holds the in-memory durable history store (history
// backend "memory"): the same contract as the PostgreSQL store in
// pghistory, for tests and single-node servers that accept losing
// history on restart.
package history

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// Memory is a HistoryStore in this process's memory. One mutex guards
// everything: writes come from the engine's writer in batches and reads
// are page-sized, so contention is low.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	streams map[key]*memStream
}

type key struct{ app, channel string }

type memStream struct {
	id      string
	next    uint64
	entries []engine.HistoryEntry // ascending serial
	bytes   int64
	state   engine.HistoryState // Degraded, Reason, ChangedAtMS only
}

// NewMemory returns an empty store. now is the clock (nil → time.Now);
// tests move it to exercise the retention window.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, streams: make(map[key]*memStream)}
}

var _ engine.HistoryStore = (*Memory)(nil)

func (m *Memory) stream(app, channel string) *memStream {
	k := key{app, channel}
	s := m.streams[k]
	if s == nil {
		s = &memStream{id: protocol.NewMessageID(), next: 1}
		m.streams[k] = s
	}
	return s
}

// Reserve implements engine.HistoryStore.
func (m *Memory) Reserve(_ context.Context, app, channel string, n int) (string, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(app, channel)
	first := s.next
	s.next += uint64(max(n, 1))
	return s.id, first, nil
}

// Release implements engine.HistoryStore.
func (m *Memory) Release(_ context.Context, app, channel, streamID string, next, end uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.streams[key{app, channel}]; s != nil && s.id == streamID && s.next == end && next < end {
		s.next = next
	}
	return nil
}

// Append implements engine.HistoryStore.
func (m *Memory) Append(_ context.Context, entries []engine.HistoryEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	nowMS := m.now().UnixMilli()
	touched := map[*memStream]engine.HistoryRetention{}
	for i := range entries {
		e := entries[i]
		s := m.streams[key{e.App, e.Channel}]
		if s == nil || s.id != e.StreamID {
			continue // reset meanwhile
		}
		e.Payload = append([]byte(nil), e.Payload...)
		e.Retention = engine.HistoryRetention{}
		if n := len(s.entries); n == 0 || s.entries[n-1].Serial < e.Serial {
			s.entries = append(s.entries, e)
		} else {
			s.insert(e)
		}
		s.bytes += int64(len(e.Payload))
		touched[s] = entries[i].Retention
	}
	for s, r := range touched {
		s.retain(r, nowMS)
	}
	return nil
}

// insert places e by serial (blocks of two writers can interleave).
func (s *memStream) insert(e engine.HistoryEntry) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Serial >= e.Serial })
	if i < len(s.entries) && s.entries[i].Serial == e.Serial {
		s.bytes -= int64(len(s.entries[i].Payload))
		s.entries[i] = e
		return
	}
	s.entries = append(s.entries, engine.HistoryEntry{})
	copy(s.entries[i+1:], s.entries[i:])
	s.entries[i] = e
}

// retain drops the oldest entries beyond the window, the count and the
// byte bound.
func (s *memStream) retain(r engine.HistoryRetention, nowMS int64) {
	drop := 0
	bytes := s.bytes
	for drop < len(s.entries) {
		e := &s.entries[drop]
		left := int64(len(s.entries) - drop)
		old := r.Window > 0 && e.PublishedAtMS < nowMS-r.Window.Milliseconds()
		if !old && (r.MaxMessages <= 0 || left <= r.MaxMessages) && (r.MaxBytes <= 0 || bytes <= r.MaxBytes) {
			break
		}
		bytes -= int64(len(e.Payload))
		drop++
	}
	s.dropFront(drop)
}

func (s *memStream) dropFront(n int) {
	if n == 0 {
		return
	}
	for i := range n {
		s.bytes -= int64(len(s.entries[i].Payload))
	}
	s.entries = append(s.entries[:0:0], s.entries[n:]...)
}

// Read implements engine.HistoryStore.
func (m *Memory) Read(_ context.Context, q engine.HistoryQuery) (engine.HistoryPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[key{q.App, q.Channel}]
	var page engine.HistoryPage
	if s == nil {
		if q.StreamID != "" {
			return page, engine.ErrHistoryStreamChanged
		}
		return page, nil
	}
	if q.StreamID != "" && q.StreamID != s.id {
		return page, engine.ErrHistoryStreamChanged
	}
	page.State = s.stateOf()
	n := len(s.entries)
	for k := range n {
		i := k
		if q.NewestFirst {
			i = n - 1 - k
		}
		e := &s.entries[i]
		if !matches(e, &q) {
			continue
		}
		if len(page.Items) == q.Limit {
			page.HasMore = true
			break
		}
		page.Items = append(page.Items, *e)
	}
	return page, nil
}

func matches(e *engine.HistoryEntry, q *engine.HistoryQuery) bool {
	switch {
	case q.StartSerial != nil && e.Serial < *q.StartSerial,
		q.EndSerial != nil && e.Serial > *q.EndSerial,
		q.StartTimeMS != nil && e.PublishedAtMS < *q.StartTimeMS,
		q.EndTimeMS != nil && e.PublishedAtMS > *q.EndTimeMS:
		return false
	case q.After == 0:
		return true
	case q.NewestFirst:
		return e.Serial < q.After
	default:
		return e.Serial > q.After
	}
}

func (s *memStream) stateOf() engine.HistoryState {
	st := s.state
	st.StreamID, st.NextSerial = s.id, s.next
	st.RetainedMessages, st.RetainedBytes = int64(len(s.entries)), s.bytes
	if n := len(s.entries); n > 0 {
		st.OldestSerial, st.OldestAtMS = s.entries[0].Serial, s.entries[0].PublishedAtMS
		st.NewestSerial, st.NewestAtMS = s.entries[n-1].Serial, s.entries[n-1].PublishedAtMS
	}
	return st
}

// State implements engine.HistoryStore.
func (m *Memory) State(_ context.Context, app, channel string) (engine.HistoryState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.streams[key{app, channel}]; s != nil {
		return s.stateOf(), nil
	}
	return engine.HistoryState{}, nil
}

// SetDegraded implements engine.HistoryStore.
func (m *Memory) SetDegraded(_ context.Context, app, channel, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(app, channel)
	if !s.state.Degraded {
		s.state = engine.HistoryState{Degraded: true, Reason: reason, ChangedAtMS: m.now().UnixMilli()}
	}
	return nil
}

// Reset implements engine.HistoryStore.
func (m *Memory) Reset(_ context.Context, app, channel, reason string) (engine.HistoryState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &memStream{id: protocol.NewMessageID(), next: 1}
	s.state.Reason, s.state.ChangedAtMS = reason, m.now().UnixMilli()
	m.streams[key{app, channel}] = s
	return s.stateOf(), nil
}

// Purge implements engine.HistoryStore.
func (m *Memory) Purge(_ context.Context, app, channel string, p engine.HistoryPurge) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[key{app, channel}]
	if s == nil {
		return 0, nil
	}
	n := 0
	for n < len(s.entries) {
		e := &s.entries[n]
		if !p.All && (p.BeforeSerial == 0 || e.Serial >= p.BeforeSerial) && (p.BeforeTimeMS == 0 || e.PublishedAtMS >= p.BeforeTimeMS) {
			break
		}
		n++
	}
	s.dropFront(n)
	return int64(n), nil
}

// Expire implements engine.HistoryStore. Entries are in serial order,
// which is publish order, so each channel loses a prefix.
func (m *Memory) Expire(_ context.Context, app string, beforeMS int64, limit int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, s := range m.streams {
		if k.app != app {
			continue
		}
		drop := 0
		for drop < len(s.entries) && s.entries[drop].PublishedAtMS < beforeMS && n < int64(limit) {
			drop++
			n++
		}
		s.dropFront(drop)
	}
	return n, nil
}
