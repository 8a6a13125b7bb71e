package httpapi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/goccy/go-json"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// The hostile-client suite: each case attacks a fresh server while a
// well-behaved watcher stays subscribed, then checks that the offender got
// its RFC 6455 or Pusher close code (or error), that the watcher still
// receives publishes, and that the engine's connection count is back to
// the watcher alone.

const (
	hostileHandshake = 300 * time.Millisecond
	hostileSubLimit  = 100
)

// hostileServer starts a server with short timers: a silent connection is
// pinged after 1 s and closed (4201) 1 s later. The handshake timeout is
// the default: on a loaded machine a legitimate request can take longer
// than hostileHandshake to be read, which only the slowloris test wants.
func hostileServer(t *testing.T) (*testServer, *watcher) {
	t.Helper()
	return hostileServerWith(t, DefaultHandshakeTimeout)
}

func hostileServerWith(t *testing.T, handshake time.Duration) (*testServer, *watcher) {
	t.Helper()
	ts := startServerWith(t, func(o *engine.Options) {
		o.ActivityTimeout = time.Second
		o.PongTimeout = time.Second
	}, func(o *Options) {
		o.HandshakeTimeout = handshake
		app := o.Apps.(*staticApps).apps[0]
		app.MaxSubscriptionsPerConnection = hostileSubLimit
		app.MaxPresenceMemberSizeKB = 2
	})
	return ts, ts.watch(t, "watched")
}

// survived checks the aftermath of an attack.
func (ts *testServer) survived(t *testing.T, w *watcher) {
	t.Helper()
	eventually(t, "connections back to the watcher alone", func() bool { return ts.eng.Stats().Connections == 1 })
	w.receives(t, ts)
	if r := ts.raw(t, http.MethodGet, "/up", ""); r.status != http.StatusOK {
		t.Fatalf("/up after the attack: %d", r.status)
	}
}

// watcher is a well-behaved client that answers pusher:ping, so it
// outlives the short activity timeout, and collects channel events.
type watcher struct {
	c      *wsClient
	ch     string
	events chan frame
	seq    atomic.Int64
}

func (ts *testServer) watch(t *testing.T, channel string) *watcher {
	t.Helper()
	return watchWith(t, ts.dial(t), channel)
}

// watchWith makes c a watcher of channel.
func watchWith(t *testing.T, c *wsClient, channel string) *watcher {
	t.Helper()
	w := &watcher{c: c, ch: channel, events: make(chan frame, 64)}
	w.c.subscribe(channel)
	go func() {
		for {
			_ = w.c.c.SetReadDeadline(time.Time{})
			_, p, err := w.c.c.ReadMessage()
			if err != nil {
				close(w.events)
				return
			}
			var f frame
			if json.Unmarshal(p, &f) != nil {
				continue
			}
			switch f.Event {
			case protocol.EventPing:
				w.c.mu.Lock()
				_ = w.c.c.WriteJSON(map[string]any{"event": protocol.EventPong, "data": map[string]any{}})
				w.c.mu.Unlock()
			default:
				if f.Channel == channel {
					w.events <- f
				}
			}
		}
	}()
	return w
}

// receives publishes a fresh event and waits for it.
func (w *watcher) receives(t *testing.T, ts *testServer) {
	t.Helper()
	data := "n" + strconv.FormatInt(w.seq.Add(1), 10)
	requireStatus(t, ts.post(t, "/events", `{"name":"tick","channel":"`+w.ch+`","data":"`+data+`"}`), http.StatusOK)
	timeout := time.After(waitFor)
	for {
		select {
		case f, ok := <-w.events:
			if !ok {
				t.Fatal("the watcher was disconnected")
			}
			if f.Event == "tick" && f.str() == data {
				return
			}
		case <-timeout:
			t.Fatalf("the watcher never received %s", data)
		}
	}
}

// rawConn is a WebSocket client written byte by byte.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// rawDial upgrades a plain TCP connection and reads connection_established.
func (ts *testServer) rawDial(t *testing.T) *rawConn {
	t.Helper()
	r := ts.rawUpgrade(t, "")
	if op, p := r.frame(); op != protocol.OpText || !strings.Contains(string(p), protocol.EventConnectionEstablished) {
		t.Fatalf("first frame %d %q", op, p)
	}
	return r
}

// rawUpgrade sends the upgrade request and reads the 101 answer.
func (ts *testServer) rawUpgrade(t *testing.T, origin string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := "GET /app/" + testKey + "?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return r
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// frame reads one server frame (servers never mask).
func (r *rawConn) frame() (protocol.Opcode, []byte) {
	r.t.Helper()
	op, p, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read frame: %v", err)
	}
	return op, p
}

