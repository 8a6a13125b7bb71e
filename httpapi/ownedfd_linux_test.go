package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// fdPair is a loopback pair whose server end is handed to an fdTransport
// the way serveSocket does: duplicated, then the original closed.
func fdPair(t *testing.T, timeout time.Duration) (net.Conn, *fdTransport) {
	t.Helper()
	client, server := tcpPair(t)
	tr, ok := newFDTransport(unsafeConnWrapper{server}, timeout, &iovecPool{})
	if !ok {
		t.Fatal("no descriptor to own")
	}
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return client, tr
}

// The socket outlives the net.Conn it came from: writes, reads through
// the RawConn the engine polls, and the blocking slow path all work.
func TestFDTransportOutlivesOriginal(t *testing.T) {
	client, tr := fdPair(t, time.Second)
	n, err := tr.TryWrite([][]byte{[]byte("hello"), nil, []byte(" world")})
	if err != nil || n != 11 {
		t.Fatalf("TryWrite = %d, %v", n, err)
	}
	got := make([]byte, 11)
	_ = client.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello world" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	raw, _ := tr.SyscallConn()
	var buf [16]byte
	var rn int
	deadline := time.Now().Add(waitFor)
	for rn == 0 && time.Now().Before(deadline) {
		if err := raw.Read(func(fd uintptr) bool {
			rn, _ = syscall.Read(int(fd), buf[:])
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if rn <= 0 {
			rn = 0
			time.Sleep(5 * time.Millisecond)
		}
	}
	if string(buf[:rn]) != "ping" {
		t.Fatalf("read %q through the owned descriptor", buf[:max(rn, 0)])
	}
	if err := tr.Write([]byte("slow path")); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 9)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "slow path" {
		t.Fatalf("peer read %q, %v", got, err)
	}
}

// Close closes every descriptor of the socket: the peer reads EOF, and
// later writes and reads report net.ErrClosed instead of touching a
// descriptor number the kernel may have handed out again.
func TestFDTransportClose(t *testing.T) {
	client, tr := fdPair(t, time.Second)
	if err := tr.Write([]byte("x")); err != nil { // makes the blocking conn too
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(waitFor))
	b, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(b, []byte("x")) {
		t.Fatalf("peer read %q, %v; want x then EOF", b, err)
	}
	if _, err := tr.TryWrite([][]byte{[]byte("late")}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("TryWrite after Close: %v", err)
	}
	if err := tr.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	raw, _ := tr.SyscallConn()
	if err := raw.Read(func(uintptr) bool { t.Error("read a closed descriptor"); return true }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A Close while the descriptor is in use (the poller reading) closes it
// only when that use ends.
func TestOwnedFDDefersCloseToLastUser(t *testing.T) {
	_, tr := fdPair(t, time.Second)
	fd := tr.own.fd
	raw, _ := tr.SyscallConn()
	err := raw.Read(func(uintptr) bool {
		_ = tr.Close()
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); errno != 0 {
			t.Errorf("descriptor closed while in use: %v", errno)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); errno != syscall.EBADF {
		t.Fatalf("descriptor still open after its last use: errno %v", errno)
	}
}

// Slow reader: the blocking Write gives up after the write timeout.
func TestFDTransportWriteTimesOut(t *testing.T) {
	_, tr := fdPair(t, 50*time.Millisecond)
	big := make([]byte, 64<<20)
	withTimeout(t, "Write to a peer that never reads", func() {
		if err := tr.Write(big); err == nil {
			t.Error("Write to a stalled peer succeeded")
		}
	})
}

// A deferred handshake response goes out in front of the first frame,
// whichever write carries it (TryWrite counts only the frame's bytes), or
// alone when the transport closes before any frame.
func TestFDTransportDeferredHead(t *testing.T) {
	head := []byte("HTTP/1.1 101 Switching Protocols\r\n\r\n")
	readAll := func(client net.Conn) string {
		_ = client.SetReadDeadline(time.Now().Add(waitFor))
		b, err := io.ReadAll(client)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Run("TryWrite", func(t *testing.T) {
		client, tr := fdPair(t, time.Second)
		tr.deferHead(head)
		if n, err := tr.TryWrite([][]byte{[]byte("first"), []byte(" frame")}); err != nil || n != 11 {
			t.Fatalf("TryWrite = %d, %v; want 11 (the frame's bytes only)", n, err)
		}
		if n, err := tr.TryWrite([][]byte{[]byte("|next")}); err != nil || n != 5 {
			t.Fatalf("second TryWrite = %d, %v", n, err)
		}
		_ = tr.Close()
		if got := readAll(client); got != string(head)+"first frame|next" {
			t.Fatalf("peer read %q", got)
		}
	})
	t.Run("Write", func(t *testing.T) {
		client, tr := fdPair(t, time.Second)
		tr.deferHead(head)
		if err := tr.Write([]byte("slow")); err != nil {
			t.Fatal(err)
		}
		_ = tr.Close()
		if got := readAll(client); got != string(head)+"slow" {
			t.Fatalf("peer read %q", got)
		}
	})
	t.Run("Close", func(t *testing.T) {
		client, tr := fdPair(t, time.Second)
		tr.deferHead(head)
		_ = tr.Close()
		if got := readAll(client); got != string(head) {
			t.Fatalf("peer read %q", got)
		}
	})
}
