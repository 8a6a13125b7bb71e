package protocol

import (
	"encoding/binary"
	"unicode/utf8"
)

const (
	// defaultMaxMessage applies when FrameReader.MaxMessage is not set.
	defaultMaxMessage = 64 << 10
	// maxClientHeader is a client frame header with a 64-bit length and
	// the masking key.
	maxClientHeader = 14
	// scratchKeep is how much unmask scratch a reader keeps between Feed
	// calls: enough for typical Pusher frames without allocating, small
	// enough for idle connections.
	scratchKeep = 512
	// scratchMax is the largest frame unmasked into the reusable scratch
	// within one Feed; bigger frames get a buffer of their own.
	scratchMax = 4 << 10
)

// FrameReader parses client frames incrementally from a byte stream. It
// holds bytes only for a frame or message that is not complete yet, so an
// idle connection costs nothing (but a scratch of at most 512 bytes reused
// for unmasking). Not safe for concurrent use.
//
// It enforces RFC 6455 for a server: frames must be masked (else 1002), no
// RSV bits (1002), control frames ≤ 125 bytes and not fragmented (1002),
// no unknown opcodes (1002), continuation only inside a fragmented message
// (1002), text messages valid UTF-8 (1007), a message longer than
// MaxMessage bytes (announced length or reassembled total) is refused
// before its payload is buffered (1009), a 64-bit length with the top bit
// set (1002), close payloads as ParseClosePayload checks them (1002, 1007).
//
// Buffered never exceeds MaxMessage + 14 (a full message and a partial
// header), or MaxMessage + 124 while a control frame interleaved in a
// fragmented message is itself split across Feed calls.
type FrameReader struct {
	// MaxMessage is the largest message (after reassembly) accepted, in
	// bytes. Zero means 64 KiB.
	MaxMessage int
	// Scratch, when set, is unmask space shared with other readers that
	// are fed by the same goroutine (one epoll loop feeding many
	// connections): the reader then keeps no scratch of its own, so an
	// idle connection holds nothing. It may be grown (up to 4 KiB); its
	// contents are only valid until fn returns.
	Scratch *[]byte

	hdr  [maxClientHeader]byte // a header split across Feed calls
	nhdr int

	// The frame whose header has been read and whose payload is pending.
	inFrame bool
	op      Opcode
	fin     bool
	key     [4]byte
	remain  int // payload bytes still to come
	got     int // payload bytes already read (the mask offset)

	fragmented bool   // a data frame without FIN was read; msg holds it
	msgOp      Opcode // opcode of the message being reassembled
	msg        []byte // unmasked payload of the data message in progress
	ctrl       []byte // unmasked payload of a control frame in progress
	scratch    []byte // unmask space for frames wholly inside p
	err        error  // sticky: the stream cannot be resynchronised
}

// Feed consumes p (which the reader does not retain) and calls fn for each
// complete message (text or binary, reassembled and unmasked) and each
// control frame (ping, pong, close), in order. payload is valid only until
// fn returns. A non-nil error from fn stops Feed and is returned. A protocol
// violation returns *Error with the RFC close code (1002, 1007, 1009).
// Either error is sticky: the rest of p is lost, so later calls return it
// again.
func (r *FrameReader) Feed(p []byte, fn func(op Opcode, payload []byte) error) error {
	if r.err != nil {
		return r.err
	}
	err := r.feed(p, fn)
	if cap(r.scratch) > scratchKeep {
		r.scratch = nil
	}
	if err != nil {
		r.err = err
		r.msg, r.ctrl, r.scratch, r.nhdr = nil, nil, nil, 0
	}
	return err
}

// Buffered reports how many bytes the reader holds for incomplete input.
func (r *FrameReader) Buffered() int {
	return r.nhdr + len(r.msg) + len(r.ctrl)
}

