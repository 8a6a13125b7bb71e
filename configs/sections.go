package configs

// AppManager is the `app_manager` section. The `memory` driver serves the
// apps listed in the file (Soketi's name `array` is accepted too); `mysql`
// and `pgsql` read Sockudo's applications table (database.mysql,
// database.postgres).
type AppManager struct {
	// Driver is `memory`, `mysql` or `pgsql` (aliases `postgres`,
	// `postgresql`).
	Driver string `json:"driver"`
	// Array holds the apps.
	Array AppArray `json:"array"`
	// Cache configures the cache of the SQL drivers.
	Cache AppManagerCache `json:"cache"`
	// RegisterInlineApps writes Array's apps into the table at start-up
	// when their id is absent (our key; Sockudo's environment switches
	// SOCKUDO_SKIP_INLINE_APPS and APP_MANAGER_REGISTER_INLINE_APPS).
	RegisterInlineApps bool `json:"register_inline_apps"`
}

func (AppManager) unusedKeys() []string { return []string{"scylladb"} }

// AppArray is `app_manager.array`.
type AppArray struct {
	// Apps are the configured apps.
	Apps []App `json:"apps"`
}

// Adapter is the `adapter` section: how nodes of a cluster talk.
type Adapter struct {
	// Driver is `local` (single node, no bus), `nats` or `redis`.
	Driver string `json:"driver"`
	// Redis configures the Redis pub/sub bus.
	Redis AdapterRedis `json:"redis"`
	// NATS configures the NATS bus.
	NATS AdapterNATS `json:"nats"`
	// ClusterHealth is Sockudo's `adapter.cluster_health`. Load merges it
	// into Config.ClusterHealth (its keys win, as Sockudo reads this one)
	// and then copies the result back here, so both are equal; read
	// Config.ClusterHealth.
	ClusterHealth ClusterHealth `json:"cluster_health"`
	// FallbackToLocal keeps the node serving its own clients when the bus
	// is unreachable at start-up.
	FallbackToLocal bool `json:"fallback_to_local"`
}

func (Adapter) unusedKeys() []string {
	return []string{
		"cluster", "pulsar", "rabbitmq", "google_pubsub", "kafka", "iggy",
		"buffer_multiplier_per_cpu", "enable_socket_counting",
		"aggregate_counts", "fast_presence_transitions",
	}
}

// AdapterRedis is `adapter.redis`. The server address comes from
// database.redis or REDIS_URL (see Config.RedisURL and URLOverride).
type AdapterRedis struct {
	// RequestsTimeout bounds a cluster-wide request/reply.
	RequestsTimeout Millis `json:"requests_timeout"`
	// Prefix starts every channel name the adapter publishes on.
	Prefix string `json:"prefix"`
	// RedisPubOptions is Sockudo's free-form client options; only "url" is
	// read (URLOverride).
	RedisPubOptions map[string]any `json:"redis_pub_options"`
	// RedisSubOptions mirrors RedisPubOptions for the subscriber.
	RedisSubOptions map[string]any `json:"redis_sub_options"`
	// ClusterMode asks for Redis Cluster.
	ClusterMode bool `json:"cluster_mode"`
}

// AdapterNATS is `adapter.nats`.
type AdapterNATS struct {
	// Servers are NATS URLs.
	Servers []string `json:"servers"`
	// Prefix starts every subject the adapter uses.
	Prefix string `json:"prefix"`
	// RequestTimeoutMs bounds a cluster-wide request/reply.
	RequestTimeoutMs Millis `json:"request_timeout_ms"`
	// Username and Password authenticate (both or neither).
	Username string `json:"username"`
	// Password goes with Username.
	Password string `json:"password"`
	// Token authenticates instead of Username/Password.
	Token string `json:"token"`
	// ConnectionTimeoutMs bounds the initial connect.
	ConnectionTimeoutMs Millis `json:"connection_timeout_ms"`
	// NodesNumber, when > 0, fixes the node count a request waits for.
	NodesNumber int `json:"nodes_number"`
	// MaxReconnects bounds reconnect attempts (0 = the client's default).
	MaxReconnects int `json:"max_reconnects"`
}

