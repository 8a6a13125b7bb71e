package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// staticApps is an AppStore over a fixed list.
type staticApps []*App

func (s staticApps) AppByKey(k string) (*App, error) {
	for _, a := range s {
		if a.Key == k {
			return a, nil
		}
	}
	return nil, ErrAppNotFound
}

func (s staticApps) AppByID(id string) (*App, error) {
	for _, a := range s {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, ErrAppNotFound
}

func testApp() *App {
	return &App{ID: "1", Key: "key", Secret: "secret", Enabled: true,
		EnableClientMessages: true, EnableWatchlistEvents: true, MaxClientEventsPerSecond: 10}
}

func newEngine(t testing.TB, opts Options, apps ...*App) *Engine {
	t.Helper()
	if len(apps) == 0 {
		apps = []*App{testApp()}
	}
	opts.Apps = staticApps(apps)
	if opts.Shards == 0 {
		opts.Shards = 2
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(t.Context()) })
	return e
}

// fakeTransport records what the engine writes. blocked makes TryWrite
// accept nothing and Write hang until unblocked, like a client that has
// stopped reading. As on a real socket, one write at a time: a TryWrite
// waits for a Write in progress (wmu).
type fakeTransport struct {
	wmu     sync.Mutex
	mu      sync.Mutex
	out     []byte
	closed  bool
	blocked bool
	unblock chan struct{}
}

func (f *fakeTransport) TryWrite(bufs [][]byte) (int, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("closed")
	}
	if f.blocked {
		return 0, nil
	}
	n := 0
	for _, b := range bufs {
		f.out = append(f.out, b...)
		n += len(b)
	}
	return n, nil
}

func (f *fakeTransport) Write(p []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mu.Lock()
	ch := f.unblock
	blocked := f.blocked
	f.mu.Unlock()
	if blocked && ch != nil {
		<-ch
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("closed")
	}
	f.out = append(f.out, p...)
	return nil
}

func (f *fakeTransport) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

// client is a test peer: it feeds masked frames to the Conn and parses the
// server frames from the transport.
type client struct {
	t    *testing.T
	e    *Engine
	c    *Conn
	tr   *fakeTransport
	read int // bytes of tr.out consumed
	id   string
}

// msg is a decoded server message, or a close frame (Close != 0).
type msg struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
	Close   int             `json:"-"`
}

// DataString is data when it is a JSON string (the usual server form).
func (m msg) DataString() string {
	var s string
	if err := json.Unmarshal(m.Data, &s); err != nil {
		return string(m.Data)
	}
	return s
}

func connect(t *testing.T, e *Engine, key string) *client {
	t.Helper()
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	c, err := e.Connect(ConnectRequest{AppKey: key, Protocol: "7"}, cl.tr)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	cl.c = c
	m := cl.expect(protocol.EventConnectionEstablished)
	var d struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}
	if err := json.Unmarshal([]byte(m.DataString()), &d); err != nil {
		t.Fatalf("connection_established data: %v", err)
	}
	cl.id = d.SocketID
	return cl
}

// send feeds one masked text frame holding s.
func (cl *client) send(s string) {
	cl.t.Helper()
	_ = cl.c.Feed(maskedFrame(protocol.OpText, []byte(s)))
}

func (cl *client) sendJSON(event string, data any, channel string) {
	cl.t.Helper()
	m := map[string]any{"event": event, "data": data}
	if channel != "" {
		m["channel"] = channel
	}
	b, _ := json.Marshal(m)
	cl.send(string(b))
}

func maskedFrame(op protocol.Opcode, p []byte) []byte {
	return protocol.AppendClientFrame(nil, op, p, [4]byte{1, 2, 3, 4})
}

