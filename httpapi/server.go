package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/router"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/idempotency"
	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// Defaults for the zero values of Options.
const (
	DefaultRequestLimitBytes = 10 << 20
	DefaultWriteTimeout      = 10 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second

	// idleTimeout is how long a keep-alive HTTP connection may wait for its
	// next request. Publishing backends reuse connections, so it is longer
	// than the per-request read timeout.
	idleTimeout = 60 * time.Second
)

// Observer receives one call per HTTP request, for metrics. route is the
// router pattern (e.g. "/apps/{app_id}/events"), never the raw URL, so label
// cardinality stays bounded; it is "" when no route matched. appID is the
// app of a REST API request (/apps/{app_id}/…) when the app store knows
// it, else "": an unknown id in a URL must not create series, and
// WebSocket upgrades and health checks are no app's API calls. reqBytes
// and respBytes count bodies only. Implementations must be safe for
// concurrent use and fast: they run on the request path.
type Observer interface {
	ObserveHTTP(route, method, appID string, status int, dur time.Duration, reqBytes, respBytes int)
}

// requestApp is the user-value key under which the known app of a REST API
// request is kept for the Observer.
type requestApp struct{}

// observedApp returns the id of the known app the request named, or "".
func observedApp(ctx *fasthttp.RequestCtx) string {
	if app, ok := ctx.UserValue(requestApp{}).(*engine.App); ok {
		return app.ID
	}
	return ""
}

// Options configures a Server.
type Options struct {
	// Engine serves the connections and answers the API. Required.
	Engine *engine.Engine
	// Apps resolves the app of each /apps/{app_id} request. Required.
	Apps engine.AppStore
	// Logger receives operational logs, fasthttp's included; nil discards.
	Logger *slog.Logger
	// RequestLimitBytes caps an HTTP request body (413 above it);
	// 0 → DefaultRequestLimitBytes.
	RequestLimitBytes int
	// WriteTimeout bounds a blocking socket write to a slow WebSocket
	// reader, and the write of an HTTP response; 0 → DefaultWriteTimeout.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds reading one HTTP request, the WebSocket
	// upgrade request included, however slowly it trickles in;
	// 0 → DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Observer, when not nil, is told about every HTTP request.
	Observer Observer
	// GoroutineReads keeps one reader goroutine per WebSocket instead of
	// letting the engine poll the sockets (epoll). For comparison and for
	// platforms without epoll; the engine falls back by itself there.
	GoroutineReads bool

	// RateLimits, when not nil, limits API requests and upgrades per
	// client IP (rate_limiter.enabled). The per-app quotas
	// MaxBackendEventsPerSecond and MaxReadRequestsPerSecond apply always.
	RateLimits *RateLimits
	// Limiter counts for RateLimits and the per-app quotas; nil → a
	// NewMemoryLimiter(0) of the Server's own.
	Limiter Limiter
	// LimitObserver, when not nil, is told about every rate-limit refusal.
	LimitObserver RateLimitObserver
	// CORS, when not nil, sets CORS headers on the HTTP API's answers and
	// answers preflight requests.
	CORS *CORS
	// TLS, when not nil, serves https and wss: Serve wraps its listener.
	// Use CertReloader.TLSConfig to reload certificates while running.
	// TLS sockets cannot be polled: each upgraded one costs a reader
	// goroutine, and its writes go through the engine's flusher.
	TLS *tls.Config
	// MaxHeaderBytes bounds the request line and headers (431 above it);
	// 0 → DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxURLBytes bounds the request target (414); 0 → DefaultMaxURLBytes.
	MaxURLBytes int
	// MaxQueryParams bounds the query parameters (400);
	// 0 → DefaultMaxQueryParams.
	MaxQueryParams int
	// Idempotency, when not nil, makes publishes carrying a key
	// idempotent (idempotency.enabled); nil accepts keys and ignores them.
	Idempotency *idempotency.Guard
}

