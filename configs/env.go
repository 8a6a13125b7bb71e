package configs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// envVar binds one environment variable (Sockudo's name where Sockudo has
// one) to the config key it overrides.
type envVar struct {
	name string
	key  string // dotted config key, for the reference
	set  func(string) error
}

// envVars lists the server-wide overrides, bound to c's fields. The list is
// built per call: no package-level state.
func (c *Config) envVars() []envVar {
	rl, ws := &c.RateLimiter.APIRateLimit, &c.RateLimiter.WebsocketRateLimit
	return append([]envVar{
		{"HOST", "host", setString(&c.Host)},
		{"PORT", "port", setInt(&c.Port)},
		{"DEBUG", "debug", setBool(&c.Debug)},
		{"ACTIVITY_TIMEOUT", "activity_timeout", setInt(&c.ActivityTimeout)},
		{"SHUTDOWN_GRACE_PERIOD", "shutdown_grace_period", setInt(&c.ShutdownGracePeriod)},
		{"USER_AUTHENTICATION_TIMEOUT", "user_authentication_timeout", setInt(&c.UserAuthenticationTimeout)},
		{"WEBSOCKET_MAX_PAYLOAD_KB", "websocket_max_payload_kb", setInt(&c.WebsocketMaxPayloadKB)},
		{"SOCKUDO_MAX_CONNECTIONS", "max_connections", setInt(&c.MaxConnections)},
		{"HEALTH_CHECK_TIMEOUT_MS", "health_check_timeout_ms", setInt(&c.HealthCheckTimeoutMs)},
		{"SHARDS", "shards", setInt(&c.Shards)},
		{"LOG_LEVEL", "log_level", setString(&c.LogLevel)},
		{"MEMORY_LIMIT_MB", "memory_limit_mb", setInt(&c.MemoryLimitMB)},
		{"INSTANCE_PROCESS_ID", "instance.process_id", setString(&c.Instance.ProcessID)},
		{"APP_MANAGER_DRIVER", "app_manager.driver", setString(&c.AppManager.Driver)},
		{"ADAPTER_DRIVER", "adapter.driver", setString(&c.Adapter.Driver)},
		{"ADAPTER_FALLBACK_TO_LOCAL", "adapter.fallback_to_local", setBool(&c.Adapter.FallbackToLocal)},
		{"QUEUE_DRIVER", "queue.driver", setString(&c.Queue.Driver)},
		{"CACHE_DRIVER", "cache.driver", setString(&c.Cache.Driver)},
		{"RATE_LIMITER_DRIVER", "rate_limiter.driver", setString(&c.RateLimiter.Driver)},
		{"RATE_LIMITER_ENABLED", "rate_limiter.enabled", setBool(&c.RateLimiter.Enabled)},
		{"RATE_LIMITER_API_MAX_REQUESTS", "rate_limiter.api_rate_limit.max_requests", setInt(&rl.MaxRequests)},
		{"RATE_LIMITER_API_WINDOW_SECONDS", "rate_limiter.api_rate_limit.window_seconds", setInt(&rl.WindowSeconds)},
		{"RATE_LIMITER_API_TRUST_HOPS", "rate_limiter.api_rate_limit.trust_hops", setInt(&rl.TrustHops)},
		{"RATE_LIMITER_WS_MAX_REQUESTS", "rate_limiter.websocket_rate_limit.max_requests", setInt(&ws.MaxRequests)},
		{"RATE_LIMITER_WS_WINDOW_SECONDS", "rate_limiter.websocket_rate_limit.window_seconds", setInt(&ws.WindowSeconds)},
		{"RATE_LIMITER_WS_TRUST_HOPS", "rate_limiter.websocket_rate_limit.trust_hops", setInt(&ws.TrustHops)},
		{"RATE_LIMITER_REDIS_PREFIX", "rate_limiter.redis.prefix", setString(&c.RateLimiter.Redis.Prefix)},
		{"METRICS_ENABLED", "metrics.enabled", setBool(&c.Metrics.Enabled)},
		{"METRICS_HOST", "metrics.host", setString(&c.Metrics.Host)},
		{"METRICS_PORT", "metrics.port", setInt(&c.Metrics.Port)},
		{"METRICS_PROMETHEUS_PREFIX", "metrics.prometheus.prefix", setString(&c.Metrics.Prometheus.Prefix)},
		{"REDIS_URL", "database.redis", c.setRedisURL},
		{"DATABASE_REDIS_HOST", "database.redis.host", setString(&c.Database.Redis.Host)},
		{"DATABASE_REDIS_PORT", "database.redis.port", setInt(&c.Database.Redis.Port)},
		{"DATABASE_REDIS_DB", "database.redis.db", setInt(&c.Database.Redis.DB)},
		{"DATABASE_REDIS_USERNAME", "database.redis.username", setString(&c.Database.Redis.Username)},
		{"DATABASE_REDIS_PASSWORD", "database.redis.password", setString(&c.Database.Redis.Password)},
		{"DATABASE_REDIS_KEY_PREFIX", "database.redis.key_prefix", setString(&c.Database.Redis.KeyPrefix)},
		{"NATS_SERVERS", "adapter.nats.servers", setList(&c.Adapter.NATS.Servers)},
		{"NATS_PREFIX", "adapter.nats.prefix", setString(&c.Adapter.NATS.Prefix)},
		{"NATS_USERNAME", "adapter.nats.username", setString(&c.Adapter.NATS.Username)},
		{"NATS_PASSWORD", "adapter.nats.password", setString(&c.Adapter.NATS.Password)},
		{"NATS_TOKEN", "adapter.nats.token", setString(&c.Adapter.NATS.Token)},
		{"NATS_REQUEST_TIMEOUT_MS", "adapter.nats.request_timeout_ms", setInt(&c.Adapter.NATS.RequestTimeoutMs)},
		{"SSL_ENABLED", "ssl.enabled", setBool(&c.SSL.Enabled)},
		{"SSL_CERT_PATH", "ssl.cert_path", setString(&c.SSL.CertPath)},
		{"SSL_KEY_PATH", "ssl.key_path", setString(&c.SSL.KeyPath)},
		{"SSL_REDIRECT_HTTP", "ssl.redirect_http", setBool(&c.SSL.RedirectHTTP)},
		{"SSL_HTTP_PORT", "ssl.http_port", setInt(&c.SSL.HTTPPort)},
		{"CORS_ORIGINS", "cors.origin", setList(&c.CORS.Origin)},
		{"CORS_METHODS", "cors.methods", setList(&c.CORS.Methods)},
		{"CORS_HEADERS", "cors.allowed_headers", setList(&c.CORS.AllowedHeaders)},
		{"CORS_CREDENTIALS", "cors.credentials", setBool(&c.CORS.Credentials)},
		{"WEBHOOK_BATCHING_ENABLED", "webhooks.batching.enabled", setBool(&c.Webhooks.Batching.Enabled)},
		{"WEBHOOK_BATCHING_DURATION", "webhooks.batching.duration", setInt(&c.Webhooks.Batching.Duration)},
		{"WEBHOOK_BATCHING_SIZE", "webhooks.batching.size", setInt(&c.Webhooks.Batching.Size)},
		{"QUEUE_REDIS_PREFIX", "queue.redis.prefix", setString(&c.Queue.Redis.Prefix)},
		{"QUEUE_REDIS_CONCURRENCY", "queue.redis.concurrency", setInt(&c.Queue.Redis.Concurrency)},
		{"QUEUE_REDIS_RESPONSE_TIMEOUT_MS", "queue.redis.response_timeout_ms", setInt(&c.Queue.Redis.ResponseTimeoutMs)},
		{"QUEUE_LEASE_DURATION_MS", "queue.reliability.lease_duration_ms", setInt(&c.Queue.Reliability.LeaseDurationMs)},
		{"CLUSTER_HEALTH_ENABLED", "cluster_health.enabled", setBool(&c.ClusterHealth.Enabled)},
		{"CLUSTER_HEALTH_HEARTBEAT_INTERVAL", "cluster_health.heartbeat_interval_ms", setInt(&c.ClusterHealth.HeartbeatIntervalMs)},
		{"CLUSTER_HEALTH_NODE_TIMEOUT", "cluster_health.node_timeout_ms", setInt(&c.ClusterHealth.NodeTimeoutMs)},
		{"CLUSTER_HEALTH_CLEANUP_INTERVAL", "cluster_health.cleanup_interval_ms", setInt(&c.ClusterHealth.CleanupIntervalMs)},
	}, append(append(c.v2EnvVars(), c.historyEnvVars()...), c.filterEnvVars()...)...)
}