func (AdapterNATS) unusedKeys() []string {
	return []string{
		"discovery_max_wait_ms", "discovery_idle_wait_ms",
		"subscription_capacity", "client_capacity",
		"presence_sync_chunk_size", "no_echo",
	}
}

// ClusterHealth is `cluster_health` (also read under
// `adapter.cluster_health`): heartbeats and dead-node detection.
type ClusterHealth struct {
	// Enabled turns heartbeats and dead-node cleanup on.
	Enabled bool `json:"enabled"`
	// HeartbeatIntervalMs is how often a node announces itself; at most a
	// third of NodeTimeoutMs.
	HeartbeatIntervalMs Millis `json:"heartbeat_interval_ms"`
	// NodeTimeoutMs is the silence after which a node is dead.
	NodeTimeoutMs Millis `json:"node_timeout_ms"`
	// CleanupIntervalMs is how often nodes are checked; at most
	// NodeTimeoutMs.
	CleanupIntervalMs Millis `json:"cleanup_interval_ms"`
}

// Cache is the `cache` section (cache channels' last events).
type Cache struct {
	// Driver is `memory`, `redis` or `none`.
	Driver string `json:"driver"`
	// Redis configures the Redis driver.
	Redis RedisOptions `json:"redis"`
	// Memory configures the memory driver.
	Memory CacheMemory `json:"memory"`
}

// RedisOptions is the `redis` block of cache and rate_limiter.
type RedisOptions struct {
	// Prefix starts every key.
	Prefix string `json:"prefix"`
	// URLOverride replaces database.redis for this component ("" = none).
	URLOverride string `json:"url_override"`
	// ClusterMode asks for Redis Cluster.
	ClusterMode bool `json:"cluster_mode"`
}

// CacheMemory is `cache.memory`.
type CacheMemory struct {
	// TTL is the default entry lifetime.
	TTL Seconds `json:"ttl"`
	// CleanupInterval is how often expired entries are swept.
	CleanupInterval Seconds `json:"cleanup_interval"`
	// MaxCapacity bounds the number of entries.
	MaxCapacity int `json:"max_capacity"`
}

// Queue is the `queue` section: the webhook job queue.
type Queue struct {
	// Driver is `memory`, `redis` or `none` (webhooks off).
	Driver string `json:"driver"`
	// Redis configures the durable Redis queue.
	Redis QueueRedis `json:"redis"`
	// Reliability configures delivery guarantees of the queue.
	Reliability QueueReliability `json:"reliability"`
}

func (Queue) unusedKeys() []string {
	return []string{
		"redis_cluster", "nats", "pulsar", "rabbitmq", "google_pubsub",
		"kafka", "iggy", "sqs", "sns",
	}
}

// QueueRedis is `queue.redis`.
type QueueRedis struct {
	// Concurrency is the number of workers per node.
	Concurrency int `json:"concurrency"`
	// Prefix starts every key.
	Prefix string `json:"prefix"`
	// URLOverride replaces database.redis for the queue ("" = none).
	URLOverride string `json:"url_override"`
	// ClusterMode asks for Redis Cluster.
	ClusterMode bool `json:"cluster_mode"`
	// ResponseTimeoutMs bounds one Redis command.
	ResponseTimeoutMs Millis `json:"response_timeout_ms"`
}

