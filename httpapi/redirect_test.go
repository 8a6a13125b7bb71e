package httpapi

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestRedirectToHTTPS(t *testing.T) {
	for _, tc := range []struct {
		port         int
		method, host string
		uri          string
		status       int
		location     string
	}{
		{6001, "GET", "example.com:80", "/app/key?protocol=7", 301, "https://example.com:6001/app/key?protocol=7"},
		{443, "GET", "example.com", "/apps/1/channels", 301, "https://example.com/apps/1/channels"},
		{443, "POST", "example.com", "/apps/1/events?auth_signature=x", 308, "https://example.com/apps/1/events?auth_signature=x"},
		{443, "GET", "[::1]:80", "/", 301, "https://[::1]/"},
		{8443, "HEAD", "[::1]", "/up", 301, "https://[::1]:8443/up"},
		{443, "GET", "", "/", 400, ""},
		{443, "GET", "evil.com/x", "/", 400, ""},
	} {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(tc.method)
		ctx.Request.SetRequestURI(tc.uri)
		ctx.Request.Header.SetHost(tc.host)
		RedirectToHTTPS(tc.port)(&ctx)
		if got := ctx.Response.StatusCode(); got != tc.status {
			t.Errorf("%s %s%s: status %d, want %d", tc.method, tc.host, tc.uri, got, tc.status)
		}
		if got := string(ctx.Response.Header.Peek("Location")); got != tc.location {
			t.Errorf("%s %s%s: Location %q, want %q", tc.method, tc.host, tc.uri, got, tc.location)
		}
	}
}
