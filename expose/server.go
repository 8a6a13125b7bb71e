package expose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// The Server is the engine's Observer.
var _ engine.Observer = (*Server)(nil)

// DefaultPrefix is the metric name prefix when Options.Prefix is empty;
// it is Sockudo's default (metrics.prometheus.prefix).
const DefaultPrefix = "sockudo_"

// ContentType is the Content-Type of GET /metrics: Prometheus text 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Timeouts of the metrics listener. A scrape is one small request, so
// they are short; idle keep-alive connections from Prometheus are kept a
// little longer than its usual 15 s interval.
const (
	readTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	idleTimeout  = 60 * time.Second
)

// Options configures a Server. The zero value of every field is usable.
type Options struct {
	// Engine is read at scrape time (AppSnapshot, NodeSnapshot) and for
	// /ready. It may be nil and attached later with Attach, because the
	// engine is built with the Server as its Observer.
	Engine *engine.Engine
	// AppIDs lists every configured app, so its per-app series exist, at
	// zero, from start-up. Apps added later are announced with AddApp.
	AppIDs []string
	// Routes are the HTTP API routes whose http_api_requests_total and
	// http_api_request_duration_seconds series are created at start-up,
	// each as "METHOD /pattern" (a bare "/pattern" means GET), e.g.
	// "POST /apps/{app_id}/events". Each gets its series for status 200;
	// other methods and status codes appear when first observed. nil means
	// DefaultRoutes().
	Routes []string
	// Prefix is prepended to every metric name except the process_ and
	// go_ families; "" means DefaultPrefix.
	Prefix string
	// Logger receives the listener's errors; nil discards them.
	Logger *slog.Logger
	// Pprof serves Go's profiles under /debug/pprof/ on this listener (off
	// by default: profiles expose internals and cost CPU while taken).
	Pprof bool
}

// DefaultRoutes returns the routes of the Pusher HTTP API and the health
// endpoints as the httpapi adapter registers them. A new slice each call.
func DefaultRoutes() []string {
	return []string{
		"POST /apps/{app_id}/events",
		"POST /apps/{app_id}/batch_events",
		"GET /apps/{app_id}/channels",
		"GET /apps/{app_id}/channels/{channel_name}",
		"GET /apps/{app_id}/channels/{channel_name}/users",
		"POST /apps/{app_id}/users/{user_id}/terminate_connections",
		"GET /up", "GET /up/{app_id}", "GET /live", "GET /ready", "GET /usage",
	}
}

// Server owns one node's metrics and serves them, with /up and /ready, on
// its own listener. Build it with New. It is safe for concurrent use, keeps
// every metric in its own metrics.Set, and several Servers may run in one
// process.
//
// Besides serving, a Server is the observer of the other layers: it
// satisfies engine.Observer (ObserveBroadcast), the httpapi Observer
// (ObserveHTTP), and the ports the queue, adapter and rate-limit layers
// will feed (see ports.go).
type Server struct {
	prefix   string
	log      *slog.Logger
	set      *metrics.Set
	families map[string]family // prefixed name → family
	eng      atomic.Pointer[engine.Engine]

	appsMu sync.Mutex
	apps   atomic.Pointer[[]appLabel] // copy-on-write

	http    httpMetrics
	obs     observed
	handler fasthttp.RequestHandler
	pprof   bool
	srv     *serving.Server
	store   engine.StoreHealth // nil: the app store cannot fail
}

// appLabel is one app and its pre-rendered label pair.
type appLabel struct {
	id    string
	label string // app_id="…"
}

