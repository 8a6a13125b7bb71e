package engine

import (
	"reflect"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
)

// App is one tenant's credentials, switches and limits, as the app store
// holds them. The engine never mutates an App; limits of 0 mean "no limit"
// unless a field says otherwise (configs fills per-app defaults).
type App struct {
	ID     string
	Key    string
	Secret string

	Enabled                  bool
	EnableClientMessages     bool
	EnableUserAuthentication bool
	EnableWatchlistEvents    bool
	EnableSubscriptionCount  bool

	MaxConnections                int // per node; 0 = unlimited
	MaxClientEventsPerSecond      int // per connection; 0 = unlimited
	MaxPresenceMembersPerChannel  int
	MaxPresenceMemberSizeKB       int
	MaxChannelNameLength          int // 0 → protocol.DefaultMaxChannelNameLength
	MaxEventChannelsAtOnce        int
	MaxEventNameLength            int
	MaxEventPayloadKB             int
	MaxEventBatchSize             int
	MaxSubscriptionsPerConnection int
	MaxBackendEventsPerSecond     int
	MaxReadRequestsPerSecond      int

	// ClientEventWindow is the window MaxClientEventsPerSecond is counted
	// over (Sockudo's decay_seconds); 0 → 1 s.
	ClientEventWindow time.Duration
	// TerminateOnClientEventLimit closes (4301) instead of only answering
	// pusher:error when a connection exceeds the client-event rate.
	TerminateOnClientEventLimit bool

	// AllowedOrigins are exact origins or *.example.com patterns; empty
	// allows every origin.
	AllowedOrigins []string

	// Webhooks are the app's webhook targets. The Hooks implementation
	// reads them from the *App it is handed, so apps from a database or a
	// reload get theirs; an app without any costs the sender nothing.
	Webhooks []Webhook
	// DeltaChannels is the app policy channels.channel_delta_compression
	// (per-channel delta settings by exact name or pattern); nil: the
	// global delta_compression settings apply to every channel.
	DeltaChannels *delta.ChannelSettings
	// RecoveryDisabled is the app policy connection_recovery.enabled=false,
	// which narrows the global switch (it cannot widen it).
	RecoveryDisabled bool
	// RecoveryMaxBufferSize overrides connection_recovery.max_buffer_size
	// for the app; 0 keeps the global value.
	RecoveryMaxBufferSize int
	// IdempotencyDisabled is the app policy idempotency.enabled=false:
	// publish keys are accepted and ignored.
	IdempotencyDisabled bool
	// IdempotencyTTL overrides idempotency.ttl_seconds for the app; 0
	// keeps the global value.
	IdempotencyTTL time.Duration
	// History is the app's durable history policy.
	History AppHistory
}

// Webhook is one webhook target of an app, as the store holds it; the
// webhook sender validates and compiles it.
type Webhook struct {
	// URL receives the POSTs (http or https).
	URL string
	// EventTypes selects events by name; empty = every type.
	EventTypes []string
	// Filter selects channels.
	Filter WebhookFilter
	// Headers are added to every POST.
	Headers map[string]string
	// Retry, when non-nil, replaces the sender's retry policy for this
	// target; its zero fields take the sender's values.
	Retry *WebhookRetry
	// RequestTimeout replaces the sender's request timeout when > 0.
	RequestTimeout time.Duration
}

// WebhookFilter selects channels; every non-empty condition must hold.
type WebhookFilter struct {
	// ChannelPrefix: the name starts with it.
	ChannelPrefix string
	// ChannelSuffix: the name ends with it.
	ChannelSuffix string
	// ChannelPattern: the name matches this RE2 regular expression.
	ChannelPattern string
	// ChannelNamespace: the part before the first ':' equals it.
	ChannelNamespace string
	// ChannelNamespaces: that part is one of these.
	ChannelNamespaces []string
}

// WebhookRetry is a retry policy (webhooks.retry). Failed POSTs are retried
// after Initial, doubling up to Max, each delay varied by ±Jitter, until
// MaxElapsed has passed since the first attempt or MaxAttempts failed.
type WebhookRetry struct {
	// Disabled fails a job on its first failed attempt.
	Disabled bool
	// MaxAttempts caps attempts; 0 = bounded by MaxElapsed only.
	MaxAttempts int
	// MaxElapsed is the retry budget.
	MaxElapsed time.Duration
	// Initial is the first delay.
	Initial time.Duration
	// Max caps a delay.
	Max time.Duration
	// Jitter is the relative random spread of each delay; negative means
	// none.
	Jitter float64
}

// Equal reports whether a and b hold the same settings, so a reload can
// leave the connections of an unchanged app alone. Not on a hot path.
func (a *App) Equal(b *App) bool { return reflect.DeepEqual(a, b) }

// maxChannelName returns the effective channel-name limit.
func (a *App) maxChannelName() int {
	if a.MaxChannelNameLength > 0 {
		return a.MaxChannelNameLength
	}
	return 200
}
