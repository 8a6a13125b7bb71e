package main

import (
	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
)

// engineApps maps the config file's apps onto engine apps.
func engineApps(cfg configs.Config) []*engine.App {
	var out []*engine.App
	for _, a := range cfg.Apps() {
		out = append(out, engineApp(a))
	}
	return out
}

// engineApp is the one mapping from a configured app (file, database row,
// reload) to the engine's. a must have had its defaults applied.
func engineApp(a configs.App) *engine.App {
	app := &engine.App{
		ID: a.ID, Key: a.Key, Secret: a.Secret, Enabled: a.Enabled,
		EnableClientMessages:          a.EnableClientMessages,
		EnableUserAuthentication:      a.EnableUserAuthentication,
		EnableWatchlistEvents:         a.EnableWatchlistEvents,
		EnableSubscriptionCount:       a.EnableSubscriptionCount,
		MaxConnections:                a.MaxConnections,
		MaxClientEventsPerSecond:      a.MaxClientEventsPerSecond,
		MaxPresenceMembersPerChannel:  a.MaxPresenceMembersPerChannel,
		MaxPresenceMemberSizeKB:       a.MaxPresenceMemberSizeInKB,
		MaxChannelNameLength:          a.MaxChannelNameLength,
		MaxEventChannelsAtOnce:        a.MaxEventChannelsAtOnce,
		MaxEventNameLength:            a.MaxEventNameLength,
		MaxEventPayloadKB:             a.MaxEventPayloadInKB,
		MaxEventBatchSize:             a.MaxEventBatchSize,
		MaxSubscriptionsPerConnection: a.MaxSubscriptionsPerConnection,
		MaxBackendEventsPerSecond:     a.MaxBackendEventsPerSecond,
		MaxReadRequestsPerSecond:      a.MaxReadRequestsPerSecond,
		AllowedOrigins:                a.AllowedOrigins,
		ClientEventWindow:             a.DecaySeconds.Duration(),
		TerminateOnClientEventLimit:   a.TerminateOnLimit,
		RecoveryDisabled:              a.ConnectionRecovery.Enabled != nil && !*a.ConnectionRecovery.Enabled,
		RecoveryMaxBufferSize:         a.ConnectionRecovery.MaxBufferSize,
		IdempotencyDisabled:           a.Idempotency.Enabled != nil && !*a.Idempotency.Enabled,
		IdempotencyTTL:                a.Idempotency.TTLSeconds.Duration(),
		DeltaChannels:                 a.DeltaChannels(),
		History: engine.AppHistory{Enabled: a.History.Enabled, RewindEnabled: a.History.RewindEnabled,
			Retention: engine.HistoryRetention{Window: a.History.RetentionWindowSeconds.Duration(),
				MaxMessages: int64(a.History.MaxMessagesPerChannel), MaxBytes: int64(a.History.MaxBytesPerChannel)}},
	}
	for _, w := range a.Webhooks {
		app.Webhooks = append(app.Webhooks, engineWebhook(w))
	}
	return app
}

// engineWebhook maps one configured webhook; a per-target retry exists
// only when the target sets any retry key.
func engineWebhook(w configs.Webhook) engine.Webhook {
	t := engine.Webhook{
		URL:        w.URL,
		EventTypes: w.EventTypes,
		Headers:    w.Headers,
		Filter: engine.WebhookFilter{
			ChannelPrefix:     w.Filter.ChannelPrefix,
			ChannelSuffix:     w.Filter.ChannelSuffix,
			ChannelPattern:    w.Filter.ChannelPattern,
			ChannelNamespace:  w.Filter.ChannelNamespace,
			ChannelNamespaces: w.Filter.ChannelNamespaces,
		},
		RequestTimeout: w.RequestTimeoutMs.Duration(),
	}
	if r := w.Retry; r.Enabled != nil || r.MaxAttempts != 0 || r.MaxElapsedTimeMs != 0 || r.InitialBackoffMs != 0 || r.MaxBackoffMs != 0 {
		t.Retry = &engine.WebhookRetry{
			Disabled:    r.Enabled != nil && !*r.Enabled,
			MaxAttempts: r.MaxAttempts,
			MaxElapsed:  r.MaxElapsedTimeMs.Duration(),
			Initial:     r.InitialBackoffMs.Duration(),
			Max:         r.MaxBackoffMs.Duration(),
		}
	}
	return t
}

// parseApp turns one app JSON object (a database row rendered as Sockudo's
// policy form or flat form) into an engine app, decoded, defaulted from
// cfg's global sections and validated exactly like the config file's apps;
// errors name the key (app.max_connections: ...).
func parseApp(js []byte, cfg configs.Config) (*engine.App, error) {
	a, _, err := cfg.ParseApp(js, "app")
	if err != nil {
		return nil, err
	}
	return engineApp(a), nil
}

// storeHealth is the store's health report for /up, nil for stores that
// cannot fail.
func storeHealth(apps engine.AppStore) engine.StoreHealth {
	h, _ := apps.(engine.StoreHealth)
	return h
}