// New validates opts and creates every metric, zero-valued; it does not
// listen yet.
func New(opts Options) (*Server, error) {
	s := &Server{
		prefix: opts.Prefix,
		log:    opts.Logger,
		set:    metrics.NewSet(),
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if !validName(s.prefix) {
		return nil, fmt.Errorf("expose: invalid metric prefix %q", s.prefix)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	routes := opts.Routes
	if routes == nil {
		routes = DefaultRoutes()
	}
	parsed, err := parseRoutes(routes)
	if err != nil {
		return nil, err
	}
	s.families = s.familyIndex()
	s.http.init(s, parsed)
	empty := []appLabel{}
	s.apps.Store(&empty)
	for _, id := range opts.AppIDs {
		s.AddApp(id)
	}
	if opts.Engine != nil {
		s.Attach(opts.Engine)
	}
	s.obs.init(s)
	s.set.RegisterMetricsWriter(s.writeEngine)
	s.handler = s.route
	s.pprof = opts.Pprof
	s.srv = serving.New(&fasthttp.Server{
		Handler:               s.handler,
		Logger:                serving.Logger(s.log, "expose: "),
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
	}, nil)
	return s, nil
}

// familyIndex maps every prefixed name to its family.
func (s *Server) familyIndex() map[string]family {
	m := make(map[string]family, len(catalog)+len(processCatalog))
	for _, f := range catalog {
		f.name = s.prefix + f.name
		m[f.name] = f
	}
	for _, f := range processCatalog {
		m[f.name] = f
	}
	return m
}

// name returns the prefixed metric name.
func (s *Server) name(base string) string { return s.prefix + base }

// Attach sets the engine read at scrape time, for the wiring order in
// which the engine is built after the Server (it takes the Server as its
// Observer). Until then engine series read zero and /ready answers 503.
func (s *Server) Attach(e *engine.Engine) { s.eng.Store(e) }

// AddApp creates the per-app series of app id, zero-valued, if they do
// not exist yet. Apps in Options.AppIDs need not be added again.
func (s *Server) AddApp(id string) {
	s.appsMu.Lock()
	defer s.appsMu.Unlock()
	old := *s.apps.Load()
	for _, a := range old {
		if a.id == id {
			return
		}
	}
	label := labelPair("app_id", id)
	next := append(old[:len(old):len(old)], appLabel{id: id, label: label})
	s.apps.Store(&next)
	s.http.addApp(id, label)
}

// WritePrometheus writes every metric to w in the Prometheus text format
// 0.0.4, with # HELP and # TYPE lines.
func (s *Server) WritePrometheus(w io.Writer) {
	var raw bytes.Buffer
	s.set.WritePrometheus(&raw)
	metrics.WriteProcessMetrics(&raw)
	metrics.WriteFDMetrics(&raw)
	_, _ = w.Write(s.annotate(nil, raw.Bytes()))
}

// Handler returns the request handler: GET /metrics, /up and /ready.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handler }

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		writeText(ctx, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		return
	}
	switch string(ctx.Path()) {
	case "/metrics":
		ctx.SetContentType(ContentType)
		s.WritePrometheus(ctx)
	case "/up":
		s.health(ctx, false)
	case "/ready":
		s.health(ctx, true)
	default:
		if s.pprof && strings.HasPrefix(string(ctx.Path()), "/debug/pprof/") {
			pprofhandler.PprofHandler(ctx)
			return
		}
		writeText(ctx, http.StatusNotFound, "NOT_FOUND")
	}
}

// health answers like the API port's /up and /ready: 503 while the engine
// drains. /ready is also 503 before an engine is attached.
func (s *Server) health(ctx *fasthttp.RequestCtx, ready bool) {
	e := s.eng.Load()
	switch {
	case e != nil && e.Draining():
		writeText(ctx, http.StatusServiceUnavailable, "DRAINING")
	case e == nil && ready:
		writeText(ctx, http.StatusServiceUnavailable, "STARTING")
	case !ready && s.storeState() == engine.StoreDegraded:
		writeText(ctx, http.StatusOK, "DEGRADED")
	case !ready && s.storeState() == engine.StoreDown:
		writeText(ctx, http.StatusServiceUnavailable, "ERROR")
	default:
		writeText(ctx, http.StatusOK, "OK")
	}
}

// AttachStore makes /up report the app store as the API port's /up does:
// DEGRADED (200) or ERROR (503). nil (a store that cannot fail) reports
// nothing. Call it before Serve.
func (s *Server) AttachStore(h engine.StoreHealth) { s.store = h }

// storeState is the app store's health; OK without a StoreHealth.
func (s *Server) storeState() engine.StoreState {
	if s.store == nil {
		return engine.StoreOK
	}
	return s.store.StoreState()
}

func writeText(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown closes the listeners and waits, until ctx ends, for scrapes in
// flight. Metrics stay readable through WritePrometheus.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
