package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

func TestHealth(t *testing.T) {
	ts := startServer(t, nil)
	f := func(path string, status int, body string) {
		t.Helper()
		r := ts.raw(t, "GET", path, "")
		if r.status != status || (body != "" && r.body != body) {
			t.Fatalf("GET %s: %d %q, want %d %q", path, r.status, r.body, status, body)
		}
	}
	f("/up", 200, "OK")
	f("/up/1", 200, "OK")
	f("/up/999", 404, "NOT_FOUND")
	f("/live", 200, "OK")
	f("/ready", 200, "OK")

	r := ts.raw(t, "GET", "/usage", "")
	requireStatus(t, r, 200)
	var u memoryUsage
	decodeBody(t, r, &u)
	m := u.Memory
	if m.Total == 0 || m.Used+m.Free != m.Total || m.Percent <= 0 || m.Percent > 100 {
		t.Fatalf("usage %s", r.body)
	}
}

func TestParseMeminfo(t *testing.T) {
	u := parseMeminfo([]byte("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\nBuffers: 1 kB\n"))
	m := u.Memory
	if m.Total != 1000*1024 || m.Free != 250*1024 || m.Used != 750*1024 || m.Percent != 75 {
		t.Fatalf("%+v", m)
	}
	u = parseMeminfo([]byte("MemTotal: 1000 kB\nMemFree: 500 kB\n"))
	if u.Memory.Free != 500*1024 || u.Memory.Percent != 50 {
		t.Fatalf("%+v", u.Memory)
	}
	if u = parseMeminfo([]byte("garbage")); u.Memory.Total != 0 || u.Memory.Percent != 0 {
		t.Fatalf("%+v", u.Memory)
	}
}

func TestDraining(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.subscribe("room")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = ts.eng.Shutdown(ctx)
	}()
	code, _ := w.expectClose()
	if code != 4200 {
		t.Errorf("close code %d, want 4200", code)
	}
	wg.Wait()

	if !ts.eng.Draining() {
		t.Fatal("engine not draining after Shutdown")
	}
	for _, p := range []string{"/ready", "/up", "/up/1"} {
		if r := ts.raw(t, "GET", p, ""); r.status != 503 || r.body != "DRAINING" {
			t.Errorf("GET %s while draining: %d %q", p, r.status, r.body)
		}
	}
	if r := ts.raw(t, "GET", "/live", ""); r.status != 200 {
		t.Errorf("GET /live while draining: %d", r.status)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=7", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining: err %v, resp %v", err, resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("503 content type %q", ct)
	}
}

// countingObserver records ObserveHTTP calls.
type countingObserver struct {
	mu    sync.Mutex
	calls []observation
}

type observation struct {
	route, method, app string
	status             int
	dur                time.Duration
	req, resp          int
}

func (o *countingObserver) ObserveHTTP(route, method, app string, status int, dur time.Duration, req, resp int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, observation{route, method, app, status, dur, req, resp})
}

func (o *countingObserver) find(route string, status int) (observation, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.calls {
		if c.route == route && c.status == status {
			return c, true
		}
	}
	return observation{}, false
}

func TestObserver(t *testing.T) {
	obs := &countingObserver{}
	ts := startServer(t, func(o *Options) { o.Observer = obs })
	body := `{"name":"e","channels":["a"],"data":"x"}`
	ts.post(t, "/events", body)
	ts.get(t, "/channels/bad%20name", nil)
	ts.raw(t, "GET", "/nope/really", "")
	ts.raw(t, "GET", "/up", "")
	ts.raw(t, "GET", "/apps/no-such-app/channels", "")

	if c, ok := obs.find("/apps/{app_id}/events", 200); !ok || c.method != "POST" || c.req != len(body) || c.resp != 2 || c.app != "1" {
		t.Fatalf("events observation %+v %v (all %+v)", c, ok, obs.calls)
	}
	if c, ok := obs.find("/apps/{app_id}/channels", 404); !ok || c.app != "" {
		t.Fatalf("an unknown app id must be observed without an app: %+v %v (all %+v)", c, ok, obs.calls)
	}
	if _, ok := obs.find("/apps/{app_id}/channels/{channel_name}", 400); !ok {
		t.Fatalf("channel observation missing: %+v", obs.calls)
	}
	if c, ok := obs.find("", 404); !ok || c.method != "GET" {
		t.Fatalf("not-found observation missing: %+v", obs.calls)
	}
	if _, ok := obs.find("/up", 200); !ok {
		t.Fatalf("/up observation missing: %+v", obs.calls)
	}
}
