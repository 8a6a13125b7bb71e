package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/protocol"
)

// benchEvent is one event as the bench's loader sends it: a 100-byte data
// string on a channel nobody subscribes to.
func benchEvent(ch int) string {
	return `{"name":"bench","channel":"bench-` + strconv.Itoa(ch) + `","data":"T1780000000000000000|` +
		strings.Repeat("x", 79) + `"}`
}

// benchBatch is a batch_events body of n such events.
func benchBatch(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = benchEvent(i)
	}
	return `{"batch":[` + strings.Join(parts, ",") + `]}`
}

// signedRequest fills ctx with a signed POST of body to path, as fasthttp
// hands a parsed request to the handler.
type signedRequest struct {
	uri  string
	body []byte
}

func newSignedRequest(path, body string) signedRequest {
	q := protocol.SignRequest(http.MethodPost, path, nil, []byte(body), testKey, testSecret, time.Now())
	return signedRequest{uri: path + "?" + q, body: []byte(body)}
}

func (r signedRequest) fill(ctx *fasthttp.RequestCtx) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.SetRequestURI(r.uri)
	ctx.Request.Header.SetMethod(http.MethodPost)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(r.body)
}

// benchHandler runs b.N signed requests through the server's handler
// (router, signature check, decoding, engine publish), no network: the
// server's own per-request CPU, no subscribers. Idempotency is on (memory
// store), as sockudo runs by default; the requests carry no key.
func benchHandler(b *testing.B, path, body string) {
	ts := startServer(b, withGuard(nil, nil))
	h := ts.srv.Handler()
	r := newSignedRequest(path, body)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		r.fill(&ctx)
		h(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	// The box is shared: CPU time, not wall time, is the per-request cost
	// (every goroutine of the process, the collector's included).
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSignedPublish is one signed POST /events to one channel with no
// subscribers through the handler.
func BenchmarkSignedPublish(b *testing.B) {
	benchHandler(b, "/apps/1/events", benchEvent(3))
}

// BenchmarkSignedBatchPublish is one signed POST /batch_events of 10
// events (10 channels, no subscribers) through the handler.
func BenchmarkSignedBatchPublish(b *testing.B) {
	benchHandler(b, "/apps/1/batch_events", benchBatch(10))
}
