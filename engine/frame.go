package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// frame is one encoded server WebSocket frame shared by every recipient.
// The payload is encoded after a gap of protocol.MaxFrameHeader bytes and
// the header is written into the gap once the length is known, so a frame
// is built with one buffer and no copy.
//
// Ownership: the creator holds one reference per job it enqueues; a worker
// drops its reference after the flush that consumed the frame. Bytes a
// socket did not take are copied into the connection's backlog, so no
// connection retains b after the flush.
type frame struct {
	// born is when the publish was accepted (unix nanos), 0 for frames
	// that are not broadcasts; the last release observes the latency.
	born int64
	buf  []byte
	b    []byte // the complete frame, a window of buf
	refs atomic.Int32
	pool *framePool
}

// framePool recycles frames. Oversized buffers are dropped so one large
// publish does not pin memory forever.
type framePool struct {
	p   sync.Pool
	obs Observer
}

// maxPooledFrame is the largest buffer a released frame keeps. It holds
// an event at the default 10 KB payload limit. A sync.Pool empties only
// over two garbage collections, and an idle server collects rarely, so
// after a burst the pool pins up to frames-in-flight × this: larger frames
// are allocated to size and left to the collector.
const maxPooledFrame = 16 << 10

// eventSlack covers the envelope of an event frame around its strings.
const eventSlack = 64

// v2Slack covers the envelope of a V2 event frame: eventSlack plus the
// names of its V2 members and a serial's digits.
const v2Slack = eventSlack + 80

func (fp *framePool) get() *frame {
	if f, ok := fp.p.Get().(*frame); ok {
		return f
	}
	return &frame{buf: make([]byte, protocol.MaxFrameHeader, 512), pool: fp}
}

// sized returns a frame whose buffer takes an n-byte payload without
// growing: a large event is then encoded in one allocation of its size
// instead of a chain of doublings and a copy into a new buffer.
func (fp *framePool) sized(n int) *frame {
	f := fp.get()
	if need := protocol.MaxFrameHeader + n; cap(f.buf) < need {
		f.buf = make([]byte, protocol.MaxFrameHeader, need)
	}
	return f
}

// payload returns the buffer to append the frame's payload to.
func (f *frame) payload() []byte {
	return f.buf[protocol.MaxFrameHeader:protocol.MaxFrameHeader]
}

// seal writes the text-frame header in front of p (which must be the result
// of appending to f.payload()) and sets refs.
func (f *frame) seal(p []byte, refs int32) *frame {
	return f.sealOp(protocol.OpText, p, refs)
}

func (f *frame) sealOp(op protocol.Opcode, p []byte, refs int32) *frame {
	var hdr [protocol.MaxFrameHeader]byte
	h := protocol.AppendFrameHeader(hdr[:0], op, len(p))
	start := protocol.MaxFrameHeader - len(h)
	// p may have been reallocated by append: rebuild buf around it.
	if !sameArray(f.buf[protocol.MaxFrameHeader:], p) {
		nb := make([]byte, protocol.MaxFrameHeader+len(p), protocol.MaxFrameHeader+cap(p))
		copy(nb[protocol.MaxFrameHeader:], p)
		f.buf = nb
	} else {
		f.buf = f.buf[:protocol.MaxFrameHeader+len(p)]
	}
	copy(f.buf[start:], h)
	f.b = f.buf[start:]
	f.refs.Store(refs)
	return f
}

// release drops one reference and recycles the frame after the last.
func (f *frame) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	if f.born != 0 {
		if obs := f.pool.obs; obs != nil {
			obs.ObserveBroadcast(time.Duration(time.Now().UnixNano() - f.born))
		}
		f.born = 0
	}
	if cap(f.buf) > maxPooledFrame {
		return
	}
	f.b = nil
	f.buf = f.buf[:protocol.MaxFrameHeader]
	f.pool.p.Put(f)
}

// rawFrame wraps bytes that are already a complete frame (close frames,
// pongs) in a single-reference frame.
func (fp *framePool) raw(b []byte) *frame {
	f := fp.get()
	f.buf = append(f.buf[:0], b...)
	f.b = f.buf
	f.refs.Store(1)
	return f
}

// sameArray reports whether b starts at the first byte of a's capacity.
func sameArray(a, b []byte) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return cap(a) == cap(b)
	}
	return &a[:cap(a)][0] == &b[:cap(b)][0]
}
