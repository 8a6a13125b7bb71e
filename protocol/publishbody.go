package protocol

import (
	"encoding/binary"
	"unicode/utf8"
)

// PublishEvent is one event of an HTTP API publish (the body of
// POST /events, or one item of batch_events) in the plain form the SDKs
// send: name, data, channel or channels, socket_id and info, all strings.
// Its strings alias the body they were decoded from.
type PublishEvent struct {
	Name, Data, Channel, SocketID, Info string
	// Channels is the channels member; nil when absent.
	Channels []string
	// HasData tells data "" from data absent.
	HasData bool
}

// maxPlainChannels is how many channels the plain decoder collects on the
// stack before copying them out; more go to the general decoder.
const maxPlainChannels = 128

// DecodePublishEvent decodes body, a single event, into ev without a
// general JSON decoder: one pass, no reflection, no allocation but the
// channels slice. ok is false for anything outside the plain form
// (another member, a duplicate, null or another type where a string is
// expected, an escaped member name, invalid UTF-8, a lone surrogate
// escape, malformed JSON): the caller then decodes the request's body with
// a general decoder, whose behaviour, errors included, defines the API.
//
// body becomes the event's storage: escaped strings are unescaped in
// place (the text never grows) and every string aliases body. The caller
// hands over a copy it never touches again, and on false discards it.
func DecodePublishEvent(body []byte, ev *PublishEvent) (ok bool) {
	*ev = PublishEvent{}
	s := scanner{b: body}
	if !decodePlainEvent(&s, ev) || !s.end() {
		*ev = PublishEvent{}
		return false
	}
	return true
}

// DecodePublishBatch decodes a batch_events body {"batch":[…]} the way
// DecodePublishEvent decodes one event, appending the items to dst[:0].
// ok is false as for DecodePublishEvent, and for a body with any other
// member or a batch that is not an array.
func DecodePublishBatch(body []byte, dst []PublishEvent) (_ []PublishEvent, ok bool) {
	dst = dst[:0]
	s := scanner{b: body}
	if !s.open('{') {
		return dst, false
	}
	seen := false
	for n := 0; s.next(&n, '}'); {
		key, esc := s.str()
		if esc || seen || string(key) != "batch" || !colon(&s) || !s.open('[') {
			return dst, false
		}
		seen = true
		for m := 0; s.next(&m, ']'); {
			dst = append(dst, PublishEvent{})
			if !decodePlainEvent(&s, &dst[len(dst)-1]) {
				return dst, false
			}
		}
	}
	return dst, seen && s.end()
}

// colon reads the ':' after a member name and the whitespace around it.
func colon(s *scanner) bool {
	s.ws()
	if !s.consume(':') {
		return false
	}
	s.ws()
	return true
}

// Bits of the members a plain event has had, to refuse duplicates (the
// general decoder's rule for them is its own).
const (
	hasName = 1 << iota
	hasData
	hasChannel
	hasChannels
	hasSocketID
	hasInfo
)

// decodePlainEvent reads one plain event object at s.i.
func decodePlainEvent(s *scanner, ev *PublishEvent) bool {
	if !s.open('{') {
		return false
	}
	var seen uint8
	for n := 0; s.next(&n, '}'); {
		key, esc := s.str()
		if esc || s.bad || !colon(s) {
			return false
		}
		var bit uint8
		var dst *string
		switch string(key) {
		case "name":
			bit, dst = hasName, &ev.Name
		case "data":
			bit, dst = hasData, &ev.Data
		case "channel":
			bit, dst = hasChannel, &ev.Channel
		case "socket_id":
			bit, dst = hasSocketID, &ev.SocketID
		case "info":
			bit, dst = hasInfo, &ev.Info
		case "channels":
			bit = hasChannels
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if dst == nil {
			if !plainStrings(s, &ev.Channels) {
				return false
			}
			continue
		}
		v, ok := plainString(s)
		if !ok {
			return false
		}
		*dst = v
	}
	ev.HasData = seen&hasData != 0
	return !s.bad
}

// plainString reads a string value (valid UTF-8, no lone surrogate
// escapes), unescaping it in place, and returns it aliasing the input.
func plainString(s *scanner) (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	raw, esc, ascii := plainRaw(s)
	if s.bad || !plainUTF8(raw, esc, ascii) {
		return "", false
	}
	if esc {
		// Unescaped text is never longer and is written behind the
		// reading position, so raw can be rewritten as it is read.
		raw = unescapeAppend(raw[:0], raw)
	}
	return aliasString(raw), true
}

// plainUTF8 reports whether raw is valid UTF-8 and, when it has escapes,
// every \uD800–\uDFFF escape is part of a well-formed surrogate pair (lone
// ones are where decoders differ).
func plainUTF8(raw []byte, esc, ascii bool) bool {
	if !ascii && !utf8.Valid(raw) {
		return false
	}
	for i := 0; esc && i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped byte: "\\u" is no \u escape
		if raw[i] != 'u' {
			continue
		}
		switch r := hex4(raw[i+1:]); {
		case r < 0xD800 || r > 0xDFFF:
		case r < 0xDC00 && i+10 < len(raw) && raw[i+5] == '\\' && raw[i+6] == 'u' &&
			hex4(raw[i+7:]) >= 0xDC00 && hex4(raw[i+7:]) <= 0xDFFF:
			i += 6 // the low half
		default:
			return false
		}
	}
	return true
}

// Word-at-a-time tests (SWAR) of 8 bytes for the bytes a string scan
// stops at: a quote, a backslash, a control character, a non-ASCII byte.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainStop reports whether any byte of w is '"', '\\', below 0x20 or
// 0x80 and above. Each test is exact as an "any byte" test.
func plainStop(w uint64) bool {
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((quote-ones)&^quote|(backslash-ones)&^backslash|(w-ones*0x20)&^w|w)&highs != 0
}

// plainRaw is scanner.str for the plain decoder, eight bytes at a time
// through runs of plain ASCII text (a publish is mostly its data string);
// it also reports whether the string is all ASCII.
func plainRaw(s *scanner) (raw []byte, esc, ascii bool) {
	if !s.consume('"') {
		return nil, false, true
	}
	start, ascii := s.i, true
	for s.i < len(s.b) {
		if s.i+8 <= len(s.b) && !plainStop(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
			continue
		}
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc, ascii
		case c < 0x20:
			s.bad = true
			return nil, false, ascii
		case c == '\\':
			esc = true
			if !s.escape() {
				return nil, false, ascii
			}
		default:
			ascii = ascii && c < utf8.RuneSelf
			s.i++
		}
	}
	s.bad = true
	return nil, false, ascii
}

// plainStrings reads a non-empty array of plain strings into a new slice
// (an empty one is left to the general decoder, which tells [] from
// absent its own way).
func plainStrings(s *scanner, out *[]string) bool {
	if !s.consume('[') {
		return false
	}
	var stack [16]string
	list := stack[:0]
	for n := 0; s.next(&n, ']'); {
		if len(list) == maxPlainChannels {
			return false
		}
		v, ok := plainString(s)
		if !ok {
			return false
		}
		list = append(list, v)
	}
	if s.bad || len(list) == 0 {
		return false
	}
	*out = append(make([]string, 0, len(list)), list...)
	return true
}