// QueueReliability is `queue.reliability` (Sockudo's queue v2 keys).
type QueueReliability struct {
	// MaxAttempts per job before it is failed.
	MaxAttempts int `json:"max_attempts"`
	// RetryBaseDelayMs is the first retry delay.
	RetryBaseDelayMs Millis `json:"retry_base_delay_ms"`
	// RetryMaxDelayMs caps the retry delay.
	RetryMaxDelayMs Millis `json:"retry_max_delay_ms"`
	// RetryJitter is the ± fraction applied to each delay (0..1).
	RetryJitter float64 `json:"retry_jitter"`
	// LeaseDurationMs is how long a worker owns a job before another node
	// may take it over (at-least-once after a crash).
	LeaseDurationMs Millis `json:"lease_duration_ms"`
	// LeaseRenewIntervalMs renews a held lease; less than LeaseDurationMs.
	LeaseRenewIntervalMs Millis `json:"lease_renew_interval_ms"`
	// StalledBatchSize is how many expired leases are reclaimed at once.
	StalledBatchSize int `json:"stalled_batch_size"`
	// WorkerPollIntervalMs is the idle poll interval.
	WorkerPollIntervalMs Millis `json:"worker_poll_interval_ms"`
	// WorkerPrefetch is how many jobs a worker claims at once.
	WorkerPrefetch int `json:"worker_prefetch"`
	// ShutdownTimeoutMs bounds the queue drain at shutdown.
	ShutdownTimeoutMs Millis `json:"shutdown_timeout_ms"`
	// CompletedRetention is how many completed jobs are kept.
	CompletedRetention int `json:"completed_retention"`
	// FailedRetention is how many failed jobs are kept.
	FailedRetention int `json:"failed_retention"`
	// EventRetention is how many job events are kept.
	EventRetention int `json:"event_retention"`
	// DeduplicationTTLMs is how long a job id is remembered.
	DeduplicationTTLMs Millis `json:"deduplication_ttl_ms"`
	// MemoryCapacity bounds the memory queue (jobs).
	MemoryCapacity int `json:"memory_capacity"`
	// MaxBatchSize bounds jobs moved per operation.
	MaxBatchSize int `json:"max_batch_size"`
}

// Webhooks is the global `webhooks` section.
type Webhooks struct {
	// Batching merges events for one URL into one POST.
	Batching WebhookBatching `json:"batching"`
	// Retry is the default retry policy of every webhook.
	Retry WebhookRetry `json:"retry"`
	// RequestTimeoutMs bounds one delivery attempt.
	RequestTimeoutMs Millis `json:"request_timeout_ms"`
}

// WebhookBatching is `webhooks.batching`.
type WebhookBatching struct {
	// Enabled turns batching on.
	Enabled bool `json:"enabled"`
	// Duration is how long events are gathered (ms).
	Duration Millis `json:"duration"`
	// Size is the most events in one POST.
	Size int `json:"size"`
}

// WebhookRetry is `webhooks.retry`.
type WebhookRetry struct {
	// Enabled turns retries on.
	Enabled bool `json:"enabled"`
	// MaxAttempts caps attempts (0 = bounded only by MaxElapsedTimeMs).
	MaxAttempts int `json:"max_attempts"`
	// MaxElapsedTimeMs is the retry budget of one job.
	MaxElapsedTimeMs Millis `json:"max_elapsed_time_ms"`
	// InitialBackoffMs is the first retry delay (then doubling).
	InitialBackoffMs Millis `json:"initial_backoff_ms"`
	// MaxBackoffMs caps the delay.
	MaxBackoffMs Millis `json:"max_backoff_ms"`
}

// RateLimiter is the `rate_limiter` section (per client IP).
type RateLimiter struct {
	// Enabled turns the HTTP API and WebSocket-upgrade limits on.
	Enabled bool `json:"enabled"`
	// Driver is `memory` or `redis` (a limit shared by all nodes).
	Driver string `json:"driver"`
	// APIRateLimit limits HTTP API requests.
	APIRateLimit RateLimit `json:"api_rate_limit"`
	// WebsocketRateLimit limits WebSocket upgrades.
	WebsocketRateLimit RateLimit `json:"websocket_rate_limit"`
	// Redis configures the redis driver.
	Redis RedisOptions `json:"redis"`
}

