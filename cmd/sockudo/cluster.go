package main

import (
	"fmt"
	"log/slog"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus"
	"github.com/sockudo/sockudo-go/engine/bus/natsbus"
	"github.com/sockudo/sockudo-go/engine/bus/redisbus"
	"github.com/sockudo/sockudo-go/engine/cache/rediscache"
)

// newBus builds the cluster bus adapter.driver names; nil for local.
func newBus(cfg configs.Config, log *slog.Logger, obs bus.Observer) (engine.Bus, error) {
	a := cfg.Adapter
	switch a.Driver {
	case "", "local":
		return nil, nil
	case "nats":
		return natsbus.New(natsbus.Options{
			Servers: a.NATS.Servers, Prefix: a.NATS.Prefix,
			Username: a.NATS.Username, Password: a.NATS.Password, Token: a.NATS.Token,
			ConnectTimeout: a.NATS.ConnectionTimeoutMs.Duration(),
			Logger:         log, Observer: obs,
		})
	case "redis":
		return redisbus.New(redisbus.Options{
			URL: cfg.RedisURL(a.Redis.URLOverride()), Prefix: a.Redis.Prefix,
			Logger: log, Observer: obs,
		})
	default:
		return nil, fmt.Errorf("adapter.driver: %q is not supported (local, nats, redis)", a.Driver)
	}
}

// sharedCache builds the cache.driver = redis store of cache channels;
// nil keeps them in each node's memory.
func sharedCache(cfg configs.Config) (engine.SharedCache, error) {
	if cfg.Cache.Driver != "redis" {
		return nil, nil
	}
	c, err := rediscache.New(rediscache.Options{URL: cfg.RedisURL(cfg.Cache.Redis.URLOverride), Prefix: cfg.Cache.Redis.Prefix})
	if err != nil {
		return nil, fmt.Errorf("cache.redis: %w", err)
	}
	return c, nil
}

// clusterOptions adds the bus and node liveness settings to opts.
func clusterOptions(opts *engine.Options, cfg configs.Config, b engine.Bus) {
	if b == nil {
		return
	}
	opts.Bus = b
	opts.NodeName = cfg.Instance.ProcessID
	opts.HeartbeatInterval = cfg.ClusterHealth.HeartbeatIntervalMs.Duration()
	opts.NodeTimeout = cfg.ClusterHealth.NodeTimeoutMs.Duration()
	opts.CleanupInterval = cfg.ClusterHealth.CleanupIntervalMs.Duration()
}