// Server is the HTTP side of one node: the WebSocket upgrade on /app/{key}
// and the Pusher REST API on the same listener. Build it with New; it is
// safe for concurrent use, and several Servers may run in one process.
type Server struct {
	eng          *engine.Engine
	apps         engine.AppStore
	log          *slog.Logger
	storeErrLog  engine.LogLimiter // 503s for a failing app store
	idem         *idempotency.Guard
	idemErrLog   engine.LogLimiter // a failing idempotency store
	obs          Observer
	limit        int
	writeTimeout time.Duration
	pollReads    bool
	drainBufs    sync.Pool // *[]byte for drainBuffered
	batches      sync.Pool // *batchBody for postBatchEvents
	bodies       sync.Pool // *[]byte request bodies (readBody, releaseBody)

	rates    RateLimits
	limiter  Limiter
	limitObs RateLimitObserver
	cors     *cors
	maxURL   int
	maxQuery int

	// ctx is the context of engine calls. A *fasthttp.RequestCtx is not
	// used: its Done panics outside a fasthttp.Server (handler tests) and
	// fires only when the whole server shuts down.
	ctx context.Context

	upgrader websocket.FastHTTPUpgrader
	iovs     iovecPool
	handler  fasthttp.RequestHandler
	srv      *serving.Server
}

// New validates opts and builds the Server; it does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("httpapi: Options.Engine is required")
	}
	if opts.Apps == nil {
		return nil, errors.New("httpapi: Options.Apps is required")
	}
	if opts.RequestLimitBytes < 0 || opts.WriteTimeout < 0 || opts.HandshakeTimeout < 0 ||
		opts.MaxHeaderBytes < 0 || opts.MaxURLBytes < 0 || opts.MaxQueryParams < 0 {
		return nil, errors.New("httpapi: negative limit or timeout in Options")
	}
	s := &Server{
		ctx:          context.Background(),
		eng:          opts.Engine,
		apps:         opts.Apps,
		log:          opts.Logger,
		obs:          opts.Observer,
		limit:        orDefault(opts.RequestLimitBytes, DefaultRequestLimitBytes),
		writeTimeout: orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		pollReads:    !opts.GoroutineReads,
		limiter:      opts.Limiter,
		limitObs:     opts.LimitObserver,
		cors:         newCORS(opts.CORS),
		maxURL:       orDefault(opts.MaxURLBytes, DefaultMaxURLBytes),
		maxQuery:     orDefault(opts.MaxQueryParams, DefaultMaxQueryParams),
		idem:         opts.Idempotency,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.RateLimits != nil {
		s.rates = *opts.RateLimits
	}
	if s.limiter == nil {
		s.limiter = NewMemoryLimiter(0)
	}
	s.upgrader = newUpgrader()
	s.handler = s.dropLargeBody(s.guard(s.routes().Handler))
	s.srv = serving.New(&fasthttp.Server{
		Handler:      s.handler,
		ErrorHandler: s.parseError,
		Logger:       serving.Logger(s.log, "fasthttp: "),
		ReadTimeout:  orDefault(opts.HandshakeTimeout, DefaultHandshakeTimeout),
		WriteTimeout: s.writeTimeout,
		IdleTimeout:  idleTimeout,
		// Bodies are streamed and read by readBody, which stops at the
		// limit; fasthttp would first buffer a chunked body up to it in a
		// doubling buffer (about three times the limit allocated).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true, // would spool multipart bodies to disk
		MaxRequestBodySize:           s.limit,
		ReadBufferSize:               orDefault(opts.MaxHeaderBytes, DefaultMaxHeaderBytes),
		KeepHijackedConns:            true, // the engine owns upgraded sockets
		NoDefaultServerHeader:        true,
		CloseOnShutdown:              true,
	}, opts.TLS)
	return s, nil
}