// defaultAppPrefix starts the variables describing the default app.
const defaultAppPrefix = "SOCKUDO_DEFAULT_APP_"

// defaultAppEnvVars binds the SOCKUDO_DEFAULT_APP_* variables (beyond ID,
// KEY and SECRET) to a's fields; names are given without the prefix.
func defaultAppEnvVars(a *App) []envVar {
	return []envVar{
		{"ENABLED", "enabled", setBool(&a.Enabled)},
		{"ENABLE_CLIENT_MESSAGES", "enable_client_messages", setBool(&a.EnableClientMessages)},
		{"ENABLE_USER_AUTHENTICATION", "enable_user_authentication", setBool(&a.EnableUserAuthentication)},
		{"ENABLE_WATCHLIST_EVENTS", "enable_watchlist_events", setBool(&a.EnableWatchlistEvents)},
		{"ENABLE_SUBSCRIPTION_COUNT", "enable_subscription_count", setBool(&a.EnableSubscriptionCount)},
		{"MAX_CONNECTIONS", "max_connections", setInt(&a.MaxConnections)},
		{"MAX_CLIENT_EVENTS_PER_SECOND", "max_client_events_per_second", setInt(&a.MaxClientEventsPerSecond)},
		{"MAX_BACKEND_EVENTS_PER_SECOND", "max_backend_events_per_second", setInt(&a.MaxBackendEventsPerSecond)},
		{"MAX_READ_REQUESTS_PER_SECOND", "max_read_requests_per_second", setInt(&a.MaxReadRequestsPerSecond)},
		{"MAX_PRESENCE_MEMBERS_PER_CHANNEL", "max_presence_members_per_channel", setInt(&a.MaxPresenceMembersPerChannel)},
		{"MAX_PRESENCE_MEMBER_SIZE_IN_KB", "max_presence_member_size_in_kb", setInt(&a.MaxPresenceMemberSizeInKB)},
		{"MAX_CHANNEL_NAME_LENGTH", "max_channel_name_length", setInt(&a.MaxChannelNameLength)},
		{"MAX_EVENT_CHANNELS_AT_ONCE", "max_event_channels_at_once", setInt(&a.MaxEventChannelsAtOnce)},
		{"MAX_EVENT_NAME_LENGTH", "max_event_name_length", setInt(&a.MaxEventNameLength)},
		{"MAX_EVENT_PAYLOAD_IN_KB", "max_event_payload_in_kb", setInt(&a.MaxEventPayloadInKB)},
		{"MAX_EVENT_BATCH_SIZE", "max_event_batch_size", setInt(&a.MaxEventBatchSize)},
		{"ALLOWED_ORIGINS", "allowed_origins", setList(&a.AllowedOrigins)},
	}
}

