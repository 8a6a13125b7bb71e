package httpapi

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// maxIovecs caps the buffers of one writev(2) at the kernel's IOV_MAX.
const maxIovecs = 1024

// transport is the engine.Transport of one upgraded socket. The engine
// calls TryWrite and Write from one goroutine at a time (the worker that
// owns the connection) and Close from anywhere.
type transport struct {
	conn    net.Conn        // the socket itself: writes, deadlines, Close
	raw     syscall.RawConn // nil when conn has no file descriptor
	timeout time.Duration
	iovs    *iovecPool
	closed  atomic.Bool

	// State of the TryWrite in progress, kept here rather than captured
	// by a closure so a write allocates nothing. Safe because TryWrite is
	// never called concurrently on one transport.
	pending [][]byte
	n       int
	err     error
	writev  func(fd uintptr) bool
}

// newTransport wraps the hijacked conn. fasthttp hands hijack handlers a
// wrapper whose reads drain its buffered reader first; writes bypass it
// and go to the socket underneath, whose descriptor TryWrite needs, below
// the serving package's wrapper too: an upgraded socket is never closed
// lingeringly.
func newTransport(nc net.Conn, timeout time.Duration, iovs *iovecPool) *transport {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		nc = u.UnsafeConn()
	}
	nc = serving.Unwrap(nc)
	t := &transport{conn: nc, timeout: timeout, iovs: iovs}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			t.raw = raw
			t.writev = t.writevFD
		}
	}
	return t
}

// TryWrite writes a prefix of bufs with one writev(2) and never waits:
// a full socket buffer is 0 bytes written, not an error. Sockets without a
// descriptor (TLS, in-memory pipes) take nothing here: 0 bytes hands the
// frames to the engine's flusher goroutine and its blocking Write, since a
// TLS record write cannot be abandoned half-way and would otherwise stall
// the worker, and every connection on it, behind one slow reader.
func (t *transport) TryWrite(bufs [][]byte) (int, error) {
	if t.raw == nil {
		if t.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, nil
	}
	t.pending = bufs
	err := t.raw.Write(t.writev)
	n, werr := t.n, t.err
	t.pending, t.n, t.err = nil, 0, nil
	if err != nil {
		return 0, err
	}
	return n, werr
}

// writevFD is the RawConn.Write callback. It returns true whatever the
// outcome, so the runtime never parks the caller waiting for writability.
func (t *transport) writevFD(fd uintptr) bool {
	t.n, t.err = writeBufs(fd, t.pending, t.iovs)
	return true
}

// writeBufs writes a prefix of bufs with one writev(2) on a non-blocking
// descriptor; a full socket buffer is 0 bytes written.
func writeBufs(fd uintptr, bufs [][]byte, pool *iovecPool) (n int, err error) {
	iovp := pool.get()
	iovs := (*iovp)[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iovs) == maxIovecs {
			break
		}
		iov := syscall.Iovec{Base: &b[0]}
		iov.SetLen(len(b))
		iovs = append(iovs, iov)
	}
	if len(iovs) > 0 {
		n, err = writev(fd, iovs)
	}
	clear(iovs) // drop the references to the frames before pooling
	*iovp = iovs[:0]
	pool.put(iovp)
	return n, err
}

// writev does one writev(2) on a non-blocking descriptor; EAGAIN is 0
// bytes written. It is a raw system call: the descriptor never blocks, and
// announcing the call to the scheduler (syscall.Syscall) made the runtime's
// monitor hand the processor to another thread whenever the loopback write
// outlasted its 20 µs tick, waking threads and itself ~2,000 times a second
// under small-channel fan-out (bench/RESULTS.md, small-channel second round).
func writev(fd uintptr, iovs []syscall.Iovec) (int, error) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd,
			uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)))
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, os.NewSyscallError("writev", errno)
		}
	}
}

// Write writes all of p, blocking at most the write timeout; the engine
// uses it for a slow reader's leftovers. The deadline is cleared again so
// that it cannot fail a later TryWrite.
func (t *transport) Write(p []byte) error {
	_ = t.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	_, err := t.conn.Write(p)
	_ = t.conn.SetWriteDeadline(time.Time{})
	return err
}

// Close closes the socket; the connection's read loop then ends. A TLS
// socket is closed underneath, without a close_notify alert: the WebSocket
// close frame already ended the session, and the alert is a write that
// could wait on a reader that stopped reading.
func (t *transport) Close() error {
	t.closed.Store(true)
	if tc, ok := t.conn.(*tls.Conn); ok {
		return tc.NetConn().Close()
	}
	return t.conn.Close()
}

// errNoDescriptor: the socket cannot be polled (TLS, in-memory pipes).
var errNoDescriptor = errors.New("httpapi: socket has no file descriptor")

// SyscallConn lets the engine poll the socket (engine.Pollable), so an idle
// connection costs no reader goroutine.
func (t *transport) SyscallConn() (syscall.RawConn, error) {
	if t.raw == nil {
		return nil, errNoDescriptor
	}
	return t.raw, nil
}

// iovecPool recycles writev argument arrays, shared by a Server's
// transports so that an idle connection holds none.
type iovecPool struct{ p sync.Pool }

func (p *iovecPool) get() *[]syscall.Iovec {
	if v, ok := p.p.Get().(*[]syscall.Iovec); ok {
		return v
	}
	s := make([]syscall.Iovec, 0, 16)
	return &s
}

func (p *iovecPool) put(v *[]syscall.Iovec) {
	if cap(*v) > maxIovecs {
		return
	}
	p.p.Put(v)
}
