package httpapi

import (
	"net"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
)

// RedirectToHTTPS is the handler of ssl.redirect_http's plain listener:
// every request is sent to the same host, path and query over https on
// port. GET and HEAD get 301; other methods 308, which keeps the method
// and body, so a misconfigured backend's POST is not silently turned into
// a GET.
func RedirectToHTTPS(port int) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		host := string(ctx.Host())
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1] // an IPv6 literal without a port
		}
		if !validHost(host) {
			writeError(ctx, http.StatusBadRequest, "missing or invalid Host header")
			return
		}
		if port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "[" + host + "]"
		}
		status := http.StatusMovedPermanently
		if !ctx.IsGet() && !ctx.IsHead() {
			status = http.StatusPermanentRedirect
		}
		ctx.Response.Header.Set("Location", "https://"+host+string(ctx.RequestURI()))
		ctx.SetStatusCode(status)
	}
}

// validHost accepts DNS names and IP literals (brackets already removed),
// so nothing but a host can reach the Location header.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}
