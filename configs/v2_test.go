package configs

import (
	"strings"
	"testing"
)

func TestV2Sections(t *testing.T) {
	c, warnings := mustParse(t, withApp(app1), nil)
	requireEqual(t, "defaults", [3]any{c.ConnectionRecovery, c.EchoControl, c.Ephemeral},
		[3]any{ConnectionRecovery{BufferTTLSeconds: 120, MaxBufferSize: 100}, EchoControl{Enabled: true, DefaultEchoMessages: true}, Ephemeral{Enabled: true}})
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	file := withApp(`{"id":"1","key":"k1","secret":"s1","connection_recovery":{"enabled":false,"max_buffer_size":7,"buffer_ttl_seconds":9}},
		{"id":"2","key":"k2","secret":"s2","policy":{"connection_recovery":{"enabled":true}}}`,
		`"connection_recovery":{"enabled":true,"buffer_ttl_seconds":30,"max_buffer_size":50}`,
		`"echo_control":{"enabled":false,"default_echo_messages":false}`, `"ephemeral":{"enabled":false}`)
	c, warnings = mustParse(t, file, envOf("CONNECTION_RECOVERY_MAX_BUFFER_SIZE", "60", "ECHO_CONTROL_DEFAULT_ECHO_MESSAGES", "true"))
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	requireEqual(t, "connection_recovery", c.ConnectionRecovery, ConnectionRecovery{Enabled: true, BufferTTLSeconds: 30, MaxBufferSize: 60})
	requireEqual(t, "echo_control", c.EchoControl, EchoControl{DefaultEchoMessages: true})
	requireEqual(t, "ephemeral", c.Ephemeral, Ephemeral{})
	a, b := c.Apps()[0].ConnectionRecovery, c.Apps()[1].ConnectionRecovery
	if a.Enabled == nil || *a.Enabled || a.MaxBufferSize != 7 || b.Enabled == nil || !*b.Enabled {
		t.Fatalf("app policies %+v %+v", a, b)
	}
	_, _, err := parse([]byte(withApp(app1, `"connection_recovery":{"max_buffer_size":0}`)), envOf())
	if err == nil || !strings.Contains(err.Error(), "connection_recovery.max_buffer_size") {
		t.Fatalf("max_buffer_size 0: %v", err)
	}
}

func TestIdempotencySection(t *testing.T) {
	c, _ := mustParse(t, withApp(app1), nil)
	requireEqual(t, "defaults", c.Idempotency, Idempotency{Enabled: true, TTLSeconds: 120, MaxKeyLength: 128})
	file := withApp(`{"id":"1","key":"k1","secret":"s1","idempotency":{"enabled":false}},
		{"id":"2","key":"k2","secret":"s2","policy":{"idempotency":{"enabled":true,"ttl_seconds":5}}}`,
		`"idempotency":{"enabled":true,"ttl_seconds":30,"max_key_length":64}`)
	c, warnings := mustParse(t, file, envOf("IDEMPOTENCY_TTL_SECONDS", "40", "IDEMPOTENCY_ENABLED", "false"))
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	requireEqual(t, "idempotency", c.Idempotency, Idempotency{TTLSeconds: 40, MaxKeyLength: 64})
	a, b := c.Apps()[0].Idempotency, c.Apps()[1].Idempotency
	if a.Enabled == nil || *a.Enabled || b.Enabled == nil || !*b.Enabled || b.TTLSeconds != 5 {
		t.Fatalf("app policies %+v %+v", a, b)
	}
	for _, bad := range []string{`"idempotency":{"ttl_seconds":-1}`, `"idempotency":{"max_key_length":-5}`} {
		if _, _, err := parse([]byte(withApp(app1, bad)), envOf()); err == nil || !strings.Contains(err.Error(), "idempotency.") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}
