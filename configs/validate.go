package configs

import (
	"fmt"
	"strings"
)

// Validate reports every impossible value, each error naming its dotted
// key, as in `config: port: must be 1..65535, got 70000`. It accepts the
// names ApplyDefaults normalizes in any case, so it may run before or
// after ApplyDefaults; per-app zero limits are valid (they mean "default").
func (c *Config) Validate() error {
	v := &checker{}
	c.validateServer(v)
	c.validateDrivers(v)
	c.validateLimits(v)
	c.validateV2(v)
	c.validateFilters(v)
	c.validateDelta(v)
	c.validateHistory(v)
	c.validateQueue(v)
	c.validateEdge(v)
	c.validateApps(v)
	return v.err()
}

func (c *Config) validateServer(v *checker) {
	v.port("port", c.Port)
	v.nonEmpty("host", c.Host)
	v.atLeast("activity_timeout", int(c.ActivityTimeout), 1)
	v.atLeast("pong_timeout", int(c.PongTimeout), 1)
	v.atLeast("shutdown_grace_period", int(c.ShutdownGracePeriod), 0)
	v.atLeast("user_authentication_timeout", int(c.UserAuthenticationTimeout), 1)
	v.atLeast("websocket_max_payload_kb", int(c.WebsocketMaxPayloadKB), 1)
	v.atLeast("max_connections", c.MaxConnections, 0)
	v.atLeast("health_check_timeout_ms", int(c.HealthCheckTimeoutMs), 1)
	v.between("shards", c.Shards, 0, 1<<16)
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "warning", "error")
	v.atLeast("memory_limit_mb", c.MemoryLimitMB, -1)
	v.oneOf("metrics.driver", c.Metrics.Driver, "prometheus")
	v.port("metrics.port", c.Metrics.Port)
	if c.Metrics.Enabled {
		v.nonEmpty("metrics.host", c.Metrics.Host)
		if c.Metrics.Port == c.Port {
			v.add("metrics.port", "must differ from port (%d) while metrics are enabled", c.Port)
		}
	}
	if !validMetricPrefix(c.Metrics.Prometheus.Prefix) {
		v.add("metrics.prometheus.prefix", "must match [a-zA-Z_:][a-zA-Z0-9_:]* (or be empty), got %q", c.Metrics.Prometheus.Prefix)
	}
	v.port("database.redis.port", c.Database.Redis.Port)
	v.atLeast("database.redis.db", c.Database.Redis.DB, 0)
}

func (c *Config) validateDrivers(v *checker) {
	v.oneOf("app_manager.driver", normalizeAppDriver(strings.ToLower(strings.TrimSpace(c.AppManager.Driver))), "memory", "mysql", "pgsql")
	c.validateDatabase(v)
	v.oneOf("adapter.driver", c.Adapter.Driver, "local", "nats", "redis")
	v.oneOf("cache.driver", c.Cache.Driver, "memory", "redis", "none")
	v.oneOf("queue.driver", c.Queue.Driver, "memory", "redis", "none")
	v.oneOf("rate_limiter.driver", c.RateLimiter.Driver, "memory", "redis")
	a := c.Adapter
	v.atLeast("adapter.redis.requests_timeout", int(a.Redis.RequestsTimeout), 1)
	v.atLeast("adapter.nats.request_timeout_ms", int(a.NATS.RequestTimeoutMs), 1)
	v.atLeast("adapter.nats.connection_timeout_ms", int(a.NATS.ConnectionTimeoutMs), 1)
	v.atLeast("adapter.nats.nodes_number", a.NATS.NodesNumber, 0)
	v.atLeast("adapter.nats.max_reconnects", a.NATS.MaxReconnects, 0)
	if strings.EqualFold(a.Driver, "nats") {
		if len(a.NATS.Servers) == 0 {
			v.add("adapter.nats.servers", "must list at least one server when adapter.driver is nats")
		}
		for i, s := range a.NATS.Servers {
			v.nonEmpty(fmt.Sprintf("adapter.nats.servers[%d]", i), s)
		}
	}
	if !strings.EqualFold(a.Driver, "local") && c.ClusterHealth.Enabled {
		c.validateClusterHealth(v)
	}
	m := c.Cache.Memory
	v.atLeast("cache.memory.ttl", int(m.TTL), 1)
	v.atLeast("cache.memory.cleanup_interval", int(m.CleanupInterval), 1)
	v.atLeast("cache.memory.max_capacity", m.MaxCapacity, 1)
}

// validateClusterHealth applies Sockudo's rules: the heartbeat is at most
// a third of the node timeout, so one lost heartbeat never kills a node.
func (c *Config) validateClusterHealth(v *checker) {
	h := c.ClusterHealth
	v.atLeast("cluster_health.heartbeat_interval_ms", int(h.HeartbeatIntervalMs), 1)
	v.atLeast("cluster_health.node_timeout_ms", int(h.NodeTimeoutMs), 1)
	v.atLeast("cluster_health.cleanup_interval_ms", int(h.CleanupIntervalMs), 1)
	if h.HeartbeatIntervalMs > h.NodeTimeoutMs/3 {
		v.add("cluster_health.heartbeat_interval_ms", "must be at most a third of node_timeout_ms (%d), got %d", h.NodeTimeoutMs, h.HeartbeatIntervalMs)
	}
	if h.CleanupIntervalMs > h.NodeTimeoutMs {
		v.add("cluster_health.cleanup_interval_ms", "must not exceed node_timeout_ms (%d), got %d", h.NodeTimeoutMs, h.CleanupIntervalMs)
	}
}

