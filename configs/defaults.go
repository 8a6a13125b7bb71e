package configs

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Per-app defaults that have no global section to come from.
const (
	// DefaultMaxClientEventsPerSecond is Pusher's documented client-event
	// limit per connection.
	DefaultMaxClientEventsPerSecond = 10
	// DefaultMaxSubscriptionsPerConnection bounds what one connection may
	// subscribe to.
	DefaultMaxSubscriptionsPerConnection = 100
	// DefaultDecaySeconds is the client-event rate window.
	DefaultDecaySeconds = 1
)

// Default returns every default. Where Sockudo's own defaults are not
// what a Pusher client expects, the Pusher or Soketi value is used and
// the comment says why.
func Default() Config {
	c := Config{
		Host:                "0.0.0.0",
		Port:                6001,
		ActivityTimeout:     120,
		PongTimeout:         30,
		ShutdownGracePeriod: 10,
		// Soketi's 30 s, not Sockudo's 3600 s: pusher clients expect an
		// unauthenticated connection to fail promptly, not after an hour.
		UserAuthenticationTimeout: 30,
		WebsocketMaxPayloadKB:     64,
		HealthCheckTimeoutMs:      2000,
		LogLevel:                  "info",
		AppManager: AppManager{
			Driver: "memory", Cache: AppManagerCache{Enabled: true, TTL: 300},
			RegisterInlineApps: true,
		},
		Adapter:       defaultAdapter(),
		ClusterHealth: defaultClusterHealth(),
		Cache: Cache{
			Driver: "memory",
			Redis:  RedisOptions{Prefix: "sockudo_cache:"},
			Memory: CacheMemory{TTL: 300, CleanupInterval: 60, MaxCapacity: 10000},
		},
		Queue: Queue{
			// Sockudo's code defaults to redis; memory needs no server.
			Driver:      "memory",
			Redis:       QueueRedis{Concurrency: 5, Prefix: "sockudo_queue:", ResponseTimeoutMs: 5000},
			Reliability: defaultReliability(),
		},
		Webhooks: Webhooks{
			Batching:         WebhookBatching{Enabled: true, Duration: 50, Size: 100},
			Retry:            WebhookRetry{Enabled: true, MaxElapsedTimeMs: 300000, InitialBackoffMs: 1000, MaxBackoffMs: 60000},
			RequestTimeoutMs: 10000,
		},
		RateLimiter: defaultRateLimiter(),
		Metrics: Metrics{
			Enabled: true, Driver: "prometheus", Host: "0.0.0.0", Port: 9601,
			Prometheus: Prometheus{Prefix: "sockudo_"},
		},
		SSL: SSL{HTTPPort: 80},
		CORS: CORS{
			Credentials:    true,
			Origin:         []string{"*"},
			Methods:        []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
			AllowedHeaders: []string{"Authorization", "Content-Type", "X-Requested-With", "Accept"},
		},
		Database: Database{
			Redis: DatabaseRedis{Host: "127.0.0.1", Port: 6379, KeyPrefix: "sockudo:"},
			MySQL: defaultDatabaseSQL(3306),
			// 5432, not Sockudo's 3306: its PostgreSQL settings share the
			// MySQL struct's default, which no PostgreSQL server uses.
			Postgres: defaultDatabaseSQL(5432),
		},
		DatabasePooling: DatabasePooling{Enabled: true, Min: 2, Max: 10},
		HTTPAPI:         HTTPAPI{RequestLimitInMB: 10, AcceptTraffic: AcceptTraffic{MemoryThreshold: 0.90}, UsageEnabled: true},
		// Sockudo: cache_ttl 3600, max_payload_in_kb 100. Ours follow
		// Pusher: cache channels keep 30 minutes, events carry 10 KB.
		ChannelLimits: ChannelLimits{MaxNameLength: 200, CacheTTL: 1800},
		EventLimits:   EventLimits{MaxChannelsAtOnce: 100, MaxNameLength: 200, MaxPayloadInKB: 10, MaxBatchSize: 10},
		Presence:      Presence{MaxMembersPerChannel: 100, MaxMemberSizeInKB: 2},
		Websocket: Websocket{
			MaxMessages: 1000, DisconnectOnBufferFull: true,
			MaxBackpressure: 1 << 20, WriteBufferSize: 16 << 10,
			HandshakeTimeoutMs: 10000,
		},
		Logging: Logging{ColorsEnabled: true, IncludeTarget: true},
	}
	defaultV2(&c)
	defaultFilters(&c)
	defaultDelta(&c)
	defaultHistory(&c)
	return c
}

func defaultAdapter() Adapter {
	return Adapter{
		Driver: "local",
		// Request/reply timeouts: 2000 ms, not Sockudo's 5000, so a
		// cluster-wide HTTP answer never waits 5 s on a dead node.
		Redis: AdapterRedis{RequestsTimeout: 2000, Prefix: "sockudo_adapter:"},
		NATS: AdapterNATS{
			Servers: []string{"nats://localhost:4222"}, Prefix: "sockudo_adapter:",
			RequestTimeoutMs: 2000, ConnectionTimeoutMs: 5000,
		},
		ClusterHealth:   defaultClusterHealth(),
		FallbackToLocal: true,
	}
}

