package httpapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine/idempotency"
	"github.com/sockudo/sockudo-go/protocol"
)

// BenchmarkPublishOverHTTP publishes a small event through the whole HTTP
// path over loopback, keep-alive, client allocations included; the body
// is read by readBody (StreamRequestBody).
func BenchmarkPublishOverHTTP(b *testing.B) {
	ts := startServer(b, nil)
	c, req, resp := signedTickPublish(ts)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != http.StatusOK {
			b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
}

// BenchmarkPublishIdempotency compares /events over HTTP without a key,
// with a new X-Idempotency-Key per request (claim, publish, commit) and
// with one key repeated (every request after the first a duplicate
// answered from the store), idempotency on and its memory store.
func BenchmarkPublishIdempotency(b *testing.B) {
	for _, mode := range []string{"plain", "new-key", "duplicate"} {
		b.Run(mode, func(b *testing.B) {
			ts := startServer(b, func(o *Options) {
				o.Idempotency = idempotency.New(idempotency.Options{Store: idempotency.NewMemoryStore(1<<22, nil)})
			})
			c, req, resp := signedTickPublish(ts)
			var key []byte
			if mode == "duplicate" {
				req.Header.Set("X-Idempotency-Key", "same")
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if mode == "new-key" {
					i++
					key = strconv.AppendInt(key[:0], int64(i), 10)
					req.Header.SetBytesV("X-Idempotency-Key", key)
				}
				if err := c.Do(req, resp); err != nil || resp.StatusCode() != http.StatusOK {
					b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
				}
			}
		})
	}
}

// signedTickPublish is a keep-alive client of ts and a signed POST
// /apps/1/events of a small "tick" event, ready to Do over and over.
func signedTickPublish(ts *testServer) (*fasthttp.HostClient, *fasthttp.Request, *fasthttp.Response) {
	body := []byte(`{"name":"tick","channel":"bench","data":"{\"n\":1}"}`)
	uri := "http://" + ts.addr + "/apps/1/events?" +
		protocol.SignRequest(http.MethodPost, "/apps/1/events", nil, body, testKey, testSecret, time.Now())
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(uri)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBody(body)
	return &fasthttp.HostClient{Addr: ts.addr}, req, resp
}
