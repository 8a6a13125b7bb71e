package configs

import (
	"strings"
	"testing"
)

func TestImpossibleValues(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		_, _, err := parse([]byte(data), envOf())
		requireErr(t, err, want)
	}
	f(withApp(app1, `"port":0`), `config: port: must be 1..65535, got 0`)
	f(withApp(app1, `"port":70000`), `config: port: must be 1..65535, got 70000`)
	f(withApp(app1, `"metrics":{"port":6001}`), `metrics.port: must differ from port (6001)`)
	f(withApp(app1, `"activity_timeout":0`), `activity_timeout: must be at least 1, got 0`)
	f(withApp(app1, `"max_connections":-1`), `config: max_connections: must not be negative, got -1`)
	f(withApp(app1, `"log_level":"trace"`), `log_level: must be one of debug, info, warn, warning, error, got "trace"`)
	f(withApp(app1, `"queue":{"driver":"sqs"}`), `queue.driver: must be one of memory, redis, none, got "sqs"`)
	f(withApp(app1, `"cache":{"driver":"redis-cluster"}`), `cache.driver: must be one of memory, redis, none`)
	f(withApp(app1, `"app_manager":{"driver":"dynamodb","array":{"apps":[`+app1+`]}}`), `app_manager.driver: must be one of memory, mysql, pgsql, got "dynamodb"`)
	f(withApp(app1, `"event_limits":{"max_payload_in_kb":-5}`), `event_limits.max_payload_in_kb: must be at least 1, got -5`)
	f(withApp(app1, `"presence":{"max_members_per_channel":0}`), `presence.max_members_per_channel: must be at least 1, got 0`)
	f(withApp(app1, `"ssl":{"enabled":true}`), `ssl.cert_path: is required`)
	f(withApp(app1, `"metrics":{"prometheus":{"prefix":"my-prefix"}}`), `metrics.prometheus.prefix: must match`)
	f(withApp(app1, `"adapter":{"driver":"nats","nats":{"servers":[]}}`), `adapter.nats.servers: must list at least one server`)
	f(withApp(app1, `"adapter":{"driver":"redis"}`, `"cluster_health":{"heartbeat_interval_ms":6000}`),
		`cluster_health.heartbeat_interval_ms: must be at most a third of node_timeout_ms (15000), got 6000`)
	f(withApp(app1, `"queue":{"reliability":{"lease_renew_interval_ms":30000}}`), `queue.reliability.lease_renew_interval_ms: must be at least 1 and less than lease_duration_ms`)
	f(withApp(app1, `"queue":{"reliability":{"retry_jitter":1.5}}`), `queue.reliability.retry_jitter: must be 0..1, got 1.5`)
	f(withApp(app1, `"webhooks":{"retry":{"initial_backoff_ms":5000,"max_backoff_ms":1000}}`), `webhooks.retry.max_backoff_ms: must be at least initial_backoff_ms (5000)`)
	f(withApp(app1, `"cors":{"origin":["*.*bad"]}`), `cors.origin[0]: "*.*bad": a wildcard must be one leading`)

	a := func(app, want string) {
		t.Helper()
		f(withApp(app), want)
	}
	a(`{"id":"1","key":"k","secret":""}`, `app_manager.array.apps[0].secret: is required`)
	a(`{"id":"1","key":"k"}`, `app_manager.array.apps[0].secret: is required`)
	a(`{"id":"","key":"k","secret":"s"}`, `app_manager.array.apps[0].id: is required`)
	a(`{"id":"1","key":" ","secret":"s"}`, `app_manager.array.apps[0].key: is required`)
	a(`{"id":"1","key":"a/b","secret":"s"}`, `app_manager.array.apps[0].key: must not contain spaces`)
	a(app1+`,{"id":"2","key":"k1","secret":"s"}`, `app_manager.array.apps[1].key: duplicates apps[0].key "k1"`)
	a(app1+`,{"id":"1","key":"k2","secret":"s"}`, `app_manager.array.apps[1].id: duplicates apps[0].id "1"`)
	a(`{"id":"1","key":"k","secret":"s","max_connections":-1}`, `apps[0].max_connections: must not be negative, got -1`)
	a(`{"id":"1","key":"k","secret":"s","max_event_batch_size":"-3"}`, `apps[0].max_event_batch_size: must not be negative, got -3`)
	a(`{"id":"1","key":"k","secret":"s","allowed_origins":[""]}`, `apps[0].allowed_origins[0]: must not be empty`)
	a(`{"id":"1","key":"k","secret":"s","allowed_origins":["https://"]}`, `apps[0].allowed_origins[0]: "https://" needs a scheme and a host`)
	a(`{"id":"1","key":"k","secret":"s","webhooks":[{"lambda_function":"f"}]}`, `apps[0].webhooks[0].url: is required (Lambda webhooks are not supported)`)
	a(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"ftp://x"}]}`, `apps[0].webhooks[0].url: must be an absolute http or https URL`)
	a(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://x","filter":{"channel_pattern":"("}}]}`, `apps[0].webhooks[0].filter.channel_pattern: is not a valid regular expression`)
	a(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://x","headers":{"X-A":"a\r\nb"}}]}`, `apps[0].webhooks[0].headers.X-A: must not contain line breaks`)
	a(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://x","headers":{"bad name":"v"}}]}`, `apps[0].webhooks[0].headers: "bad name" is not a valid header name`)
}

func TestValidOrigins(t *testing.T) {
	for _, o := range []string{"*", "any", "https://app.example.com", "app.example.com", "*.example.com", "https://*.example.com", "http://localhost:3000"} {
		if err := checkOrigin(o); err != nil {
			t.Errorf("%q: %v", o, err)
		}
	}
	for _, o := range []string{"", "*.", "*.*bad", "a*.example.com", "https://", "://x", "*..example.com", "ex ample.com"} {
		if checkOrigin(o) == nil {
			t.Errorf("%q accepted", o)
		}
	}
}

func TestGlobalSectionsFillAppDefaults(t *testing.T) {
	c, _ := mustParse(t, withApp(`{"id":"1","key":"k","secret":"s","max_event_name_length":50}`,
		`"event_limits":{"max_channels_at_once":11,"max_name_length":12,"max_payload_in_kb":13,"max_batch_size":14}`,
		`"presence":{"max_members_per_channel":15,"max_member_size_in_kb":16}`,
		`"channel_limits":{"max_name_length":17}`), nil)
	a := c.Apps()[0]
	requireEqual(t, "limits", []int{
		a.MaxEventChannelsAtOnce, a.MaxEventNameLength, a.MaxEventPayloadInKB, a.MaxEventBatchSize,
		a.MaxPresenceMembersPerChannel, a.MaxPresenceMemberSizeInKB, a.MaxChannelNameLength,
		a.MaxClientEventsPerSecond, a.MaxSubscriptionsPerConnection, int(a.DecaySeconds),
		a.MaxConnections, a.MaxBackendEventsPerSecond, a.MaxReadRequestsPerSecond,
	}, []int{11, 50, 13, 14, 15, 16, 17, 10, 100, 1, 0, 0, 0})

	// ApplyDefaults is idempotent and works on a Config built in code.
	d := Default()
	d.AppManager.Array.Apps = []App{{ID: "x", Key: "y", Secret: "z", Enabled: true}}
	d.ApplyDefaults()
	once := d.Apps()[0]
	d.ApplyDefaults()
	requireEqual(t, "idempotent", d.Apps()[0], once)
	requireEqual(t, "filled", once.MaxEventPayloadInKB, 10)
}

func TestSoketiWebhookFilter(t *testing.T) {
	c, warnings := mustParse(t, withApp(`{"id":"1","key":"k","secret":"s","webhooks":[
		{"url":"http://h/1","event_types":["client_event"],"filter":{"channel_name_starts_with":"private-","channel_name_ends_with":"-x"}},
		{"url":"http://h/2","filter":{"channel_prefix":"presence-","channel_name_starts_with":"ignored-"}},
		{"url":"http://h/3","event_types":["member_updated"]}]}`), nil)
	hooks := c.Apps()[0].Webhooks
	requireEqual(t, "soketi keys", hooks[0].Filter, WebhookFilter{ChannelPrefix: "private-", ChannelSuffix: "-x"})
	requireEqual(t, "sockudo key wins", hooks[1].Filter, WebhookFilter{ChannelPrefix: "presence-"})
	requireEqual(t, "event types", hooks[0].EventTypes, []string{"client_event"})
	if len(warnings) != 1 || !strings.Contains(warnings[0], `apps[0].webhooks[2].event_types[0]: unknown event type "member_updated"`) {
		t.Fatalf("warnings = %q", warnings)
	}
}
