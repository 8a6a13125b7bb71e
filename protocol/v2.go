package protocol

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Sockudo protocol V2 framing (sockudo-v2.md §1–§2). V2 frames are V1
// frames with the event prefixes rewritten (pusher: → sockudo:,
// pusher_internal: → sockudo_internal:) and, on direct frames, a random
// UUID-v4 message_id as the last member. The encoders below turn an
// encoded V1 message into its V2 form so every V1 encoder is reused and
// the V1 bytes stay exactly what they were.

// V2 event prefixes and the V2-only event names.
const (
	PrefixPusher          = "pusher:"
	PrefixPusherInternal  = "pusher_internal:"
	PrefixSockudo         = "sockudo:"
	PrefixSockudoInternal = "sockudo_internal:"

	EventV2Ping           = "sockudo:ping"
	EventV2Pong           = "sockudo:pong"
	EventV2Error          = "sockudo:error"
	EventV2ResumeSuccess  = "sockudo:resume_success"
	EventV2ResumeFailed   = "sockudo:resume_failed"
	EventV2SubSucceeded   = "sockudo_internal:subscription_succeeded"
	EventV2ConnectionOpen = "sockudo:connection_established"
)

// ProtocolV2 is the value of the protocol query parameter selecting V2.
const ProtocolV2 = "2"

// CanonicalEvent strips any of the four protocol prefixes a client may
// use on V1 or V2 (pusher:, pusher_internal:, sockudo:, sockudo_internal:)
// and reports whether one was there. Client events and unknown names come
// back unchanged with false. It does not allocate.
func CanonicalEvent(event string) (string, bool) {
	for _, p := range [...]string{PrefixPusher, PrefixSockudo, PrefixPusherInternal, PrefixSockudoInternal} {
		if strings.HasPrefix(event, p) {
			return event[len(p):], true
		}
	}
	return event, false
}

// V2EventPrefix returns the V2 prefix that replaces event's V1 prefix and
// the length of the V1 prefix, or "", 0 when event has none.
func V2EventPrefix(event string) (string, int) {
	switch {
	case strings.HasPrefix(event, PrefixPusherInternal):
		return PrefixSockudoInternal, len(PrefixPusherInternal)
	case strings.HasPrefix(event, PrefixPusher):
		return PrefixSockudo, len(PrefixPusher)
	}
	return "", 0
}

// AppendV2Event appends event's V2 name (prefix rewritten) as a JSON
// string.
func AppendV2Event(dst []byte, event string) []byte {
	if p, n := V2EventPrefix(event); n > 0 {
		dst = append(dst, '"')
		dst = append(dst, p...)
		return append(appendEscaped(dst, event[n:]), '"')
	}
	return AppendJSONString(dst, event)
}

// eventHead is how every message the encoders of this package produce
// starts; the event name follows as a JSON string.
const eventHead = `{"event":"`

// NeedsV2Rewrite reports whether the V1 message msg (as the encoders of
// this package produce it) has an event with a V1 prefix.
func NeedsV2Rewrite(msg []byte) bool {
	if len(msg) < len(eventHead) || string(msg[:len(eventHead)]) != eventHead {
		return false
	}
	_, n := V2EventPrefix(string(msg[len(eventHead):min(len(msg), len(eventHead)+len(PrefixPusherInternal))]))
	return n > 0
}

// AppendV2Message appends the V2 form of the V1 message msg: the event's
// prefix rewritten and, when messageID is not empty, "message_id" added as
// the last member. msg must be a JSON object starting with {"event":"…
// as this package's encoders write it.
func AppendV2Message(dst, msg []byte, messageID string) []byte {
	if len(msg) < 2 {
		return append(dst, msg...)
	}
	body := msg
	if len(msg) >= len(eventHead) && string(msg[:len(eventHead)]) == eventHead {
		rest := string(msg[len(eventHead):])
		if p, n := V2EventPrefix(rest); n > 0 {
			dst = append(dst, eventHead...)
			dst = append(dst, p...)
			body = msg[len(eventHead)+n:]
		}
	}
	if messageID == "" {
		return append(dst, body...)
	}
	dst = append(dst, body[:len(body)-1]...)
	dst = append(dst, `,"message_id":"`...)
	dst = append(dst, messageID...)
	return append(dst, '"', '}')
}

// AppendUUIDv4 appends a random RFC 4122 version-4 UUID in its canonical
// 36-character form. Message ids identify frames for client-side
// deduplication; they need uniqueness, not secrecy, so a fast generator
// is used.
func AppendUUIDv4(dst []byte) []byte {
	const hex = "0123456789abcdef"
	var u [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[x>>4], hex[x&0x0f])
	}
	return dst
}

// NewMessageID returns a fresh UUID-v4 string.
func NewMessageID() string {
	var b [36]byte
	return string(AppendUUIDv4(b[:0]))
}

// AppendV2Error appends {"event":"sockudo:error","data":{"code":N,
// "message":"M"},"message_id":"…"}: V2 errors carry no channel.
func AppendV2Error(dst []byte, code Code, message, messageID string) []byte {
	dst = append(dst, `{"event":"sockudo:error","data":{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, message)
	dst = append(dst, '}')
	if messageID != "" {
		dst = append(dst, `,"message_id":"`...)
		dst = append(dst, messageID...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// WireFormat is a V2 frame encoding (format query parameter).
type WireFormat uint8

// Wire formats (sockudo-v2.md §13). JSON frames travel as text, the
// others as binary WebSocket frames.
const (
	FormatJSON WireFormat = iota
	FormatMessagePack
	FormatProtobuf
)

// NumWireFormats sizes per-format tables indexed by WireFormat.
const NumWireFormats = 3

// String is the format's canonical name (metric labels, logs).
func (f WireFormat) String() string {
	switch f {
	case FormatMessagePack:
		return "msgpack"
	case FormatProtobuf:
		return "protobuf"
	}
	return "json"
}

// ParseWireFormat reads the format query parameter of a V2 connection as
// Sockudo does (trimmed, case-insensitive): absent, "" or json is JSON;
// msgpack or messagepack is MessagePack; protobuf or proto is Protobuf;
// anything else is an error.
func ParseWireFormat(v string) (WireFormat, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "json":
		return FormatJSON, nil
	case "msgpack", "messagepack":
		return FormatMessagePack, nil
	case "protobuf", "proto":
		return FormatProtobuf, nil
	}
	return FormatJSON, errors.New("unsupported wire format " + v + ": use json, msgpack or protobuf")
}

// ParseEchoMessages reads the echo_messages query parameter: "true",
// "false" or absent (def).
func ParseEchoMessages(v string, def bool) (bool, error) {
	switch v {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return def, errors.New("echo_messages must be true or false")
}
