package httpapi

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// fdClosing marks an ownedFD whose Close was called; the low bits count
// the calls using the descriptor at that moment.
const fdClosing = 1 << 31

// ownedFD is a socket descriptor held without a net.Conn around it. A
// *net.TCPConn keeps ~900 bytes per idle connection alive (its netFD,
// both addresses and the sockaddrs they alias, and the runtime's poll
// descriptor with its two deadline timers), none of which an
// engine-polled socket uses: the engine waits for readiness on its own
// epoll and every read and write is non-blocking.
//
// Like the runtime's fdMutex, it defers the close(2) until the last user
// is done, so a descriptor number the kernel hands out again is never
// written to or read for the old connection.
type ownedFD struct {
	fd    int
	state atomic.Uint32 // fdClosing | users
}

// acquire takes a use of the descriptor; false once it is closing.
func (o *ownedFD) acquire() bool {
	for {
		v := o.state.Load()
		if v&fdClosing != 0 {
			return false
		}
		if o.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release ends a use; the last one after Close closes the descriptor.
func (o *ownedFD) release() {
	if o.state.Add(^uint32(0)) == fdClosing {
		_ = syscall.Close(o.fd)
	}
}

// close closes the descriptor now, or when its last user releases it.
// Only the first call counts.
func (o *ownedFD) close() {
	for {
		v := o.state.Load()
		if v&fdClosing != 0 {
			return
		}
		if o.state.CompareAndSwap(v, v|fdClosing) {
			if v == 0 {
				_ = syscall.Close(o.fd)
			}
			return
		}
	}
}

// Control implements syscall.RawConn for the engine's poller.
func (o *ownedFD) Control(f func(fd uintptr)) error {
	if !o.acquire() {
		return net.ErrClosed
	}
	f(uintptr(o.fd))
	o.release()
	return nil
}

// Read implements syscall.RawConn. The engine calls it only when epoll
// reported the socket readable, so f runs once and never waits.
func (o *ownedFD) Read(f func(fd uintptr) bool) error {
	return o.Control(func(fd uintptr) { f(fd) })
}

// Write implements syscall.RawConn; f runs once and never waits.
func (o *ownedFD) Write(f func(fd uintptr) bool) error {
	return o.Read(f)
}

// dupSocket duplicates c's descriptor (close-on-exec), for an ownedFD that
// outlives c.
func dupSocket(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errNoDescriptor
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	var derr error
	if err := raw.Control(func(fd uintptr) { nfd, derr = dupCloexec(int(fd)) }); err != nil {
		return -1, err
	}
	return nfd, derr
}

// dupCloexec is dup(2) with FD_CLOEXEC, so no child process inherits a
// client's socket.
func dupCloexec(fd int) (int, error) {
	for {
		nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
		switch errno {
		case 0:
			return int(nfd), nil
		case syscall.EINTR:
			continue
		default:
			return -1, errno
		}
	}
}

// fdTransport is the engine.Transport of a socket the engine polls, over
// an owned duplicate of its descriptor: 64 bytes per connection, where
// transport plus the *net.TCPConn it keeps alive take ~900 (heap and the
// runtime's poll descriptor). The engine calls TryWrite and Write from one
// goroutine at a time and Close from anywhere.
type fdTransport struct {
	own     ownedFD
	closed  atomic.Bool
	mu      sync.Mutex // guards conn's creation against Close
	timeout time.Duration
	iovs    *iovecPool
	// conn is a net.Conn on another duplicate, made for the first
	// blocking Write (a slow reader) and kept until Close.
	conn net.Conn
	// head is what is left of the handshake's 101 response while
	// headPending (deferHead): written before anything else, under mu.
	head        []byte
	headPending atomic.Bool
}

// deferHead makes head (nil: none) go out in front of the first frame the
// engine writes, or alone at Close if it writes none.
func (t *fdTransport) deferHead(head []byte) {
	if len(head) > 0 {
		t.head = head
		t.headPending.Store(true)
	}
}

// newFDTransport duplicates the descriptor under nc (the hijacked
// connection) for an fdTransport; false when nc has none (TLS, pipes).
// The caller closes nc once it has read what fasthttp buffered; the
// socket stays open through the duplicate.
func newFDTransport(nc net.Conn, timeout time.Duration, iovs *iovecPool) (*fdTransport, bool) {
	fd, err := dupSocket(underlying(nc))
	if err != nil {
		return nil, false
	}
	t := &fdTransport{timeout: timeout, iovs: iovs}
	t.own.fd = fd
	return t, true
}

// underlying returns the socket beneath fasthttp's hijack wrapper and the
// serving package's lingering-close wrapper.
func underlying(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		nc = u.UnsafeConn()
	}
	return serving.Unwrap(nc)
}

// TryWrite writes a prefix of bufs with one writev(2) and never waits: a
// full socket buffer is 0 bytes written, not an error.
func (t *fdTransport) TryWrite(bufs [][]byte) (int, error) {
	if t.headPending.Load() {
		return t.tryWriteWithHead(bufs)
	}
	if !t.own.acquire() {
		return 0, net.ErrClosed
	}
	n, err := writeBufs(uintptr(t.own.fd), bufs, t.iovs)
	t.own.release()
	return n, err
}

// tryWriteWithHead is TryWrite while the 101 response is pending: one
// writev with the response in front. n counts bufs' bytes only; a write
// that ends inside the response is 0 of them, and the rest of the
// response goes first next time.
func (t *fdTransport) tryWriteWithHead(bufs [][]byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.headPending.Load() {
		return t.TryWrite(bufs)
	}
	if !t.own.acquire() {
		return 0, net.ErrClosed
	}
	n, err := writeBufs(uintptr(t.own.fd), append([][]byte{t.head}, bufs...), t.iovs)
	t.own.release()
	if n < len(t.head) {
		t.head = t.head[n:]
		return 0, err
	}
	n -= len(t.head)
	t.head = nil
	t.headPending.Store(false)
	return n, err
}

// Write writes all of p, blocking at most the write timeout, through a
// net.Conn made on first use: only slow readers pay for one.
func (t *fdTransport) Write(p []byte) error {
	conn, err := t.blockingConn()
	if err != nil {
		return err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(t.timeout))
	if t.headPending.Load() {
		err = t.writeHead(conn)
	}
	if err == nil {
		_, err = conn.Write(p)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return err
}

// writeHead writes what is left of the 101 response through conn.
func (t *fdTransport) writeHead(conn net.Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.headPending.Load() {
		return nil
	}
	_, err := conn.Write(t.head)
	t.head = nil
	t.headPending.Store(false)
	return err
}

// blockingConn returns the conn for blocking writes, making it on the
// first call: a duplicate registered with the runtime's poller, so a
// writer waiting on a slow reader parks without holding a thread.
func (t *fdTransport) blockingConn() (net.Conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		return t.conn, nil
	}
	if t.closed.Load() || !t.own.acquire() {
		return nil, net.ErrClosed
	}
	fd, err := dupCloexec(t.own.fd)
	t.own.release()
	if err != nil {
		return nil, fmt.Errorf("httpapi: blocking write: %w", os.NewSyscallError("fcntl", err))
	}
	f := os.NewFile(uintptr(fd), "socket")
	conn, err := net.FileConn(f) // takes a duplicate of its own
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("httpapi: blocking write: %w", err)
	}
	t.conn = conn
	return conn, nil
}

// Close closes the socket (once the poller's or a writer's use of the
// descriptor ends) and the blocking-write conn if there is one. Only the
// first call counts.
func (t *fdTransport) Close() error {
	t.mu.Lock()
	if t.closed.Swap(true) {
		t.mu.Unlock()
		return nil
	}
	if t.headPending.Load() && t.own.acquire() {
		// Closed before any frame: the client still learns the handshake
		// succeeded, as when fasthttp wrote the response itself.
		_, _ = writeBufs(uintptr(t.own.fd), [][]byte{t.head}, t.iovs)
		t.own.release()
		t.head = nil
		t.headPending.Store(false)
	}
	conn := t.conn
	t.mu.Unlock()
	t.own.close()
	if conn != nil {
		return conn.Close()
	}
	return nil
}

// SyscallConn lets the engine poll the socket (engine.Pollable).
func (t *fdTransport) SyscallConn() (syscall.RawConn, error) {
	return &t.own, nil
}
