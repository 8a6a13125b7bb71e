package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.CORS = &CORS{Origins: []string{"https://app.example.com", "*.example.org"},
			Methods: []string{"GET", "POST", "OPTIONS"}, Headers: []string{"Authorization", "Content-Type"}, Credentials: true}
	})
	preflight := func(origin string) httpResp {
		return ts.send(t, http.MethodOptions, "/apps/1/events", "", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
	}
	r := preflight("https://app.example.com")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" ||
		r.header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" || r.header.Get("Vary") != "Origin" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := preflight("https://a.b.example.org"); r.status != http.StatusNoContent {
		t.Fatalf("pattern preflight: %d", r.status)
	}
	if r := preflight("https://evil.example.com"); r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", r.status, r.header)
	}
	// A simple request gets the headers with its answer; a foreign origin
	// gets none, so the browser hides the answer.
	path := "/apps/1/channels?" + signedQuery(http.MethodGet, "/apps/1/channels")
	r = ts.send(t, http.MethodGet, path, "", map[string]string{"Origin": "https://app.example.com"})
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("simple request: %d %v", r.status, r.header)
	}
	r = ts.send(t, http.MethodGet, path, "", map[string]string{"Origin": "https://evil.example.com"})
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign simple request: %d %v", r.status, r.header)
	}
	// Without an Origin nothing changes; OPTIONS is then no route.
	if r := ts.send(t, http.MethodOptions, "/apps/1/events", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("OPTIONS without Origin: %d", r.status)
	}
}

func TestCORSWildcardNeverSendsCredentials(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.CORS = &CORS{Origins: []string{"*"}, Methods: []string{"GET"}, Credentials: true}
	})
	r := ts.send(t, http.MethodOptions, "/apps/1/channels", "", map[string]string{"Origin": "https://any.test", "Access-Control-Request-Method": "GET"})
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard preflight: %d %v", r.status, r.header)
	}
}

func TestRequestTargetLimits(t *testing.T) {
	ts := startServer(t, nil)
	f := func(pathQuery string, hdr map[string]string, want int) {
		t.Helper()
		r := ts.send(t, http.MethodGet, pathQuery, "", hdr)
		requireStatus(t, apiResponse{status: r.status, body: r.body, ctype: r.header.Get("Content-Type")}, want)
	}
	many := strings.Repeat("a=1&", DefaultMaxQueryParams) + "b=2"
	f("/apps/1/channels?"+many, nil, http.StatusBadRequest)
	f("/app/"+testKey+"?"+many, nil, http.StatusBadRequest)
	f("/apps/1/channels?x="+strings.Repeat("a", DefaultMaxURLBytes), nil, http.StatusRequestURITooLong)
	f("/up", map[string]string{"X-Big": strings.Repeat("b", DefaultMaxHeaderBytes)}, http.StatusRequestHeaderFieldsTooLarge)
	// Within the limits the request reaches its route (401: unsigned).
	f("/apps/1/channels?"+strings.Repeat("a=1&", DefaultMaxQueryParams-1)+"b=2", nil, http.StatusUnauthorized)
}
