package engine

import (
	"encoding/binary"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// WireCodec is a binary wire format of protocol V2 (sockudo-v2.md §13).
// The engine builds and reads JSON frames only; a codec transcodes them,
// so the engine knows no binary layout. protocol/msgpackwire and
// protocol/protobufwire implement it; cmd/sockudo wires them.
type WireCodec interface {
	// Encode appends the format's form of the JSON server frame msg to dst.
	Encode(dst, msg []byte) ([]byte, error)
	// Decode appends the JSON client frame ({"event","channel","data"})
	// the binary client frame p holds to dst. Its error is the message of
	// the sockudo:error the client gets.
	Decode(dst, p []byte) ([]byte, error)
}

// numBinaryFormats is how many wire formats travel as binary frames;
// binary format f has index f-1 in per-format tables.
const numBinaryFormats = protocol.NumWireFormats - 1

// codec returns the codec of f, nil for JSON or a format not wired.
func (o *V2Options) codec(f protocol.WireFormat) WireCodec {
	switch f {
	case protocol.FormatMessagePack:
		return o.MessagePack
	case protocol.FormatProtobuf:
		return o.Protobuf
	}
	return nil
}

// ServesFormat reports whether V2 connections may ask for f: JSON always,
// a binary format when its codec is wired. The adapter answers HTTP 400
// before the upgrade otherwise.
func (e *Engine) ServesFormat(f protocol.WireFormat) bool {
	return f == protocol.FormatJSON || e.opts.V2.codec(f) != nil
}

// binary reports whether c receives binary frames.
func (c *Conn) binary() bool { return c.wf != protocol.FormatJSON }

// wireOut returns b, one or more complete server frames, with every text
// frame transcoded to a binary frame of c's format; b itself when there
// is none (broadcasts arrive already encoded once per format, control
// frames stay). This is the one place direct frames (errors,
// acknowledgements, replays, rewinds) meet the wire format, so no send
// path can leak JSON to a binary connection. A frame that fails to encode
// is dropped, counted and logged.
func (c *Conn) wireOut(b []byte) []byte {
	if !hasText(b) {
		return b
	}
	codec := c.e.opts.V2.codec(c.wf)
	out := make([]byte, 0, len(b)+protocol.MaxFrameHeader)
	for len(b) > 0 {
		n, hdr, op := frameSpan(b)
		if op != protocol.OpText {
			out = append(out, b[:n]...)
			b = b[n:]
			continue
		}
		start := len(out) + protocol.MaxFrameHeader
		out = append(out, make([]byte, protocol.MaxFrameHeader)...)
		enc, err := codec.Encode(out, b[hdr:n])
		b = b[n:]
		if err != nil {
			out = out[:start-protocol.MaxFrameHeader]
			c.e.stats.wireEncodeFailures.Add(1)
			if k, ok := c.e.wireLog.Due(time.Now()); ok {
				c.e.log.Warn("frame not encoded for a binary wire format: dropped", "format", c.wf.String(), "err", err, "dropped_since_last_log", k)
			}
			continue
		}
		out = sealBinary(enc, start)
	}
	return out
}

// sealBinary writes the binary frame header in front of the payload
// encoded at out[start:], in the MaxFrameHeader gap reserved before it,
// and closes the gap.
func sealBinary(out []byte, start int) []byte {
	var hdr [protocol.MaxFrameHeader]byte
	h := protocol.AppendFrameHeader(hdr[:0], protocol.OpBinary, len(out)-start)
	gap := start - protocol.MaxFrameHeader
	copy(out[gap:], h)
	return append(out[:gap+len(h)], out[start:]...)
}

// hasText reports whether the frames in b include a text frame.
func hasText(b []byte) bool {
	for len(b) > 0 {
		n, _, op := frameSpan(b)
		if op == protocol.OpText {
			return true
		}
		b = b[n:]
	}
	return false
}

// frameSpan reads the header of the unmasked server frame starting b: its
// total length, header length and opcode. The engine built the frame, so
// it is complete.
func frameSpan(b []byte) (n, hdr int, op protocol.Opcode) {
	op = protocol.Opcode(b[0] & 0x0f)
	l, hdr := int(b[1]&0x7f), 2
	switch l {
	case 126:
		l, hdr = int(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		l, hdr = int(binary.BigEndian.Uint64(b[2:10])), 10
	}
	return min(hdr+l, len(b)), hdr, op
}

// binaryMessage handles a binary frame of a binary-format connection: the
// codec turns it into the JSON client frame the handlers read. A frame
// that does not decode gets sockudo:error 4000 (in c's format) and the
// connection stays open.
func (c *Conn) binaryMessage(payload []byte) {
	codec := c.e.opts.V2.codec(c.wf)
	msg, err := codec.Decode(c.rdbuf[:0], payload)
	if err != nil {
		c.sendError(protocol.CodeInvalidMessage, "Invalid message format: "+err.Error(), "")
		return
	}
	c.handle(msg)
	if cap(msg) <= 4<<10 {
		c.rdbuf = msg[:0]
	}
}

// wireSet is a broadcast's frame for each binary format, encoded once per
// publish and shared by every worker, like f and f2.
type wireSet [numBinaryFormats]*frame

// wireFrames encodes v2msg (the V2 JSON payload of a publish) once for
// each binary format some worker among ws has subscribers of key in. Each
// frame carries one reference per worker; every job of the publish holds
// the set. Nothing is done while no binary-format connection subscribes
// anywhere on the node.
func (e *Engine) wireFrames(key chanKey, ws []*worker, v2msg []byte) wireSet {
	var set wireSet
	if e.binSubs.Load() == 0 || len(ws) == 0 {
		return set
	}
	var want [numBinaryFormats]bool
	for _, w := range ws {
		w.subMu.RLock()
		n := w.bins[key]
		w.subMu.RUnlock()
		for i := range want {
			want[i] = want[i] || n[i] > 0
		}
	}
	for i, ok := range want {
		if !ok {
			continue
		}
		f := protocol.WireFormat(i + 1)
		fr := e.frames.sized(len(v2msg) + len(v2msg)/4)
		p, err := e.opts.V2.codec(f).Encode(fr.payload(), v2msg)
		if err != nil {
			// Its subscribers get the JSON frame; Conn.wireOut then
			// encodes it per connection (and counts it if it fails again).
			fr.refs.Store(1)
			fr.release()
			continue
		}
		set[i] = fr.sealOp(protocol.OpBinary, p, int32(len(ws)))
	}
	return set
}

// release drops the set's references of one job.
func (s *wireSet) release() {
	for i, f := range s {
		if f != nil {
			f.release()
			s[i] = nil
		}
	}
}

// wireFrame is the frame of c's binary format in j, nil when j has none.
func (j *job) wireFrame(c *Conn) *frame {
	if !c.binary() {
		return nil
	}
	return j.fx[c.wf-1]
}

// countFormat keeps the per-worker per-channel count of binary-format
// subscribers (under subMu) and the node-wide total that lets publishes
// skip the per-format work when there are none.
func (w *worker) countFormat(k chanKey, c *Conn, delta int) {
	if !c.binary() {
		return
	}
	n := w.bins[k]
	n[c.wf-1] += delta
	if n == ([numBinaryFormats]int{}) {
		delete(w.bins, k)
	} else {
		w.bins[k] = n
	}
	w.e.binSubs.Add(int64(delta))
}

// refusalFrame turns a refused V2 connection's error frame b (one text
// frame) into its wire format, so the client can read why.
func (e *Engine) refusalFrame(b []byte, f protocol.WireFormat) []byte {
	codec := e.opts.V2.codec(f)
	if codec == nil {
		return b
	}
	_, hdr, _ := frameSpan(b)
	out := make([]byte, protocol.MaxFrameHeader, len(b)+protocol.MaxFrameHeader)
	out, err := codec.Encode(out, b[hdr:])
	if err != nil {
		return b
	}
	return sealBinary(out, protocol.MaxFrameHeader)
}

// wireFramesOf is wireFrames for a publish whose V2 subscribers receive
// f2, or f when f2 is nil; none when no worker has V2 subscribers.
func (e *Engine) wireFramesOf(key chanKey, ws []*worker, nv2 int, f, f2 *frame) wireSet {
	if nv2 == 0 || f == nil {
		return wireSet{}
	}
	if f2 != nil {
		f = f2
	}
	return e.wireFrames(key, ws, f.buf[protocol.MaxFrameHeader:])
}
