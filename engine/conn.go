package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// Connection states. A connection is open until a close is requested
// (closing: no more input is handled) and closed once its worker has
// written the last frames and released it.
const (
	stateOpen uint32 = iota
	stateClosing
	stateClosed
)

// errClosing stops the adapter's read loop once a close was requested.
var errClosing = errors.New("engine: connection is closing")

// Conn is one client connection. Feed and Gone are called by the transport
// adapter's read side, one goroutine at a time; everything else is internal.
type Conn struct {
	// Fields are ordered so the struct has no padding holes: it is the
	// largest per-connection object, and every idle connection holds one.
	e  *Engine
	rt *appRuntime // rt.app is the connection's app, changed live
	w  *worker
	t  Transport
	id string

	state      atomic.Uint32
	authed     atomic.Bool  // signed in or joined a private/presence channel
	lastActive atomic.Int64 // unix nanos of the last inbound frame

	// Set once by Poll when the engine reads the socket itself.
	raw syscall.RawConn
	fd  int32

	// Read side, owned by the goroutine calling Feed.
	evCount int32
	fr      protocol.FrameReader
	evStart int64  // client-event rate window start, unix nanos
	rdbuf   []byte // a binary client frame decoded to JSON

	// mu guards the subscription and user state below, which the read side
	// writes and HTTP queries and cleanup read.
	mu      sync.Mutex
	subs    []subscription
	resumed map[string]resumeMark // channels a resume replayed before c subscribed
	userID  string
	user    *userExtra // nil until the connection signs in or watches users
	// rewindAttach is set by a subscribe asking for rewind while it
	// joins (under mu): acknowledgeHistory records the attach position.
	rewindAttach *attachPos
	// attachSerials are the attach_serial each history channel was
	// acknowledged with, for channel_history's until_attach.
	attachSerials map[string]uint64
	histInflight  atomic.Int32 // channel_history requests being read

	// Owned by the worker goroutine.
	wslot    int32 // timer wheel slot, -1 when not filed
	out      [][]byte
	outLen   int
	pingAt   int64
	authDead int64                  // unix nanos after which an unauthenticated conn closes
	wpos     int32                  // index in that slot
	live     map[string]*liveRange  // V2 continuity gate per channel
	gates    map[string]*attachGate // V2 channels whose rewind is being read
	// dc is the delta compression state (v2delta.go), nil until the
	// connection first asks for deltas.
	dc atomic.Pointer[deltaConn]

	// Slow path (backlog.go): bytes the kernel did not take, drained by a
	// flusher goroutine that exists only while there are any. slow is set
	// by the worker only; bmu guards the rest.
	bmu      sync.Mutex
	backlog  []byte
	inflight int // bytes of the flusher's write in progress
	slow     atomic.Bool

	v2 bool // Sockudo protocol V2 (protocol=2)
	// echo: a V2 connection receives its own client events.
	echo bool
	// wf is a V2 connection's wire format; binary formats get every frame
	// transcoded (wireformat.go).
	wf         protocol.WireFormat
	dirty      bool // worker
	pinged     bool // worker
	flushing   bool // a flusher goroutine runs (bmu)
	overflowed bool // over max_backpressure: nothing more is queued (bmu)
	closeAfter bool // (bmu)
}

// userExtra is what user authentication adds to a connection (under
// Conn.mu). Most connections never sign in, so it lives behind a pointer
// instead of in every Conn.
type userExtra struct {
	info      []byte
	watchlist []string
}

// userLocked returns c's user state, creating it; c.mu must be held.
func (c *Conn) userLocked() *userExtra {
	if c.user == nil {
		c.user = new(userExtra)
	}
	return c.user
}

// subscription is one channel a connection joined.
type subscription struct {
	name   string
	kind   protocol.Kind
	cache  bool
	userID string // presence member id
	// pred is a V2 subscription's filter, nil for none (filters.go).
	pred *filter.Predicate
}

// SocketID is the connection's Pusher socket id.
func (c *Conn) SocketID() string { return c.id }

// Feed consumes bytes read from the socket. It returns an error when the
// adapter must stop reading: the engine is then closing the connection.
func (c *Conn) Feed(p []byte) error {
	if c.state.Load() != stateOpen {
		return errClosing
	}
	c.rt.stats.recvBytes(len(p))
	err := c.fr.Feed(p, c.frame) // fn does not escape: no closure is allocated
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		c.e.stats.wsErrors.Add(1)
		c.closeWith(pe.Code, pe.Message)
	}
	return err
}

// Gone reports that the socket's read side ended (EOF, reset, timeout).
func (c *Conn) Gone(error) {
	c.closeWith(0, "")
}

// frame handles one message or control frame from the reader.
func (c *Conn) frame(op protocol.Opcode, payload []byte) error {
	c.lastActive.Store(time.Now().UnixNano())
	switch op {
	case protocol.OpText:
		c.rt.stats.received.Add(1)
		c.handle(payload)
	case protocol.OpBinary:
		c.rt.stats.received.Add(1)
		if c.binary() {
			c.binaryMessage(payload)
			break
		}
		c.sendError(protocol.CodeInvalidMessage, "Binary frames are not supported: send JSON text frames", "")
	case protocol.OpPing:
		c.sendRaw(protocol.AppendFrame(nil, protocol.OpPong, payload))
	case protocol.OpClose:
		code, _, err := protocol.ParseClosePayload(payload)
		if err != nil {
			return err
		}
		if code == 1005 {
			code = protocol.CodeNormal
		}
		c.closeWith(code, "")
		return errClosing
	}
	if c.state.Load() != stateOpen {
		return errClosing
	}
	return nil
}

