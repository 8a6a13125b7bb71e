package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/configs"
)

// parseApp reads both of Sockudo's shapes with the file's per-app defaults
// and validation, and JSON null as absent.
func TestParseApp(t *testing.T) {
	cfg := configs.Default()
	cfg.Presence.MaxMembersPerChannel = 77
	cfg.ApplyDefaults()

	flat, err := parseApp([]byte(`{"id": 7, "key": "k", "secret": "s", "max_connections": 5,
		"enable_client_messages": true, "allowed_origins": null, "webhooks": null, "decay_seconds": 2}`), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if flat.ID != "7" || !flat.Enabled || flat.MaxConnections != 5 || !flat.EnableClientMessages ||
		flat.MaxPresenceMembersPerChannel != 77 || flat.ClientEventWindow != 2*time.Second || flat.AllowedOrigins != nil {
		t.Fatalf("flat form: %+v", flat)
	}

	policy, err := parseApp([]byte(`{"id": "p", "key": "pk", "secret": "ps", "enabled": false, "max_connections": 1,
		"policy": {"limits": {"max_connections": 9, "max_client_events_per_second": 3},
			"features": {"enable_user_authentication": true},
			"channels": {"allowed_origins": ["https://*.example.com"]},
			"webhooks": [{"url": "https://hooks.example.com/p", "event_types": ["channel_occupied"],
				"filter": {"channel_name_starts_with": "pre"}}],
			"idempotency": null}}`), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if policy.Enabled || policy.MaxConnections != 9 || policy.MaxClientEventsPerSecond != 3 || !policy.EnableUserAuthentication ||
		len(policy.AllowedOrigins) != 1 || len(policy.Webhooks) != 1 || policy.Webhooks[0].Filter.ChannelPrefix != "pre" {
		t.Fatalf("policy form: %+v", policy)
	}

	for body, key := range map[string]string{
		`{"id": "x", "key": "k", "secret": "s", "max_connections": -1}`:                             "app.max_connections",
		`{"id": "x", "key": "k", "secret": "s", "policy": {"limits": {"max_connections": "many"}}}`: "app.policy.limits.max_connections",
		`{"id": "x", "key": "k"}`: "app.secret",
		`{"id": "x", "key": "k", "secret": "s", "webhooks": [{"url": "ftp://x"}]}`:  "app.webhooks[0].url",
		`{"id": "x", "key": "k", "secret": "s", "allowed_origins": ["http://a b"]}`: "app.allowed_origins[0]",
		`not json`: "app",
	} {
		if _, err := parseApp([]byte(body), cfg); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want an error naming %s", body, err, key)
		}
	}
}

// An app's idempotency policy (file, database column or policy form)
// reaches the engine app the HTTP API reads it from.
func TestParseAppIdempotencyPolicy(t *testing.T) {
	cfg := configs.Default()
	cfg.ApplyDefaults()
	off, err := parseApp([]byte(`{"id": "1", "key": "k", "secret": "s", "idempotency": {"enabled": false, "ttl_seconds": 300}}`), cfg)
	if err != nil || !off.IdempotencyDisabled || off.IdempotencyTTL != 300*time.Second {
		t.Fatalf("flat form: %+v %v", off, err)
	}
	on, err := parseApp([]byte(`{"id": "2", "key": "k2", "secret": "s", "policy": {"idempotency": {"ttl_seconds": 5}}}`), cfg)
	if err != nil || on.IdempotencyDisabled || on.IdempotencyTTL != 5*time.Second {
		t.Fatalf("policy form: %+v %v", on, err)
	}
}
