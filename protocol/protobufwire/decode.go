package protobufwire

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sockudo/sockudo-go/protocol"
)

// Errors a client frame can fail with; they end up in sockudo:error.
var (
	errNoEvent    = errors.New("frame has no event")
	errNotUTF8    = errors.New("string is not valid UTF-8")
	errBinaryData = errors.New("data binary_value is not supported: send string_value or json_value")
)

// Decode appends the JSON client frame ({"event","channel","data"}) that
// the Protobuf PusherMessage p holds to dst. Fields other than event,
// channel and data are checked for well-formedness and dropped (Sockudo
// drops client extras too).
func (Codec) Decode(dst, p []byte) ([]byte, error) {
	var event, channel string
	var hasEvent, hasChannel bool
	var dataMsg []byte
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return dst, wireErr(protowire.ParseError(n))
		}
		p = p[n:]
		var v []byte
		switch {
		case num <= fData && typ == protowire.BytesType:
			v, n = protowire.ConsumeBytes(p)
		case num <= fData:
			return dst, wireErr(fmt.Errorf("field %d has wire type %d, want 2", num, typ))
		default:
			n = protowire.ConsumeFieldValue(num, typ, p)
		}
		if n < 0 {
			return dst, wireErr(protowire.ParseError(n))
		}
		p = p[n:]
		switch num {
		case fEvent:
			event, hasEvent = string(v), true
		case fChannel:
			channel, hasChannel = string(v), true
		case fData:
			dataMsg = v
		}
	}
	if !utf8.ValidString(event) || !utf8.ValidString(channel) {
		return dst, wireErr(errNotUTF8)
	}
	if !hasEvent || event == "" {
		return dst, wireErr(errNoEvent)
	}
	var data []byte
	if dataMsg != nil {
		var err error
		if data, err = decodeData(dataMsg); err != nil {
			return dst, wireErr(err)
		}
	}
	return protocol.AppendClientJSON(dst, event, channel, hasChannel, data), nil
}

func wireErr(err error) error { return fmt.Errorf("Protobuf: %w", err) }

// decodeData reads MessageData's oneof (the last member set wins, as in
// protobuf) and returns its JSON; an empty MessageData is JSON null, as
// Sockudo reads it.
func decodeData(p []byte) ([]byte, error) {
	kind, val := protowire.Number(0), []byte(nil)
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		p = p[n:]
		if num >= dString && num <= dBinary {
			if typ != protowire.BytesType {
				return nil, fmt.Errorf("data field %d has wire type %d, want 2", num, typ)
			}
			val, n = protowire.ConsumeBytes(p)
			kind = num
		} else {
			n = protowire.ConsumeFieldValue(num, typ, p)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		p = p[n:]
	}
	switch kind {
	case dString, dJSON:
		if !utf8.Valid(val) {
			return nil, errNotUTF8
		}
		if kind == dString {
			return protocol.AppendJSONString(nil, string(val)), nil
		}
		return protocol.AppendJSONText(nil, string(val)), nil
	case dStructured:
		return decodeStructured(val)
	case dBinary:
		return nil, errBinaryData
	}
	return []byte("null"), nil
}

// decodeStructured reads {1 channel_data, 2 channel, 3 user_data,
// 4 extra map<string, JSON text>}.
func decodeStructured(p []byte) ([]byte, error) {
	var vals [3]*string
	var extra []protocol.StringPair
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		p = p[n:]
		if num < 1 || num > 4 {
			if n = protowire.ConsumeFieldValue(num, typ, p); n < 0 {
				return nil, protowire.ParseError(n)
			}
			p = p[n:]
			continue
		}
		if typ != protowire.BytesType {
			return nil, fmt.Errorf("structured field %d has wire type %d, want 2", num, typ)
		}
		v, n := protowire.ConsumeBytes(p)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		p = p[n:]
		if num == 4 {
			k, val, err := mapEntry(v)
			if err != nil {
				return nil, err
			}
			extra = append(extra, protocol.StringPair{Key: k, Value: val})
			continue
		}
		if !utf8.Valid(v) {
			return nil, errNotUTF8
		}
		s := string(v)
		vals[num-1] = &s
	}
	return protocol.AppendStructuredData(nil, vals[0], vals[1], vals[2], extra), nil
}

// mapEntry reads a map<string,string> entry {1 key, 2 value}.
func mapEntry(p []byte) (key, val string, err error) {
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return "", "", protowire.ParseError(n)
		}
		p = p[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(p)
			if n < 0 {
				return "", "", protowire.ParseError(n)
			}
			p = p[n:]
			if !utf8.Valid(v) {
				return "", "", errNotUTF8
			}
			if num == 1 {
				key = string(v)
			} else {
				val = string(v)
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, p); n < 0 {
			return "", "", protowire.ParseError(n)
		}
		p = p[n:]
	}
	return key, val, nil
}
