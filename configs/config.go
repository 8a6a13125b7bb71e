package configs

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
)

// Seconds is a duration written in whole seconds, as Sockudo's keys
// (activity_timeout, shutdown_grace_period…) write it.
type Seconds int

// Duration converts s to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) * time.Second }

// Millis is a duration written in milliseconds, as Sockudo's *_ms keys
// write it.
type Millis int

// Duration converts m to a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) * time.Millisecond }

// Config is the whole server configuration in Sockudo's schema. JSON tags
// are Sockudo's snake_case keys; the few keys of our own (pong_timeout,
// shards, log_level, per-app enable_subscription_count and
// max_subscriptions_per_connection, websocket.handshake_timeout_ms) are
// marked so in their comments.
//
// Start from Default(); Load fills it from a file and the environment.
// A Config is plain data: safe for concurrent reads once built, not for
// concurrent writes.
type Config struct {
	// Debug turns on debug logging (Sockudo's `debug`).
	Debug bool `json:"debug"`
	// Host is the address the WebSocket and HTTP API listener binds.
	Host string `json:"host"`
	// Port is the WebSocket and HTTP API port.
	Port int `json:"port"`
	// ActivityTimeout is advertised in pusher:connection_established; after
	// that much silence the server sends pusher:ping.
	ActivityTimeout Seconds `json:"activity_timeout"`
	// PongTimeout is how long the server waits for any frame after its
	// pusher:ping before closing with 4201 (our key).
	PongTimeout Seconds `json:"pong_timeout"`
	// ShutdownGracePeriod bounds the wait for clients and queues to drain
	// after SIGTERM.
	ShutdownGracePeriod Seconds `json:"shutdown_grace_period"`
	// UserAuthenticationTimeout: with an app's enable_user_authentication, a
	// connection that neither signs in nor joins a private or presence
	// channel within this time is closed with 4009.
	UserAuthenticationTimeout Seconds `json:"user_authentication_timeout"`
	// WebsocketMaxPayloadKB caps one client message (KiB).
	WebsocketMaxPayloadKB int `json:"websocket_max_payload_kb"`
	// MaxConnections caps connections on this node, all apps together
	// (0 = unlimited); over it a connection is refused with 4100.
	MaxConnections int `json:"max_connections"`
	// HealthCheckTimeoutMs bounds each subsystem check of /up.
	HealthCheckTimeoutMs Millis `json:"health_check_timeout_ms"`
	// Shards is the number of lock shards and connection workers (our key;
	// 0 = derive from GOMAXPROCS).
	Shards int `json:"shards"`
	// LogLevel is debug, info, warn or error (our key).
	LogLevel string `json:"log_level"`
	// MemoryLimitMB is the Go runtime's soft memory limit in MiB (our
	// key): 0 derives it (GOMEMLIMIT if set, else 90 % of the cgroup's or
	// the machine's memory), -1 sets none.
	MemoryLimitMB int `json:"memory_limit_mb"`

	// AppManager lists the apps (app_manager.array.apps).
	AppManager AppManager `json:"app_manager"`
	// Adapter selects and configures the cluster bus.
	Adapter Adapter `json:"adapter"`
	// ClusterHealth configures heartbeats and dead-node cleanup; it is the
	// authoritative copy (see Adapter.ClusterHealth).
	ClusterHealth ClusterHealth `json:"cluster_health"`
	// Cache stores cache channels' last events.
	Cache Cache `json:"cache"`
	// Queue carries webhook jobs.
	Queue Queue `json:"queue"`
	// Webhooks holds the global webhook delivery settings.
	Webhooks Webhooks `json:"webhooks"`
	// RateLimiter limits HTTP API requests and upgrades per client IP.
	RateLimiter RateLimiter `json:"rate_limiter"`
	// Metrics configures the Prometheus listener.
	Metrics Metrics `json:"metrics"`
	// SSL configures TLS on the main port.
	SSL SSL `json:"ssl"`
	// CORS configures CORS headers of the HTTP API.
	CORS CORS `json:"cors"`
	// Database holds the shared Redis connection and the SQL app databases.
	Database Database `json:"database"`
	// DatabasePooling bounds the SQL app stores' connection pools.
	DatabasePooling DatabasePooling `json:"database_pooling"`
	// HTTPAPI configures the HTTP API.
	HTTPAPI HTTPAPI `json:"http_api"`
	// ChannelLimits holds channel defaults.
	ChannelLimits ChannelLimits `json:"channel_limits"`
	// EventLimits holds the default per-app event limits.
	EventLimits EventLimits `json:"event_limits"`
	// Presence holds the default per-app presence limits.
	Presence Presence `json:"presence"`
	// Websocket configures per-connection buffers and the handshake.
	Websocket Websocket `json:"websocket"`
	// Instance names this node.
	Instance Instance `json:"instance"`
	// Logging holds Sockudo's log format switches.
	Logging Logging `json:"logging"`
	// ConnectionRecovery, EchoControl and Ephemeral configure protocol V2
	// (see v2.go).
	ConnectionRecovery ConnectionRecovery `json:"connection_recovery"`
	EchoControl        EchoControl        `json:"echo_control"`
	Ephemeral          Ephemeral          `json:"ephemeral"`
	// Idempotency configures idempotent HTTP publishing (see v2.go).
	Idempotency Idempotency `json:"idempotency"`
	// History is durable channel history (see history.go).
	History History `json:"history"`
	// EventNameFiltering and TagFiltering configure V2 subscription
	// filters (see filters.go); TagFiltering is nil when the file has no
	// such section.
	EventNameFiltering EventNameFiltering `json:"event_name_filtering"`
	TagFiltering       *TagFiltering      `json:"tag_filtering"`
	// DeltaCompression is protocol V2 delta compression: the engine's own
	// settings type, so keys and defaults have one owner (validated in
	// validateDelta).
	DeltaCompression delta.Config `json:"delta_compression"`
}

// unusedKeys lists Sockudo top-level keys and sections this server accepts
// and ignores, so a Sockudo file loads without warnings.
func (Config) unusedKeys() []string {
	return []string{
		"mode", "server_role", "path_prefix", "cleanup",
		"unix_socket",
		"presence_history",
		"versioned_messages", "annotations", "ai_transport", "push",
		"push_rules", "ably_compat",
	}
}

// Apps returns the configured apps (app_manager.array.apps). The slice is
// the Config's own; do not modify it while others read the Config.
func (c *Config) Apps() []App { return c.AppManager.Array.Apps }

// RedisURL returns the Redis URL a component should dial: override when it
// is non-empty (a component's url_override, or AdapterRedis.URLOverride()),
// otherwise database.redis written as a redis:// URL.
func (c *Config) RedisURL(override string) string {
	if override != "" {
		return override
	}
	return c.Database.Redis.URL()
}

// URL writes the connection as redis://[user:password@]host:port/db.
func (r DatabaseRedis) URL() string {
	u := url.URL{
		Scheme: "redis",
		Host:   net.JoinHostPort(r.Host, strconv.Itoa(r.Port)),
		Path:   "/" + strconv.Itoa(r.DB),
	}
	switch {
	case r.Username != "" && r.Password != "":
		u.User = url.UserPassword(r.Username, r.Password)
	case r.Password != "":
		u.User = url.UserPassword("", r.Password)
	case r.Username != "":
		u.User = url.User(r.Username)
	}
	return u.String()
}

// URLOverride returns redis_pub_options.url, where Sockudo (and REDIS_URL)
// put the adapter's Redis URL, or "" when unset.
func (a AdapterRedis) URLOverride() string {
	s, _ := a.RedisPubOptions["url"].(string)
	return s
}
