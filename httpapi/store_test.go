package httpapi

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// outageApps is testApps behind a database that can go down: down makes
// every lookup a store error, state is what StoreHealth reports.
type outageApps struct {
	*staticApps
	down  atomic.Bool
	state atomic.Int32
}

var errDatabaseDown = errors.New("database down")

func (s *outageApps) AppByKey(k string) (*engine.App, error) {
	if s.down.Load() {
		return nil, errDatabaseDown
	}
	return s.staticApps.AppByKey(k)
}

func (s *outageApps) AppByID(id string) (*engine.App, error) {
	if s.down.Load() {
		return nil, errDatabaseDown
	}
	return s.staticApps.AppByID(id)
}

func (s *outageApps) StoreState() engine.StoreState { return engine.StoreState(s.state.Load()) }

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: waitFor}
	r, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b), r.Header
}

// /up answers OK, DEGRADED (200) and ERROR (503) as the store reports;
// /up/{id} answers 503 ERROR when the store cannot say whether the app
// exists, and 404 only when it knows it does not.
func TestUpReportsStoreHealth(t *testing.T) {
	apps := &outageApps{staticApps: testApps()}
	ts := startServerStore(t, apps, nil, nil)
	base := "http://" + ts.addr
	check := func(path string, status int, body string) {
		t.Helper()
		if s, b, _ := get(t, base+path); s != status || b != body {
			t.Fatalf("GET %s: %d %q, want %d %q", path, s, b, status, body)
		}
	}
	check("/up", 200, "OK")
	apps.state.Store(int32(engine.StoreDegraded))
	check("/up", 200, "DEGRADED")
	check("/up/1", 200, "DEGRADED")
	apps.state.Store(int32(engine.StoreDown))
	check("/up", 503, "ERROR")
	check("/ready", 200, "OK") // readiness is draining only
	apps.down.Store(true)
	s, b, h := get(t, base+"/up/1")
	if s != 503 || b != "ERROR" || h.Get("Retry-After") == "" {
		t.Fatalf("/up/1 with the store down: %d %q Retry-After %q", s, b, h.Get("Retry-After"))
	}
	apps.down.Store(false)
	apps.state.Store(int32(engine.StoreOK))
	check("/up", 200, "OK")
	check("/up/999", 404, "NOT_FOUND")
}

// An HTTP API call for an app the store cannot look up gets 503 with a
// JSON body and Retry-After, not 404: the app may well exist.
func TestAPIStoreOutageIs503(t *testing.T) {
	apps := &outageApps{staticApps: testApps()}
	ts := startServerStore(t, apps, nil, nil)
	path := "/apps/1/channels"
	url := "http://" + ts.addr + path + "?" + protocol.SignRequest("GET", path, nil, nil, testKey, testSecret, time.Now())
	if s, _, _ := get(t, url); s != 200 {
		t.Fatalf("healthy store: %d", s)
	}
	apps.down.Store(true)
	s, b, h := get(t, url)
	if s != 503 || h.Get("Retry-After") != storeRetryAfter || b != `{"error":"app store unavailable, retry later","code":503}` {
		t.Fatalf("store down: %d %q Retry-After %q", s, b, h.Get("Retry-After"))
	}
	apps.down.Store(false)
	if s, _, _ := get(t, url); s != 200 {
		t.Fatalf("recovered store: %d", s)
	}
}