func (c *Config) validateLimits(v *checker) {
	v.atLeast("channel_limits.max_name_length", c.ChannelLimits.MaxNameLength, 1)
	v.atLeast("channel_limits.cache_ttl", int(c.ChannelLimits.CacheTTL), 1)
	e := c.EventLimits
	v.atLeast("event_limits.max_channels_at_once", e.MaxChannelsAtOnce, 1)
	v.atLeast("event_limits.max_name_length", e.MaxNameLength, 1)
	v.atLeast("event_limits.max_payload_in_kb", e.MaxPayloadInKB, 1)
	v.atLeast("event_limits.max_batch_size", e.MaxBatchSize, 1)
	v.atLeast("presence.max_members_per_channel", c.Presence.MaxMembersPerChannel, 1)
	v.atLeast("presence.max_member_size_in_kb", c.Presence.MaxMemberSizeInKB, 1)
	v.atLeast("http_api.request_limit_in_mb", c.HTTPAPI.RequestLimitInMB, 1)
	if t := c.HTTPAPI.AcceptTraffic.MemoryThreshold; t < 0 || t > 1 {
		v.add("http_api.accept_traffic.memory_threshold", "must be 0..1, got %g", t)
	}
	w := c.Websocket
	v.atLeast("websocket.max_messages", w.MaxMessages, 0)
	v.atLeast("websocket.max_bytes", w.MaxBytes, 0)
	v.atLeast("websocket.max_backpressure", w.MaxBackpressure, 1)
	v.atLeast("websocket.write_buffer_size", w.WriteBufferSize, 0)
	v.atLeast("websocket.handshake_timeout_ms", int(w.HandshakeTimeoutMs), 1)
}

func (c *Config) validateQueue(v *checker) {
	q := c.Queue
	v.atLeast("queue.redis.concurrency", q.Redis.Concurrency, 1)
	v.atLeast("queue.redis.response_timeout_ms", int(q.Redis.ResponseTimeoutMs), 1)
	r, p := q.Reliability, "queue.reliability."
	v.atLeast(p+"max_attempts", r.MaxAttempts, 1)
	v.atLeast(p+"lease_duration_ms", int(r.LeaseDurationMs), 1)
	if r.LeaseRenewIntervalMs < 1 || r.LeaseRenewIntervalMs >= r.LeaseDurationMs {
		v.add(p+"lease_renew_interval_ms", "must be at least 1 and less than lease_duration_ms (%d), got %d", r.LeaseDurationMs, r.LeaseRenewIntervalMs)
	}
	v.atLeast(p+"retry_base_delay_ms", int(r.RetryBaseDelayMs), 0)
	if r.RetryBaseDelayMs > r.RetryMaxDelayMs {
		v.add(p+"retry_max_delay_ms", "must be at least retry_base_delay_ms (%d), got %d", r.RetryBaseDelayMs, r.RetryMaxDelayMs)
	}
	if r.RetryJitter < 0 || r.RetryJitter > 1 {
		v.add(p+"retry_jitter", "must be 0..1, got %g", r.RetryJitter)
	}
	v.atLeast(p+"stalled_batch_size", r.StalledBatchSize, 1)
	v.atLeast(p+"worker_prefetch", r.WorkerPrefetch, 1)
	v.atLeast(p+"memory_capacity", r.MemoryCapacity, 1)
	v.atLeast(p+"max_batch_size", r.MaxBatchSize, 1)
	v.atLeast(p+"worker_poll_interval_ms", int(r.WorkerPollIntervalMs), 1)
	v.atLeast(p+"shutdown_timeout_ms", int(r.ShutdownTimeoutMs), 0)
	v.atLeast(p+"completed_retention", r.CompletedRetention, 0)
	v.atLeast(p+"failed_retention", r.FailedRetention, 0)
	v.atLeast(p+"event_retention", r.EventRetention, 0)
	v.atLeast(p+"deduplication_ttl_ms", int(r.DeduplicationTTLMs), 0)
	w := c.Webhooks
	v.atLeast("webhooks.batching.duration", int(w.Batching.Duration), 0)
	v.atLeast("webhooks.batching.size", w.Batching.Size, 1)
	v.atLeast("webhooks.retry.max_attempts", w.Retry.MaxAttempts, 0)
	v.atLeast("webhooks.retry.max_elapsed_time_ms", int(w.Retry.MaxElapsedTimeMs), 0)
	v.atLeast("webhooks.retry.initial_backoff_ms", int(w.Retry.InitialBackoffMs), 1)
	if w.Retry.MaxBackoffMs < w.Retry.InitialBackoffMs {
		v.add("webhooks.retry.max_backoff_ms", "must be at least initial_backoff_ms (%d), got %d", w.Retry.InitialBackoffMs, w.Retry.MaxBackoffMs)
	}
	v.atLeast("webhooks.request_timeout_ms", int(w.RequestTimeoutMs), 1)
}

func (c *Config) validateEdge(v *checker) {
	v.rateLimit("rate_limiter.api_rate_limit", c.RateLimiter.APIRateLimit)
	v.rateLimit("rate_limiter.websocket_rate_limit", c.RateLimiter.WebsocketRateLimit)
	if c.SSL.Enabled {
		v.nonEmpty("ssl.cert_path", c.SSL.CertPath)
		v.nonEmpty("ssl.key_path", c.SSL.KeyPath)
	}
	if c.SSL.RedirectHTTP {
		v.port("ssl.http_port", c.SSL.HTTPPort)
	}
	for i, o := range c.CORS.Origin {
		if err := checkOrigin(o); err != nil {
			v.add(fmt.Sprintf("cors.origin[%d]", i), "%v", err)
		}
	}
}
