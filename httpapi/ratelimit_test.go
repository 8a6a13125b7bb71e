package httpapi

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/protocol"
)

// fakeClock drives a MemoryLimiter's time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClockedLimiter(maxKeys int) (*MemoryLimiter, *fakeClock) {
	l := NewMemoryLimiter(maxKeys)
	c := &fakeClock{t: time.Unix(1_000_000, 0)}
	l.now = c.now
	return l, c
}

func TestMemoryLimiterFixedWindow(t *testing.T) {
	l, clock := newClockedLimiter(0)
	rule := Rule{Max: 3, Window: 10 * time.Second}
	take := func(key string, n int, allowed bool, remaining int, reset time.Duration) {
		t.Helper()
		d, err := l.Take(key, n, rule)
		if err != nil || d.Allowed != allowed || d.Remaining != remaining || d.Limit != 3 || d.Reset != reset {
			t.Fatalf("Take(%q, %d) = %+v, %v; want allowed %v remaining %d reset %v", key, n, d, err, allowed, remaining, reset)
		}
	}
	take("a", 1, true, 2, 10*time.Second)
	clock.add(4 * time.Second)
	take("a", 2, true, 0, 6*time.Second)
	take("a", 1, false, 0, 6*time.Second)
	take("b", 3, true, 0, 10*time.Second)  // keys are independent
	take("c", 4, false, 0, 10*time.Second) // more than Max at once: never
	clock.add(6 * time.Second)
	take("a", 3, true, 0, 10*time.Second) // a new window
	if d, _ := l.Take("x", 100, Rule{}); !d.Allowed {
		t.Fatal("a zero rule refused")
	}
}

func TestMemoryLimiterBoundedMemory(t *testing.T) {
	l, clock := newClockedLimiter(limiterShards * 4)
	rule := Rule{Max: 200, Window: time.Second}
	for i := range 10_000 {
		if _, err := l.Take("ip"+strconv.Itoa(i), 1, rule); err != nil {
			t.Fatal(err)
		}
	}
	// Each shard holds at most its share plus its overflow window.
	if n := l.Len(); n > limiterShards*5 {
		t.Fatalf("%d windows tracked, want at most %d", n, limiterShards*5)
	}
	// The overflow window is shared: unknown keys run out together.
	refused := 0
	for i := range 10_000 {
		if d, _ := l.Take("late"+strconv.Itoa(i), 1, rule); !d.Allowed {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("overflowing keys were never refused")
	}
	// Idle windows expire: the next touch of each shard sweeps them.
	clock.add(sweepEvery + time.Second)
	for i := range 1000 {
		_, _ = l.Take("fresh"+strconv.Itoa(i), 1, rule)
	}
	if n := l.Len(); n > 1000 {
		t.Fatalf("%d windows after expiry, want ≤ 1000 fresh ones", n)
	}
}

func TestForwardedFor(t *testing.T) {
	f := func(hops int, want string, headers ...string) {
		t.Helper()
		var vals [][]byte
		for _, h := range headers {
			vals = append(vals, []byte(h))
		}
		got, ok := forwardedFor(vals, hops)
		if want == "" {
			if ok {
				t.Fatalf("forwardedFor(%q, %d) = %v, want none", headers, hops, got)
			}
			return
		}
		if !ok || got != netip.MustParseAddr(want) {
			t.Fatalf("forwardedFor(%q, %d) = %v %v, want %s", headers, hops, got, ok, want)
		}
	}
	f(1, "203.0.113.7", "203.0.113.7")
	f(1, "203.0.113.7", "6.6.6.6, 203.0.113.7") // the client's own entry is ignored
	f(2, "203.0.113.7", "6.6.6.6, 203.0.113.7 ,10.0.0.2")
	f(2, "203.0.113.7", "6.6.6.6, 203.0.113.7", "10.0.0.2") // headers join
	f(1, "2001:db8::1", "2001:db8::1")
	f(3, "", "203.0.113.7, 10.0.0.2") // fewer entries than proxies
	f(1, "", "not-an-ip")
	f(1, "", "")
	f(1, "", "1.2.3.4,")
	f(1, "")
}

func TestClientIPKeys(t *testing.T) {
	f := func(peer, xff string, hops int, want string) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Init(&fasthttp.Request{}, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(peer)), nil)
		if xff != "" {
			ctx.Request.Header.Set("X-Forwarded-For", xff)
		}
		if got := clientIP(&ctx, hops); got != want {
			t.Fatalf("clientIP(peer %s, xff %q, hops %d) = %q, want %q", peer, xff, hops, got, want)
		}
	}
	f("198.51.100.1:5000", "6.6.6.6", 0, "198.51.100.1") // 0 hops: header ignored
	f("10.0.0.2:5000", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7")
	f("10.0.0.2:5000", "garbage", 1, "10.0.0.2")
	f("[2001:db8:1:2:3::4]:5000", "", 0, "2001:db8:1:2::/64")
	f("[::ffff:192.0.2.1]:5000", "", 0, "192.0.2.1")
}

func TestRetryAfterWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 59 * time.Second: 59} {
		if got := retryAfter(d); got != want {
			t.Fatalf("retryAfter(%v) = %d, want %d", d, got, want)
		}
	}
}

// limitCounter is a RateLimitObserver.
type limitCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *limitCounter) RateLimited(typ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[typ]++
}

func (c *limitCounter) get(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[typ]
}

// httpResp is an answer with its headers.
type httpResp struct {
	status int
	body   string
	header http.Header
}

