package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/wire"
	"github.com/sockudo/sockudo-go/protocol"
)

// wsConn is a minimal Pusher WebSocket client: one reader (the owner's
// goroutine calls next), writes serialised by mu. Server frames are
// unmasked; continuation frames are joined.
type wsConn struct {
	c        net.Conn
	r        *bufio.Reader
	mu       sync.Mutex
	wbuf     []byte
	closed   bool
	socketID string
}

// msg is a Pusher envelope as the server sends it.
type msg struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
}

// dataString returns data as a string: a JSON string is decoded, anything
// else is returned raw.
func (m *msg) dataString() string {
	if len(m.Data) > 0 && m.Data[0] == '"' {
		var s string
		if json.Unmarshal(m.Data, &s) == nil {
			return s
		}
	}
	return string(m.Data)
}

var errClosedByServer = errors.New("closed by server")

// dialWS connects to ws://addr/app/key, completes the upgrade and waits for
// pusher:connection_established (socket id checked).
func dialWS(addr, key string, timeout time.Duration) (*wsConn, error) {
	deadline := time.Now().Add(timeout)
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(deadline)
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	wsKey := base64.StdEncoding.EncodeToString(kb[:])
	req := "GET /app/" + key + "?protocol=7&client=soak&version=1.0 HTTP/1.1\r\n" +
		"Host: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 8192)
	status, err := br.ReadString('\n')
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %s", strings.TrimSpace(status))
	}
	sum := sha1.Sum([]byte(wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	wantAccept := base64.StdEncoding.EncodeToString(sum[:])
	gotAccept := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("upgrade headers: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Sec-WebSocket-Accept") {
			gotAccept = strings.TrimSpace(v)
		}
	}
	if gotAccept != wantAccept {
		nc.Close()
		return nil, fmt.Errorf("upgrade: bad Sec-WebSocket-Accept %q", gotAccept)
	}
	w := &wsConn{c: nc, r: br}
	m, err := w.next()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connection_established: %w", err)
	}
	if m.Event != "pusher:connection_established" {
		nc.Close()
		return nil, fmt.Errorf("first event %q", m.Event)
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal([]byte(m.dataString()), &est); err != nil || !protocol.ValidSocketID(est.SocketID) {
		nc.Close()
		return nil, fmt.Errorf("bad connection_established %s", m.Data)
	}
	w.socketID = est.SocketID
	_ = nc.SetDeadline(time.Time{})
	return w, nil
}

// next returns the next Pusher message, answering WebSocket pings and
// pusher:ping on the way.
func (w *wsConn) next() (*msg, error) {
	for {
		op, payload, err := w.readFrame()
		if err != nil {
			return nil, err
		}
		switch op {
		case wire.OpPing:
			_ = w.write(wire.OpPong, payload)
			continue
		case wire.OpPong:
			continue
		case wire.OpClose:
			code := 0
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			w.abort()
			return nil, fmt.Errorf("%w (code %d)", errClosedByServer, code)
		case wire.OpText:
		default:
			continue
		}
		m := &msg{}
		if err := json.Unmarshal(payload, m); err != nil {
			return nil, fmt.Errorf("bad frame %q: %w", payload, err)
		}
		if m.Event == "pusher:ping" {
			_ = w.write(wire.OpText, wire.Pong)
			continue
		}
		return m, nil
	}
}

func (w *wsConn) readFrame() (byte, []byte, error) {
	var op byte
	var out []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return 0, nil, err
		}
		if h[1]&0x80 != 0 || h[0]&0x70 != 0 {
			return 0, nil, wire.ErrFrame
		}
		ln := uint64(h[1] & 0x7F)
		switch ln {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, nil, err
			}
			ln = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.r, b[:]); err != nil {
				return 0, nil, err
			}
			ln = binary.BigEndian.Uint64(b[:])
		}
		if ln > wire.MaxFrame {
			return 0, nil, wire.ErrFrame
		}
		p := make([]byte, ln)
		if _, err := io.ReadFull(w.r, p); err != nil {
			return 0, nil, err
		}
		fop := h[0] & 0x0F
		fin := h[0]&0x80 != 0
		if fop >= 0x8 { // control frames are never fragmented
			return fop, p, nil
		}
		if fop != 0 {
			op = fop
		}
		out = append(out, p...)
		if fin {
			return op, out, nil
		}
	}
}

func (w *wsConn) write(op byte, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	w.wbuf = wire.AppendClientFrame(w.wbuf[:0], op, payload, mask)
	_ = w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := w.c.Write(w.wbuf)
	return err
}

func (w *wsConn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.write(wire.OpText, b)
}

// subscribe sends pusher:subscribe with the signature the channel needs.
// userID != "" makes it a presence subscription.
func (w *wsConn) subscribe(channel, key, secret, userID string) error {
	data := map[string]string{"channel": channel}
	switch {
	case strings.HasPrefix(channel, "presence-"):
		cd := `{"user_id":` + jsonQuote(userID) + `,"user_info":{"name":` + jsonQuote(userID) + `}}`
		data["channel_data"] = cd
		data["auth"] = key + ":" + protocol.SignChannel(secret, w.socketID, channel, cd)
	case strings.HasPrefix(channel, "private-"):
		data["auth"] = key + ":" + protocol.SignChannel(secret, w.socketID, channel, "")
	}
	return w.send(map[string]any{"event": "pusher:subscribe", "data": data})
}

func (w *wsConn) unsubscribe(channel string) error {
	return w.send(map[string]any{"event": "pusher:unsubscribe", "data": map[string]string{"channel": channel}})
}

// waitSubscribed reads until subscription_succeeded for channel (other
// events are handed to other, may be nil).
func (w *wsConn) waitSubscribed(channel string, timeout time.Duration, other func(*msg)) (*msg, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	defer w.c.SetReadDeadline(time.Time{})
	for {
		m, err := w.next()
		if err != nil {
			return nil, err
		}
		if m.Channel == channel && m.Event == "pusher_internal:subscription_succeeded" {
			return m, nil
		}
		if m.Event == "pusher:error" || m.Event == "pusher:subscription_error" {
			return nil, fmt.Errorf("subscribe %s: %s %s", channel, m.Event, m.Data)
		}
		if other != nil {
			other(m)
		}
	}
}

// closeGraceful sends a close frame (1000) and closes the socket after
// the server's close frame or 2 s.
func (w *wsConn) closeGraceful() {
	if w.write(wire.OpClose, []byte{0x03, 0xE8}) == nil {
		_ = w.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			op, _, err := w.readFrame()
			if err != nil || op == wire.OpClose {
				break
			}
		}
	}
	w.abort()
}

// abort closes the TCP connection without a close frame.
func (w *wsConn) abort() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	_ = w.c.Close()
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
