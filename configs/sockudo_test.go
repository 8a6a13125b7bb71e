package configs

import "testing"

// TestSockudoFullFile loads a Sockudo-style file with every section, V2
// sections included, and checks that nothing warns and every value lands.
func TestSockudoFullFile(t *testing.T) {
	c, warnings, err := Load("testdata/sockudo-full.json", envOf())
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Fatalf("warnings: %q", warnings)
	}
	f := func(what string, got, want any) {
		t.Helper()
		requireEqual(t, what, got, want)
	}
	f("debug", c.Debug, true)
	f("host:port", [2]any{c.Host, c.Port}, [2]any{"127.0.0.1", 6002})
	f("timeouts", [3]Seconds{c.ShutdownGracePeriod, c.UserAuthenticationTimeout, c.ActivityTimeout}, [3]Seconds{2, 3600, 60})
	f("max_connections", c.MaxConnections, 5000)
	f("adapter.driver", c.Adapter.Driver, "nats")
	f("adapter.fallback_to_local", c.Adapter.FallbackToLocal, false)
	f("adapter.nats", c.Adapter.NATS, AdapterNATS{
		Servers: []string{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}, Prefix: "my_nats:",
		RequestTimeoutMs: 1500, Token: "s3cr3t", ConnectionTimeoutMs: 4000, MaxReconnects: 60,
	})
	f("adapter redis url", c.RedisURL(c.Adapter.Redis.URLOverride()), "redis://10.0.0.5:6379/1")
	// adapter.cluster_health is what Sockudo reads, so it wins.
	want := ClusterHealth{Enabled: true, HeartbeatIntervalMs: 2000, NodeTimeoutMs: 9000, CleanupIntervalMs: 500}
	f("cluster_health", c.ClusterHealth, want)
	f("adapter.cluster_health", c.Adapter.ClusterHealth, want)
	f("database redis url", c.Database.Redis.URL(), "redis://:pw@10.0.0.5:6380/2")
	f("cache", [2]string{c.Cache.Driver, c.Cache.Redis.Prefix}, [2]string{"redis", "my_cache:"})
	f("queue redis url", c.RedisURL(c.Queue.Redis.URLOverride), "redis://10.0.0.6:6379")
	f("queue.reliability.lease_duration_ms", c.Queue.Reliability.LeaseDurationMs, Millis(20000))
	f("queue.reliability.retry_jitter", c.Queue.Reliability.RetryJitter, 0.1)
	f("webhooks.batching", c.Webhooks.Batching, WebhookBatching{Duration: 100, Size: 50})
	f("rate_limiter.websocket_rate_limit", c.RateLimiter.WebsocketRateLimit, RateLimit{MaxRequests: 40, WindowSeconds: 10, Identifier: "websocket_connect", TrustHops: 2})
	f("metrics", [3]any{c.Metrics.Host, c.Metrics.Port, c.Metrics.Prometheus.Prefix}, [3]any{"127.0.0.1", 9700, "sk_"})
	f("ssl", c.SSL, SSL{Enabled: true, CertPath: "/tls/cert.pem", KeyPath: "/tls/key.pem", RedirectHTTP: true, HTTPPort: 8080})
	f("http_api.accept_traffic", c.HTTPAPI.AcceptTraffic.MemoryThreshold, 0.8)
	f("instance.process_id", c.Instance.ProcessID, "node-a")
	f("websocket", c.Websocket, Websocket{MaxMessages: 500, MaxBytes: 4194304, MaxBackpressure: 2097152, WriteBufferSize: 8192, HandshakeTimeoutMs: 5000})
	f("apps", len(c.Apps()), 3)

	policy := c.Apps()[0]
	f("policy limits", [3]int{policy.MaxConnections, policy.MaxClientEventsPerSecond, policy.MaxEventPayloadInKB}, [3]int{100000, 1000, 50})
	f("policy features", [2]bool{policy.EnableClientMessages, policy.EnableUserAuthentication}, [2]bool{true, true})
	f("policy origins", policy.AllowedOrigins, []string{"*"})
	f("policy webhooks", policy.Webhooks[0].URL, "https://hooks.example.com/policy")

	flat := c.Apps()[1]
	f("numeric id", flat.ID, "12345")
	f("string limits", []int{
		flat.MaxConnections, flat.MaxBackendEventsPerSecond, flat.MaxReadRequestsPerSecond,
		flat.MaxPresenceMembersPerChannel, flat.MaxChannelNameLength, flat.MaxEventNameLength,
		flat.MaxEventPayloadInKB, flat.MaxEventBatchSize, flat.MaxSubscriptionsPerConnection,
	}, []int{1000, 200, 300, 50, 150, 100, 20, 5, 25})
	f("string bools", [4]bool{flat.EnableClientMessages, flat.EnableWatchlistEvents, flat.EnableSubscriptionCount, flat.TerminateOnLimit}, [4]bool{true, false, true, true})
	f("decay_seconds", flat.DecaySeconds, Seconds(2))
	hook := flat.Webhooks[0]
	f("webhook filter", hook.Filter, WebhookFilter{ChannelPrefix: "presence-", ChannelSuffix: "-room", ChannelPattern: "^presence-[a-z]+-room$"})
	f("webhook headers", hook.Headers, map[string]string{"Authorization": "Bearer abc", "X-Retries": "3"})
	f("webhook retry", [2]any{*hook.Retry.Enabled, hook.Retry.MaxAttempts}, [2]any{false, 3})
	f("webhook timeout", hook.RequestTimeoutMs, Millis(2500))
	f("soketi filter", flat.Webhooks[1].Filter, WebhookFilter{ChannelPrefix: "private-", ChannelSuffix: "-orders"})

	// The minimal app takes every limit from the global sections.
	m := c.Apps()[2]
	f("enabled by default", m.Enabled, true)
	f("global defaults", []int{
		m.MaxPresenceMembersPerChannel, m.MaxPresenceMemberSizeInKB, m.MaxChannelNameLength,
		m.MaxEventChannelsAtOnce, m.MaxEventNameLength, m.MaxEventPayloadInKB, m.MaxEventBatchSize,
		m.MaxClientEventsPerSecond, m.MaxSubscriptionsPerConnection, m.MaxConnections,
	}, []int{70, 3, 180, 90, 190, 30, 8, 10, 100, 0})
}
