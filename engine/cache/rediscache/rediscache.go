// Package rediscache is the engine.SharedCache over Redis (cache.driver =
// redis): cache channels' last events under <prefix>app:<id>:channel:<name>
// with the cache TTL, readable by every node.
package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a Cache.
type Options struct {
	// URL is redis://[user:password@]host:port/db, rediss:// or unix://.
	URL string
	// Prefix starts every key; "" means "sockudo_cache:".
	Prefix string
	// Timeout bounds one command; 0 means 1 s.
	Timeout time.Duration
}

// Cache is a Redis-backed engine.SharedCache. Safe for concurrent use.
type Cache struct {
	c       *redis.Client
	prefix  string
	timeout time.Duration
}

// New builds the client; it connects lazily.
func New(o Options) (*Cache, error) {
	ro, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("rediscache: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "sockudo_cache:"
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	return &Cache{c: redis.NewClient(ro), prefix: o.Prefix, timeout: o.Timeout}, nil
}

type entry struct {
	Event string `json:"e"`
	Data  string `json:"d"`
}

func (c *Cache) key(app, channel string) string {
	return c.prefix + "app:" + app + ":channel:" + channel
}

// Set stores a channel's last event for ttl.
func (c *Cache) Set(ctx context.Context, app, channel, event, data string, ttl time.Duration) error {
	b, _ := json.Marshal(entry{event, data})
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.c.Set(ctx, c.key(app, channel), b, ttl).Err()
}

// Get returns a channel's last event and the time it has left.
func (c *Cache) Get(ctx context.Context, app, channel string) (string, string, time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	k := c.key(app, channel)
	pipe := c.c.Pipeline()
	get, ttl := pipe.Get(ctx, k), pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", "", 0, false, err
	}
	b, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return "", "", 0, false, nil
	}
	var e entry
	if err != nil || json.Unmarshal(b, &e) != nil {
		return "", "", 0, false, fmt.Errorf("rediscache: bad entry at %s", k)
	}
	return e.Event, e.Data, ttl.Val(), true, nil
}

// Client is the connection, for other stores sharing the cache's Redis
// (the idempotency keys); they must not close it.
func (c *Cache) Client() redis.UniversalClient { return c.c }

// Prefix starts every key of the cache; sharing stores start theirs with
// it too, so one cache.redis.prefix separates deployments.
func (c *Cache) Prefix() string { return c.prefix }

// Close releases the connections.
func (c *Cache) Close() error { return c.c.Close() }
