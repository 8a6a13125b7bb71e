package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// FuzzRequest drives arbitrary request targets, bodies and edge headers
// through the whole handler (guard, CORS, rate limits, router, signature
// check, path and query decoding): it must never panic, never answer 500,
// and every /apps answer must be JSON, errors in the {"error","code"} shape.
func FuzzRequest(f *testing.F) {
	body := `{"name":"e","channel":"a","data":"x"}`
	f.Add("POST", "/apps/1/events?"+protocol.SignRequest("POST", "/apps/1/events", nil, []byte(body), testKey, testSecret, time.Now()), body, "", "")
	f.Add("GET", "/apps/1/channels?"+protocol.SignRequest("GET", "/apps/1/channels",
		map[string]string{"filter_by_prefix": "presence-", "info": "user_count"}, nil, testKey, testSecret, time.Now()), "", "1.2.3.4", "https://a.example.com")
	f.Add("GET", "/apps/%zz/channels/%ff%00/users?auth_key=&&&=&a=%", "", "1.2.3.4, ::1", "")
	f.Add("OPTIONS", "/apps/1/events", "", "", "https://a.example.com")
	f.Add("POST", "/apps/1/batch_events?"+strings.Repeat("a&", 40), `{"batch":[{}]}`, "x,,y", "null")
	f.Add("GET", "/app/"+testKey+"?protocol=7", "", "", "")
	f.Add("GET", "//apps/../apps/1/channels/#?", "", "", "")
	f.Add("GET", "/apps/1/channels/c/history?"+protocol.SignRequest("GET", "/apps/1/channels/c/history",
		map[string]string{"limit": "5", "cursor": "x"}, nil, testKey, testSecret, time.Now()), "", "", "")
	reset := `{"confirm_channel":"c","confirm_operation":"reset","reason":"r"}`
	f.Add("POST", "/apps/1/channels/c/history/reset?"+protocol.SignRequest("POST", "/apps/1/channels/c/history/reset", nil, []byte(reset), testKey, testSecret, time.Now()), reset, "", "")

	apps := testApps()
	eng, err := engine.New(engine.Options{Apps: apps, Shards: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = eng.Shutdown(f.Context()) })
	srv, err := New(Options{Engine: eng, Apps: apps,
		RateLimits: &RateLimits{API: IPRule{Rule: Rule{Max: 1 << 30, Window: time.Minute}, TrustHops: 1}},
		CORS:       &CORS{Origins: []string{"*.example.com"}, Methods: []string{"GET"}, Credentials: true}})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, method, uri, body, xff, origin string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		ctx.Request.SetBodyString(body)
		if xff != "" {
			ctx.Request.Header.Set("X-Forwarded-For", xff)
		}
		if origin != "" {
			ctx.Request.Header.Set("Origin", origin)
		}
		h(&ctx)
		status := ctx.Response.StatusCode()
		if status >= http.StatusInternalServerError && status != http.StatusServiceUnavailable {
			t.Fatalf("%s %q: %d %s", method, uri, status, ctx.Response.Body())
		}
		if !strings.HasPrefix(string(ctx.Path()), "/apps/") || status == http.StatusNoContent {
			return
		}
		var e struct {
			Error  string `json:"error"`
			Code   any    `json:"code"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
			t.Fatalf("%s %q: %d non-JSON %q", method, uri, status, ctx.Response.Body())
		}
		if status == http.StatusUnprocessableEntity && e.Code == "feature_disabled" && e.Status == status && e.Error != "" {
			return // Sockudo's body for history disabled by policy
		}
		if code, _ := e.Code.(float64); status >= 400 && (e.Error == "" || int(code) != status) {
			t.Fatalf("%s %q: %d error body %q", method, uri, status, ctx.Response.Body())
		}
	})
}

// FuzzForwardedFor checks the X-Forwarded-For reader against a plain
// split: the entry hops from the right, when it is an address.
func FuzzForwardedFor(f *testing.F) {
	f.Add("6.6.6.6, 203.0.113.7", "10.0.0.1", 1)
	f.Add("a,,b, ::1 ,", "", 2)
	f.Add("", "1.1.1.1", 3)
	f.Fuzz(func(t *testing.T, h1, h2 string, hops int) {
		if hops < 1 || hops > 64 {
			return
		}
		var vals [][]byte
		var all []string
		for _, h := range []string{h1, h2} {
			if h != "" {
				vals = append(vals, []byte(h))
				all = append(all, strings.Split(h, ",")...)
			}
		}
		got, ok := forwardedFor(vals, hops)
		var want netip.Addr
		wantOK := false
		if len(all) >= hops {
			a, err := netip.ParseAddr(strings.TrimSpace(all[len(all)-hops]))
			want, wantOK = a, err == nil
		}
		if ok != wantOK || ok && got != want {
			t.Fatalf("forwardedFor(%q, %q, %d) = %v %v, want %v %v", h1, h2, hops, got, ok, want, wantOK)
		}
	})
}
