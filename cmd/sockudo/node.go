package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore"
	"github.com/sockudo/sockudo-go/httpapi"
)

// node is one running server: the engine and its listeners.
type node struct {
	cfg    configs.Config
	log    *slog.Logger
	eng    *engine.Engine
	api    *httpapi.Server
	failed chan error
}

// start wires the adapters from cfg and starts listening.
func start(cfg configs.Config, stderr io.Writer) (*node, error) {
	log := newLogger(cfg, stderr)
	apps, err := appstore.NewStatic(engineApps(cfg))
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engineOptions(cfg, apps, log))
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Options{
		Engine:            eng,
		Apps:              apps,
		Logger:            log,
		RequestLimitBytes: cfg.HTTPAPI.RequestLimitInMB << 20,
		HandshakeTimeout:  cfg.Websocket.HandshakeTimeoutMs.Duration(),
	})
	if err != nil {
		return nil, err
	}
	n := &node{cfg: cfg, log: log, eng: eng, api: api, failed: make(chan error, 2)}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = eng.Shutdown(context.Background())
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	go func() { n.failed <- api.Serve(ln) }()
	fmt.Fprintf(stderr, "sockudo: listening on %s (metrics %s), %d apps, %d shards\n",
		ln.Addr(), metricsAddr(cfg), apps.Len(), eng.Shards())
	return n, nil
}

func metricsAddr(cfg configs.Config) string {
	if !cfg.Metrics.Enabled {
		return "off"
	}
	return net.JoinHostPort(cfg.Metrics.Host, strconv.Itoa(cfg.Metrics.Port))
}

// shutdown drains: upgrades and /ready answer 503, every socket is closed
// with 4200, and the process waits up to shutdown_grace_period.
func (n *node) shutdown() error {
	grace := n.cfg.ShutdownGracePeriod.Duration()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := n.eng.Shutdown(ctx)
	if aerr := n.api.Shutdown(ctx); err == nil {
		err = aerr
	}
	return err
}

func newLogger(cfg configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	if cfg.Debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// engineOptions maps the configuration onto the engine's options.
func engineOptions(cfg configs.Config, apps engine.AppStore, log *slog.Logger) engine.Options {
	return engine.Options{
		Apps:            apps,
		Logger:          log,
		Shards:          cfg.Shards,
		ActivityTimeout: cfg.ActivityTimeout.Duration(),
		PongTimeout:     cfg.PongTimeout.Duration(),
		UserAuthTimeout: cfg.UserAuthenticationTimeout.Duration(),
		MaxConnections:  cfg.MaxConnections,
		MaxPayload:      cfg.WebsocketMaxPayloadKB << 10,
		MaxBackpressure: cfg.Websocket.MaxBackpressure,
		CacheTTL:        cfg.ChannelLimits.CacheTTL.Duration(),
	}
}

// engineApps maps configured apps onto engine apps.
func engineApps(cfg configs.Config) []*engine.App {
	var out []*engine.App
	for _, a := range cfg.Apps() {
		out = append(out, &engine.App{
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
		})
	}
	return out
}
