package configs

import "reflect"

// App is one Pusher app in Sockudo's flat (legacy) form. Sockudo's `policy`
// form is read too: policy.limits.*, policy.features.*,
// policy.channels.allowed_origins and policy.webhooks land on these same
// fields and win over flat keys given beside them.
//
// Every limit below is "per app"; a zero limit means "take the default"
// (ApplyDefaults fills it), except where its comment says 0 = unlimited.
// After ApplyDefaults every limit that has a default is positive.
type App struct {
	// ID is the app id (a JSON number is accepted and kept as a string).
	ID string `json:"id"`
	// Key is the public key clients connect with (/app/{key}).
	Key string `json:"key"`
	// Secret signs auth tokens, HTTP API requests and webhooks.
	Secret string `json:"secret"`
	// Enabled: a disabled app refuses connections with 4003. Missing = true.
	Enabled bool `json:"enabled"`
	// MaxConnections caps this app's connections (0 = unlimited); over it a
	// connection is refused with 4004.
	MaxConnections int `json:"max_connections"`
	// EnableClientMessages allows client-* events.
	EnableClientMessages bool `json:"enable_client_messages"`
	// EnableUserAuthentication requires signin (or a private/presence
	// subscription) within user_authentication_timeout.
	EnableUserAuthentication bool `json:"enable_user_authentication"`
	// EnableWatchlistEvents sends watchlist online/offline events.
	EnableWatchlistEvents bool `json:"enable_watchlist_events"`
	// EnableSubscriptionCount sends pusher_internal:subscription_count
	// (our key, Pusher's per-app setting).
	EnableSubscriptionCount bool `json:"enable_subscription_count"`
	// MaxClientEventsPerSecond per connection, counted over DecaySeconds
	// (0 = DefaultMaxClientEventsPerSecond).
	MaxClientEventsPerSecond int `json:"max_client_events_per_second"`
	// MaxBackendEventsPerSecond caps HTTP-published events (0 = unlimited).
	MaxBackendEventsPerSecond int `json:"max_backend_events_per_second"`
	// MaxReadRequestsPerSecond caps HTTP API reads (0 = unlimited).
	MaxReadRequestsPerSecond int `json:"max_read_requests_per_second"`
	// MaxPresenceMembersPerChannel (0 = presence.max_members_per_channel).
	MaxPresenceMembersPerChannel int `json:"max_presence_members_per_channel"`
	// MaxPresenceMemberSizeInKB caps user_info (0 =
	// presence.max_member_size_in_kb).
	MaxPresenceMemberSizeInKB int `json:"max_presence_member_size_in_kb"`
	// MaxChannelNameLength (0 = channel_limits.max_name_length).
	MaxChannelNameLength int `json:"max_channel_name_length"`
	// MaxEventChannelsAtOnce per publish (0 =
	// event_limits.max_channels_at_once).
	MaxEventChannelsAtOnce int `json:"max_event_channels_at_once"`
	// MaxEventNameLength (0 = event_limits.max_name_length).
	MaxEventNameLength int `json:"max_event_name_length"`
	// MaxEventPayloadInKB caps an event's data (0 =
	// event_limits.max_payload_in_kb).
	MaxEventPayloadInKB int `json:"max_event_payload_in_kb"`
	// MaxEventBatchSize caps batch_events (0 = event_limits.max_batch_size).
	MaxEventBatchSize int `json:"max_event_batch_size"`
	// MaxSubscriptionsPerConnection (our key; 0 =
	// DefaultMaxSubscriptionsPerConnection).
	MaxSubscriptionsPerConnection int `json:"max_subscriptions_per_connection"`
	// DecaySeconds is the client-event rate window (0 = DefaultDecaySeconds).
	DecaySeconds Seconds `json:"decay_seconds"`
	// TerminateOnLimit closes a connection that exceeds the client-event
	// rate instead of only answering 4301.
	TerminateOnLimit bool `json:"terminate_on_limit"`
	// AllowedOrigins restricts the WebSocket Origin header: exact origins,
	// `*.example.com` (whole host labels) or `*`. Empty = any origin.
	AllowedOrigins []string `json:"allowed_origins"`
	// Webhooks are this app's webhook targets.
	Webhooks []Webhook `json:"webhooks"`
	// ConnectionRecovery is the app's protocol V2 recovery policy.
	ConnectionRecovery AppRecovery `json:"connection_recovery"`
	// Idempotency is the app's idempotent-publishing policy.
	Idempotency AppIdempotency `json:"idempotency"`
	// History is the app's durable history policy.
	History AppHistory `json:"history"`
	// ChannelDeltaCompression is policy.channels.channel_delta_compression:
	// channel name or pattern → "inherit" | "disabled" | "fossil" |
	// "xdelta3" | {enabled, algorithm, conflation_key, …} (see DeltaChannels).
	ChannelDeltaCompression map[string]any `json:"channel_delta_compression"`
}

func (App) unusedKeys() []string {
	return []string{
		"annotations_enabled",
		"channel_namespaces", "message_rate_limit",
		"presence_history",
	}
}