func (r *rawConn) readFrame() (protocol.Opcode, []byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(waitFor))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad server frame header %x len %d", h, n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r.br, p)
	return protocol.Opcode(h[0] & 0x0f), p, err
}

// closeCode reads until the close frame and returns its code and the text
// frames before it.
func (r *rawConn) closeCode() (int, []string) {
	r.t.Helper()
	var texts []string
	for {
		op, p, err := r.readFrame()
		if err != nil {
			r.t.Fatalf("waiting for a close frame: %v (after %q)", err, texts)
		}
		switch op {
		case protocol.OpClose:
			if len(p) < 2 {
				return 1005, texts
			}
			return int(binary.BigEndian.Uint16(p)), texts
		case protocol.OpText:
			texts = append(texts, string(p))
		}
	}
}

// requireClosed checks that the server ends the TCP connection.
func (r *rawConn) requireClosed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.Copy(io.Discard, r.br); err != nil && !isReset(err) {
		r.t.Fatalf("connection not closed by the server: %v", err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}

// clientFrame builds a client frame: first is FIN|RSV|opcode, masked with
// a fixed key unless unmasked. lenOverride, when not 0, is announced instead
// of len(payload).
func clientFrame(first byte, payload []byte, masked bool, lenOverride uint64) []byte {
	n := uint64(len(payload))
	if lenOverride != 0 {
		n = lenOverride
	}
	var mbit byte
	if masked {
		mbit = 0x80
	}
	b := []byte{first}
	switch {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n <= 0xffff:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, n)
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

const (
	finText  = 0x81
	finPing  = 0x89
	rsv1Text = 0xC1
)

func TestHostileProtocolViolations(t *testing.T) {
	ts, w := hostileServer(t)
	cases := []struct {
		name string
		b    []byte
		code int
	}{
		{"length 2^63", clientFrame(finText, nil, true, 1<<63), int(protocol.CodeProtocolError)},
		{"length 2^63-1", clientFrame(finText, nil, true, 1<<63-1), int(protocol.CodeTooBig)},
		{"unmasked frame", clientFrame(finText, []byte(`{"event":"pusher:ping","data":{}}`), false, 0), int(protocol.CodeProtocolError)},
		{"reserved bits", clientFrame(rsv1Text, []byte(`{"event":"pusher:ping","data":{}}`), true, 0), int(protocol.CodeProtocolError)},
		{"control frame over 125 bytes", clientFrame(finPing, make([]byte, 126), true, 0), int(protocol.CodeProtocolError)},
		{"invalid UTF-8", clientFrame(finText, []byte("{\"event\":\"\xff\xfe\"}"), true, 0), int(protocol.CodeInvalidPayload)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.rawDial(t)
			r.write(tc.b)
			if code, _ := r.closeCode(); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			r.requireClosed()
			ts.survived(t, w)
		})
	}
}

func TestHostileHalfFrameThenSilence(t *testing.T) {
	ts, w := hostileServer(t)
	r := ts.rawDial(t)
	// Half a header, then half a payload: neither is a frame, so neither
	// counts as activity; the server pings and then gives up (4201).
	r.write([]byte{finText})
	r.write(clientFrame(finText, []byte(`{"event":"pusher:ping","data":{}}`), true, 0)[1:10])
	start := time.Now()
	w.receives(t, ts) // others are served meanwhile
	code, _ := r.closeCode()
	if code != int(protocol.CodePongTimeout) {
		t.Fatalf("close code %d, want 4201", code)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v", d)
	}
	r.requireClosed()
	ts.survived(t, w)
}

func TestHostileTooBigMessages(t *testing.T) {
	ts, w := hostileServer(t)
	big := strings.Repeat("x", 1<<20)
	cases := map[string]string{
		"1 MiB client event": `{"event":"client-x","channel":"private-a","data":"` + big + `"}`,
		"1 MiB channel_data": `{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":"{\"user_id\":\"1\",\"user_info\":\"` + big + `\"}"}}`,
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			r := ts.rawDial(t)
			// The server refuses at the header, so most of the write may
			// meet a closed socket: write in the background.
			go func() { _, _ = r.c.Write(clientFrame(finText, []byte(msg), true, 0)) }()
			if code, _ := r.closeCode(); code != int(protocol.CodeTooBig) {
				t.Fatalf("close code %d, want 1009", code)
			}
			ts.survived(t, w)
		})
	}
}