// applyEnv applies the overrides. A variable set to "" counts as unset.
// Every malformed value is reported, each naming its variable.
func (c *Config) applyEnv(getenv func(string) (string, bool)) ([]string, error) {
	var errs []error
	for _, e := range append(c.envVars(), c.sqlEnvVars()...) {
		errs = appendEnvErr(errs, e, getenv)
	}
	warnings, err := c.applyDefaultAppEnv(getenv)
	return warnings, errors.Join(append(errs, err)...)
}

// applyDefaultAppEnv adds the app described by SOCKUDO_DEFAULT_APP_*, when
// ID, KEY and SECRET are all set, replacing a configured app with that id.
// Limits it leaves unset take the global defaults like any app's.
func (c *Config) applyDefaultAppEnv(getenv func(string) (string, bool)) ([]string, error) {
	get := func(name string) string {
		v, _ := getenv(name)
		return v
	}
	id, key, secret := get(defaultAppPrefix+"ID"), get(defaultAppPrefix+"KEY"), get(defaultAppPrefix+"SECRET")
	app := App{ID: id, Key: key, Secret: secret, Enabled: true}
	vars := defaultAppEnvVars(&app)
	if id == "" || key == "" || secret == "" {
		if id+key+secret != "" || anySet(vars, getenv) {
			return []string{"config: SOCKUDO_DEFAULT_APP_* ignored: SOCKUDO_DEFAULT_APP_ID, _KEY and _SECRET must all be set"}, nil
		}
		return nil, nil
	}
	if v := get("SOCKUDO_ENABLE_CLIENT_MESSAGES"); v != "" { // Sockudo's fallback name
		vars = append([]envVar{{"SOCKUDO_ENABLE_CLIENT_MESSAGES", "", setBool(&app.EnableClientMessages)}}, vars...)
	}
	var errs []error
	for _, e := range vars {
		if !strings.HasPrefix(e.name, "SOCKUDO_") {
			e.name = defaultAppPrefix + e.name
		}
		errs = appendEnvErr(errs, e, getenv)
	}
	apps := c.AppManager.Array.Apps
	for i := range apps {
		if apps[i].ID == id {
			apps[i] = app
			return nil, errors.Join(errs...)
		}
	}
	c.AppManager.Array.Apps = append(apps, app)
	return nil, errors.Join(errs...)
}

