package main

import (
	"fmt"
	"log/slog"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine/webhook"
	"github.com/sockudo/sockudo-go/engine/webhook/redisqueue"
)

// newWebhooks builds the webhook sender from the queue section. Each app
// brings its own targets (engine.App.Webhooks), so apps from a database or
// a reload get theirs. It returns nil — the engine then reports nothing —
// when the queue driver is none, or when it is redis and no app can have
// webhooks (none in the file, apps only from the file): a Redis queue
// nobody uses is not worth its connection.
func newWebhooks(cfg configs.Config, log *slog.Logger, obs webhook.Observer) (*webhook.Sender, error) {
	if cfg.Queue.Driver == "none" || cfg.Queue.Driver == "redis" && !mayHaveWebhooks(cfg) {
		return nil, nil
	}
	opts := webhook.Options{
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

// mayHaveWebhooks reports whether any app can have webhooks: one in the
// file has, or apps come from a database.
func mayHaveWebhooks(cfg configs.Config) bool {
	if cfg.AppManager.Driver != "" && cfg.AppManager.Driver != "memory" {
		return true
	}
	for _, a := range cfg.Apps() {
		if len(a.Webhooks) > 0 {
			return true
		}
	}
	return false
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
