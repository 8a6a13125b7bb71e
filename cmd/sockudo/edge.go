package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/httpapi"
	"github.com/sockudo/sockudo-go/httpapi/redislimit"
	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// applyEdge maps the rate_limiter, cors and ssl sections onto the HTTP
// server's options. obs counts rate-limit refusals (the metrics server).
// With TLS it returns the certificate reload that SIGHUP runs (nil
// without).
func applyEdge(cfg configs.Config, log *slog.Logger, obs httpapi.RateLimitObserver, o *httpapi.Options) (reloadTLS func() error, err error) {
	o.LimitObserver = obs
	if rl := cfg.RateLimiter; rl.Enabled {
		if rl.Driver == "redis" {
			lim, err := redislimit.New(redislimit.Options{URL: cfg.RedisURL(rl.Redis.URLOverride), Prefix: rl.Redis.Prefix})
			if err != nil {
				return nil, fmt.Errorf("rate_limiter.redis: %w", err)
			}
			o.Limiter = lim
		}
		o.RateLimits = &httpapi.RateLimits{
			API:       ipRule(rl.APIRateLimit),
			WebSocket: ipRule(rl.WebsocketRateLimit),
		}
	}
	if c := cfg.CORS; len(c.Origin) > 0 {
		o.CORS = &httpapi.CORS{Origins: c.Origin, Methods: c.Methods, Headers: c.AllowedHeaders, Credentials: c.Credentials}
	}
	var reload func() error
	if cfg.SSL.CAPath != "" {
		log.Warn("ssl.ca_path is accepted for compatibility and not used: serve the whole chain from ssl.cert_path", "ca_path", cfg.SSL.CAPath)
	}
	if cfg.SSL.Enabled {
		certs, err := httpapi.NewCertReloader(cfg.SSL.CertPath, cfg.SSL.KeyPath, cfg.SSL.Passphrase)
		if err != nil {
			return nil, err
		}
		o.TLS = certs.TLSConfig()
		reload = certs.Reload
	}
	return reload, nil
}

// startRedirect serves ssl.redirect_http's plain listener on ssl.http_port,
// sending every request to https on the main port.
func (n *node) startRedirect(reusePort bool) error {
	ssl := n.cfg.SSL
	if !ssl.RedirectHTTP {
		return nil
	}
	if !ssl.Enabled {
		n.log.Warn("ssl.redirect_http is on but ssl.enabled is off: no redirect listener")
		return nil
	}
	n.redirect = serving.New(&fasthttp.Server{
		Handler:               httpapi.RedirectToHTTPS(n.cfg.Port),
		Logger:                serving.Logger(n.log, "redirect: "),
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           30 * time.Second,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
	}, nil)
	_, err := n.listen(net.JoinHostPort(n.cfg.Host, strconv.Itoa(ssl.HTTPPort)), reusePort, n.redirect.Serve)
	return err
}

func ipRule(r configs.RateLimit) httpapi.IPRule {
	return httpapi.IPRule{
		Rule:      httpapi.Rule{Max: r.MaxRequests, Window: r.WindowSeconds.Duration()},
		TrustHops: r.TrustHops,
	}
}

// onSIGHUP calls reload on every SIGHUP until stop: the node's one handler
// (node.reload: the apps of the config file, then the TLS certificate).
// SIGHUP is caught even when there is nothing to reload: its default
// action would kill the server, and operators send it to reload.
func onSIGHUP(reload func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				reload()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
		})
	}
}
