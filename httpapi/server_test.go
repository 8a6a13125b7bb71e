package httpapi

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

func TestNewValidatesOptions(t *testing.T) {
	if _, err := New(Options{Apps: testApps()}); err == nil {
		t.Error("New without an engine succeeded")
	}
	eng, err := engine.New(engine.Options{Apps: testApps(), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(t.Context())
	if _, err := New(Options{Engine: eng}); err == nil {
		t.Error("New without an app store succeeded")
	}
	if _, err := New(Options{Engine: eng, Apps: testApps(), WriteTimeout: -1}); err == nil {
		t.Error("New with a negative timeout succeeded")
	}
}

func TestHandlerInProcess(t *testing.T) {
	ts := startServer(t, nil)
	h := ts.srv.Handler()
	f := func(method, uri string, status int, body string) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		h(&ctx)
		if ctx.Response.StatusCode() != status || (body != "" && string(ctx.Response.Body()) != body) {
			t.Fatalf("%s %s: %d %s", method, uri, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	f("GET", "/live", 200, "OK")
	f("HEAD", "/up", 200, "")
	f("GET", "/missing", 404, `{"error":"route not found","code":404}`)
	f("PUT", "/apps/1/events", 405, `{"error":"method not allowed","code":405}`)
	f("OPTIONS", "/apps/1/events", 405, "")

	body := []byte(`{"name":"e","channel":"a","data":"x"}`)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/apps/1/events?" +
		protocol.SignRequest("POST", "/apps/1/events", nil, body, testKey, testSecret, time.Now()))
	ctx.Request.SetBody(body)
	h(&ctx)
	if ctx.Response.StatusCode() != 200 || string(ctx.Response.Body()) != "{}" {
		t.Fatalf("signed publish: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func TestSignedPathRawAndDecoded(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.subscribe("a@b;c")
	for _, signed := range []string{"/apps/1/channels/a@b;c", "/apps/1/channels/a%40b%3Bc"} {
		q := protocol.SignRequest("GET", signed, nil, nil, testKey, testSecret, time.Now())
		r := ts.raw(t, "GET", "/apps/1/channels/a%40b%3Bc?"+q, "")
		requireStatus(t, r, http.StatusOK)
		if r.body != `{"occupied":true}` {
			t.Fatalf("signed as %s: %s", signed, r.body)
		}
	}
	// A prefix with ';' is read from the raw query.
	r := ts.get(t, "/channels", map[string]string{"filter_by_prefix": "a@b;"})
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"channels":{"a@b;c":{}}}` {
		t.Fatalf("body %s", r.body)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.HandshakeTimeout = 100 * time.Millisecond })
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a request, then silence: the server must give up on it.
	if _, err := c.Write([]byte("GET /app/" + testKey + " HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	rest, err := bufio.NewReader(c).ReadString(0)
	if err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("connection still open after the handshake timeout: %q %v", rest, err)
	}
}
