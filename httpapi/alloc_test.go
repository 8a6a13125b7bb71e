//go:build !race

package httpapi

// Allocation gates run without the race detector (make gates): under it
// sync.Pool drops items at random, and a whole publish through pooled
// request state counts allocations it does not make in production.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/protocol"
)

// publishAllocs measures the allocations of one /events request through
// the server's handler (no network), body sent with header key ("" none).
func publishAllocs(t *testing.T, ts *testServer, body, key string) float64 {
	t.Helper()
	uri := "/apps/1/events?" + protocol.SignRequest(http.MethodPost, "/apps/1/events", nil, []byte(body), testKey, testSecret, time.Now())
	h := ts.srv.Handler()
	var ctx fasthttp.RequestCtx
	return testing.AllocsPerRun(200, func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI(uri)
		ctx.Request.Header.SetMethod(http.MethodPost)
		ctx.Request.Header.SetContentType("application/json")
		if key != "" {
			ctx.Request.Header.Set("X-Idempotency-Key", key)
		}
		ctx.Request.SetBody([]byte(body))
		h(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK {
			t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	})
}

// TestPlainPublishNoAllocsAddedByIdempotency: with idempotency on, a
// publish without a key allocates what it does with idempotency off.
func TestPlainPublishNoAllocsAddedByIdempotency(t *testing.T) {
	body := `{"name":"tick","channel":"bench","data":"{\"n\":1}"}`
	off := publishAllocs(t, startServer(t, nil), body, "")
	on := publishAllocs(t, startServer(t, withGuard(nil, nil)), body, "")
	dup := publishAllocs(t, startServer(t, withGuard(nil, nil)), body, "k")
	t.Logf("allocs per plain publish: idempotency off %.0f, on %.0f; a duplicate answered from the store %.0f", off, on, dup)
	if on > off {
		t.Fatalf("a plain publish allocates %.0f with idempotency on, %.0f with it off", on, off)
	}
}

// signedPublishAllocs is what a plain signed publish may allocate: the
// router's copy of {app_id} (two), the body as a string the event's
// strings alias (one), the event with its channel (one).
const signedPublishAllocs = 4

// TestSignedPublishNoAllocsBeyondBudget: a plain signed /events publish,
// idempotency on, allocates no more than signedPublishAllocs: the
// signature check, the body decoding and the publish to a channel
// without subscribers allocate nothing else.
func TestSignedPublishNoAllocsBeyondBudget(t *testing.T) {
	ts := startServer(t, withGuard(nil, nil))
	for _, body := range []string{
		`{"name":"tick","channel":"bench","data":"{\"n\":1}"}`,
		`{"name":"tick","channels":["a","b"],"data":"x","socket_id":"1.2"}`,
	} {
		n := publishAllocs(t, ts, body, "")
		limit := float64(signedPublishAllocs)
		if strings.Contains(body, "channels") {
			limit++ // the channels slice
		}
		if n > limit {
			t.Errorf("%s: %.0f allocations per publish, want at most %.0f", body, n, limit)
		}
	}
}
