package configs

import (
	"strings"
	"testing"
)

func TestEnvBeatsFile(t *testing.T) {
	file := withApp(app1, `"port":6001`, `"host":"10.0.0.1"`, `"metrics":{"port":9601}`,
		`"rate_limiter":{"enabled":false}`, `"adapter":{"nats":{"servers":["nats://a:4222"]}}`)
	c, _ := mustParse(t, file, envOf(
		"PORT", "7000", "HOST", "127.0.0.1", "METRICS_PORT", "9700", "METRICS_ENABLED", "off",
		"RATE_LIMITER_ENABLED", "true", "RATE_LIMITER_API_MAX_REQUESTS", "5",
		"RATE_LIMITER_WS_TRUST_HOPS", "2", "NATS_SERVERS", " nats://x:1 , nats://y:2,",
		"ADAPTER_DRIVER", "NATS", "QUEUE_DRIVER", "none", "SHARDS", "8", "LOG_LEVEL", "WARNING", "MEMORY_LIMIT_MB", "512",
		"ACTIVITY_TIMEOUT", "60", "SOCKUDO_MAX_CONNECTIONS", "10",
		"CLUSTER_HEALTH_HEARTBEAT_INTERVAL", "1000", "CLUSTER_HEALTH_NODE_TIMEOUT", "4000",
		"WEBHOOK_BATCHING_SIZE", "7", "INSTANCE_PROCESS_ID", "node-x", "DEBUG", "1",
		"SSL_ENABLED", "", // empty counts as unset
	))
	f := func(what string, got, want any) {
		t.Helper()
		requireEqual(t, what, got, want)
	}
	f("port", c.Port, 7000)
	f("host", c.Host, "127.0.0.1")
	f("metrics", [2]any{c.Metrics.Port, c.Metrics.Enabled}, [2]any{9700, false})
	f("rate limiter", [3]any{c.RateLimiter.Enabled, c.RateLimiter.APIRateLimit.MaxRequests, c.RateLimiter.WebsocketRateLimit.TrustHops}, [3]any{true, 5, 2})
	f("nats servers", c.Adapter.NATS.Servers, []string{"nats://x:1", "nats://y:2"})
	f("drivers normalized", [2]string{c.Adapter.Driver, c.Queue.Driver}, [2]string{"nats", "none"})
	f("shards", c.Shards, 8)
	f("log level", c.LogLevel, "warn")
	f("memory limit", c.MemoryLimitMB, 512)
	f("activity", c.ActivityTimeout, Seconds(60))
	f("max connections", c.MaxConnections, 10)
	f("cluster health", [2]Millis{c.ClusterHealth.HeartbeatIntervalMs, c.ClusterHealth.NodeTimeoutMs}, [2]Millis{1000, 4000})
	f("adapter.cluster_health mirrors", c.Adapter.ClusterHealth, c.ClusterHealth)
	f("batch size", c.Webhooks.Batching.Size, 7)
	f("process id", c.Instance.ProcessID, "node-x")
	f("debug", c.Debug, true)
	f("ssl", c.SSL.Enabled, false)
}

func TestRedisURLEnv(t *testing.T) {
	c, _ := mustParse(t, withApp(app1), envOf("REDIS_URL", "redis://r:6379/3"))
	for what, got := range map[string]string{
		"adapter": c.RedisURL(c.Adapter.Redis.URLOverride()),
		"cache":   c.RedisURL(c.Cache.Redis.URLOverride),
		"queue":   c.RedisURL(c.Queue.Redis.URLOverride),
		"rl":      c.RedisURL(c.RateLimiter.Redis.URLOverride),
	} {
		requireEqual(t, what, got, "redis://r:6379/3")
	}
}

