// Package wire holds the load generator's pure, allocation-free helpers:
// a parser for unmasked server WebSocket frames, the payload timestamp
// format and masked client frames.
package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/sockudo/sockudo-go/protocol"
)

// Opcodes the loader cares about (RFC 6455 §5.2).
const (
	OpText  = 0x1
	OpClose = 0x8
	OpPing  = 0x9
	OpPong  = 0xA
)

// ErrFrame reports a frame the loader refuses (masked server frame,
// reserved bits, absurd length).
var ErrFrame = errors.New("wire: malformed server frame")

// MaxFrame bounds one server frame; Pusher data is ≤ 10 KB, so 1 MiB is
// generous and keeps a broken stream from allocating unbounded buffers.
const MaxFrame = 1 << 20

// NextFrame parses the first complete frame in p. It returns the opcode,
// the payload (aliasing p) and the number of bytes consumed; n == 0 means
// p holds only part of a frame. Continuation frames are returned as-is
// (servers send Pusher events as single text frames).
func NextFrame(p []byte) (op byte, payload []byte, n int, err error) {
	if len(p) < 2 {
		return 0, nil, 0, nil
	}
	b0, b1 := p[0], p[1]
	if b0&0x70 != 0 || b1&0x80 != 0 {
		return 0, nil, 0, ErrFrame
	}
	op = b0 & 0x0F
	hl := 2
	var ln uint64
	switch l := b1 & 0x7F; l {
	case 126:
		hl = 4
		if len(p) < hl {
			return 0, nil, 0, nil
		}
		ln = uint64(binary.BigEndian.Uint16(p[2:4]))
	case 127:
		hl = 10
		if len(p) < hl {
			return 0, nil, 0, nil
		}
		ln = binary.BigEndian.Uint64(p[2:10])
	default:
		ln = uint64(l)
	}
	if ln > MaxFrame {
		return 0, nil, 0, ErrFrame
	}
	end := hl + int(ln)
	if len(p) < end {
		return 0, nil, 0, nil
	}
	return op, p[hl:end], end, nil
}

// StampDigits is the width of the send timestamp (unix nanoseconds).
const StampDigits = 19

// stampMarker precedes the timestamp on the wire: the Pusher envelope
// carries data as a JSON string, so the payload "T<digits>|…" appears as
// "data":"T<digits>|…".
var stampMarker = []byte(`"data":"T`)

// AppendPayload appends the event data "T<19-digit unix nanos>|" padded
// with 'x' to size bytes (never shorter than the stamp itself).
func AppendPayload(dst []byte, unixNanos int64, size int) []byte {
	start := len(dst)
	dst = append(dst, 'T')
	var d [StampDigits]byte
	v := uint64(unixNanos)
	for i := StampDigits - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	dst = append(dst, d[:]...)
	dst = append(dst, '|')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// ParseStamp finds the send timestamp in a server event frame payload
// without decoding JSON. ok is false when the frame carries no stamp.
func ParseStamp(frame []byte) (unixNanos int64, ok bool) {
	i := bytes.Index(frame, stampMarker)
	if i < 0 {
		return 0, false
	}
	return parseDigits(frame[i+len(stampMarker):])
}

// ParseDataStamp parses a bare data value "T<19 digits>|…".
func ParseDataStamp(data []byte) (int64, bool) {
	if len(data) == 0 || data[0] != 'T' {
		return 0, false
	}
	return parseDigits(data[1:])
}

func parseDigits(p []byte) (int64, bool) {
	if len(p) < StampDigits {
		return 0, false
	}
	var v int64
	for _, c := range p[:StampDigits] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// AppendClientFrame appends a masked client frame (FIN set) with the given
// mask key: the server's own encoder, protocol.AppendClientFrame, with the
// loader's byte opcodes.
func AppendClientFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	return protocol.AppendClientFrame(dst, protocol.Opcode(op), payload, mask)
}

// SubscribeMessage is the pusher:subscribe frame payload for a public
// channel, as pusher-js sends it.
func SubscribeMessage(channel string) []byte {
	return []byte(`{"event":"pusher:subscribe","data":{"auth":"","channel":` + strconv.Quote(channel) + `}}`)
}

// Pong is the pusher:pong reply to a server pusher:ping.
var Pong = []byte(`{"event":"pusher:pong","data":{}}`)

// Event classifies a text frame by its "event" field without a JSON
// decode: it returns the raw value between the quotes.
func Event(frame []byte) []byte {
	const key = `"event":"`
	i := bytes.Index(frame, []byte(key))
	if i < 0 {
		return nil
	}
	rest := frame[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// SocketID extracts socket_id from a connection_established payload (the
// data is a JSON string, so the quotes inside it are escaped).
func SocketID(frame []byte) string {
	for _, key := range []string{`\"socket_id\":\"`, `"socket_id":"`} {
		i := bytes.Index(frame, []byte(key))
		if i < 0 {
			continue
		}
		rest := frame[i+len(key):]
		j := bytes.IndexAny(rest, `\"`)
		if j < 0 {
			return ""
		}
		return string(rest[:j])
	}
	return ""
}
