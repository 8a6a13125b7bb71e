package serving

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Bounds of a lingering close, after the model of nginx's lingering_close
// (whose lingering_time is 30 s and lingering_timeout 5 s; a refused API
// client has far less to send, so the bounds here are tighter). Draining
// costs a goroutine and a small buffer, never memory that grows with what
// the client sends.
const (
	// LingerTime bounds the whole drain: after it the socket is closed
	// whatever the client still sends.
	LingerTime = 2 * time.Second
	// LingerTimeout is the longest wait for the client's next bytes; a
	// client that stops sending without closing is not waited for longer.
	LingerTimeout = 500 * time.Millisecond
	// LingerBytes bounds what is read and discarded: at loopback or LAN
	// speed this much arrives well within LingerTime, so it only caps the
	// CPU spent on a client that sends faster than that.
	LingerBytes = 64 << 20

	// lingerBufferSize is the scratch buffer each drain reads into.
	lingerBufferSize = 16 << 10
)

// lingerListener wraps every accepted connection in a lingerConn.
type lingerListener struct {
	net.Listener
	bufs *sync.Pool // *[]byte of lingerBufferSize, shared by its connections
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c, bufs: l.bufs}, nil
}

// lingerConn is an accepted connection that can be closed lingeringly: a
// server that answers a request before reading all of it (a refusal) and
// then closes with unread bytes in the socket makes the kernel send a
// reset, and a client still writing its request sees that reset instead of
// the answer. Closing lingeringly shuts down the write side after the
// answer, then reads and discards what the client still sends, within
// LingerTime, LingerTimeout and LingerBytes, before closing.
type lingerConn struct {
	net.Conn
	bufs   *sync.Pool
	linger atomic.Bool // set by LingerOnClose
	closed atomic.Bool
}

// LingerOnClose marks c, a connection accepted by a Server (or a TLS
// connection over one), to be closed lingeringly. Call it when answering a
// request that was not read in full and after which the connection closes.
// It does nothing for other connections.
func LingerOnClose(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}

// Unwrap returns the connection underneath one accepted by a Server, for a
// hijacked socket that is then read, written and closed directly (and
// never lingeringly); any other connection is returned as it is.
func Unwrap(c net.Conn) net.Conn {
	if lc, ok := c.(*lingerConn); ok {
		return lc.Conn
	}
	return c
}

// SyscallConn exposes the socket's descriptor, as the *net.TCPConn
// underneath does.
func (c *lingerConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	return sc.SyscallConn()
}

// Close closes the connection, lingeringly when LingerOnClose asked for it.
// A second Close closes at once, cutting a drain short.
func (c *lingerConn) Close() error {
	if c.closed.Swap(true) || !c.linger.Load() {
		return c.Conn.Close()
	}
	c.drain()
	return c.Conn.Close()
}

// drain shuts the write side down, which sends the client a FIN after the
// answer, and reads until the client closes or a bound is reached.
func (c *lingerConn) drain() {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, lingerBufferSize)
		bp = &b
	}
	defer c.bufs.Put(bp)
	end := time.Now().Add(LingerTime)
	for read := 0; read < LingerBytes; {
		deadline := time.Now().Add(LingerTimeout)
		if deadline.After(end) {
			deadline = end
		}
		if c.Conn.SetReadDeadline(deadline) != nil {
			return
		}
		n, err := c.Conn.Read(*bp)
		read += n
		if err != nil {
			return
		}
	}
}