// send makes a request with extra headers.
func (ts *testServer) send(t *testing.T, method, pathQuery, body string, hdr map[string]string) httpResp {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.addr+pathQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResp{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// require429 checks a refusal's status, body and headers.
func require429(t *testing.T, r httpResp, limit int) {
	t.Helper()
	requireStatus(t, apiResponse{status: r.status, body: r.body, ctype: r.header.Get("Content-Type")}, http.StatusTooManyRequests)
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.header.Get("X-RateLimit-Limit") != strconv.Itoa(limit) || r.header.Get("X-RateLimit-Remaining") != "0" || err != nil || ra < 1 {
		t.Fatalf("429 headers %v, want limit %d, remaining 0, Retry-After ≥ 1", r.header, limit)
	}
}

func TestAPIRateLimitPerIP(t *testing.T) {
	obs := &limitCounter{}
	ts := startServer(t, func(o *Options) {
		o.LimitObserver = obs
		o.RateLimits = &RateLimits{API: IPRule{Rule: Rule{Max: 3, Window: time.Minute}, TrustHops: 1}}
	})
	path := "/apps/1/channels?" + signedQuery(http.MethodGet, "/apps/1/channels")
	from := func(ip string) httpResp {
		return ts.send(t, http.MethodGet, path, "", map[string]string{"X-Forwarded-For": "6.6.6.6, " + ip})
	}
	for i := range 3 {
		r := from("203.0.113.1")
		if r.status != http.StatusOK || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d %v %s", i, r.status, r.header, r.body)
		}
	}
	require429(t, from("203.0.113.1"), 3)
	if r := from("203.0.113.2"); r.status != http.StatusOK {
		t.Fatalf("another client refused: %d %s", r.status, r.body)
	}
	// Health checks are never limited.
	if r := ts.send(t, http.MethodGet, "/up", "", map[string]string{"X-Forwarded-For": "203.0.113.1"}); r.status != http.StatusOK {
		t.Fatalf("/up: %d", r.status)
	}
	if got := obs.get(LimitAPI); got != 1 {
		t.Fatalf("api refusals counted %d, want 1", got)
	}
}

func TestWebSocketRateLimitBeforeHandshake(t *testing.T) {
	obs := &limitCounter{}
	ts := startServer(t, func(o *Options) {
		o.LimitObserver = obs
		o.RateLimits = &RateLimits{WebSocket: IPRule{Rule: Rule{Max: 2, Window: time.Minute}}}
	})
	// Subscribing also orders the engine's poller registration before the
	// shutdown at cleanup (engine issue: poller.add/remove race on c.raw
	// when a connection is closed right after Connect).
	ts.dial(t).subscribe("a")
	ts.dial(t).subscribe("a")
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=7", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third upgrade: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	require429(t, httpResp{status: resp.StatusCode, body: string(body), header: resp.Header}, 2)
	if got := obs.get(LimitWebSocket); got != 1 {
		t.Fatalf("websocket_connect refusals counted %d, want 1", got)
	}
	eventually(t, "two connections", func() bool { return ts.eng.Stats().Connections == 2 })
}

func TestAppQuotas(t *testing.T) {
	obs := &limitCounter{}
	ts := startServer(t, func(o *Options) {
		o.LimitObserver = obs
		app := o.Apps.(*staticApps).apps[0]
		app.MaxBackendEventsPerSecond = 10
		app.MaxReadRequestsPerSecond = 2
	})
	sub := ts.dial(t)
	sub.subscribe("quota")
	item := `{"name":"e","channel":"quota","data":"x"}`
	batch := func(n int) string { return `{"batch":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]}` }
	// Eleven events do not fit in the quota of ten: the batch is refused
	// whole and publishes nothing.
	r := ts.sendSigned(t, http.MethodPost, "/apps/1/events", `{"name":"e","channels":["quota","other"],"data":"x"}`)
	if r.status != http.StatusOK || r.header.Get("X-RateLimit-Remaining") != "8" {
		t.Fatalf("two-channel event: %d %v %s", r.status, r.header, r.body)
	}
	sub.expect("e")
	require429(t, ts.sendSigned(t, http.MethodPost, "/apps/1/batch_events", batch(9)), 10)
	if r := ts.sendSigned(t, http.MethodPost, "/apps/1/batch_events", batch(8)); r.status != http.StatusOK {
		t.Fatalf("batch of 8: %d %s", r.status, r.body)
	}
	require429(t, ts.sendSigned(t, http.MethodPost, "/apps/1/events", item), 10)
	for range 2 {
		if r := ts.sendSigned(t, http.MethodGet, "/apps/1/channels", ""); r.status != http.StatusOK {
			t.Fatalf("read: %d %s", r.status, r.body)
		}
	}
	require429(t, ts.sendSigned(t, http.MethodGet, "/apps/1/channels", ""), 2)
	if obs.get(LimitBackendEvents) != 2 || obs.get(LimitReadRequests) != 1 {
		t.Fatalf("refusals counted %v", obs.n)
	}
	// Eight events of the batch arrive, then nothing from the refusals.
	for range 8 {
		sub.expect("e")
	}
}

// signedQuery signs a bodiless request for app 1.
func signedQuery(method, path string) string {
	return signQuery(method, path, "")
}

func signQuery(method, path, body string) string {
	return protocol.SignRequest(method, path, nil, []byte(body), testKey, testSecret, time.Now())
}

// sendSigned signs and sends a request for app 1, returning headers too.
func (ts *testServer) sendSigned(t *testing.T, method, path, body string) httpResp {
	t.Helper()
	return ts.send(t, method, path+"?"+signQuery(method, path, body), body, map[string]string{"Content-Type": "application/json"})
}
