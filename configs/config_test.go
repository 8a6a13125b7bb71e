package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// envOf returns a getenv reading name=value pairs.
func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// withApp wraps app JSON objects (comma-separated) and extra top-level keys
// into a config file.
func withApp(apps string, extra ...string) string {
	s := `{"app_manager":{"array":{"apps":[` + apps + `]}}`
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

const app1 = `{"id":"1","key":"k1","secret":"s1"}`

func mustParse(t *testing.T, data string, getenv func(string) (string, bool)) (Config, []string) {
	t.Helper()
	if getenv == nil {
		getenv = envOf()
	}
	cfg, warnings, err := parse([]byte(data), getenv)
	if err != nil {
		t.Fatalf("parse(%s): %v", data, err)
	}
	return cfg, warnings
}

func requireEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %#v, want %#v", what, got, want)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	f := func(what string, got, want any) {
		t.Helper()
		requireEqual(t, what, got, want)
	}
	f("host", c.Host, "0.0.0.0")
	f("port", c.Port, 6001)
	f("activity_timeout", c.ActivityTimeout, Seconds(120))
	f("pong_timeout", c.PongTimeout, Seconds(30))
	f("shutdown_grace_period", c.ShutdownGracePeriod, Seconds(10))
	f("user_authentication_timeout", c.UserAuthenticationTimeout, Seconds(30))
	f("websocket_max_payload_kb", c.WebsocketMaxPayloadKB, 64)
	f("max_connections", c.MaxConnections, 0)
	f("shards", c.Shards, 0)
	f("log_level", c.LogLevel, "info")
	f("memory_limit_mb", c.MemoryLimitMB, 0)
	f("metrics", c.Metrics, Metrics{Enabled: true, Driver: "prometheus", Host: "0.0.0.0", Port: 9601, Prometheus: Prometheus{Prefix: "sockudo_"}})
	f("queue.driver", c.Queue.Driver, "memory")
	f("queue.reliability.lease_duration_ms", c.Queue.Reliability.LeaseDurationMs, Millis(30000))
	f("queue.redis", c.Queue.Redis, QueueRedis{Concurrency: 5, Prefix: "sockudo_queue:", ResponseTimeoutMs: 5000})
	f("adapter.driver", c.Adapter.Driver, "local")
	f("adapter.nats.servers", c.Adapter.NATS.Servers, []string{"nats://localhost:4222"})
	f("adapter.nats.request_timeout_ms", c.Adapter.NATS.RequestTimeoutMs, Millis(2000))
	f("adapter.redis.requests_timeout", c.Adapter.Redis.RequestsTimeout, Millis(2000))
	f("cluster_health", c.ClusterHealth, ClusterHealth{Enabled: true, HeartbeatIntervalMs: 5000, NodeTimeoutMs: 15000, CleanupIntervalMs: 1000})
	f("adapter.cluster_health", c.Adapter.ClusterHealth, c.ClusterHealth)
	f("rate_limiter.enabled", c.RateLimiter.Enabled, false)
	f("rate_limiter.api_rate_limit", c.RateLimiter.APIRateLimit, RateLimit{MaxRequests: 100, WindowSeconds: 60, Identifier: "api"})
	f("rate_limiter.websocket_rate_limit.max_requests", c.RateLimiter.WebsocketRateLimit.MaxRequests, 20)
	f("http_api.request_limit_in_mb", c.HTTPAPI.RequestLimitInMB, 10)
	f("channel_limits", c.ChannelLimits, ChannelLimits{MaxNameLength: 200, CacheTTL: 1800})
	f("event_limits", c.EventLimits, EventLimits{MaxChannelsAtOnce: 100, MaxNameLength: 200, MaxPayloadInKB: 10, MaxBatchSize: 10})
	f("presence", c.Presence, Presence{MaxMembersPerChannel: 100, MaxMemberSizeInKB: 2})
	f("websocket.max_backpressure", c.Websocket.MaxBackpressure, 1<<20)
	f("websocket.handshake_timeout_ms", c.Websocket.HandshakeTimeoutMs, Millis(10000))
	f("webhooks.batching", c.Webhooks.Batching, WebhookBatching{Enabled: true, Duration: 50, Size: 100})
	f("webhooks.retry.max_elapsed_time_ms", c.Webhooks.Retry.MaxElapsedTimeMs, Millis(300000))
	f("ssl.enabled", c.SSL.Enabled, false)
	f("cors.origin", c.CORS.Origin, []string{"*"})
	f("database.redis.url", c.Database.Redis.URL(), "redis://127.0.0.1:6379/0")
	f("process_id length", len(c.Instance.ProcessID), 36)
	f("activity duration", c.ActivityTimeout.Duration().String(), "2m0s")
	f("handshake duration", c.Websocket.HandshakeTimeoutMs.Duration().String(), "10s")
}

func TestLoadWithoutFile(t *testing.T) {
	c, warnings, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireEqual(t, "apps", len(c.Apps()), 0)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no apps configured") {
		t.Fatalf("warnings = %q, want the no-apps warning", warnings)
	}
}

func TestExamplesLoadWithoutWarnings(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		_, warnings, err := Load(f, envOf())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(warnings) > 0 {
			t.Fatalf("%s: warnings %q", f, warnings)
		}
	}
	c, _, _ := Load("config.example.json", envOf())
	a := c.Apps()[0]
	requireEqual(t, "example app", [3]string{a.ID, a.Key, a.Secret}, [3]string{"app-id", "app-key", "app-secret"})
	requireEqual(t, "example client messages", a.EnableClientMessages, true)
	requireEqual(t, "example user auth", a.EnableUserAuthentication, false)
	requireEqual(t, "example ports", [2]int{c.Port, c.Metrics.Port}, [2]int{6001, 9601})
	requireEqual(t, "example rate limiter", c.RateLimiter.Enabled, false)
	e, _, _ := Load("config.edge.json", envOf())
	requireEqual(t, "edge rate limiter", e.RateLimiter.Enabled, true)
	requireEqual(t, "edge origins", e.Apps()[0].AllowedOrigins, []string{"https://app.example.com", "*.example.com"})
}

func TestFileExtensions(t *testing.T) {
	f := func(name, want string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(withApp(app1)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(path, nil)
		requireErr(t, err, want)
	}
	f("config.toml", "TOML config files are not supported")
	f("config.yaml", `unsupported file extension ".yaml"`)
	f("config", `unsupported file extension ""`)
	_, _, err := Load(filepath.Join(t.TempDir(), "missing.json"), nil)
	requireErr(t, err, "missing.json")
}

func requireErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
