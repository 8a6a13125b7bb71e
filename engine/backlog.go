package engine

import "github.com/sockudo/sockudo-go/protocol"

// The slow path of a connection. The worker writes with non-blocking
// writes; what the kernel does not take becomes the connection's backlog,
// drained by a flusher goroutine with blocking writes. The backlog and the
// flusher's write in progress together stay within max_backpressure: the
// first frame that would pass it closes the connection with 4100 and every
// later one is dropped, so the client sees a gapless stream ending in the
// close frame, and a burst to a reader that has stopped costs the server
// at most max_backpressure for it.

// appendBacklog queues b behind bytes already waiting for a slow reader.
// It reports false when the flusher has just finished, so b can go the
// fast way. Over the backpressure limit the connection is closed (4100).
func (c *Conn) appendBacklog(b []byte) bool {
	c.bmu.Lock()
	if c.overflowed {
		c.bmu.Unlock()
		return true
	}
	if !c.flushing {
		c.bmu.Unlock()
		c.slow.Store(false)
		return false
	}
	pending := c.inflight + len(c.backlog)
	over := pending+len(b) > c.e.opts.MaxBackpressure
	if over {
		c.overflowed = true
	} else {
		c.backlog = append(c.backlog, b...)
	}
	c.bmu.Unlock()
	if over {
		c.overCapacity(pending + len(b))
	}
	return true
}

// startBacklog hands what the kernel did not take of c.out, after its
// first n bytes, to a flusher goroutine. Called by the worker. With
// bounded, more than max_backpressure is not kept: the rest of the frame
// in progress is (the stream must stay whole), the frames after it are
// dropped and the connection is closed with 4100.
func (c *Conn) startBacklog(n int, bounded bool) {
	keep := c.outLen - n
	over := bounded && keep > c.e.opts.MaxBackpressure
	if over {
		keep = 0
		if i, off := outFrameAt(c.out, n); off > 0 {
			keep = len(c.out[i]) - off
		}
	}
	c.bmu.Lock()
	c.backlog = appendOut(c.backlog, c.out, n, keep)
	if over {
		c.overflowed = true
	}
	start := !c.flushing && len(c.backlog) > 0
	c.flushing = c.flushing || start
	c.bmu.Unlock()
	c.slow.Store(true)
	if start {
		go c.flushBacklog()
	}
	if over {
		c.overCapacity(c.outLen - n)
	}
}

// outFrameAt returns the frame of out that byte n falls in and the offset
// of n in it.
func outFrameAt(out [][]byte, n int) (int, int) {
	for i, b := range out {
		if n < len(b) {
			return i, n
		}
		n -= len(b)
	}
	return len(out), 0
}

// appendOut appends up to keep bytes of out after its first n to dst.
func appendOut(dst []byte, out [][]byte, n, keep int) []byte {
	if keep <= 0 {
		return dst
	}
	if dst == nil {
		dst = make([]byte, 0, keep)
	}
	for _, b := range out {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		b = b[n:]
		n = 0
		if len(b) > keep {
			b = b[:keep]
		}
		dst = append(dst, b...)
		if keep -= len(b); keep == 0 {
			break
		}
	}
	return dst
}

// overCapacity counts, logs and closes a connection whose pending bytes
// passed max_backpressure.
func (c *Conn) overCapacity(pending int) {
	if c.state.Load() != stateOpen {
		return // already closing: its last frames are on their way
	}
	c.e.stats.slowConsumers.Add(1)
	c.e.log.Warn("slow consumer disconnected", "app", c.app().ID, "socket_id", c.id, "pending_bytes", pending)
	c.closeWith(protocol.CodeOverCapacity, "Slow consumer: too many pending messages")
}

// flushBacklog writes the backlog with blocking writes until it is empty.
func (c *Conn) flushBacklog() {
	for {
		c.bmu.Lock()
		b := c.backlog
		c.backlog = nil
		c.inflight = len(b)
		if len(b) == 0 {
			c.flushing = false
			closeNow := c.closeAfter
			c.bmu.Unlock()
			if closeNow {
				_ = c.t.Close()
			}
			return
		}
		c.bmu.Unlock()
		if err := c.t.Write(b); err != nil {
			c.bmu.Lock()
			c.backlog = nil
			c.inflight = 0
			c.flushing = false
			c.bmu.Unlock()
			_ = c.t.Close()
			c.closeWith(0, "")
			return
		}
	}
}

// lastToBacklog queues a closing connection's last frames behind a running
// flusher and reports whether there was one; the flusher then closes the
// socket after them. They go in whatever the backpressure limit: they are
// small and end the stream. Written by the worker instead, they would wait
// for the flusher's blocking write to the same socket (up to its write
// timeout), stalling every connection of the worker while its inbox piled
// up frames, and would land in the middle of the backlog's bytes.
func (c *Conn) lastToBacklog(b []byte) bool {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if !c.flushing {
		return false
	}
	c.backlog = append(c.backlog, b...)
	c.closeAfter = true
	return true
}

// finishBacklog makes a running flusher close the socket when done and
// reports whether there was one.
func (c *Conn) finishBacklog() bool {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	if c.flushing {
		c.closeAfter = true
	}
	return c.flushing
}
