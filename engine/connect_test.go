package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestConnectionEstablished(t *testing.T) {
	e := newEngine(t, Options{ActivityTimeout: 90 * time.Second})
	a, b := connect(t, e, "key"), connect(t, e, "key")
	if !protocol.ValidSocketID(a.id) || a.id == b.id {
		t.Fatalf("socket ids %q %q: want distinct \\d+.\\d+", a.id, b.id)
	}
	if e.Stats().Connections != 2 {
		t.Fatalf("connections = %d, want 2", e.Stats().Connections)
	}
}

func TestConnectRefusals(t *testing.T) {
	disabled := &App{ID: "2", Key: "off", Secret: "s", Enabled: false}
	quota := &App{ID: "3", Key: "one", Secret: "s", Enabled: true, MaxConnections: 1}
	origin := &App{ID: "4", Key: "org", Secret: "s", Enabled: true, AllowedOrigins: []string{"https://*.example.com"}}
	e := newEngine(t, Options{}, testApp(), disabled, quota, origin)
	refused := func(req ConnectRequest, code int) {
		t.Helper()
		cl := &client{t: t, e: e, tr: &fakeTransport{}}
		_, err := e.Connect(req, cl.tr)
		if err == nil {
			t.Fatalf("%+v admitted, want %d", req, code)
		}
		cl.expectClose(code)
	}
	refused(ConnectRequest{AppKey: "nope"}, 4001)
	refused(ConnectRequest{AppKey: "off"}, 4003)
	refused(ConnectRequest{AppKey: "key", Protocol: "99"}, 4007)
	refused(ConnectRequest{AppKey: "key", Protocol: "x"}, 4006)
	refused(ConnectRequest{AppKey: "org", Origin: "https://evil.com"}, 4009)
	refused(ConnectRequest{AppKey: "org", Origin: "https://example.com.evil.com"}, 4009)
	connect(t, e, "one")
	refused(ConnectRequest{AppKey: "one"}, 4004)
	if _, err := e.Connect(ConnectRequest{AppKey: "org", Origin: "https://app.example.com"}, &fakeTransport{}); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if _, err := e.Connect(ConnectRequest{AppKey: "key"}, &fakeTransport{}); err != nil {
		t.Fatalf("missing protocol refused: %v", err)
	}
}

func TestServerOverCapacity(t *testing.T) {
	e := newEngine(t, Options{MaxConnections: 1})
	connect(t, e, "key")
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	if _, err := e.Connect(ConnectRequest{AppKey: "key"}, cl.tr); err == nil {
		t.Fatal("second connection admitted over max_connections")
	}
	cl.expectClose(4100)
}

func TestPingPongAndBadInput(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connect(t, e, "key")
	cl.send(`{"event":"pusher:ping","data":{}}`)
	if m := cl.expect(protocol.EventPong); string(m.Data) != "{}" {
		t.Fatalf("pong data %s", m.Data)
	}
	for _, bad := range []string{`not json`, `{"event":"pusher:nonsense"}`, `{"data":{}}`} {
		cl.send(bad)
		m := cl.expect(protocol.EventError)
		var d struct{ Code int }
		_ = json.Unmarshal(m.Data, &d)
		if d.Code != 4000 {
			t.Fatalf("%q → code %d, want 4000", bad, d.Code)
		}
	}
	_ = cl.c.Feed(maskedFrame(protocol.OpBinary, []byte{1, 2}))
	cl.expect(protocol.EventError)
	_ = cl.c.Feed(maskedFrame(protocol.OpPing, []byte("hi")))
	if m := cl.expect("opcode-10"); m.Event == "" {
		t.Fatal("no WebSocket pong")
	}
	cl.send(`{"event":"pusher:ping"}`)
	cl.expect(protocol.EventPong) // still open after every error
}

func TestOversizeMessageCloses1009(t *testing.T) {
	e := newEngine(t, Options{MaxPayload: 1024})
	cl := connect(t, e, "key")
	big := make([]byte, 2048)
	for i := range big {
		big[i] = 'a'
	}
	_ = cl.c.Feed(maskedFrame(protocol.OpText, big))
	cl.expectClose(1009)
	waitFor(t, "released", func() bool { return e.Stats().Connections == 0 })
}

func TestUnmaskedFrameCloses1002(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connect(t, e, "key")
	_ = cl.c.Feed([]byte{0x81, 0x02, 'h', 'i'})
	cl.expectClose(1002)
}

func TestServerPingThenPongTimeout(t *testing.T) {
	e := newEngine(t, Options{ActivityTimeout: time.Second, PongTimeout: time.Second})
	cl := connect(t, e, "key")
	alive := connect(t, e, "key")
	cl.expect(protocol.EventPing)
	alive.expect(protocol.EventPing)
	alive.send(`{"event":"pusher:pong","data":{}}`)
	cl.expectClose(4201)
	alive.expect(protocol.EventPing) // answered: pinged again, not closed
}

func TestClientCloseFrameIsEchoedAndReleased(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connect(t, e, "key")
	cl.mustSubscribe("room")
	_ = cl.c.Feed(maskedFrame(protocol.OpClose, []byte{0x03, 0xe8}))
	cl.expectClose(1000)
	waitFor(t, "released", func() bool { return e.Stats().Connections == 0 && e.Stats().Channels == 0 })
}

func TestGoneReleasesEverything(t *testing.T) {
	e := newEngine(t, Options{})
	for i := 0; i < 50; i++ {
		cl := connect(t, e, "key")
		cl.mustSubscribe("room")
		cl.c.Gone(nil)
	}
	waitFor(t, "all released", func() bool { return e.Stats().Connections == 0 && e.Stats().Channels == 0 })
	rt := e.runtimeFor(testAppFrom(e))
	if n := rt.stats.connections.Load(); n != 0 {
		t.Fatalf("app connection gauge = %d after every connection left", n)
	}
}

func testAppFrom(e *Engine) *App { a, _ := e.opts.Apps.AppByKey("key"); return a }

func TestUserAuthenticationTimeout(t *testing.T) {
	app := testApp()
	app.EnableUserAuthentication = true
	e := newEngine(t, Options{UserAuthTimeout: 300 * time.Millisecond}, app)
	idle := connect(t, e, "key")
	signed := connect(t, e, "key")
	signed.signin(`{"id":"u1"}`)
	signed.expect(protocol.EventSigninSuccess)
	idle.expectClose(4009)
	signed.quiet()
}

func TestShutdownCloses4200(t *testing.T) {
	e, err := New(Options{Apps: staticApps{testApp()}, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, b := connect(t, e, "key"), connect(t, e, "key")
	if err := e.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.expectClose(4200)
	b.expectClose(4200)
	if !e.Draining() {
		t.Fatal("not draining after Shutdown")
	}
	if _, err := e.Connect(ConnectRequest{AppKey: "key"}, &fakeTransport{}); err == nil {
		t.Fatal("connection admitted while draining")
	}
}
