package httpapi

import (
	"hash/maphash"
	"sync"
	"time"
)

// Rule is one rate limit: at most Max units per Window. A zero Max means
// no limit.
type Rule struct {
	Max    int
	Window time.Duration
}

// Decision is a limiter's answer for one request.
type Decision struct {
	// Allowed is false when the request would exceed the limit; nothing
	// was then counted.
	Allowed bool
	// Limit is the rule's Max, for X-RateLimit-Limit.
	Limit int
	// Remaining is what is left in the current window after this request
	// (0 on a refusal), for X-RateLimit-Remaining.
	Remaining int
	// Reset is how long until the current window ends; Retry-After on a
	// refusal.
	Reset time.Duration
}

// Limiter counts units per key in windows. Implementations must be safe
// for concurrent use and fast: Take runs on the request path. The memory
// driver is NewMemoryLimiter; a driver that shares the limit across nodes
// (Redis) implements the same interface and may fail: the Server then lets
// the request through and logs the error (fail open), because refusing
// every client while the store is down is the worse outage.
type Limiter interface {
	// Take counts n units against key under rule, unless that would go
	// over rule.Max; n > rule.Max is always refused.
	Take(key string, n int, rule Rule) (Decision, error)
}

// Memory limiter bounds.
const (
	limiterShards = 64
	// DefaultLimiterMaxKeys bounds the keys a memory limiter tracks.
	DefaultLimiterMaxKeys = 1 << 20
	// sweepEvery is how often a shard drops expired windows on access.
	sweepEvery = 10 * time.Second
)

// overflowKey is the shared window of keys arriving while a shard is full:
// an attacker rotating addresses then shares one budget instead of growing
// memory, while known keys keep their own windows.
const overflowKey = "\x00overflow"

// MemoryLimiter is the in-process fixed-window Limiter: a key's window
// starts at its first request and lasts Rule.Window; Retry-After is the
// time left in it. Fixed rather than sliding windows keep one counter per
// key; a client may therefore burst up to 2×Max across a window edge,
// which Sockudo's memory driver allows too.
//
// Memory is bounded: expired windows are dropped as shards are touched
// (every sweepEvery), and beyond MaxKeys new keys share one overflow window
// per shard. Safe for concurrent use; it starts no goroutine.
type MemoryLimiter struct {
	seed     maphash.Seed
	perShard int
	now      func() time.Time
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu        sync.Mutex
	windows   map[string]window
	nextSweep time.Time
	_         [32]byte // keep neighbouring shard locks off one cache line
}

type window struct {
	end   time.Time
	count int
}

// NewMemoryLimiter returns a MemoryLimiter tracking at most maxKeys keys;
// maxKeys ≤ 0 → DefaultLimiterMaxKeys.
func NewMemoryLimiter(maxKeys int) *MemoryLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterMaxKeys
	}
	l := &MemoryLimiter{seed: maphash.MakeSeed(), now: time.Now,
		perShard: max(1, maxKeys/limiterShards)}
	for i := range l.shards {
		l.shards[i].windows = make(map[string]window)
	}
	return l
}

// Take implements Limiter; it never returns an error.
func (l *MemoryLimiter) Take(key string, n int, rule Rule) (Decision, error) {
	if rule.Max <= 0 || rule.Window <= 0 {
		return Decision{Allowed: true}, nil
	}
	now := l.now()
	sh := &l.shards[maphash.String(l.seed, key)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.After(sh.nextSweep) {
		sh.sweep(now)
	}
	w, ok := sh.windows[key]
	if !ok && len(sh.windows) >= l.perShard {
		key = overflowKey
		w = sh.windows[key]
	}
	if !now.Before(w.end) {
		w = window{end: now.Add(rule.Window)}
	}
	d := Decision{Limit: rule.Max, Reset: w.end.Sub(now)}
	if n > rule.Max-w.count {
		d.Remaining = 0
		sh.windows[key] = w
		return d, nil
	}
	w.count += n
	sh.windows[key] = w
	d.Allowed, d.Remaining = true, rule.Max-w.count
	return d, nil
}

// Len is the number of windows tracked, expired ones included until the
// next sweep; for tests and debugging.
func (l *MemoryLimiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.windows)
		sh.mu.Unlock()
	}
	return n
}

// sweep drops the windows that ended. Lock must be held.
func (sh *limiterShard) sweep(now time.Time) {
	for k, w := range sh.windows {
		if !now.Before(w.end) {
			delete(sh.windows, k)
		}
	}
	sh.nextSweep = now.Add(sweepEvery)
}
