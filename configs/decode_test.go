package configs

import (
	"slices"
	"strings"
	"testing"
)

func TestNumericAndBooleanStrings(t *testing.T) {
	f := func(app string, check func(App) bool) {
		t.Helper()
		c, _ := mustParse(t, withApp(app), nil)
		if !check(c.Apps()[0]) {
			t.Fatalf("%s decoded as %+v", app, c.Apps()[0])
		}
	}
	f(`{"id":"1","key":"k","secret":"s","max_connections":"1000"}`, func(a App) bool { return a.MaxConnections == 1000 })
	f(`{"id":"1","key":"k","secret":"s","max_connections":" 1000 "}`, func(a App) bool { return a.MaxConnections == 1000 })
	f(`{"id":"1","key":"k","secret":"s","max_connections":1e3}`, func(a App) bool { return a.MaxConnections == 1000 })
	f(`{"id":"1","key":"k","secret":"s","max_connections":"10.0"}`, func(a App) bool { return a.MaxConnections == 10 })
	f(`{"id":"1","key":"k","secret":"s","max_event_payload_in_kb":"64"}`, func(a App) bool { return a.MaxEventPayloadInKB == 64 })
	f(`{"id":"1","key":"k","secret":"s","decay_seconds":"5"}`, func(a App) bool { return a.DecaySeconds == 5 })
	f(`{"id":"1","key":"k","secret":"s","enable_client_messages":"true"}`, func(a App) bool { return a.EnableClientMessages })
	f(`{"id":"1","key":"k","secret":"s","enabled":"FALSE"}`, func(a App) bool { return !a.Enabled })
	f(`{"id":"1","key":"k","secret":"s","enabled":null}`, func(a App) bool { return a.Enabled })
	f(`{"id":42,"key":"k","secret":"s"}`, func(a App) bool { return a.ID == "42" })
	f(`{"id":"1","key":"k","secret":"s","max_connections":null}`, func(a App) bool { return a.MaxConnections == 0 })
	// elsewhere in the file too: "${PORT}" in quotes becomes a string
	c, _ := mustParse(t, withApp(app1, `"port":"7000"`, `"metrics":{"enabled":"false"}`), nil)
	requireEqual(t, "port", c.Port, 7000)
	requireEqual(t, "metrics.enabled", c.Metrics.Enabled, false)
}

func TestWrongTypesNameTheKey(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		_, _, err := parse([]byte(data), envOf())
		requireErr(t, err, want)
	}
	f(withApp(`{"id":"1","key":"k","secret":"s","max_connections":"lots"}`),
		`config: app_manager.array.apps[0].max_connections: must be an integer, got "lots"`)
	f(withApp(app1+`,{"id":"2","key":"k2","secret":"s","max_connections":true}`),
		`app_manager.array.apps[1].max_connections: must be an integer, got a boolean`)
	f(withApp(`{"id":"1","key":"k","secret":"s","max_connections":1.5}`),
		`apps[0].max_connections: must be an integer, got the number 1.5`)
	f(withApp(`{"id":"1","key":"k","secret":"s","max_connections":99999999999999999999}`),
		`apps[0].max_connections: must be an integer`)
	f(withApp(`{"id":"1","key":"k","secret":"s","enable_client_messages":"yes"}`),
		`apps[0].enable_client_messages: must be a boolean, got "yes"`)
	f(withApp(`{"id":"1","key":"k","secret":"s","allowed_origins":"*"}`),
		`apps[0].allowed_origins: must be an array, got "*"`)
	f(withApp(`{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://x","headers":{"a":{}}}]}`),
		`apps[0].webhooks[0].headers.a: must be a string, got an object`)
	f(withApp(`{"id":["1"],"key":"k","secret":"s"}`), `apps[0].id: must be a string, got an array`)
	f(withApp(`{"id":"1","key":"k","secret":"s","policy":{"limits":{"max_connections":"x"}}}`),
		`apps[0].policy.limits.max_connections: must be an integer`)
	f(withApp(`{"id":"1","key":"k","secret":"s","policy":[]}`), `apps[0].policy: must be an object`)
	f(withApp(app1, `"port":"http"`), `config: port: must be an integer, got "http"`)
	f(withApp(app1, `"metrics":[]`), `config: metrics: must be an object, got an array`)
	f(withApp(app1, `"adapter":{"nats":{"servers":[1,{}]}}`), `adapter.nats.servers[1]: must be a string, got an object`)
	f(withApp(app1, `"queue":{"reliability":{"retry_jitter":"much"}}`), `queue.reliability.retry_jitter: must be a number`)
	f(withApp(app1, `"app_manager":{"array":{"apps":{}}}`), `app_manager.array.apps: must be an array`)
	c, _ := mustParse(t, withApp(app1, `"host":6001`), nil) // a number for a string is accepted
	requireEqual(t, "host", c.Host, "6001")
	f(`[]`, `the file must hold a JSON object, got an array`)
	f(`{"port": 6001,}`, `invalid JSON at line 1, column`)
	f("{\n  \"port\": 6001\n  \"host\": \"x\"\n}", `invalid JSON at line 3`)
	f(`{"port": 6001} {}`, `unexpected data after the top-level value`)
	f(`{"port": `, `invalid JSON`)
	f(``, `invalid JSON`)
}

