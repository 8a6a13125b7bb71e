package httpapi

import (
	"bytes"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Limiter types, the limiter_type label of rate_limit_triggered_total.
const (
	LimitAPI           = "api"
	LimitWebSocket     = "websocket_connect"
	LimitBackendEvents = "backend_events"
	LimitReadRequests  = "read_requests"
)

// Defaults of the request limits in Options.
const (
	// DefaultMaxHeaderBytes bounds the request line and headers together
	// (431 above it): room for a browser's cookies on the upgrade.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultMaxURLBytes bounds the request target (414 above it).
	DefaultMaxURLBytes = 4 << 10
	// DefaultMaxQueryParams bounds the query parameters of any request
	// (400 above it); a signed API request carries about seven.
	DefaultMaxQueryParams = 32
)

// RateLimitObserver is told about every refusal of a limiter, for the
// rate_limit_triggered_total metric. limiterType is one of the Limit*
// constants. Implementations must be safe for concurrent use and fast.
type RateLimitObserver interface {
	RateLimited(limiterType string)
}

// IPRule is a per-client-IP limit. TrustHops is how many proxies in front
// of the server append to X-Forwarded-For: the client is the address
// TrustHops from the right; 0 uses the peer address and ignores the header,
// so a client cannot choose its own key.
type IPRule struct {
	Rule
	TrustHops int
}

// RateLimits are the per-client-IP limits of the rate_limiter section; a
// zero Max turns one off.
type RateLimits struct {
	// API limits /apps/* requests (limiter_type api).
	API IPRule
	// WebSocket limits upgrades on /app/{key}, refused with 429 before the
	// handshake (limiter_type websocket_connect).
	WebSocket IPRule
}

// ipLimited wraps h with the per-client-IP rule r counted as typ.
func (s *Server) ipLimited(typ string, r IPRule, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	if r.Max <= 0 || r.Window <= 0 {
		return h
	}
	return func(ctx *fasthttp.RequestCtx) {
		key := typ + "|" + clientIP(ctx, r.TrustHops)
		if aerr := s.take(ctx, typ, key, 1, r.Rule); aerr != nil {
			writeError(ctx, aerr.status, aerr.msg)
			return
		}
		h(ctx)
	}
}

// takeApp counts n units of an app's per-second quota max (0 = none).
func (s *Server) takeApp(ctx *fasthttp.RequestCtx, typ, appID string, n, max int) *apiError {
	if max <= 0 {
		return nil
	}
	return s.take(ctx, typ, typ+"|"+appID, n, Rule{Max: max, Window: time.Second})
}

// take asks the limiter for n units of key, sets the X-RateLimit headers
// and, over the limit, returns the 429 to answer and counts the refusal.
// A limiter error lets the request through (see Limiter).
func (s *Server) take(ctx *fasthttp.RequestCtx, typ, key string, n int, r Rule) *apiError {
	d, err := s.limiter.Take(key, n, r)
	if err != nil {
		s.log.Warn("rate limiter failed: request allowed", "limiter_type", typ, "err", err)
		return nil
	}
	h := &ctx.Response.Header
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	if d.Allowed {
		return nil
	}
	h.Set("Retry-After", strconv.Itoa(retryAfter(d.Reset)))
	if s.limitObs != nil {
		s.limitObs.RateLimited(typ)
	}
	return &apiError{status: http.StatusTooManyRequests, msg: "Too Many Requests"}
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// clientIP is the rate-limit key of the request's client. IPv6 clients are
// keyed by their /64, which one subscriber usually owns whole, so rotating
// addresses inside it does not multiply the budget.
func clientIP(ctx *fasthttp.RequestCtx, trustHops int) string {
	var addr netip.Addr
	if trustHops > 0 {
		addr, _ = forwardedFor(ctx.Request.Header.PeekAll(fasthttp.HeaderXForwardedFor), trustHops)
	}
	if !addr.IsValid() {
		addr, _ = netip.AddrFromSlice(ctx.RemoteIP())
	}
	return ipKey(addr)
}

func ipKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// forwardedFor returns the address hops entries from the right of the
// X-Forwarded-For values (several headers read as one comma-separated
// list). Fewer entries than hops, or an entry that is not an address, is
// no answer: the caller then keys by the peer, which over-limits a
// misconfigured proxy rather than letting clients pick their key.
func forwardedFor(values [][]byte, hops int) (netip.Addr, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			j := bytes.LastIndexByte(v, ',')
			if hops--; hops == 0 {
				a, err := netip.ParseAddr(string(bytes.TrimSpace(v[j+1:])))
				return a, err == nil
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return netip.Addr{}, false
}

// checkRequest refuses requests whose target is absurd, before routing:
// a URL over the limit (414) or too many query parameters (400). Header
// size is fasthttp's ReadBufferSize (431, in parseError).
func (s *Server) checkRequest(ctx *fasthttp.RequestCtx) *apiError {
	uri := ctx.Request.Header.RequestURI()
	if len(uri) > s.maxURL {
		return &apiError{status: http.StatusRequestURITooLong, msg: "request URL too long"}
	}
	if q := ctx.URI().QueryString(); len(q) > 0 && bytes.Count(q, []byte{'&'})+1 > s.maxQuery {
		return badRequest("too many query parameters: at most " + strconv.Itoa(s.maxQuery))
	}
	return nil
}
