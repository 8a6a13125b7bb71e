package expose

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// unmatchedRoute is the path label of requests no route matched (the
// adapter reports them with route ""), so a scanner cannot create series.
const unmatchedRoute = "unmatched"

// httpKey names one http_api_requests_total series.
type httpKey struct {
	route, method string
	status        int
}

// httpMetrics are the HTTP API series. Series are looked up in maps under
// a read lock with struct keys, which allocates nothing; a series is
// created once, on its first request, under the write lock. Label values
// are bounded: routes are patterns, methods are normalised by the adapter
// and status codes are few.
type httpMetrics struct {
	s        *Server
	mu       sync.RWMutex
	requests map[httpKey]*metrics.Counter
	duration map[string]*metrics.PrometheusHistogram

	// The Sockudo-compatible totals count REST API requests per app, as
	// Sockudo does: only requests naming an app of this Server. There is
	// no series without app_id, so sum by (app_id) means what it says.
	perApp atomic.Pointer[map[string]*appHTTP] // copy-on-write

	// Body bytes of every HTTP request, for the process_network totals.
	rxBytes atomic.Uint64
	txBytes atomic.Uint64

	authFailed atomic.Uint64 // 401 answers
	client     atomic.Uint64 // 4xx answers
	server     atomic.Uint64 // 5xx answers
}

// appHTTP is one app's Sockudo-compatible HTTP totals.
type appHTTP struct{ calls, rxBytes, txBytes *metrics.Counter }

// addApp creates app id's series; the caller holds Server.appsMu.
func (h *httpMetrics) addApp(id, label string) {
	old := *h.perApp.Load()
	if old[id] != nil {
		return
	}
	next := make(map[string]*appHTTP, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	series := func(base string) *metrics.Counter { return h.s.set.NewCounter(h.s.name(base) + "{" + label + "}") }
	next[id] = &appHTTP{series("http_calls_received_total"), series("http_received_bytes"), series("http_transmitted_bytes")}
	h.perApp.Store(&next)
}

// route is one parsed Options.Routes entry.
type route struct{ method, pattern string }

func parseRoutes(in []string) ([]route, error) {
	out := make([]route, 0, len(in))
	for _, r := range in {
		method, pattern, ok := strings.Cut(strings.TrimSpace(r), " ")
		if !ok {
			method, pattern = "GET", method
		}
		pattern = strings.TrimSpace(pattern)
		if !strings.HasPrefix(pattern, "/") || method == "" || method != strings.ToUpper(method) {
			return nil, fmt.Errorf("expose: route %q is not \"METHOD /pattern\"", r)
		}
		out = append(out, route{method, pattern})
	}
	return out, nil
}

func (h *httpMetrics) init(s *Server, routes []route) {
	h.s = s
	h.requests = make(map[httpKey]*metrics.Counter)
	h.duration = make(map[string]*metrics.PrometheusHistogram)
	h.perApp.Store(&map[string]*appHTTP{})
	for _, r := range routes {
		h.counter(httpKey{r.pattern, r.method, 200})
		h.histogram(r.pattern)
	}
}

// ObserveHTTP counts one HTTP request on the API port. It satisfies the
// httpapi adapter's Observer port. appID is the app of a REST API request
// when the app store knows it, "" for any other request (WebSocket
// upgrades, health checks, unknown apps): those count in
// http_api_requests_total only, as do apps this Server was not told
// about, so no request creates a series.
func (s *Server) ObserveHTTP(route, method, appID string, status int, dur time.Duration, reqBytes, respBytes int) {
	if route == "" {
		route = unmatchedRoute
	}
	reqBytes, respBytes = max(reqBytes, 0), max(respBytes, 0)
	h := &s.http
	h.counter(httpKey{route, method, status}).Inc()
	h.histogram(route).Update(dur.Seconds())
	h.rxBytes.Add(uint64(reqBytes))
	h.txBytes.Add(uint64(respBytes))
	if a := (*h.perApp.Load())[appID]; a != nil {
		a.calls.Inc()
		a.rxBytes.Add(reqBytes)
		a.txBytes.Add(respBytes)
	}
	switch {
	case status == 401:
		h.authFailed.Add(1)
		h.client.Add(1)
	case status >= 500:
		h.server.Add(1)
	case status >= 400:
		h.client.Add(1)
	}
}

func (h *httpMetrics) counter(k httpKey) *metrics.Counter {
	h.mu.RLock()
	c := h.requests[k]
	h.mu.RUnlock()
	if c != nil {
		return c
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c = h.requests[k]; c == nil {
		name := h.s.name("http_api_requests_total") + "{" + labelPair("path", k.route) + "," +
			labelPair("method", k.method) + "," + labelPair("status_code", strconv.Itoa(k.status)) + "}"
		c = h.s.set.NewCounter(name)
		h.requests[k] = c
	}
	return c
}

func (h *httpMetrics) histogram(route string) *metrics.PrometheusHistogram {
	h.mu.RLock()
	hg := h.duration[route]
	h.mu.RUnlock()
	if hg != nil {
		return hg
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if hg = h.duration[route]; hg == nil {
		name := h.s.name("http_api_request_duration_seconds") + "{" + labelPair("path", route) + "}"
		hg = h.s.set.NewPrometheusHistogramExt(name, requestBuckets)
		h.duration[route] = hg
	}
	return hg
}
