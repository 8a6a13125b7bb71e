package configs

import "fmt"

// ConnectionRecovery is the `connection_recovery` section: the hot replay
// buffer of protocol V2 connection recovery.
type ConnectionRecovery struct {
	// Enabled turns recovery on (apps may narrow it): broadcasts get
	// stream ids, serials and message ids and are kept for resumes.
	Enabled bool `json:"enabled"`
	// BufferTTLSeconds is how long a message stays replayable.
	BufferTTLSeconds Seconds `json:"buffer_ttl_seconds"`
	// MaxBufferSize is the messages kept per channel, also the most one
	// channel's resume replays.
	MaxBufferSize int `json:"max_buffer_size"`
}

// EchoControl is the `echo_control` section.
type EchoControl struct {
	// Enabled lets V2 connections choose with echo_messages whether they
	// receive their own client events; off forces echo on.
	Enabled bool `json:"enabled"`
	// DefaultEchoMessages is the echo of a V2 connection that does not say.
	DefaultEchoMessages bool `json:"default_echo_messages"`
}

// Ephemeral is the `ephemeral` section.
type Ephemeral struct {
	// Enabled honours extras.ephemeral on publishes: no id, no serial,
	// not kept for recovery.
	Enabled bool `json:"enabled"`
}

// AppRecovery is an app's `connection_recovery` policy.
type AppRecovery struct {
	// Enabled false turns recovery off for the app; absent inherits the
	// global switch, which it cannot widen.
	Enabled *bool `json:"enabled"`
	// MaxBufferSize overrides connection_recovery.max_buffer_size (0 =
	// inherit).
	MaxBufferSize int `json:"max_buffer_size"`
}

// buffer_ttl_seconds per app is accepted and ignored, as in Sockudo.
func (AppRecovery) unusedKeys() []string { return []string{"buffer_ttl_seconds"} }

// Idempotency is the `idempotency` section: HTTP publishes carrying a key
// are published once per key within the TTL.
type Idempotency struct {
	// Enabled honours idempotency keys (apps may turn them off).
	Enabled bool `json:"enabled"`
	// TTLSeconds is how long a key is remembered.
	TTLSeconds Seconds `json:"ttl_seconds"`
	// MaxKeyLength is the longest key accepted, in bytes (global only).
	MaxKeyLength int `json:"max_key_length"`
}

// AppIdempotency is an app's `idempotency` policy.
type AppIdempotency struct {
	// Enabled false turns idempotency off for the app; absent inherits.
	Enabled *bool `json:"enabled"`
	// TTLSeconds overrides idempotency.ttl_seconds (0 = inherit).
	TTLSeconds Seconds `json:"ttl_seconds"`
}

func defaultV2(c *Config) {
	c.Idempotency = Idempotency{Enabled: true, TTLSeconds: 120, MaxKeyLength: 128}
	c.ConnectionRecovery = ConnectionRecovery{BufferTTLSeconds: 120, MaxBufferSize: 100}
	c.EchoControl = EchoControl{Enabled: true, DefaultEchoMessages: true}
	c.Ephemeral = Ephemeral{Enabled: true}
}

func (c *Config) v2EnvVars() []envVar {
	r := &c.ConnectionRecovery
	return []envVar{
		{"CONNECTION_RECOVERY_ENABLED", "connection_recovery.enabled", setBool(&r.Enabled)},
		{"CONNECTION_RECOVERY_BUFFER_TTL", "connection_recovery.buffer_ttl_seconds", setInt(&r.BufferTTLSeconds)},
		{"CONNECTION_RECOVERY_MAX_BUFFER_SIZE", "connection_recovery.max_buffer_size", setInt(&r.MaxBufferSize)},
		{"ECHO_CONTROL_ENABLED", "echo_control.enabled", setBool(&c.EchoControl.Enabled)},
		{"ECHO_CONTROL_DEFAULT_ECHO_MESSAGES", "echo_control.default_echo_messages", setBool(&c.EchoControl.DefaultEchoMessages)},
		{"EPHEMERAL_ENABLED", "ephemeral.enabled", setBool(&c.Ephemeral.Enabled)},
		{"IDEMPOTENCY_ENABLED", "idempotency.enabled", setBool(&c.Idempotency.Enabled)},
		{"IDEMPOTENCY_TTL_SECONDS", "idempotency.ttl_seconds", setInt(&c.Idempotency.TTLSeconds)},
		{"IDEMPOTENCY_MAX_KEY_LENGTH", "idempotency.max_key_length", setInt(&c.Idempotency.MaxKeyLength)},
	}
}

func (c *Config) validateV2(v *checker) {
	v.atLeast("connection_recovery.buffer_ttl_seconds", int(c.ConnectionRecovery.BufferTTLSeconds), 1)
	v.atLeast("connection_recovery.max_buffer_size", c.ConnectionRecovery.MaxBufferSize, 1)
	v.atLeast("idempotency.ttl_seconds", int(c.Idempotency.TTLSeconds), 1)
	v.atLeast("idempotency.max_key_length", c.Idempotency.MaxKeyLength, 1)
	for i, a := range c.Apps() {
		if a.Idempotency.TTLSeconds < 0 {
			v.add(fmt.Sprintf("app_manager.array.apps[%d].idempotency.ttl_seconds", i), "must be ≥ 0, got %d", a.Idempotency.TTLSeconds)
		}
		if a.ConnectionRecovery.MaxBufferSize < 0 {
			v.add(fmt.Sprintf("app_manager.array.apps[%d].connection_recovery.max_buffer_size", i), "must be ≥ 0, got %d", a.ConnectionRecovery.MaxBufferSize)
		}
	}
}
