package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore"
	"github.com/sockudo/sockudo-go/engine/webhook"
	"github.com/sockudo/sockudo-go/expose"
	"github.com/sockudo/sockudo-go/httpapi"
	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// node is one running server: the engine and its listeners.
type node struct {
	cfg      configs.Config
	log      *slog.Logger
	eng      *engine.Engine
	api      *httpapi.Server
	metrics  *expose.Server  // nil when metrics.enabled is false
	hooks    *webhook.Sender // nil when webhooks cannot be sent (see newWebhooks)
	failed   chan error
	sql      *sqlApps        // appstore.go: the SQL app store, nil for the memory driver
	endEdge  func()          // edge.go: stops the SIGHUP handler
	reloader reloader        // reload.go: what SIGHUP reloads
	redirect *serving.Server // edge.go: ssl.redirect_http's listener, or nil
	history  func()          // history.go: closes the history store
}

// start wires the adapters from cfg and starts listening.
func start(cfg configs.Config, o options, stderr io.Writer) (*node, error) {
	log := newLogger(cfg, stderr)
	n := &node{cfg: cfg, log: log, failed: make(chan error, 2)}
	// SIGHUP is caught from the start (its default action would kill a
	// server still connecting to its database) and acted on once started.
	n.endEdge = onSIGHUP(n.reload)
	started := false
	defer func() {
		if !started {
			n.endEdge()
		}
	}()
	engApps := engineApps(cfg)
	apps, err := appstore.NewStatic(engApps)
	if err != nil {
		return nil, err
	}
	// The metrics server observes the engine and reads its counters, so it
	// is built first and attached once the engine exists.
	n.metrics, err = expose.New(expose.Options{AppIDs: appIDs(engApps), Prefix: cfg.Metrics.Prometheus.Prefix, Logger: log, Pprof: o.pprof})
	if err != nil {
		return nil, err
	}
	store, err := n.openAppStore(apps) // appstore.go: apps, or the SQL store
	if err != nil {
		return nil, err
	}
	n.metrics.AttachStore(storeHealth(store))
	opts := engineOptions(cfg, store, log)
	opts.Observer = n.metrics
	if opts.V2.History, n.history, err = historyOptions(cfg, log); err != nil {
		return nil, err
	}
	if n.hooks, err = newWebhooks(cfg, log, n.metrics); err != nil {
		return nil, err
	}
	if n.hooks != nil {
		opts.Hooks = n.hooks
	}
	b, err := newBus(cfg, log, n.metrics)
	if err != nil {
		return nil, err
	}
	clusterOptions(&opts, cfg, b)
	if opts.SharedCache, err = sharedCache(cfg); err != nil {
		return nil, err
	}
	n.eng, err = engine.New(opts)
	if err != nil && b != nil && cfg.Adapter.FallbackToLocal {
		// Sockudo's fallback_to_local: a node that cannot reach its bus at
		// start serves its own connections rather than not at all.
		log.Error("cluster bus unreachable: starting as a single node (adapter.fallback_to_local)", "driver", cfg.Adapter.Driver, "err", err)
		clusterOptions(&opts, cfg, nil)
		opts.Bus = nil
		n.eng, err = engine.New(opts)
	}
	if err != nil {
		return nil, err
	}
	n.metrics.Attach(n.eng)
	n.sql.attach(n.eng)
	apiOpts := httpapi.Options{
		Engine:            n.eng,
		Apps:              store,
		Logger:            log,
		Observer:          n.metrics,
		RequestLimitBytes: cfg.HTTPAPI.RequestLimitInMB << 20,
		HandshakeTimeout:  cfg.Websocket.HandshakeTimeoutMs.Duration(),
	}
	// Rate limits, CORS, TLS and its SIGHUP reload: edge.go.
	if n.reloader.tls, err = applyEdge(cfg, log, n.metrics, &apiOpts); err != nil {
		_ = n.eng.Shutdown(context.Background())
		return nil, err
	}
	if apiOpts.Idempotency, err = idempotencyGuard(cfg, opts.SharedCache, n.metrics); err != nil {
		_ = n.eng.Shutdown(context.Background())
		return nil, err
	}
	n.api, err = httpapi.New(apiOpts)
	if err != nil {
		return nil, err
	}
	ln, err := n.listen(net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), o.reusePort, n.api.Serve)
	if err != nil {
		_ = n.eng.Shutdown(context.Background())
		return nil, err
	}
	if !cfg.Metrics.Enabled {
		n.metrics = nil
	} else if _, err := n.listen(metricsAddr(cfg), o.reusePort, n.metrics.Serve); err != nil {
		_ = n.eng.Shutdown(context.Background())
		_ = n.api.Shutdown(context.Background())
		return nil, err
	}
	if err := n.startRedirect(o.reusePort); err != nil {
		_ = n.shutdown()
		return nil, err
	}
	n.reloader.reread, n.reloader.static = o.reread, replacer(store)
	n.reloader.ready.Store(true)
	started = true
	fmt.Fprintf(stderr, "sockudo: listening on %s (metrics %s), %d apps, %d shards\n",
		ln.Addr(), metricsAddr(cfg), apps.Len(), n.eng.Shards())
	return n, nil
}

func metricsAddr(cfg configs.Config) string {
	if !cfg.Metrics.Enabled {
		return "off"
	}
	return net.JoinHostPort(cfg.Metrics.Host, strconv.Itoa(cfg.Metrics.Port))
}

// listen binds addr and serves it in the background; a serve error ends
// the process through n.failed.
func (n *node) listen(addr string, reusePort bool, serve func(net.Listener) error) (net.Listener, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error { return setReusePort(c) }
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	go func() {
		if err := serve(ln); err != nil {
			n.failed <- err
		}
	}()
	return ln, nil
}

func appIDs(apps []*engine.App) []string {
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	return ids
}

// shutdown drains: upgrades and /ready answer 503, every socket is closed
// with 4200, and the process waits up to shutdown_grace_period.
func (n *node) shutdown() error {
	n.endEdge()
	grace := n.cfg.ShutdownGracePeriod.Duration()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := n.eng.Shutdown(ctx)
	n.history()
	n.sql.close()
	if aerr := n.api.Shutdown(ctx); err == nil {
		err = aerr
	}
	if n.hooks != nil {
		// After the engine: the vacated and member_removed events of the
		// closed connections are still to be flushed.
		if herr := n.hooks.Shutdown(ctx); err == nil {
			err = herr
		}
	}
	if n.metrics != nil {
		if merr := n.metrics.Shutdown(ctx); err == nil {
			err = merr
		}
	}
	if n.redirect != nil {
		if rerr := n.redirect.Shutdown(ctx); err == nil {
			err = rerr
		}
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
		V2:              v2Options(cfg),
	}
}
