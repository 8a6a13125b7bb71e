package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
)

// Health answers are plain text, as Sockudo's, so existing load-balancer
// checks that match the body keep working.
const (
	bodyOK       = "OK"
	bodyDraining = "DRAINING"
	bodyNotFound = "NOT_FOUND"
	bodyDegraded = "DEGRADED"
	bodyError    = "ERROR"
)

func writeText(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// up serves GET /up: 200 while serving, 503 once draining, so a load
// balancer stops sending traffic before the sockets are closed. An app
// store that reports its health (a database) adds two answers: DEGRADED
// (200: its database is unreachable but apps are still served from the
// cache or the config file) and ERROR (503: no app can be served).
func (s *Server) up(ctx *fasthttp.RequestCtx) {
	if s.eng.Draining() {
		writeText(ctx, http.StatusServiceUnavailable, bodyDraining)
		return
	}
	switch s.storeState() {
	case engine.StoreDegraded:
		writeText(ctx, http.StatusOK, bodyDegraded)
	case engine.StoreDown:
		writeText(ctx, http.StatusServiceUnavailable, bodyError)
	default:
		writeText(ctx, http.StatusOK, bodyOK)
	}
}

// storeState is the app store's health; stores that cannot fail are OK.
func (s *Server) storeState() engine.StoreState {
	if h, ok := s.apps.(engine.StoreHealth); ok {
		return h.StoreState()
	}
	return engine.StoreOK
}

// upApp serves GET /up/{app_id}: like /up, 404 for an unknown app and 503
// ERROR when the store cannot say whether the app exists.
func (s *Server) upApp(ctx *fasthttp.RequestCtx) {
	id, ok := pathParam(ctx, "app_id")
	if !ok {
		writeText(ctx, http.StatusNotFound, bodyNotFound)
		return
	}
	_, err := s.apps.AppByID(id)
	switch {
	case errors.Is(err, engine.ErrAppNotFound):
		writeText(ctx, http.StatusNotFound, bodyNotFound)
		return
	case err != nil:
		ctx.Response.Header.Set("Retry-After", storeRetryAfter)
		writeText(ctx, http.StatusServiceUnavailable, bodyError)
		return
	}
	s.up(ctx) // not reported to the Observer under the app: not a REST API call
}

// live serves GET /live: the process answers, nothing more.
func (s *Server) live(ctx *fasthttp.RequestCtx) { writeText(ctx, http.StatusOK, bodyOK) }

// ready serves GET /ready: 503 while draining (Soketi's endpoint). It does
// not report the app store: its body stays OK for checks that match it,
// and a database outage is the same on every node, so taking nodes out
// of the balancer for it would only add an outage.
func (s *Server) ready(ctx *fasthttp.RequestCtx) {
	if s.eng.Draining() {
		writeText(ctx, http.StatusServiceUnavailable, bodyDraining)
		return
	}
	writeText(ctx, http.StatusOK, bodyOK)
}

// memoryUsage is the body of GET /usage: system memory in bytes, as
// Sockudo reports it.
type memoryUsage struct {
	Memory struct {
		Free    uint64  `json:"free"`
		Used    uint64  `json:"used"`
		Total   uint64  `json:"total"`
		Percent float64 `json:"percent"`
	} `json:"memory"`
}

// usage serves GET /usage from /proc/meminfo.
func (s *Server) usage(ctx *fasthttp.RequestCtx) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		writeError(ctx, http.StatusServiceUnavailable, "memory usage is not available")
		return
	}
	writeJSON(ctx, http.StatusOK, parseMeminfo(b))
}

// parseMeminfo reads MemTotal and MemAvailable (MemFree on kernels too old
// to have it); "free" is what can be allocated without swapping.
func parseMeminfo(b []byte) memoryUsage {
	var total, free, avail uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(string(fields[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(fields[0]) {
		case "MemTotal:":
			total = kb * 1024
		case "MemFree:":
			free = kb * 1024
		case "MemAvailable:":
			avail = kb * 1024
		}
	}
	if avail > 0 {
		free = avail
	}
	var u memoryUsage
	u.Memory.Total = total
	u.Memory.Free = min(free, total)
	u.Memory.Used = total - u.Memory.Free
	if total > 0 {
		u.Memory.Percent = float64(u.Memory.Used) * 100 / float64(total)
	}
	return u
}