// RateLimit is one limit of the rate_limiter section.
type RateLimit struct {
	// MaxRequests allowed per window.
	MaxRequests int `json:"max_requests"`
	// WindowSeconds is the window length.
	WindowSeconds Seconds `json:"window_seconds"`
	// Identifier names the limiter in keys and logs.
	Identifier string `json:"identifier"`
	// TrustHops is how many proxies' X-Forwarded-For entries to trust
	// (0 = use the peer address).
	TrustHops int `json:"trust_hops"`
}

// Metrics is the `metrics` section: the Prometheus listener.
type Metrics struct {
	// Enabled starts the metrics listener.
	Enabled bool `json:"enabled"`
	// Driver is `prometheus`.
	Driver string `json:"driver"`
	// Host is the metrics listener's bind address.
	Host string `json:"host"`
	// Port is the metrics listener's port.
	Port int `json:"port"`
	// Prometheus holds the exposition options.
	Prometheus Prometheus `json:"prometheus"`
}

func (Metrics) unusedKeys() []string { return []string{"tcp_exporter"} }

// Prometheus is `metrics.prometheus`.
type Prometheus struct {
	// Prefix starts every metric name.
	Prefix string `json:"prefix"`
}

// SSL is the `ssl` section: TLS on the main port.
type SSL struct {
	// Enabled serves wss/https with CertPath and KeyPath.
	Enabled bool `json:"enabled"`
	// CertPath is the PEM certificate chain.
	CertPath string `json:"cert_path"`
	// KeyPath is the PEM private key.
	KeyPath string `json:"key_path"`
	// Passphrase decrypts the key, when encrypted.
	Passphrase string `json:"passphrase"`
	// CAPath is an optional CA bundle.
	CAPath string `json:"ca_path"`
	// RedirectHTTP starts a plain listener on HTTPPort redirecting to https.
	RedirectHTTP bool `json:"redirect_http"`
	// HTTPPort is the redirect listener's port.
	HTTPPort int `json:"http_port"`
}

// CORS is the `cors` section for the HTTP API.
type CORS struct {
	// Credentials sends Access-Control-Allow-Credentials (never with `*`).
	Credentials bool `json:"credentials"`
	// Origin lists allowed origins (`*` = any).
	Origin []string `json:"origin"`
	// Methods lists allowed methods.
	Methods []string `json:"methods"`
	// AllowedHeaders lists allowed request headers.
	AllowedHeaders []string `json:"allowed_headers"`
}

// Database is the `database` section: Redis, and the SQL databases of the
// app_manager drivers.
type Database struct {
	// Redis is the shared Redis server of the adapter, cache, queue and
	// rate limiter (each may override it with a URL).
	Redis DatabaseRedis `json:"redis"`
	// MySQL holds the applications table of app_manager.driver mysql.
	MySQL DatabaseSQL `json:"mysql"`
	// Postgres holds the applications table of app_manager.driver pgsql.
	Postgres DatabaseSQL `json:"postgres"`
}

func (Database) unusedKeys() []string {
	return []string{"dynamodb", "surrealdb", "scylladb"}
}

// DatabaseRedis is `database.redis`.
type DatabaseRedis struct {
	// Host of the Redis server.
	Host string `json:"host"`
	// Port of the Redis server.
	Port int `json:"port"`
	// DB is the database index.
	DB int `json:"db"`
	// Username for Redis ACLs ("" = none).
	Username string `json:"username"`
	// Password ("" = none).
	Password string `json:"password"`
	// KeyPrefix starts shared keys.
	KeyPrefix string `json:"key_prefix"`
}

func (DatabaseRedis) unusedKeys() []string {
	return []string{
		"sentinels", "sentinel_password", "sentinel_username", "name",
		"sentinel_tls", "master_tls", "cluster", "cluster_nodes",
	}
}

