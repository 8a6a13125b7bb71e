package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestWebSocketPingPong(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.send(map[string]any{"event": protocol.EventPing, "data": map[string]any{}})
	w.expect(protocol.EventPong)
}

func TestWebSocketRefusals(t *testing.T) {
	ts := startServer(t, nil)
	f := func(path string, code int) {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+path, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		defer c.Close()
		w := &wsClient{t: t, c: c}
		got, frames := w.expectClose()
		if got != code {
			t.Fatalf("%s: close %d, want %d (frames %+v)", path, got, code, frames)
		}
		if len(frames) == 0 || frames[len(frames)-1].Event != protocol.EventError || !jsonHasCode(frames[len(frames)-1].Data, code) {
			t.Fatalf("%s: want pusher:error %d before the close, got %+v", path, code, frames)
		}
	}
	f("/app/unknown-key?protocol=7", 4001)
	f("/app/disabled-key?protocol=7", 4003)
	f("/app/"+testKey+"?protocol=8", 4007)
}

func TestUpgradeRequiresWebSocket(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.raw(t, http.MethodGet, "/app/"+testKey, "")
	requireStatus(t, r, http.StatusBadRequest)
}

func TestSeveralServers(t *testing.T) {
	a, b := startServer(t, nil), startServer(t, nil)
	wa, wb := a.dial(t), b.dial(t)
	wa.subscribe("x")
	wb.subscribe("x")
	if err := a.client().Trigger("x", "only-a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := b.client().Trigger("x", "only-b", "1"); err != nil {
		t.Fatal(err)
	}
	wa.expect("only-a")
	if f := wb.expect("only-b"); f.Event != "only-b" {
		t.Fatal(f)
	}
}

// TestWebSocketReadModes: both ways of reading sockets serve the same
// frames: the engine's pollers on a duplicated descriptor (the default) and
// a reader goroutine per connection (GoroutineReads, and TLS's path). Each
// carries a frame bigger than the read buffer (several reads), a publish
// and a closing handshake.
func TestWebSocketReadModes(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprint("GoroutineReads=", goroutines), func(t *testing.T) {
			ts := startServer(t, func(o *Options) { o.GoroutineReads = goroutines })
			w := ts.dial(t)
			long := "chan-" + strings.Repeat("x", 150)
			pad := strings.Repeat("p", 4*readBufferSize)
			w.send(map[string]any{"event": protocol.EventSubscribe, "data": map[string]string{"channel": long, "pad": pad}})
			if f := w.expect(protocol.EventSubscriptionSucceeded); f.Channel != long {
				t.Fatalf("got %+v", f)
			}
			if err := ts.client().Trigger(long, "message", "hi"); err != nil {
				t.Fatalf("Trigger: %v", err)
			}
			if f := w.expect("message"); f.Channel != long || f.str() != "hi" {
				t.Fatalf("got %+v data %s", f, f.str())
			}
			w.send(map[string]any{"event": protocol.EventPing, "data": map[string]any{}})
			w.expect(protocol.EventPong)
			if err := w.c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
				t.Fatal(err)
			}
			if code, _ := w.expectClose(); code != websocket.CloseNormalClosure {
				t.Fatalf("close code %d, want %d", code, websocket.CloseNormalClosure)
			}
		})
	}
}

// rawHandshake sends an upgrade request for key over a plain TCP
// connection and returns the response's header block with its Date value
// blanked and the first WebSocket frame's payload.
func rawHandshake(t *testing.T, addr, key string) (header, frame string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	req := "GET /app/" + key + "?protocol=7&client=js&version=8.4.0 HTTP/1.1\r\nHost: " + addr +
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (after %q)", err, got)
		}
		got = append(got, buf[:n]...)
		end := bytes.Index(got, []byte("\r\n\r\n"))
		if end < 0 {
			continue
		}
		rest := got[end+4:]
		if len(rest) >= 2 && len(rest) >= 2+int(rest[1]&0x7f) && rest[1]&0x7f < 126 {
			header = string(got[:end+4])
			if i := strings.Index(header, "Date: "); i >= 0 {
				j := i + strings.Index(header[i:], "\r\n")
				header = header[:i+6] + "…" + header[j:]
			}
			return header, string(rest[2 : 2+int(rest[1]&0x7f)])
		}
	}
}

// TestHandshakeResponseUnchanged: when the transport writes the 101
// response with the first frame (descriptors polled), the response is
// byte for byte the one fasthttp writes in the goroutine read mode, and
// connection_established, or the refusal, follows it.
func TestHandshakeResponseUnchanged(t *testing.T) {
	polled := startServer(t, nil)
	plain := startServer(t, func(o *Options) { o.GoroutineReads = true })
	for _, key := range []string{testKey, "no-such-key"} {
		want, wantFrame := rawHandshake(t, plain.addr, key)
		got, frame := rawHandshake(t, polled.addr, key)
		if got != want {
			t.Fatalf("key %s: handshake response\n%q\nwant (goroutine reads)\n%q", key, got, want)
		}
		if !strings.HasPrefix(got, "HTTP/1.1 101 Switching Protocols\r\n") {
			t.Fatalf("key %s: response %q", key, got)
		}
		ev := func(f string) string {
			var m struct{ Event string }
			_ = json.Unmarshal([]byte(f), &m)
			return m.Event
		}
		if ev(frame) != ev(wantFrame) {
			t.Fatalf("key %s: first frame %s, want %s", key, frame, wantFrame)
		}
	}
}