// Handler returns the request handler, for serving through another
// fasthttp.Server or calling directly in tests. Served elsewhere, that
// server must set KeepHijackedConns, or fasthttp closes every WebSocket as
// soon as its reader goroutine returns.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handler }

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops the listeners and waits, until ctx ends, for in-flight
// HTTP requests. Upgraded WebSockets are not touched: closing them (with
// 4200) is the engine's Shutdown.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// routes builds the route table.
func (s *Server) routes() *router.Router {
	r := router.New()
	// Redirects would answer API clients with 301/308 they do not follow
	// with a signature; preflight OPTIONS are answered by guard (CORS).
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.HandleMethodNotAllowed = true
	r.NotFound = s.observed("", "", func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, http.StatusNotFound, "route not found")
	})
	r.MethodNotAllowed = s.observed("", "", func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, http.StatusMethodNotAllowed, "method not allowed")
	})
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.log.Error("httpapi: handler panic", "panic", fmt.Sprint(v), "path", string(ctx.Path()))
		writeError(ctx, http.StatusInternalServerError, "internal error")
	}

	s.handle(r, http.MethodGet, "/app/{key}", s.ipLimited(LimitWebSocket, s.rates.WebSocket, s.upgrade))

	api := func(method, pattern string, h apiHandler) {
		s.handle(r, method, pattern, s.ipLimited(LimitAPI, s.rates.API, s.signed(h)))
	}
	api(http.MethodPost, "/apps/{app_id}/events", s.postEvents)
	api(http.MethodPost, "/apps/{app_id}/batch_events", s.postBatchEvents)
	api(http.MethodGet, "/apps/{app_id}/channels", s.reads(s.getChannels))
	api(http.MethodGet, "/apps/{app_id}/channels/{channel_name}", s.reads(s.getChannel))
	api(http.MethodGet, "/apps/{app_id}/channels/{channel_name}/users", s.reads(s.getUsers))
	api(http.MethodPost, "/apps/{app_id}/users/{user_id}/terminate_connections", s.terminateUser)
	api(http.MethodGet, "/apps/{app_id}/channels/{channel_name}/history", s.reads(s.getHistory))
	api(http.MethodGet, "/apps/{app_id}/channels/{channel_name}/history/state", s.reads(s.getHistoryState))
	api(http.MethodPost, "/apps/{app_id}/channels/{channel_name}/history/reset", s.postHistoryReset)
	api(http.MethodPost, "/apps/{app_id}/channels/{channel_name}/history/purge", s.postHistoryPurge)

	for _, m := range []string{http.MethodGet, http.MethodHead} {
		s.handle(r, m, "/up", s.up)
		s.handle(r, m, "/up/{app_id}", s.upApp)
		s.handle(r, m, "/live", s.live)
		s.handle(r, m, "/ready", s.ready)
	}
	s.handle(r, http.MethodGet, "/usage", s.usage)
	return r
}

// guard runs before routing: the body is read within the limit
// (readBody), absurd request targets are refused (checkRequest) and CORS
// applied, preflights answered there. The body comes first so that any
// later refusal leaves nothing unread and the connection reusable.
func (s *Server) guard(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		aerr := s.readBody(ctx)
		if aerr == nil {
			aerr = s.checkRequest(ctx)
		}
		if aerr != nil {
			writeError(ctx, aerr.status, aerr.msg)
			s.observeUnrouted(ctx)
			return
		}
		if s.cors != nil && !bytes.HasPrefix(ctx.Path(), []byte("/app/")) && s.cors.apply(ctx) {
			s.observeUnrouted(ctx)
			return
		}
		next(ctx)
	}
}

// observeUnrouted reports a request answered before routing.
func (s *Server) observeUnrouted(ctx *fasthttp.RequestCtx) {
	if s.obs != nil {
		s.obs.ObserveHTTP("", methodLabel(ctx), "", ctx.Response.StatusCode(), 0,
			len(ctx.Request.Body()), len(ctx.Response.Body()))
	}
}

// reads counts h against the app's max_read_requests_per_second.
func (s *Server) reads(h apiHandler) apiHandler {
	return func(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
		if aerr := s.takeApp(ctx, LimitReadRequests, app.ID, 1, app.MaxReadRequestsPerSecond); aerr != nil {
			return aerr
		}
		return h(ctx, app)
	}
}

// handle registers h for method and pattern, observed under pattern.
func (s *Server) handle(r *router.Router, method, pattern string, h fasthttp.RequestHandler) {
	r.Handle(method, pattern, s.observed(pattern, method, h))
}

// observed wraps h to report the request to the Observer. method is the
// registered method; "" means "take it from the request" (unmatched routes),
// normalised so clients cannot inflate label cardinality.
func (s *Server) observed(route, method string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	if s.obs == nil {
		return h
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		h(ctx)
		m := method
		if m == "" {
			m = methodLabel(ctx)
		}
		s.obs.ObserveHTTP(route, m, observedApp(ctx), ctx.Response.StatusCode(), time.Since(start),
			len(ctx.Request.Body()), len(ctx.Response.Body()))
	}
}

// parseError answers requests fasthttp could not parse (oversized
// headers, slow or malformed request) with the JSON error shape. fasthttp
// then closes the connection with the rest of the request unread, so it
// closes lingeringly, except after a timeout (see refuseBody).
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := parseErrorStatus(err)
	if status != http.StatusRequestTimeout {
		serving.LingerOnClose(ctx.Conn())
	}
	writeError(ctx, status, msg)
	s.observeUnrouted(ctx)
}

// methodLabel returns the request method if it is a standard one, else
// "OTHER".
func methodLabel(ctx *fasthttp.RequestCtx) string {
	for _, m := range [...]string{http.MethodGet, http.MethodPost, http.MethodHead,
		http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		if string(ctx.Method()) == m {
			return m
		}
	}
	return "OTHER"
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