// setDefaults runs before an app object is decoded: a missing `enabled`
// means true (Soketi's and Pusher's behaviour; Sockudo's serde default
// would disable the app).
func (a *App) setDefaults() { a.Enabled = true }

// decodeExtra reads Sockudo's `policy` form onto the flat fields. It runs
// after the flat keys, so policy values win.
func (a *App) decodeExtra(d *decoder, path, key string, raw any) bool {
	if key != "policy" {
		return false
	}
	policy, ok := raw.(map[string]any)
	if !ok {
		if raw != nil {
			d.typeError(path, "an object", raw)
		}
		return true
	}
	v := reflect.ValueOf(a).Elem()
	for _, section := range sortedKeys(policy) {
		p := path + "." + section
		switch section {
		case "limits":
			d.subset(p, policy[section], v, policyLimitKeys())
		case "features":
			d.subset(p, policy[section], v, []string{
				"enable_client_messages", "enable_user_authentication",
				"enable_watchlist_events", "enable_subscription_count",
			})
		case "channels":
			d.subset(p, policy[section], v, []string{
				"allowed_origins", "annotations_enabled",
				"channel_delta_compression", "channel_namespaces",
			})
		case "webhooks":
			d.field(p, policy[section], v, "webhooks")
		case "connection_recovery":
			d.field(p, policy[section], v, "connection_recovery")
		case "idempotency":
			d.field(p, policy[section], v, "idempotency")
		case "history":
			d.field(p, policy[section], v, "history")
		case "presence_history":
			// accepted and ignored, like the flat keys of the same names
		default:
			d.unknown(p)
		}
	}
	return true
}

func policyLimitKeys() []string {
	return []string{
		"max_connections", "max_backend_events_per_second",
		"max_client_events_per_second", "max_read_requests_per_second",
		"max_presence_members_per_channel", "max_presence_member_size_in_kb",
		"max_channel_name_length", "max_event_channels_at_once",
		"max_event_name_length", "max_event_payload_in_kb",
		"max_event_batch_size", "max_subscriptions_per_connection",
		"decay_seconds", "terminate_on_limit", "message_rate_limit",
	}
}

// Webhook is one webhook target of an app.
type Webhook struct {
	// URL receives the POSTs (http or https). Required: Lambda targets are
	// not supported.
	URL string `json:"url"`
	// EventTypes selects events; empty = every type.
	EventTypes []string `json:"event_types"`
	// Filter selects channels.
	Filter WebhookFilter `json:"filter"`
	// Headers are added to every POST.
	Headers map[string]string `json:"headers"`
	// Retry overrides webhooks.retry for this target.
	Retry WebhookRetryPolicy `json:"retry"`
	// RequestTimeoutMs overrides webhooks.request_timeout_ms (0 = global).
	RequestTimeoutMs Millis `json:"request_timeout_ms"`
}

func (Webhook) unusedKeys() []string { return []string{"lambda_function", "lambda"} }

// WebhookFilter selects the channels a webhook hears about; every set
// condition must hold.
type WebhookFilter struct {
	// ChannelPrefix: the channel name starts with it.
	ChannelPrefix string `json:"channel_prefix"`
	// ChannelSuffix: the channel name ends with it.
	ChannelSuffix string `json:"channel_suffix"`
	// ChannelPattern: the channel name matches this regular expression
	// (Go RE2 syntax; checked by Validate).
	ChannelPattern string `json:"channel_pattern"`
	// ChannelNamespace: the part before the first ':' equals it.
	ChannelNamespace string `json:"channel_namespace"`
	// ChannelNamespaces: that part is one of these.
	ChannelNamespaces []string `json:"channel_namespaces"`
	// ChannelNameStartsWith is Soketi's name for ChannelPrefix.
	// ApplyDefaults moves it there (when ChannelPrefix is empty) and
	// clears it; read ChannelPrefix.
	ChannelNameStartsWith string `json:"channel_name_starts_with"`
	// ChannelNameEndsWith is Soketi's name for ChannelSuffix, moved like
	// ChannelNameStartsWith.
	ChannelNameEndsWith string `json:"channel_name_ends_with"`
}

// WebhookRetryPolicy is a webhook's own `retry`; zero or nil fields take
// the value of the global webhooks.retry.
type WebhookRetryPolicy struct {
	// Enabled overrides webhooks.retry.enabled when non-nil.
	Enabled *bool `json:"enabled"`
	// MaxAttempts overrides webhooks.retry.max_attempts when > 0.
	MaxAttempts int `json:"max_attempts"`
	// MaxElapsedTimeMs overrides the retry budget when > 0.
	MaxElapsedTimeMs Millis `json:"max_elapsed_time_ms"`
	// InitialBackoffMs overrides the first delay when > 0.
	InitialBackoffMs Millis `json:"initial_backoff_ms"`
	// MaxBackoffMs overrides the delay cap when > 0.
	MaxBackoffMs Millis `json:"max_backoff_ms"`
}

// WebhookEventTypes lists the event types a webhook may ask for.
func WebhookEventTypes() []string {
	return []string{
		"channel_occupied", "channel_vacated", "member_added",
		"member_removed", "client_event", "cache_miss", "subscription_count",
	}
}