// next returns the next server message, waiting up to 2 s.
func (cl *client) next() (msg, bool) {
	cl.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if m, ok := cl.parse(); ok {
			return m, true
		}
		if time.Now().After(deadline) {
			return msg{}, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// parse reads one server frame from the transport output, if complete.
func (cl *client) parse() (msg, bool) {
	cl.tr.mu.Lock()
	b := cl.tr.out[cl.read:]
	cl.tr.mu.Unlock()
	if len(b) < 2 {
		return msg{}, false
	}
	op, n, hl := b[0]&0x0f, int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return msg{}, false
		}
		n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return msg{}, false
		}
		n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < hl+n {
		return msg{}, false
	}
	p := b[hl : hl+n]
	cl.read += hl + n
	var m msg
	switch protocol.Opcode(op) {
	case protocol.OpClose:
		m.Close = int(binary.BigEndian.Uint16(p))
		m.Event = "close"
	case protocol.OpText:
		if err := json.Unmarshal(p, &m); err != nil {
			cl.t.Fatalf("server sent invalid JSON %q: %v", p, err)
		}
	default:
		m.Event = fmt.Sprintf("opcode-%d", op)
	}
	return m, true
}

// expect returns the next message and fails unless it is event.
func (cl *client) expect(event string) msg {
	cl.t.Helper()
	m, ok := cl.next()
	if !ok {
		cl.t.Fatalf("timed out waiting for %s", event)
	}
	if m.Event != event {
		cl.t.Fatalf("got %s %s %s, want %s", m.Event, m.Channel, m.Data, event)
	}
	return m
}

// expectClose waits for pusher:error code (for 4000+) and a close frame.
func (cl *client) expectClose(code int) {
	cl.t.Helper()
	if code >= 4000 {
		m := cl.expect(protocol.EventError)
		var d struct{ Code int }
		_ = json.Unmarshal(m.Data, &d)
		if d.Code != code {
			cl.t.Fatalf("pusher:error code %d, want %d (%s)", d.Code, code, m.Data)
		}
	}
	m := cl.expect("close")
	if m.Close != code {
		cl.t.Fatalf("close code %d, want %d", m.Close, code)
	}
	waitFor(cl.t, "transport closed", func() bool {
		cl.tr.mu.Lock()
		defer cl.tr.mu.Unlock()
		return cl.tr.closed
	})
}

// quiet asserts that nothing arrives for a short while.
func (cl *client) quiet() {
	cl.t.Helper()
	time.Sleep(30 * time.Millisecond) // absence can only be observed over time
	if m, ok := cl.parse(); ok {
		cl.t.Fatalf("unexpected %s %s %s", m.Event, m.Channel, m.Data)
	}
}

func (cl *client) subscribe(channel string, extra map[string]any) msg {
	cl.t.Helper()
	d := map[string]any{"channel": channel}
	for k, v := range extra {
		d[k] = v
	}
	cl.sendJSON(protocol.EventSubscribe, d, "")
	m, ok := cl.next()
	if !ok {
		cl.t.Fatalf("no answer to subscribe %s", channel)
	}
	return m
}

func (cl *client) mustSubscribe(channel string) {
	cl.t.Helper()
	extra := map[string]any{}
	kind, _ := protocol.ParseChannel(channel)
	if kind == protocol.KindPrivate || kind == protocol.KindEncrypted {
		extra["auth"] = "key:" + protocol.SignChannel("secret", cl.id, channel, "")
	}
	m := cl.subscribe(channel, extra)
	if m.Event != protocol.EventSubscriptionSucceeded || m.Channel != channel {
		cl.t.Fatalf("subscribe %s: got %s %s", channel, m.Event, m.Data)
	}
}

func (cl *client) joinPresence(channel, userID, info string) msg {
	cl.t.Helper()
	cd := `{"user_id":"` + userID + `","user_info":` + info + `}`
	return cl.subscribe(channel, map[string]any{
		"auth": "key:" + protocol.SignChannel("secret", cl.id, channel, cd), "channel_data": cd})
}

func (cl *client) signin(userData string) {
	cl.t.Helper()
	cl.sendJSON(protocol.EventSignin, map[string]any{
		"auth": "key:" + protocol.SignUser("secret", cl.id, userData), "user_data": userData}, "")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func publish(t *testing.T, e *Engine, channel, event, data, except string) {
	t.Helper()
	app, _ := e.opts.Apps.AppByKey("key")
	if err := e.Publish(t.Context(), app, &Event{Name: event, Data: data, Channels: []string{channel}, SocketID: except}); err != nil {
		t.Fatal(err)
	}
}