func anySet(vars []envVar, getenv func(string) (string, bool)) bool {
	for _, e := range vars {
		if v, _ := getenv(defaultAppPrefix + e.name); v != "" {
			return true
		}
	}
	return false
}

func appendEnvErr(errs []error, e envVar, getenv func(string) (string, bool)) []error {
	v, ok := getenv(e.name)
	if !ok || v == "" {
		return errs
	}
	if err := e.set(v); err != nil {
		return append(errs, fmt.Errorf("config: environment variable %s: %w", e.name, err))
	}
	return errs
}

// setRedisURL is REDIS_URL: like Sockudo, it points the adapter, cache,
// queue and rate limiter at one Redis server.
func (c *Config) setRedisURL(v string) error {
	for _, m := range []*map[string]any{&c.Adapter.Redis.RedisPubOptions, &c.Adapter.Redis.RedisSubOptions} {
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)["url"] = v
	}
	c.Cache.Redis.URLOverride = v
	c.Queue.Redis.URLOverride = v
	c.RateLimiter.Redis.URLOverride = v
	return nil
}

func setString(p *string) func(string) error {
	return func(v string) error { *p = v; return nil }
}

func setInt[T ~int](p *T) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", v)
		}
		*p = T(n)
		return nil
	}
}

func setBool(p *bool) func(string) error {
	return func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes", "on":
			*p = true
		case "false", "0", "no", "off":
			*p = false
		default:
			return fmt.Errorf("must be true or false (or 1/0, yes/no, on/off), got %q", v)
		}
		return nil
	}
}

// setList splits a comma-separated list, trimming spaces and dropping
// empty items.
func setList(p *[]string) func(string) error {
	return func(v string) error {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*p = out
		return nil
	}
}
