package msgpackwire

import (
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockudo/sockudo-go/protocol"
)

// Codec is the MessagePack transcoder the engine's WireCodec port takes.
type Codec struct{}

// appendWriter lets the library's encoder append to a caller's buffer:
// a broadcast is encoded straight into its frame.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

// encoder is a pooled library encoder with its writer and parse state,
// so an encode allocates nothing of its own.
type encoder struct {
	enc *msgpack.Encoder
	w   appendWriter
	f   protocol.WireFrame
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// Encode appends the MessagePack form of the JSON frame msg to dst.
func (Codec) Encode(dst, msg []byte) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer func() {
		e.w.b = nil
		encoders.Put(e)
	}()
	if err := protocol.ParseWireFrame(msg, &e.f); err != nil {
		return dst, fmt.Errorf("msgpack encode: %w", err)
	}
	e.w.b = dst
	if err := e.frame(&e.f); err != nil {
		return dst, fmt.Errorf("msgpack encode: %w", err)
	}
	return e.w.b, nil
}

// frame writes the 15 positional fields of f.
func (e *encoder) frame(f *protocol.WireFrame) error {
	enc := e.enc
	_ = enc.EncodeArrayLen(15)
	e.str(f.Event)
	e.str(f.Channel)
	e.data(f)
	e.str(f.Name)
	e.str(f.UserID)
	if err := e.pairs(f.Tags); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	e.uint(f.Sequence, f.HasSequence)
	e.str(f.ConflationKey)
	e.str(f.MessageID)
	e.str(f.StreamID)
	e.uint(f.Serial, f.HasSerial)
	e.str(f.IdempotencyKey)
	if err := e.extras(f.Extras); err != nil {
		return fmt.Errorf("extras: %w", err)
	}
	e.uint(f.DeltaSeq, f.HasDeltaSeq)
	e.str(f.DeltaConflationKey)
	return nil
}

// str writes s, or nil for an absent (empty) field.
func (e *encoder) str(s string) {
	if s == "" {
		_ = e.enc.EncodeNil()
		return
	}
	_ = e.enc.EncodeString(s)
}

func (e *encoder) uint(v uint64, ok bool) {
	if !ok {
		_ = e.enc.EncodeNil()
		return
	}
	_ = e.enc.EncodeUint(v)
}

// data writes the tagged data variant: a JSON string travels as
// ["string", text], any other JSON value as ["json", its JSON text] (what
// Sockudo sends for server-built object payloads, and what the official
// client decodes; it would mangle "structured", so that is never sent).
func (e *encoder) data(f *protocol.WireFrame) {
	if f.Data == nil {
		_ = e.enc.EncodeNil()
		return
	}
	_ = e.enc.EncodeArrayLen(2)
	if f.DataIsString {
		_ = e.enc.EncodeString("string")
		_ = e.enc.EncodeString(f.DataText)
		return
	}
	_ = e.enc.EncodeString("json")
	e.strBytes(f.Data)
}

// strBytes writes b as a MessagePack str without converting it to a Go
// string first. The library's encoder writes through to e.w unbuffered,
// so appending here keeps the order.
func (e *encoder) strBytes(b []byte) {
	n := len(b)
	switch {
	case n < 32:
		e.w.b = append(e.w.b, 0xa0|byte(n))
	case n <= 0xff:
		e.w.b = append(e.w.b, 0xd9, byte(n))
	case n <= 0xffff:
		e.w.b = append(e.w.b, 0xda, byte(n>>8), byte(n))
	default:
		e.w.b = append(e.w.b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	e.w.b = append(e.w.b, b...)
}

// pairs writes a JSON object of strings as a map in key order, nil when
// absent.
func (e *encoder) pairs(obj []byte) error {
	if obj == nil {
		return e.enc.EncodeNil()
	}
	ps, err := protocol.StringPairs(obj)
	if err != nil {
		return err
	}
	e.stringMap(ps)
	return nil
}

func (e *encoder) stringMap(ps []protocol.StringPair) {
	_ = e.enc.EncodeMapLen(len(ps))
	for _, p := range ps {
		_ = e.enc.EncodeString(p.Key)
		_ = e.enc.EncodeString(p.Value)
	}
}

// extras writes [headers, ephemeral, idempotency_key, echo, ai], Sockudo's
// positional MessageExtras; header values are [kind, value] pairs.
func (e *encoder) extras(obj []byte) error {
	if obj == nil {
		return e.enc.EncodeNil()
	}
	x, err := protocol.ParseWireExtras(obj)
	if err != nil {
		return err
	}
	enc := e.enc
	_ = enc.EncodeArrayLen(5)
	if x.HasHeaders {
		_ = enc.EncodeMapLen(len(x.Headers))
		for _, h := range x.Headers {
			_ = enc.EncodeString(h.Key)
			_ = enc.EncodeArrayLen(2)
			switch h.Kind {
			case protocol.HeaderNumber:
				_ = enc.EncodeString("number")
				_ = enc.EncodeFloat64(h.Num)
			case protocol.HeaderBool:
				_ = enc.EncodeString("bool")
				_ = enc.EncodeBool(h.Bool)
			default:
				_ = enc.EncodeString("string")
				_ = enc.EncodeString(h.Str)
			}
		}
	} else {
		_ = enc.EncodeNil()
	}
	e.optBool(x.Ephemeral, x.HasEphemeral)
	if x.HasIdempotencyKey {
		_ = enc.EncodeString(x.IdempotencyKey)
	} else {
		_ = enc.EncodeNil()
	}
	e.optBool(x.Echo, x.HasEcho)
	if !x.HasAI {
		return enc.EncodeNil()
	}
	_ = enc.EncodeArrayLen(2)
	for _, m := range [2]struct {
		ps  []protocol.StringPair
		has bool
	}{{x.AITransport, x.HasTransport}, {x.AICodec, x.HasCodec}} {
		if m.has {
			e.stringMap(m.ps)
		} else {
			_ = enc.EncodeNil()
		}
	}
	return nil
}

func (e *encoder) optBool(v, ok bool) {
	if ok {
		_ = e.enc.EncodeBool(v)
	} else {
		_ = e.enc.EncodeNil()
	}
}