// feed alternates between reading a header and reading its payload.
func (r *FrameReader) feed(p []byte, fn func(Opcode, []byte) error) error {
	for len(p) > 0 {
		if !r.inFrame {
			n, err := r.readHeader(p)
			if err != nil {
				return err
			}
			p = p[n:]
			if !r.inFrame || r.remain > 0 {
				continue
			}
			// An empty payload completes the frame right here.
		}
		n, err := r.readPayload(p, fn)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (r *FrameReader) maxMessage() int {
	if r.MaxMessage > 0 {
		return r.MaxMessage
	}
	return defaultMaxMessage
}

// headerLen is the client header size announced by its second byte.
func headerLen(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// readHeader consumes header bytes from p, parsing the header in place
// when it is whole in p and collecting it in r.hdr otherwise.
func (r *FrameReader) readHeader(p []byte) (int, error) {
	if r.nhdr == 0 && len(p) >= 2 && headerLen(p[1]) <= len(p) {
		n := headerLen(p[1])
		return n, r.parseHeader(p[:n])
	}
	used := 0
	if r.nhdr < 2 {
		used = copy(r.hdr[r.nhdr:2], p)
		r.nhdr += used
		if r.nhdr < 2 {
			return used, nil // wait for more input
		}
		// Refuse a bad frame before waiting for the rest of it.
		if err := r.checkStart(r.hdr[0], r.hdr[1]); err != nil {
			return used, err
		}
	}
	want := headerLen(r.hdr[1])
	k := copy(r.hdr[r.nhdr:want], p[used:])
	r.nhdr += k
	used += k
	if r.nhdr < want {
		return used, nil
	}
	r.nhdr = 0
	return used, r.parseHeader(r.hdr[:want])
}

// checkStart validates the first two header bytes.
func (r *FrameReader) checkStart(b0, b1 byte) error {
	if b1&0x80 == 0 {
		return NewError(CodeProtocolError, "client frame is not masked")
	}
	if b0&0x70 != 0 {
		return NewError(CodeProtocolError, "reserved bits set")
	}
	switch op := Opcode(b0 & 0x0F); op {
	case OpText, OpBinary:
		if r.fragmented {
			return NewError(CodeProtocolError, "new message inside a fragmented message")
		}
	case OpContinuation:
		if !r.fragmented {
			return NewError(CodeProtocolError, "continuation frame without a message")
		}
	case OpClose, OpPing, OpPong:
		if b0&0x80 == 0 {
			return NewError(CodeProtocolError, "fragmented control frame")
		}
		if b1&0x7F > maxControlPayload {
			return NewError(CodeProtocolError, "control frame payload over 125 bytes")
		}
	default:
		return NewError(CodeProtocolError, "unknown opcode")
	}
	return nil
}

// parseHeader reads a whole header h and starts its frame. Data frames
// are measured against MaxMessage here, before any payload is held.
func (r *FrameReader) parseHeader(h []byte) error {
	if err := r.checkStart(h[0], h[1]); err != nil {
		return err
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		n = binary.BigEndian.Uint64(h[2:])
		if n>>63 != 0 {
			return NewError(CodeProtocolError, "frame length has the top bit set")
		}
	}
	r.op = Opcode(h[0] & 0x0F)
	if r.op < OpClose && uint64(len(r.msg))+n > uint64(r.maxMessage()) {
		return NewError(CodeTooBig, "")
	}
	if r.op == OpText || r.op == OpBinary {
		r.msgOp = r.op
	}
	r.fin = h[0]&0x80 != 0
	copy(r.key[:], h[len(h)-4:])
	r.inFrame, r.remain, r.got = true, int(n), 0
	return nil
}

// readPayload consumes payload bytes of the current frame from p and
// delivers what completes. A frame wholly inside p that is a message on
// its own (or a control frame) is unmasked into scratch without being
// buffered; anything else accumulates in msg or ctrl.
func (r *FrameReader) readPayload(p []byte, fn func(Opcode, []byte) error) (int, error) {
	control := r.op >= OpClose
	k := min(r.remain, len(p))
	if k == r.remain && r.got == 0 && r.fin && (control || !r.fragmented) {
		r.inFrame = false
		return k, r.deliver(r.op, r.unmaskScratch(p[:k]), fn)
	}
	if control {
		r.ctrl = r.appendUnmasked(r.ctrl, p[:k])
	} else {
		r.msg = r.appendUnmasked(r.msg, p[:k])
	}
	r.got += k
	r.remain -= k
	switch {
	case r.remain > 0:
		return k, nil
	case control:
		r.inFrame = false
		payload := r.ctrl
		r.ctrl = nil // released once fn returns
		return k, r.deliver(r.op, payload, fn)
	case !r.fin:
		r.inFrame, r.fragmented = false, true
		return k, nil
	}
	r.inFrame, r.fragmented = false, false
	payload := r.msg
	r.msg = nil
	return k, r.deliver(r.msgOp, payload, fn)
}

// appendUnmasked appends src unmasked to buf, growing buf at most to what
// the current frame still needs, so an announced length costs memory
// only as its bytes arrive.
func (r *FrameReader) appendUnmasked(buf, src []byte) []byte {
	if need := len(buf) + len(src); need > cap(buf) {
		limit := len(buf) + r.remain // end of this frame in buf
		grown := make([]byte, len(buf), min(max(2*cap(buf), need, 64), limit))
		copy(grown, buf)
		buf = grown
	}
	start := len(buf)
	buf = buf[:start+len(src)]
	maskCopy(buf[start:], src, r.key, r.got)
	return buf
}

// unmaskScratch copies a whole frame payload out of the caller's p and
// unmasks it.
func (r *FrameReader) unmaskScratch(src []byte) []byte {
	var out []byte
	switch {
	case len(src) > scratchMax:
		out = make([]byte, len(src)) // not kept: see scratchMax
	case r.Scratch != nil:
		if len(src) > cap(*r.Scratch) {
			*r.Scratch = make([]byte, max(len(src), scratchKeep))
		}
		out = (*r.Scratch)[:len(src)]
	case len(src) > cap(r.scratch):
		r.scratch = make([]byte, max(len(src), scratchKeep))
		fallthrough
	default:
		out = r.scratch[:len(src)]
	}
	maskCopy(out, src, r.key, 0)
	return out
}

// deliver validates a complete message or control frame and hands it to fn.
func (r *FrameReader) deliver(op Opcode, payload []byte, fn func(Opcode, []byte) error) error {
	switch op {
	case OpText:
		if !utf8.Valid(payload) {
			return NewError(CodeInvalidPayload, "")
		}
	case OpClose:
		if err := checkClosePayload(payload); err != nil {
			return err
		}
	}
	return fn(op, payload)
}
