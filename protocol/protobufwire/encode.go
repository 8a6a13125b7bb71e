package protobufwire

import (
	"fmt"
	"math"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sockudo/sockudo-go/protocol"
)

// Field numbers of PusherMessage (sockudo-v2.md §13.2).
const (
	fEvent protowire.Number = iota + 1
	fChannel
	fData
	fName
	fUserID
	fTags
	fSequence
	fConflationKey
	fMessageID
	fStreamID
	fSerial
	fIdempotencyKey
	fExtras
	fDeltaSequence
	fDeltaConflationKey
)

// Field numbers of MessageData's oneof.
const (
	dString protowire.Number = iota + 1
	dStructured
	dJSON
	dBinary
)

// Codec is the Protobuf transcoder the engine's WireCodec port takes.
type Codec struct{}

// state is pooled parse state and scratch for nested messages.
type state struct {
	f       protocol.WireFrame
	scratch []byte
}

var states = sync.Pool{New: func() any { return &state{} }}

// Encode appends the Protobuf form of the JSON frame msg to dst.
func (Codec) Encode(dst, msg []byte) ([]byte, error) {
	st := states.Get().(*state)
	defer states.Put(st)
	f := &st.f
	if err := protocol.ParseWireFrame(msg, f); err != nil {
		return dst, fmt.Errorf("protobuf encode: %w", err)
	}
	b := str(dst, fEvent, f.Event)
	b = str(b, fChannel, f.Channel)
	b = data(b, f)
	b = str(b, fName, f.Name)
	b = str(b, fUserID, f.UserID)
	if f.Tags != nil {
		ps, err := protocol.StringPairs(f.Tags)
		if err != nil {
			return dst, fmt.Errorf("protobuf encode: tags: %w", err)
		}
		b = stringMap(b, fTags, ps)
	}
	b = varint(b, fSequence, f.Sequence, f.HasSequence)
	b = str(b, fConflationKey, f.ConflationKey)
	b = str(b, fMessageID, f.MessageID)
	b = str(b, fStreamID, f.StreamID)
	b = varint(b, fSerial, f.Serial, f.HasSerial)
	b = str(b, fIdempotencyKey, f.IdempotencyKey)
	if f.Extras != nil {
		x, err := protocol.ParseWireExtras(f.Extras)
		if err != nil {
			return dst, fmt.Errorf("protobuf encode: extras: %w", err)
		}
		st.scratch = extras(st.scratch[:0], &x)
		b = protowire.AppendTag(b, fExtras, protowire.BytesType)
		b = protowire.AppendBytes(b, st.scratch)
	}
	b = varint(b, fDeltaSequence, f.DeltaSeq, f.HasDeltaSeq)
	b = str(b, fDeltaConflationKey, f.DeltaConflationKey)
	return b, nil
}

// str appends a present (non-empty) string field.
func str(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func varint(b []byte, n protowire.Number, v uint64, ok bool) []byte {
	if !ok {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// data appends MessageData: string_value for a JSON string, json_value
// (the JSON text) for anything else. Its length is known up front, so no
// scratch copy is needed.
func data(b []byte, f *protocol.WireFrame) []byte {
	if f.Data == nil {
		return b
	}
	if !f.DataIsString {
		n := protowire.SizeTag(dJSON) + protowire.SizeBytes(len(f.Data))
		b = protowire.AppendTag(b, fData, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		b = protowire.AppendTag(b, dJSON, protowire.BytesType)
		return protowire.AppendBytes(b, f.Data)
	}
	n := protowire.SizeTag(dString) + protowire.SizeBytes(len(f.DataText))
	b = protowire.AppendTag(b, fData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, dString, protowire.BytesType)
	return protowire.AppendString(b, f.DataText)
}

// stringMap appends map<string,string> entries as field n.
func stringMap(b []byte, n protowire.Number, ps []protocol.StringPair) []byte {
	for _, p := range ps {
		size := protowire.SizeTag(1) + protowire.SizeBytes(len(p.Key)) +
			protowire.SizeTag(2) + protowire.SizeBytes(len(p.Value))
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = str2(b, 1, p.Key)
		b = str2(b, 2, p.Value)
	}
	return b
}

// str2 appends a string field even when empty (map keys and values).
func str2(b []byte, n protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func boolField(b []byte, n protowire.Number, v, ok bool) []byte {
	if !ok {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeBool(v))
}

// extras appends MessageExtras: 1 headers map<string, ExtrasValue>,
// 2 ephemeral, 3 idempotency_key, 4 echo, 5 ai {1 transport, 2 codec}.
func extras(b []byte, x *protocol.WireExtras) []byte {
	for _, h := range x.Headers {
		var val []byte
		var buf [16]byte
		switch h.Kind {
		case protocol.HeaderNumber:
			val = protowire.AppendTag(buf[:0], 2, protowire.Fixed64Type)
			val = protowire.AppendFixed64(val, math.Float64bits(h.Num))
		case protocol.HeaderBool:
			val = protowire.AppendTag(buf[:0], 3, protowire.VarintType)
			val = protowire.AppendVarint(val, protowire.EncodeBool(h.Bool))
		default:
			val = str2(nil, 1, h.Str)
		}
		size := protowire.SizeTag(1) + protowire.SizeBytes(len(h.Key)) +
			protowire.SizeTag(2) + protowire.SizeBytes(len(val))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = str2(b, 1, h.Key)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, val)
	}
	b = boolField(b, 2, x.Ephemeral, x.HasEphemeral)
	if x.HasIdempotencyKey {
		b = str2(b, 3, x.IdempotencyKey)
	}
	b = boolField(b, 4, x.Echo, x.HasEcho)
	if x.HasAI {
		ai := stringMap(nil, 1, x.AITransport)
		ai = stringMap(ai, 2, x.AICodec)
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, ai)
	}
	return b
}