func TestHostileManySubscribes(t *testing.T) {
	ts, w := hostileServer(t)
	c := ts.dial(t)
	const n = 10_000
	go func() {
		for i := range n {
			c.mu.Lock()
			err := c.c.WriteJSON(map[string]any{"event": protocol.EventSubscribe, "data": map[string]string{"channel": "s-" + strconv.Itoa(i)}})
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	ok, limited := 0, 0
	for ok+limited < n {
		f := c.next()
		switch f.Event {
		case protocol.EventSubscriptionSucceeded:
			ok++
		case protocol.EventSubscriptionError:
			var e struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(f.Data, &e); err != nil || e.Type != "LimitReached" {
				t.Fatalf("subscription_error %s", f.Data)
			}
			limited++
		case protocol.EventPing:
			c.send(map[string]any{"event": protocol.EventPong, "data": map[string]any{}})
		default:
			t.Fatalf("unexpected %+v", f)
		}
	}
	if ok != hostileSubLimit {
		t.Fatalf("%d subscriptions accepted, want %d", ok, hostileSubLimit)
	}
	// The connection stays open and subscribed.
	requireStatus(t, ts.post(t, "/events", `{"name":"still","channel":"s-7","data":"here"}`), http.StatusOK)
	if f := c.expect("still"); f.str() != "here" {
		t.Fatalf("event %+v", f)
	}
	w.receives(t, ts)
	_ = c.c.Close()
	ts.survived(t, w)
}

func TestHostileSlowloris(t *testing.T) {
	ts, w := hostileServerWith(t, hostileHandshake)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One byte every 20 ms never completes the request within the
	// handshake timeout, however steadily it trickles.
	req := "GET /app/" + testKey + "?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"X-Padding: " + strings.Repeat("a", 200) + "\r\n\r\n"
	start := time.Now()
	var werr error
	for i := 0; i < len(req) && werr == nil; i++ {
		_, werr = c.Write([]byte{req[i]})
		time.Sleep(20 * time.Millisecond)
		if time.Since(start) > 3*hostileHandshake+time.Second {
			break
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	answer, _ := io.ReadAll(c)
	if d := time.Since(start); d > 3*hostileHandshake+2*time.Second {
		t.Fatalf("the trickling request held its connection for %v", d)
	}
	if strings.Contains(string(answer), " 101 ") {
		t.Fatalf("upgraded: %q", answer)
	}
	ts.survived(t, w)
}

// TestHostileAbandonedConnections opens and drops the 10,000
// connections in waves of 500, so at most ~1,000 descriptors (both ends)
// are open at once, well under the 20,000 limit; it takes ~3.5 s under
// -race on two cores.
func TestHostileAbandonedConnections(t *testing.T) {
	ts, w := hostileServer(t)
	goroutines := ourGoroutines()
	const total, wave = 10_000, 500
	var failed atomic.Int64
	var firstErr atomic.Value
	for done := 0; done < total; done += wave {
		var wg sync.WaitGroup
		for range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := abandonOne(ts.addr); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}()
		}
		wg.Wait()
	}
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d connections were not established; first: %v", f, total, firstErr.Load())
	}
	ts.survived(t, w)
	eventually(t, "goroutines back to baseline", func() bool { return ourGoroutines() <= goroutines+5 })
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("%d connections dropped; heap in use %d KiB, %d goroutines besides fasthttp's idle workers",
		total, ms.HeapInuse>>10, ourGoroutines())
}

// ourGoroutines counts goroutines except fasthttp's idle pool workers,
// which linger for its MaxIdleWorkerDuration (10 s) by design.
func ourGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "fasthttp.(*workerPool).workerFunc") {
			n++
		}
	}
	return n
}

// abandonOne upgrades, waits for connection_established and drops the
// socket without a close frame, with a reset (linger 0) to be rude.
func abandonOne(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer func() {
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}()
	req := "GET /app/" + testKey + "?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	var h [2]byte
	_, err = io.ReadFull(br, h[:]) // connection_established's header
	return err
}

func TestOriginNotAllowed(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.Apps.(*staticApps).apps[0].AllowedOrigins = []string{"https://app.example.com", "*.example.org"}
	})
	w := watchWith(t, ts.dialWith(t, websocket.DefaultDialer, "ws", http.Header{"Origin": {"https://app.example.com"}}), "watched")
	for _, origin := range []string{"https://evil.example.net", "https://example.org.evil.com", "https://notexample.org"} {
		r := ts.rawUpgrade(t, origin)
		code, texts := r.closeCode()
		if code != int(protocol.CodeUnauthorized) || len(texts) != 1 ||
			!strings.Contains(texts[0], protocol.EventError) || !strings.Contains(texts[0], "4009") {
			t.Fatalf("origin %s: close %d after %q, want pusher:error 4009 then close 4009", origin, code, texts)
		}
		r.requireClosed()
	}
	for _, origin := range []string{"https://app.example.com", "https://a.b.example.org"} {
		r := ts.rawUpgrade(t, origin)
		if op, p := r.frame(); op != protocol.OpText || !strings.Contains(string(p), protocol.EventConnectionEstablished) {
			t.Fatalf("origin %s: first frame %q", origin, p)
		}
		_ = r.c.Close()
	}
	ts.survived(t, w)
}
