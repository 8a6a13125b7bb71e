// Package redislimit is the rate_limiter.driver = redis implementation of
// httpapi.Limiter: fixed windows counted in Redis, so every node of a
// cluster enforces one shared limit per client address or app.
package redislimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockudo/sockudo-go/httpapi"
)

// Options configures a Limiter.
type Options struct {
	// URL is redis://[user:password@]host:port/db, rediss:// or unix://.
	URL string
	// Prefix starts every key; "" means "sockudo_rl:".
	Prefix string
	// Timeout bounds one check; 0 means 500 ms. On timeout the server lets
	// the request through (fail open) and logs.
	Timeout time.Duration
}

// Limiter counts windows in Redis. Safe for concurrent use.
type Limiter struct {
	c       *redis.Client
	prefix  string
	timeout time.Duration
}

// take counts n against the window at KEYS[1] unless that exceeds the
// maximum, atomically: {allowed, count, ms left}.
var take = redis.NewScript(`
local n, max, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = window end
if cur + n > max then return {0, cur, ttl} end
cur = redis.call('INCRBY', KEYS[1], n)
if cur == n then redis.call('PEXPIRE', KEYS[1], window) end
return {1, cur, ttl}
`)

// New builds the client; it connects lazily.
func New(o Options) (*Limiter, error) {
	ro, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redislimit: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "sockudo_rl:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	return &Limiter{c: redis.NewClient(ro), prefix: o.Prefix, timeout: o.Timeout}, nil
}

// Take implements httpapi.Limiter.
func (l *Limiter) Take(key string, n int, rule httpapi.Rule) (httpapi.Decision, error) {
	d := httpapi.Decision{Limit: rule.Max}
	if n > rule.Max {
		d.Reset = rule.Window
		return d, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	res, err := take.Run(ctx, l.c, []string{l.prefix + key}, n, rule.Max, rule.Window.Milliseconds()).Int64Slice()
	if err != nil || len(res) != 3 {
		return d, fmt.Errorf("redislimit: %w", err)
	}
	d.Allowed = res[0] == 1
	d.Reset = time.Duration(res[2]) * time.Millisecond
	if d.Allowed {
		d.Remaining = rule.Max - int(res[1])
	}
	return d, nil
}

// Close releases the connections.
func (l *Limiter) Close() error { return l.c.Close() }

var _ httpapi.Limiter = (*Limiter)(nil)
