package sqlstore

import (
	"context"
	"sync"
	"time"
)

// keyIndex is every id and key in the table as of the last refresh. A
// lookup of a key it lacks is almost surely bogus: it is answered without
// a query, except for a small budget of probes (probeBurst, then
// probeRate per second) that find apps inserted since the last refresh at
// once. So 10,000 connects with random keys cost a handful of queries, and
// a new app is found at once unless bogus keys are flooding, and within
// the refresh interval (a second with notifications) even then.
type keyIndex struct {
	keys map[string]struct{}
	ids  map[string]struct{}
}

func (x *keyIndex) has(by, v string) bool {
	if by == "k" {
		_, ok := x.keys[v]
		return ok
	}
	_, ok := x.ids[v]
	return ok
}

// loadIndex reads every id and key.
func (s *Store) loadIndex(ctx context.Context) error {
	pairs, err := s.db.pairs(ctx, s.sql.index)
	if err != nil {
		return err
	}
	x := &keyIndex{keys: make(map[string]struct{}, len(pairs)), ids: make(map[string]struct{}, len(pairs))}
	for _, p := range pairs {
		x.ids[p[0]] = struct{}{}
		x.keys[p[1]] = struct{}{}
	}
	s.index.Store(x)
	return nil
}

// Probe budget for keys missing from the index: a few at once, then one a
// second, however many bogus keys arrive.
const (
	probeRate  = 1 // per second
	probeBurst = 5
)

// bucket is a token bucket.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *bucket) take() bool {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = probeBurst
	} else {
		b.tokens = min(probeBurst, b.tokens+now.Sub(b.last).Seconds()*probeRate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