// defaultClusterHealth detects a dead node within 15 s (Sockudo: 30 s).
func defaultClusterHealth() ClusterHealth {
	return ClusterHealth{Enabled: true, HeartbeatIntervalMs: 5000, NodeTimeoutMs: 15000, CleanupIntervalMs: 1000}
}

func defaultReliability() QueueReliability {
	return QueueReliability{
		MaxAttempts: 5, RetryBaseDelayMs: 1000, RetryMaxDelayMs: 60000,
		RetryJitter: 0.2, LeaseDurationMs: 30000, LeaseRenewIntervalMs: 10000,
		StalledBatchSize: 100, WorkerPollIntervalMs: 500, WorkerPrefetch: 16,
		ShutdownTimeoutMs: 30000, CompletedRetention: 1000,
		FailedRetention: 10000, EventRetention: 10000,
		DeduplicationTTLMs: 300000, MemoryCapacity: 100000, MaxBatchSize: 1000,
	}
}

func defaultRateLimiter() RateLimiter {
	return RateLimiter{
		// Off (Sockudo: on): authenticated backends publish far more than
		// 100 requests a minute. The edge example turns it on.
		Enabled:            false,
		Driver:             "memory",
		APIRateLimit:       RateLimit{MaxRequests: 100, WindowSeconds: 60, Identifier: "api"},
		WebsocketRateLimit: RateLimit{MaxRequests: 20, WindowSeconds: 60, Identifier: "websocket_connect"},
		Redis:              RedisOptions{Prefix: "sockudo_rl:"},
	}
}

// ApplyDefaults completes a decoded Config; it is idempotent and Load calls
// it before Validate.
//
//   - Per-app zero limits take the global defaults (Soketi's semantics;
//     Sockudo parses the global sections but never reads them):
//     event_limits → max_event_*, presence → max_presence_*,
//     channel_limits.max_name_length → max_channel_name_length; then
//     max_client_events_per_second, max_subscriptions_per_connection and
//     decay_seconds take the Default* constants. Negative values are left
//     for Validate to reject.
//   - Soketi's webhook filter keys move onto channel_prefix/channel_suffix.
//   - Driver names and log_level are lower-cased (Soketi's app_manager
//     driver `array` becomes `memory`, log level `warning` becomes `warn`).
//   - An empty instance.process_id becomes a random UUID.
func (c *Config) ApplyDefaults() {
	for i := range c.AppManager.Array.Apps {
		c.applyAppDefaults(&c.AppManager.Array.Apps[i])
	}
	c.normalizeNames()
	if c.Instance.ProcessID == "" {
		c.Instance.ProcessID = newUUID()
	}
}

func (c *Config) applyAppDefaults(a *App) {
	fill := func(p *int, def int) {
		if *p == 0 {
			*p = def
		}
	}
	fill(&a.MaxPresenceMembersPerChannel, c.Presence.MaxMembersPerChannel)
	fill(&a.MaxPresenceMemberSizeInKB, c.Presence.MaxMemberSizeInKB)
	fill(&a.MaxChannelNameLength, c.ChannelLimits.MaxNameLength)
	fill(&a.MaxEventChannelsAtOnce, c.EventLimits.MaxChannelsAtOnce)
	fill(&a.MaxEventNameLength, c.EventLimits.MaxNameLength)
	fill(&a.MaxEventPayloadInKB, c.EventLimits.MaxPayloadInKB)
	fill(&a.MaxEventBatchSize, c.EventLimits.MaxBatchSize)
	fill(&a.MaxClientEventsPerSecond, DefaultMaxClientEventsPerSecond)
	fill(&a.MaxSubscriptionsPerConnection, DefaultMaxSubscriptionsPerConnection)
	if a.DecaySeconds == 0 {
		a.DecaySeconds = DefaultDecaySeconds
	}
	for i := range a.Webhooks {
		f := &a.Webhooks[i].Filter
		if f.ChannelPrefix == "" {
			f.ChannelPrefix = f.ChannelNameStartsWith
		}
		if f.ChannelSuffix == "" {
			f.ChannelSuffix = f.ChannelNameEndsWith
		}
		f.ChannelNameStartsWith, f.ChannelNameEndsWith = "", ""
	}
}

func (c *Config) normalizeNames() {
	for _, p := range []*string{
		&c.AppManager.Driver, &c.Adapter.Driver, &c.Cache.Driver,
		&c.Queue.Driver, &c.RateLimiter.Driver, &c.Metrics.Driver, &c.LogLevel,
	} {
		*p = strings.ToLower(strings.TrimSpace(*p))
	}
	c.AppManager.Driver = normalizeAppDriver(c.AppManager.Driver)
	if c.LogLevel == "warning" {
		c.LogLevel = "warn"
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