func TestBadEnvValuesNameTheVariable(t *testing.T) {
	f := func(name, value, want string) {
		t.Helper()
		_, _, err := parse([]byte(withApp(app1)), envOf(name, value))
		requireErr(t, err, want)
	}
	f("PORT", "http", `environment variable PORT: must be an integer, got "http"`)
	f("PORT", "70000", `config: port: must be 1..65535, got 70000`)
	f("METRICS_ENABLED", "maybe", `environment variable METRICS_ENABLED: must be true or false`)
	f("SHARDS", "-1", `config: shards: must be 0..65536, got -1`)
	f("MEMORY_LIMIT_MB", "-2", `config: memory_limit_mb: must be at least -1, got -2`)
	f("ADAPTER_DRIVER", "kafka", `config: adapter.driver: must be one of local, nats, redis, got "kafka"`)
	_, _, err := parse([]byte(withApp(app1)), envOf("PORT", "x", "HOST", "", "ACTIVITY_TIMEOUT", "y"))
	requireErr(t, err, "PORT")
	requireErr(t, err, "ACTIVITY_TIMEOUT")
	// ignored, with a warning, without credentials
	_, warnings := mustParse(t, withApp(app1), envOf("SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "many"))
	requireEqual(t, "warnings", len(warnings), 1)
}

func TestDefaultAppFromEnv(t *testing.T) {
	creds := []string{"SOCKUDO_DEFAULT_APP_ID", "env-id", "SOCKUDO_DEFAULT_APP_KEY", "env-key", "SOCKUDO_DEFAULT_APP_SECRET", "env-secret"}

	// Added beside the file's apps, limits from the global sections.
	c, _ := mustParse(t, withApp(app1, `"presence":{"max_members_per_channel":7}`), envOf(append(creds,
		"SOCKUDO_DEFAULT_APP_ENABLE_CLIENT_MESSAGES", "true",
		"SOCKUDO_DEFAULT_APP_ENABLE_SUBSCRIPTION_COUNT", "yes",
		"SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "300",
		"SOCKUDO_DEFAULT_APP_MAX_EVENT_PAYLOAD_IN_KB", "20",
		"SOCKUDO_DEFAULT_APP_ALLOWED_ORIGINS", "https://a.example, *.b.example")...))
	requireEqual(t, "apps", len(c.Apps()), 2)
	a := c.Apps()[1]
	requireEqual(t, "credentials", [3]string{a.ID, a.Key, a.Secret}, [3]string{"env-id", "env-key", "env-secret"})
	requireEqual(t, "flags", [3]bool{a.Enabled, a.EnableClientMessages, a.EnableSubscriptionCount}, [3]bool{true, true, true})
	requireEqual(t, "limits", [3]int{a.MaxConnections, a.MaxEventPayloadInKB, a.MaxPresenceMembersPerChannel}, [3]int{300, 20, 7})
	requireEqual(t, "origins", a.AllowedOrigins, []string{"https://a.example", "*.b.example"})

	// Replaces the file's app with the same id.
	c, _ = mustParse(t, withApp(`{"id":"env-id","key":"old","secret":"old","max_connections":5},{"id":"2","key":"k2","secret":"s2"}`),
		envOf(append(creds, "SOCKUDO_ENABLE_CLIENT_MESSAGES", "true", "SOCKUDO_DEFAULT_APP_ENABLED", "false")...))
	requireEqual(t, "apps", len(c.Apps()), 2)
	a = c.Apps()[0]
	requireEqual(t, "replaced", [2]string{a.Key, a.Secret}, [2]string{"env-key", "env-secret"})
	requireEqual(t, "enabled", a.Enabled, false)
	requireEqual(t, "fallback client messages", a.EnableClientMessages, true)
	requireEqual(t, "limits reset", a.MaxConnections, 0)

	// Incomplete credentials: a warning, nothing added.
	c, warnings := mustParse(t, withApp(app1), envOf("SOCKUDO_DEFAULT_APP_ID", "x"))
	requireEqual(t, "apps", len(c.Apps()), 1)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "SOCKUDO_DEFAULT_APP_ID, _KEY and _SECRET must all be set") {
		t.Fatalf("warnings = %q", warnings)
	}

	// Only the env app: no file at all.
	c, warnings = mustParse(t, "{}", envOf(creds...))
	requireEqual(t, "env-only apps", len(c.Apps()), 1)
	requireEqual(t, "no warnings", len(warnings), 0)

	_, _, err := parse(nil, envOf(append(creds, "SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "lots")...))
	requireErr(t, err, "environment variable SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS: must be an integer")
	_, _, err = parse(nil, envOf(append(creds, "SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "-1")...))
	requireErr(t, err, "app_manager.array.apps[0].max_connections: must not be negative, got -1")
}

// TestSQLAppManagerEnv: Sockudo's database variables and driver aliases.
func TestSQLAppManagerEnv(t *testing.T) {
	cfg, _, err := Load("", func(k string) (string, bool) {
		v, ok := map[string]string{
			"APP_MANAGER_DRIVER":            "PostgreSQL",
			"DATABASE_POSTGRES_HOST":        "db.internal",
			"DATABASE_POSTGRES_PORT":        "6543",
			"DATABASE_POSTGRES_USERNAME":    "sockudo",
			"DATABASE_POSTGRES_PASSWORD":    "p@ss",
			"DATABASE_POSTGRES_DATABASE":    "apps",
			"DATABASE_POSTGRES_TABLE_NAME":  "tenants",
			"DATABASE_CONNECTION_POOL_SIZE": "7",
			"DATABASE_POOL_MAX":             "20",
			"DATABASE_POSTGRES_POOL_MIN":    "3",
			"CACHE_TTL_SECONDS":             "60",
			"SOCKUDO_SKIP_INLINE_APPS":      "true",
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	d, key, ok := cfg.SQLDatabase()
	if !ok || key != "database.postgres" || cfg.AppManager.Driver != "pgsql" {
		t.Fatalf("driver %q key %q", cfg.AppManager.Driver, key)
	}
	if d.Host != "db.internal" || d.Port != 6543 || d.Username != "sockudo" || d.Password != "p@ss" || d.Database != "apps" || d.TableName != "tenants" || d.ConnectionPoolSize != 7 {
		t.Fatalf("postgres settings %+v", d)
	}
	if min, max := cfg.Pool(d); min != 3 || max != 20 {
		t.Fatalf("pool %d..%d", min, max)
	}
	if cfg.AppManager.Cache.TTL != 60 || !cfg.AppManager.Cache.Enabled || cfg.AppManager.RegisterInlineApps {
		t.Fatalf("app_manager %+v", cfg.AppManager)
	}
	def := Default()
	if def.Database.Postgres.Port != 5432 || def.Database.MySQL.Port != 3306 || def.Database.MySQL.TableName != "applications" {
		t.Fatalf("defaults %+v %+v", def.Database.Postgres, def.Database.MySQL)
	}
	for _, bad := range []map[string]string{
		{"APP_MANAGER_DRIVER": "dynamodb"},
		{"APP_MANAGER_DRIVER": "mysql", "DATABASE_MYSQL_TABLE_NAME": "apps; DROP TABLE x"},
		{"APP_MANAGER_DRIVER": "mysql", "DATABASE_MYSQL_PORT": "0"},
	} {
		if _, _, err := Load("", func(k string) (string, bool) { v, ok := bad[k]; return v, ok }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