// HTTPAPI is the `http_api` section.
type HTTPAPI struct {
	// RequestLimitInMB caps a request body (413 beyond).
	RequestLimitInMB int `json:"request_limit_in_mb"`
	// AcceptTraffic holds the memory-based readiness threshold.
	AcceptTraffic AcceptTraffic `json:"accept_traffic"`
	// UsageEnabled serves /usage.
	UsageEnabled bool `json:"usage_enabled"`
}

// AcceptTraffic is `http_api.accept_traffic`.
type AcceptTraffic struct {
	// MemoryThreshold is the memory fraction (0..1) above which the node
	// reports itself not ready.
	MemoryThreshold float64 `json:"memory_threshold"`
}

// ChannelLimits is `channel_limits`; MaxNameLength is the per-app default.
type ChannelLimits struct {
	// MaxNameLength is the default app max_channel_name_length.
	MaxNameLength int `json:"max_name_length"`
	// CacheTTL is how long a cache channel keeps its last event.
	CacheTTL Seconds `json:"cache_ttl"`
}

// EventLimits is `event_limits`: defaults of the per-app event limits.
type EventLimits struct {
	// MaxChannelsAtOnce is the default app max_event_channels_at_once.
	MaxChannelsAtOnce int `json:"max_channels_at_once"`
	// MaxNameLength is the default app max_event_name_length.
	MaxNameLength int `json:"max_name_length"`
	// MaxPayloadInKB is the default app max_event_payload_in_kb.
	MaxPayloadInKB int `json:"max_payload_in_kb"`
	// MaxBatchSize is the default app max_event_batch_size.
	MaxBatchSize int `json:"max_batch_size"`
}

// Presence is `presence`: defaults of the per-app presence limits.
type Presence struct {
	// MaxMembersPerChannel is the default app
	// max_presence_members_per_channel.
	MaxMembersPerChannel int `json:"max_members_per_channel"`
	// MaxMemberSizeInKB is the default app max_presence_member_size_in_kb.
	MaxMemberSizeInKB int `json:"max_member_size_in_kb"`
}

func (Presence) unusedKeys() []string {
	return []string{
		"update_rate_limit_per_member_per_second",
		"ungraceful_timeout_seconds", "v2_ungraceful_timeout_seconds",
	}
}

// Websocket is the `websocket` section: per-connection buffers.
type Websocket struct {
	// MaxMessages bounds a connection's queued outbound messages.
	MaxMessages int `json:"max_messages"`
	// MaxBytes bounds a connection's queued outbound bytes (0 = unset;
	// MaxBackpressure then applies). Unlike Sockudo it does not change the
	// inbound message limit, which is websocket_max_payload_kb only.
	MaxBytes int `json:"max_bytes"`
	// DisconnectOnBufferFull closes a slow consumer with 4100 instead of
	// dropping its messages.
	DisconnectOnBufferFull bool `json:"disconnect_on_buffer_full"`
	// MaxBackpressure bounds a connection's pending outbound bytes; over it
	// the connection is closed with 4100.
	MaxBackpressure int `json:"max_backpressure"`
	// WriteBufferSize is the socket write buffer (bytes).
	WriteBufferSize int `json:"write_buffer_size"`
	// HandshakeTimeoutMs bounds the whole upgrade request (our key).
	HandshakeTimeoutMs Millis `json:"handshake_timeout_ms"`
}

func (Websocket) unusedKeys() []string {
	return []string{
		"max_message_size", "max_frame_size", "auto_ping", "ping_interval",
		"idle_timeout", "compression",
	}
}

// Instance is the `instance` section.
type Instance struct {
	// ProcessID names this node on the bus ("" = ApplyDefaults picks a
	// random UUID).
	ProcessID string `json:"process_id"`
}

// Logging is Sockudo's `logging` section.
type Logging struct {
	// ColorsEnabled colours human-readable logs.
	ColorsEnabled bool `json:"colors_enabled"`
	// IncludeTarget adds the logger name to each line.
	IncludeTarget bool `json:"include_target"`
}
