package main

import (
	"fmt"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/cache/rediscache"
	"github.com/sockudo/sockudo-go/engine/idempotency"
	"github.com/sockudo/sockudo-go/engine/idempotency/redisidem"
)

// idempotencyGuard builds the guard of idempotency.enabled; nil when off.
// With cache.driver = redis the keys live in that Redis, on the cache's
// connection, so every node of a cluster sees them; otherwise in this
// node's memory.
func idempotencyGuard(cfg configs.Config, cache engine.SharedCache, obs idempotency.Observer) (*idempotency.Guard, error) {
	c := cfg.Idempotency
	if !c.Enabled {
		return nil, nil
	}
	var store idempotency.Store = idempotency.NewMemoryStore(0, nil)
	if rc, ok := cache.(*rediscache.Cache); ok {
		s, err := redisidem.New(redisidem.Options{Client: rc.Client(), Prefix: rc.Prefix()})
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		store = s
	}
	return idempotency.New(idempotency.Options{
		Store: store, TTL: c.TTLSeconds.Duration(), MaxKeyLength: c.MaxKeyLength, Observer: obs,
	}), nil
}
