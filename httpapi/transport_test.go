package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns a connected client/server TCP pair on loopback.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// withTimeout fails the test if fn blocks for longer than waitFor.
func withTimeout(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatalf("%s blocked", what)
	}
}

func TestTryWriteVectored(t *testing.T) {
	client, server := tcpPair(t)
	tr := newTransport(server, time.Second, &iovecPool{})
	if tr.raw == nil {
		t.Fatal("TCP conn has no RawConn")
	}
	bufs := [][]byte{[]byte("hello "), nil, []byte("vectored "), {}, []byte("world")}
	n, err := tr.TryWrite(bufs)
	if err != nil || n != len("hello vectored world") {
		t.Fatalf("TryWrite = %d, %v", n, err)
	}
	got := make([]byte, n)
	_ = client.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello vectored world" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if n, err := tr.TryWrite(nil); n != 0 || err != nil {
		t.Fatalf("empty TryWrite = %d, %v", n, err)
	}
}

func TestTryWriteDoesNotBlock(t *testing.T) {
	client, server := tcpPair(t)
	tr := newTransport(server, time.Second, &iovecPool{})
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	bufs := [][]byte{chunk, chunk, chunk, chunk}
	total := 4 * len(chunk)
	var written int
	withTimeout(t, "TryWrite", func() {
		// The peer never reads: the socket buffers fill and TryWrite
		// must come back short instead of waiting.
		for i := 0; i < 10000; i++ {
			n, err := tr.TryWrite(bufs)
			if err != nil {
				t.Errorf("TryWrite: %v", err)
				return
			}
			written += n
			if n < total {
				return
			}
		}
		t.Error("socket never filled")
	})
	if t.Failed() {
		return
	}
	n, err := tr.TryWrite(bufs)
	if err != nil || n >= total {
		t.Fatalf("TryWrite on a full socket = %d, %v", n, err)
	}
	written += n

	// Once the peer reads, writing makes progress again.
	go io.Copy(io.Discard, client)
	eventually(t, "TryWrite progress", func() bool {
		n, err := tr.TryWrite(bufs)
		if err != nil {
			t.Fatalf("TryWrite: %v", err)
		}
		return n > 0
	})
}

func TestWriteTimesOutOnSlowReader(t *testing.T) {
	_, server := tcpPair(t)
	tr := newTransport(server, 50*time.Millisecond, &iovecPool{})
	big := bytes.Repeat([]byte("y"), 64<<20)
	var err error
	withTimeout(t, "Write", func() { err = tr.Write(big) })
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a reader that never reads: %v", err)
	}
	// The deadline is cleared: a later TryWrite is not failed by it.
	if _, err := tr.TryWrite([][]byte{[]byte("x")}); err != nil {
		t.Fatalf("TryWrite after a timed-out Write: %v", err)
	}
}

func TestTransportClose(t *testing.T) {
	client, server := tcpPair(t)
	tr := newTransport(server, time.Second, &iovecPool{})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.TryWrite([][]byte{[]byte("x")}); err == nil {
		t.Fatal("TryWrite on a closed transport succeeded")
	}
	_ = client.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("peer read after Close: %v", err)
	}
}

func TestTransportPipeFallback(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	tr := newTransport(a, time.Second, &iovecPool{})
	if tr.raw != nil {
		t.Fatal("pipe should have no RawConn")
	}
	got := make(chan []byte, 1)
	go func() {
		p := make([]byte, 11)
		_, _ = io.ReadFull(b, p)
		got <- p
	}()
	// Without a descriptor TryWrite takes nothing, leaving the bytes to
	// the engine's flusher and its blocking Write.
	n, err := tr.TryWrite([][]byte{[]byte("hello"), []byte(" pipe")})
	if err != nil || n != 0 {
		t.Fatalf("TryWrite = %d, %v", n, err)
	}
	if err := tr.Write([]byte("hello pipe!")); err != nil {
		t.Fatal(err)
	}
	if p := <-got; string(p) != "hello pipe!" {
		t.Fatalf("peer got %q", p)
	}
}

func TestTransportUnwrapsHijackedConn(t *testing.T) {
	_, server := tcpPair(t)
	tr := newTransport(unsafeConnWrapper{server}, time.Second, &iovecPool{})
	if tr.conn != server || tr.raw == nil {
		t.Fatal("transport did not unwrap the hijacked connection")
	}
}

// unsafeConnWrapper mimics fasthttp's hijackConn.
type unsafeConnWrapper struct{ net.Conn }

func (u unsafeConnWrapper) UnsafeConn() net.Conn { return u.Conn }
