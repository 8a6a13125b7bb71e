package engine

import "syscall"

// Pollable is an optional Transport capability: a socket with a file
// descriptor. The engine then reads it itself, on the owning worker's
// poller when epoll reports it readable, so an idle connection costs no
// goroutine and no read buffer.
type Pollable interface {
	SyscallConn() (syscall.RawConn, error)
}

// Poll hands reading to the engine when the transport is Pollable and
// the platform has epoll. It reports false when the adapter must keep
// reading and calling Feed itself. Call it at most once, before any Feed
// from another goroutine; bytes the adapter already buffered must be fed
// first.
func (c *Conn) Poll() bool {
	p, ok := c.t.(Pollable)
	if !ok || c.w.poll == nil {
		return false
	}
	raw, err := p.SyscallConn()
	if err != nil {
		return false
	}
	return c.w.poll.add(c, raw) == nil
}
