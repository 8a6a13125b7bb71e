package httpapi

import (
	"github.com/sockudo/sockudo-go/protocol"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// CORS configures the CORS headers of the HTTP API (the cors section).
type CORS struct {
	// Origins are exact origins ("https://app.example.com"), patterns
	// matching subdomains on whole labels ("*.example.com", optionally with
	// a scheme), or "*" for any origin.
	Origins []string
	// Methods answer preflights in Access-Control-Allow-Methods.
	Methods []string
	// Headers answer preflights in Access-Control-Allow-Headers.
	Headers []string
	// Credentials sends Access-Control-Allow-Credentials: true. It is
	// ignored when Origins holds "*": browsers refuse credentials with a
	// wildcard origin, and echoing every origin with credentials would let
	// any site read authenticated answers.
	Credentials bool
}

// cors is a CORS with its header values joined once.
type cors struct {
	origins     []string
	any         bool
	methods     string
	headers     string
	credentials bool
}

func newCORS(c *CORS) *cors {
	if c == nil || len(c.Origins) == 0 {
		return nil
	}
	out := &cors{
		origins:     c.Origins,
		methods:     strings.Join(c.Methods, ", "),
		headers:     strings.Join(c.Headers, ", "),
		credentials: c.Credentials,
	}
	for _, o := range c.Origins {
		if o == "*" {
			out.any, out.credentials = true, false
		}
	}
	return out
}

// apply sets the CORS headers of a request carrying an Origin and answers
// preflights (OPTIONS with Access-Control-Request-Method) itself: 204 for
// an allowed origin, 403 otherwise. It reports whether the request is
// answered.
func (c *cors) apply(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return false
	}
	preflight := ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0
	h := &ctx.Response.Header
	switch {
	case c.any:
		h.Set("Access-Control-Allow-Origin", "*")
	case originMatches(c.origins, string(origin)):
		h.SetBytesV("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if c.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	default:
		if preflight {
			writeError(ctx, http.StatusForbidden, "origin not allowed")
		}
		return preflight
	}
	if !preflight {
		return false
	}
	if c.methods != "" {
		h.Set("Access-Control-Allow-Methods", c.methods)
	}
	if c.headers != "" {
		h.Set("Access-Control-Allow-Headers", c.headers)
	}
	h.Set("Access-Control-Max-Age", "600")
	ctx.SetStatusCode(http.StatusNoContent)
	return true
}

// originMatches matches origin against exact origins and *.example.com
// patterns on whole host labels; a pattern with a scheme requires it too.
// It is the same check as the engine's WebSocket origin check.
func originMatches(allowed []string, origin string) bool {
	return protocol.OriginMatches(allowed, origin)
}
