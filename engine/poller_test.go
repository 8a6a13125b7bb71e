//go:build linux

package engine

import (
	"bufio"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// tcpTransport is a minimal Pollable transport over a real socket.
type tcpTransport struct{ c *net.TCPConn }

func (t tcpTransport) TryWrite(bufs [][]byte) (int, error) {
	b := net.Buffers(append([][]byte(nil), bufs...))
	n, err := b.WriteTo(t.c)
	return int(n), err
}
func (t tcpTransport) Write(p []byte) error                  { _, err := t.c.Write(p); return err }
func (t tcpTransport) Close() error                          { return t.c.Close() }
func (t tcpTransport) SyscallConn() (syscall.RawConn, error) { return t.c.SyscallConn() }

// pollPair connects a client socket to an engine connection read by the
// engine's poller.
func pollPair(t *testing.T, e *Engine, ln net.Listener) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Connect(ConnectRequest{AppKey: "key"}, tcpTransport{srv.(*net.TCPConn)})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Poll() {
		t.Fatal("a TCP socket is not pollable")
	}
	r := bufio.NewReader(cli)
	readEvent(t, cli.(*net.TCPConn), r) // connection_established
	return cli.(*net.TCPConn), r
}

// readEvent reads one unmasked server text frame and returns its payload.
func readEvent(t *testing.T, c *net.TCPConn, r *bufio.Reader) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	h := make([]byte, 2)
	if _, err := r.Read(h[:1]); err != nil {
		t.Fatalf("read: %v", err)
	}
	h[1], _ = r.ReadByte()
	n := int(h[1] & 0x7f)
	if n == 126 {
		b1, _ := r.ReadByte()
		b2, _ := r.ReadByte()
		n = int(b1)<<8 | int(b2)
	}
	p := make([]byte, n)
	for i := range p {
		p[i], _ = r.ReadByte()
	}
	return string(p)
}

func TestPollerHalfFrameDoesNotStallOthers(t *testing.T) {
	e := newEngine(t, Options{Shards: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	slow, _ := pollPair(t, e, ln)
	fast, fr := pollPair(t, e, ln)
	ping := maskedFrame(protocol.OpText, []byte(`{"event":"pusher:ping","data":{}}`))
	if _, err := slow.Write(ping[:len(ping)/2]); err != nil { // half a frame, then silence
		t.Fatal(err)
	}
	for range 3 {
		if _, err := fast.Write(ping); err != nil {
			t.Fatal(err)
		}
		if got := readEvent(t, fast, fr); got != `{"event":"pusher:pong","data":{}}` {
			t.Fatalf("fast client got %s", got)
		}
	}
	if _, err := slow.Write(ping[len(ping)/2:]); err != nil { // the rest arrives later
		t.Fatal(err)
	}
	fast.Close()
	waitFor(t, "EOF releases the fast connection", func() bool { return e.Stats().Connections == 1 })
}

// TestPollAfterCloseRefuses: a connection closed before the adapter handed
// it to the poller is not registered (its descriptor may already be reused).
func TestPollAfterCloseRefuses(t *testing.T) {
	e := newEngine(t, Options{Shards: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, _ := ln.Accept()
	c, err := e.Connect(ConnectRequest{AppKey: "key"}, tcpTransport{srv.(*net.TCPConn)})
	if err != nil {
		t.Fatal(err)
	}
	c.closeWith(protocol.CodeReconnect, "")
	waitFor(t, "closed", func() bool { return c.state.Load() == stateClosed })
	if c.Poll() {
		t.Fatal("a closed connection was registered with the poller")
	}
}
