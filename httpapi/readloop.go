package httpapi

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// readBufferSize is the per-connection read buffer. Pusher clients send
// little (subscribes, pings, client events), so a small buffer that may
// take several reads for a large frame costs less than idle memory.
const readBufferSize = 1024

// readLoop feeds everything read from r to the engine until the engine
// refuses more (it is then closing the connection) or the read side ends,
// which is reported with Gone. r is the hijacked connection, which first
// returns any bytes fasthttp buffered after the upgrade request.
//
// It is the fallback reader (TLS, sockets without a descriptor, and the
// GoroutineReads option) and costs one goroutine per connection; other
// sockets are read by the engine's epoll pollers (see ownedfd.go).
func readLoop(c *engine.Conn, r io.Reader) {
	buf := make([]byte, readBufferSize)
	for {
		n, err := r.Read(buf)
		if n > 0 && c.Feed(buf[:n]) != nil {
			return
		}
		if err != nil {
			c.Gone(err)
			return
		}
	}
}

// drainBuffered feeds what fasthttp read past the upgrade request (a client
// that sent a frame without waiting for the 101) before the engine starts
// reading the socket itself: fasthttp releases that buffer when the hijack
// handler returns. An expired deadline makes the read return at once
// whether or not anything was buffered. It reports whether the connection
// is still open.
func drainBuffered(c *engine.Conn, nc net.Conn, pool *sync.Pool) bool {
	if err := nc.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return false
	}
	defer nc.SetReadDeadline(time.Time{})
	bp, _ := pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, readBufferSize)
		bp = &b
	}
	defer pool.Put(bp)
	buf := *bp
	for {
		n, err := nc.Read(buf)
		if n > 0 && c.Feed(buf[:n]) != nil {
			return false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return true
		}
		if err != nil {
			c.Gone(err)
			return false
		}
	}
}
