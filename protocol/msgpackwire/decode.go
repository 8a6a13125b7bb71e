package msgpackwire

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/sockudo/sockudo-go/protocol"
)

// Errors a client frame can fail with; they end up in sockudo:error.
var (
	errNotFrame   = errors.New("frame is not a 15-element array (or a map) of PusherMessage fields")
	errNoEvent    = errors.New("frame has no event")
	errDataShape  = errors.New(`data is not a [kind, value] pair with kind "string", "json" or "structured"`)
	errNotUTF8    = errors.New("string is not valid UTF-8")
	errBinaryData = errors.New(`data kind "binary" is not supported: send "string" or "json"`)
)

// decoder is a pooled library decoder reading from a reset bytes.Reader.
type decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decoders = sync.Pool{New: func() any {
	d := &decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

// Decode appends the JSON client frame ({"event","channel","data"}) that
// the MessagePack frame p holds to dst. It accepts the positional array
// the official client sends and, as Sockudo's serde does, a map keyed by
// field name; other fields are read and dropped (client extras are
// dropped by Sockudo too).
func (Codec) Decode(dst, p []byte) ([]byte, error) {
	if err := check(p); err != nil {
		return dst, fmt.Errorf("MessagePack: %w", err)
	}
	d := decoders.Get().(*decoder)
	defer decoders.Put(d)
	d.r.Reset(p)
	d.dec.Reset(&d.r)
	out, err := d.frame(dst)
	if err != nil {
		return dst, fmt.Errorf("MessagePack: %w", err)
	}
	return out, nil
}

// clientFields are the fields a client frame contributes.
type clientFields struct {
	event, channel       string
	hasEvent, hasChannel bool
	data                 []byte // JSON, nil when absent
	scratch              []byte
}

func (d *decoder) frame(dst []byte) ([]byte, error) {
	var cf clientFields
	c, err := d.dec.PeekCode()
	if err != nil {
		return dst, err
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		err = d.array(&cf)
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		err = d.fields(&cf)
	default:
		err = errNotFrame
	}
	if err != nil {
		return dst, err
	}
	if !cf.hasEvent || cf.event == "" {
		return dst, errNoEvent
	}
	return protocol.AppendClientJSON(dst, cf.event, cf.channel, cf.hasChannel, cf.data), nil
}

// array reads the positional layout: event, channel, data, then 12
// fields the server does not take from clients.
func (d *decoder) array(cf *clientFields) error {
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 1 || n > 15 {
		return errNotFrame
	}
	for i := 0; i < n; i++ {
		if err := d.field(cf, i); err != nil {
			return err
		}
	}
	return nil
}

// fieldNames maps the map form's keys to array positions.
var fieldNames = map[string]int{"event": 0, "channel": 1, "data": 2}

func (d *decoder) fields(cf *clientFields) error {
	n, err := d.dec.DecodeMapLen()
	if err != nil {
		return err
	}
	for range n {
		k, err := d.dec.DecodeString()
		if err != nil {
			return errNotFrame
		}
		i, ok := fieldNames[k]
		if !ok {
			i = -1
		}
		if err := d.field(cf, i); err != nil {
			return err
		}
	}
	return nil
}

// field reads the value at position i (-1: skip it).
func (d *decoder) field(cf *clientFields, i int) error {
	switch i {
	case 0:
		s, ok, err := d.optString()
		if err != nil {
			return fmt.Errorf("event: %w", err)
		}
		cf.event, cf.hasEvent = s, ok
	case 1:
		s, ok, err := d.optString()
		if err != nil {
			return fmt.Errorf("channel: %w", err)
		}
		cf.channel, cf.hasChannel = s, ok
	case 2:
		data, err := d.data(cf.data[:0])
		if err != nil {
			return err
		}
		cf.data = data
	default:
		return d.dec.Skip()
	}
	return nil
}

// optString reads a string or nil.
func (d *decoder) optString() (string, bool, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return "", false, err
	}
	if c == msgpcode.Nil {
		return "", false, d.dec.DecodeNil()
	}
	if !msgpcode.IsString(c) {
		return "", false, errors.New("not a string")
	}
	s, err := d.dec.DecodeString()
	if err == nil && !utf8.ValidString(s) {
		err = errNotUTF8
	}
	return s, true, err
}

// data reads the tagged data pair and appends its JSON to dst; nil data
// stays absent.
func (d *decoder) data(dst []byte) ([]byte, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	if c == msgpcode.Nil {
		return nil, d.dec.DecodeNil()
	}
	if n, err := d.dec.DecodeArrayLen(); err != nil || n != 2 {
		return nil, errDataShape
	}
	kind, err := d.dec.DecodeString()
	if err != nil {
		return nil, errDataShape
	}
	switch kind {
	case "string", "json":
		s, ok, err := d.optString()
		if err != nil || !ok {
			return nil, errDataShape
		}
		if kind == "string" {
			return protocol.AppendJSONString(dst, s), nil
		}
		return protocol.AppendJSONText(dst, s), nil
	case "structured":
		return d.structured(dst)
	case "binary":
		return nil, errBinaryData
	}
	return nil, errDataShape
}

// structured reads [channel_data, channel, user_data, {key: JSON text}].
func (d *decoder) structured(dst []byte) ([]byte, error) {
	if n, err := d.dec.DecodeArrayLen(); err != nil || n != 4 {
		return nil, errDataShape
	}
	var vals [3]*string
	for i := range vals {
		s, ok, err := d.optString()
		if err != nil {
			return nil, errDataShape
		}
		if ok {
			vals[i] = &s
		}
	}
	var extra []protocol.StringPair
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, errDataShape
	}
	if c == msgpcode.Nil {
		_ = d.dec.DecodeNil()
	} else {
		n, err := d.dec.DecodeMapLen()
		if err != nil {
			return nil, errDataShape
		}
		for range n {
			k, err1 := d.dec.DecodeString()
			v, err2 := d.dec.DecodeString()
			if err1 != nil || err2 != nil || !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, errDataShape
			}
			extra = append(extra, protocol.StringPair{Key: k, Value: v})
		}
	}
	return protocol.AppendStructuredData(dst, vals[0], vals[1], vals[2], extra), nil
}
