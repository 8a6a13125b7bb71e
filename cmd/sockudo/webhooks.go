package main

import (
	"fmt"
	"log/slog"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine/webhook"
	"github.com/sockudo/sockudo-go/engine/webhook/redisqueue"
)

// newWebhooks builds the webhook sender from the apps' webhooks and the
// queue section. It returns nil when no app has a webhook or the queue
// driver is none: the engine then reports nothing.
func newWebhooks(cfg configs.Config, log *slog.Logger, obs webhook.Observer) (*webhook.Sender, error) {
	targets := map[string][]webhook.Target{}
	for _, a := range cfg.Apps() {
		for _, w := range a.Webhooks {
			targets[a.ID] = append(targets[a.ID], webhookTarget(w))
		}
	}
	if len(targets) == 0 || cfg.Queue.Driver == "none" {
		return nil, nil
	}
	opts := webhook.Options{
		Targets:        targets,
		Concurrency:    cfg.Queue.Redis.Concurrency,
		Batching:       webhook.Batching{Enabled: cfg.Webhooks.Batching.Enabled, Duration: cfg.Webhooks.Batching.Duration.Duration(), Size: cfg.Webhooks.Batching.Size},
		Retry:          globalRetry(cfg.Webhooks.Retry),
		RequestTimeout: cfg.Webhooks.RequestTimeoutMs.Duration(),
		Logger:         log,
		Observer:       obs,
	}
	if cfg.Queue.Driver == "redis" {
		q, err := redisqueue.New(redisqueue.Options{
			URL:           cfg.RedisURL(cfg.Queue.Redis.URLOverride),
			Prefix:        cfg.Queue.Redis.Prefix,
			LeaseDuration: cfg.Queue.Reliability.LeaseDurationMs.Duration(),
		})
		if err != nil {
			return nil, fmt.Errorf("queue.redis: %w", err)
		}
		opts.Queue = q
	}
	s, err := webhook.New(opts)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	s.Start()
	return s, nil
}

func webhookTarget(w configs.Webhook) webhook.Target {
	t := webhook.Target{
		URL:        w.URL,
		EventTypes: w.EventTypes,
		Headers:    w.Headers,
		Filter: webhook.Filter{
			ChannelPrefix:     w.Filter.ChannelPrefix,
			ChannelSuffix:     w.Filter.ChannelSuffix,
			ChannelPattern:    w.Filter.ChannelPattern,
			ChannelNamespace:  w.Filter.ChannelNamespace,
			ChannelNamespaces: w.Filter.ChannelNamespaces,
		},
		RequestTimeout: w.RequestTimeoutMs.Duration(),
	}
	if r := w.Retry; r.Enabled != nil || r.MaxAttempts != 0 || r.MaxElapsedTimeMs != 0 || r.InitialBackoffMs != 0 || r.MaxBackoffMs != 0 {
		rt := webhook.Retry{
			MaxAttempts: r.MaxAttempts,
			MaxElapsed:  r.MaxElapsedTimeMs.Duration(),
			Initial:     r.InitialBackoffMs.Duration(),
			Max:         r.MaxBackoffMs.Duration(),
		}
		rt.Disabled = r.Enabled != nil && !*r.Enabled
		t.Retry = &rt
	}
	return t
}

func globalRetry(r configs.WebhookRetry) webhook.Retry {
	return webhook.Retry{
		Disabled:    !r.Enabled,
		MaxAttempts: r.MaxAttempts,
		MaxElapsed:  r.MaxElapsedTimeMs.Duration(),
		Initial:     r.InitialBackoffMs.Duration(),
		Max:         r.MaxBackoffMs.Duration(),
	}
}
