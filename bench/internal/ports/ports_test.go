package ports

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFree: the port is below the ephemeral range, binds, and is never
// one of used.
func TestFree(t *testing.T) {
	used := map[int]bool{}
	for i := 0; i < 50; i++ {
		p, err := Free(used)
		if err != nil {
			t.Fatal(err)
		}
		if p < 20000 || p > 31999 || used[p] {
			t.Fatalf("port %d (used %v)", p, used[p])
		}
		used[p] = true
	}
	p, _ := Free(nil)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d does not bind: %v", p, err)
	}
	ln.Close()
}

// TestWaitHTTP: ready once the server answers 200; a server that went
// away ends the wait with its error; one that never answers 200 times
// out with an error naming it and the URL.
func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	cl := &http.Client{Timeout: time.Second}
	alive := func() error { return nil }
	if err := WaitHTTP(cl, "server", srv.URL, 10*time.Second, alive); err != nil || calls.Load() != 3 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
	crashed := errors.New("server exited: boom")
	if err := WaitHTTP(cl, "server", srv.URL, 10*time.Second, func() error { return crashed }); err != crashed {
		t.Fatalf("crashed server: %v", err)
	}
	down := srv.URL + "/none"
	err := WaitHTTP(cl, "nats", down, 200*time.Millisecond, alive)
	if err == nil || !strings.Contains(err.Error(), "nats not up at "+down) {
		t.Fatalf("timeout: %v", err)
	}
}
