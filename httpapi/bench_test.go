package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/protocol"
)

// BenchmarkPublishOverHTTP publishes a small event through the whole HTTP
// path over loopback, keep-alive, client allocations included; the body
// is read by readBody (StreamRequestBody).
func BenchmarkPublishOverHTTP(b *testing.B) {
	ts := startServer(b, nil)
	body := []byte(`{"name":"tick","channel":"bench","data":"{\"n\":1}"}`)
	uri := "http://" + ts.addr + "/apps/1/events?" +
		protocol.SignRequest(http.MethodPost, "/apps/1/events", nil, body, testKey, testSecret, time.Now())
	c := &fasthttp.HostClient{Addr: ts.addr}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(uri)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBody(body)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != http.StatusOK {
			b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
}