// closeWith asks the worker to close the connection. A code of 0 closes
// the socket without a close frame (the peer is gone). Pusher codes (4000+)
// are preceded by pusher:error so pusher-js reads the code either way.
// Safe from any goroutine; only the first call counts.
func (c *Conn) closeWith(code protocol.Code, reason string) {
	if !c.state.CompareAndSwap(stateOpen, stateClosing) {
		return
	}
	var f *frame
	if code != 0 {
		if reason == "" {
			reason = code.Reason()
		}
		f = c.e.frames.get()
		b := f.buf[:0]
		if code >= 4000 {
			b = protocol.AppendFrame(b, protocol.OpText, c.errorMessage(code, reason, ""))
		}
		b = protocol.AppendCloseFrame(b, code, reason)
		f.buf, f.b = b, b
		f.refs.Store(1)
	}
	c.w.push(job{kind: jobClose, conn: c, f: f, code: code, reason: reason})
}

// send queues an encoded Pusher message (JSON, without WebSocket header).
// On a V2 connection the message is rewritten to V2 and stamped with a
// message id (see appendDirect).
func (c *Conn) send(msg []byte) {
	f := c.e.frames.get()
	p := c.appendDirect(f.payload(), msg)
	c.w.push(job{kind: jobSend, conn: c, f: f.seal(p, 1)})
}

// sendExact queues msg as it is, on V1 and V2 alike (pong, V2 frames
// already encoded).
func (c *Conn) sendExact(msg []byte) {
	f := c.e.frames.get()
	p := append(f.payload(), msg...)
	c.w.push(job{kind: jobSend, conn: c, f: f.seal(p, 1)})
}

// ack queues subscription_succeeded and makes c live in key's fan-out
// index when the worker delivers it (see worker.indexAdd). msg is sent
// as it is: the caller encodes it for c's protocol.
func (c *Conn) ack(key chanKey, msg []byte) {
	f := c.e.frames.get()
	p := append(f.payload(), msg...)
	c.w.push(job{kind: jobAck, conn: c, key: key, f: f.seal(p, 1)})
}

// sendRaw queues bytes that are already a complete WebSocket frame.
func (c *Conn) sendRaw(b []byte) {
	c.w.push(job{kind: jobSend, conn: c, f: c.e.frames.raw(b)})
}

// sendError queues pusher:error; the connection stays open.
// V2 connections get sockudo:error, without a channel, as Sockudo sends it.
func (c *Conn) sendError(code protocol.Code, msg, channel string) {
	c.e.stats.errors.Add(1)
	c.sendExact(c.errorMessage(code, msg, channel))
}

// errorMessage encodes an error for c's protocol.
func (c *Conn) errorMessage(code protocol.Code, msg, channel string) []byte {
	if c.v2 {
		return protocol.AppendV2Error(nil, code, msg, protocol.NewMessageID())
	}
	return protocol.AppendError(nil, code, msg, channel)
}

// nextCheck is when the wheel should first look at a new connection.
func (c *Conn) nextCheck(now int64) int64 {
	next := c.lastActive.Load() + int64(c.e.opts.ActivityTimeout)
	if c.authDead != 0 && c.authDead < next {
		next = c.authDead
	}
	return max(next, now+1)
}

// tick runs the connection's timers at now (worker goroutine): the user
// authentication deadline, the server ping after ActivityTimeout of
// silence, and the 4201 close when no answer came within PongTimeout. It
// returns when to look again, 0 when the connection is being closed.
func (c *Conn) tick(now int64) int64 {
	if c.authDead != 0 {
		if c.authed.Load() {
			c.authDead = 0
		} else if now >= c.authDead {
			c.closeWith(protocol.CodeUnauthorized, "Connection not authorized within timeout")
			return 0
		}
	}
	last := c.lastActive.Load()
	if c.pinged && last > c.pingAt {
		c.pinged = false
	}
	var next int64
	switch {
	case c.pinged && now >= c.pingAt+int64(c.e.opts.PongTimeout):
		c.closeWith(protocol.CodePongTimeout, "")
		return 0
	case c.pinged:
		next = c.pingAt + int64(c.e.opts.PongTimeout)
	case now >= last+int64(c.e.opts.ActivityTimeout):
		c.pinged, c.pingAt = true, now
		if c.v2 {
			c.w.queue(c, c.e.pingFrameV2)
		} else {
			c.w.queue(c, c.e.pingFrame)
		}
		next = now + int64(c.e.opts.PongTimeout)
	default:
		next = last + int64(c.e.opts.ActivityTimeout)
	}
	if c.authDead != 0 && c.authDead < next {
		next = c.authDead
	}
	return next
}