func TestUnknownKeysWarn(t *testing.T) {
	_, warnings := mustParse(t, withApp(
		`{"id":"1","key":"k","secret":"s","colour":"red","policy":{"limits":{"speed":1,"id":"x"},"extra":{}},
		  "webhooks":[{"url":"http://h","filter":{"channel_glob":"*"},"lambda":{"function_name":"f"}}]}`,
		`"colour":1`, `"metrics":{"prometheus":{"suffix":"x"},"tcp_exporter":{"anything":1}}`,
		`"push":{"whatever":[1,2]}`, `"adapter":{"kafka":{"x":1},"nats":{"no_echo":true,"bogus":2}}`,
	), nil)
	want := []string{
		"colour",
		"app_manager.array.apps[0].colour",
		"app_manager.array.apps[0].policy.extra",
		"app_manager.array.apps[0].policy.limits.id",
		"app_manager.array.apps[0].policy.limits.speed",
		"app_manager.array.apps[0].webhooks[0].filter.channel_glob",
		"metrics.prometheus.suffix",
		"adapter.nats.bogus",
	}
	for _, key := range want {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "unknown key "+key+" ") }) {
			t.Errorf("no warning for %s in %q", key, warnings)
		}
	}
	if len(warnings) != len(want) {
		t.Errorf("got %d warnings, want %d: %q", len(warnings), len(want), warnings)
	}
}

func TestPolicyWinsOverFlatKeys(t *testing.T) {
	c, _ := mustParse(t, withApp(`{"id":"1","key":"k","secret":"s","max_connections":5,
		"policy":{"limits":{"max_connections":7},"features":{"enable_watchlist_events":true}}}`), nil)
	requireEqual(t, "max_connections", c.Apps()[0].MaxConnections, 7)
	requireEqual(t, "watchlist", c.Apps()[0].EnableWatchlistEvents, true)
}

func TestSubstitution(t *testing.T) {
	getenv := envOf("PORT", "7001", "SECRET", "from-env", "EMPTY", "")
	c, _ := mustParse(t, withApp(`{"id":"1","key":"${KEY:-dflt-key}","secret":"${SECRET}"}`,
		`"port": ${PORT}`, `"host":"${HOST:-127.0.0.1}"`, `"log_level":"${EMPTY:-debug}"`,
		`"metrics":{"prometheus":{"prefix":"${P:-}"}}`, `"instance":{"process_id":"$ {NOT} ${ {x} ${1} ${A:x} $PORT"}`), getenv)
	requireEqual(t, "port", c.Port, 7001)
	requireEqual(t, "host", c.Host, "127.0.0.1")
	requireEqual(t, "key", c.Apps()[0].Key, "dflt-key")
	requireEqual(t, "secret", c.Apps()[0].Secret, "from-env")
	requireEqual(t, "empty counts as unset", c.LogLevel, "debug")
	requireEqual(t, "empty default", c.Metrics.Prometheus.Prefix, "")
	requireEqual(t, "non-placeholders kept", c.Instance.ProcessID, "$ {NOT} ${ {x} ${1} ${A:x} $PORT")

	_, _, err := parse([]byte(withApp(`{"id":"1","key":"${APP_KEY}","secret":"${APP_SECRET}"}`, `"port":${APP_KEY}`)), envOf())
	requireErr(t, err, "unresolved environment variables in config: APP_KEY, APP_SECRET")
}
