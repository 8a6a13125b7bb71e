// Package codectest holds the checks and benchmarks every binary wire
// format of protocol (msgpackwire, protobufwire) shares, so both codecs
// are held to the same promises in the same words. It is imported by
// their tests only.
package codectest

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/sockudo/sockudo-go/protocol"
)

// Codec is a wire format as the engine uses it: server frames are encoded
// from the JSON the engine writes, client frames decoded to the JSON it
// reads, each appended to dst.
type Codec interface {
	Encode(dst, msg []byte) ([]byte, error)
	Decode(dst, p []byte) ([]byte, error)
}

// FullFrame has every field the engine can emit, in the engine's order,
// plus a member the layout has no place for.
const FullFrame = `{"event":"order.updated","channel":"orders","data":"{\"id\":\"ord_1\"}","name":"n",` +
	`"user_id":"u1","tags":{"tier":"gold","region":"eu"},"sequence":7,"conflation_key":"ck",` +
	`"message_id":"m1","stream_id":"s1","serial":42,"idempotency_key":"ik",` +
	`"extras":{"headers":{"b":true,"n":5,"s":"x"},"ephemeral":true,"idempotencyKey":"xk","echo":false,` +
	`"ai":{"transport":{"t":"1"}},"push":{"x":1}},"__delta_seq":3,"__conflation_key":"btc","other":[1]}`

// BroadcastFrame is a typical V2 broadcast as the engine encodes it with
// recovery on: string data of a 20-field ticker object, id and position.
var BroadcastFrame = []byte(`{"event":"tick","channel":"ticker","data":"{\"s\":\"BTC\",\"p\":64210.5,\"q\":0.25,\"f1\":1,\"f2\":2,\"f3\":3,\"f4\":4,\"f5\":5,\"f6\":6,\"f7\":7,\"f8\":8,\"f9\":9,\"f10\":10,\"f11\":11,\"f12\":12,\"f13\":13,\"f14\":14,\"f15\":15,\"f16\":16,\"f17\":17}","message_id":"0b7e4c1e-9d0a-4f6e-8c55-1f2a3b4c5d6e","stream_id":"9d0a4f6e-0b7e-4c1e-8c55-6e5d4c3b2a1f","serial":4242}`)

// BenchmarkEncodeBroadcast measures encoding BroadcastFrame, which a
// publish does once per format.
func BenchmarkEncodeBroadcast(b *testing.B, c Codec) {
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(BroadcastFrame)))
	for b.Loop() {
		var err error
		if dst, err = c.Encode(dst[:0], BroadcastFrame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeClientEvent measures decoding a typical client event.
func BenchmarkDecodeClientEvent(b *testing.B, c Codec) {
	p, err := c.Encode(nil, []byte(`{"event":"client-typing","channel":"private-room","data":{"user":"u1","typing":true}}`))
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = c.Decode(dst[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// EncodeBroadcastAllocatesNothing fails the test when encoding
// BroadcastFrame allocates: a broadcast is encoded once per publish per
// format, straight into its frame (pooled parse state, data unescaped
// into pooled scratch). Call it from a test built without -race.
func EncodeBroadcastAllocatesNothing(t *testing.T, c Codec) {
	t.Helper()
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() {
		dst, _ = c.Encode(dst[:0], BroadcastFrame)
	}); n != 0 {
		t.Fatalf("Encode allocates %.0f per broadcast", n)
	}
}

// DecodeAny is the fuzz property of Decode on any bytes p: decoded or
// refused with an error, never a panic; what decodes is a valid UTF-8
// JSON client frame the engine's decoder accepts, appended to dst
// without touching it, and a refusal appends nothing.
func DecodeAny(t *testing.T, c Codec, p []byte) {
	t.Helper()
	dst := []byte("keep")
	out, err := c.Decode(dst, p)
	if string(out[:4]) != "keep" {
		t.Fatalf("dst overwritten: %q", out)
	}
	if err != nil {
		if len(out) != 4 {
			t.Fatalf("error %v but output %q", err, out)
		}
		return
	}
	js := out[4:]
	if !json.Valid(js) || !utf8.Valid(js) {
		t.Fatalf("decoded to invalid JSON %q", js)
	}
	var m protocol.ClientMessage
	if err := protocol.DecodeClientMessage(js, &m); err != nil {
		t.Fatalf("engine refuses %q: %v", js, err)
	}
}

// DecodesTo checks that client frame in decodes, appended after a
// prefix, to JSON equal to want.
func DecodesTo(t *testing.T, c Codec, in []byte, want string) {
	t.Helper()
	got, err := c.Decode([]byte("prefix"), in)
	if err != nil {
		t.Fatalf("%q: %v", in, err)
	}
	var g, w any
	if string(got[:6]) != "prefix" || json.Unmarshal(got[6:], &g) != nil {
		t.Fatalf("not appended JSON: %s", got)
	}
	_ = json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %s\nwant %s", got[6:], want)
	}
}

// RoundTripServerFrameAsClientFrame checks that a client event the
// server encodes decodes back to the same JSON, for string and object
// data: the two directions agree on the layout.
func RoundTripServerFrameAsClientFrame(t *testing.T, c Codec) {
	t.Helper()
	for _, in := range []string{
		`{"event":"client-a","channel":"private-x","data":"{\"n\":1}"}`,
		`{"event":"client-a","channel":"private-x","data":{"n":[1,{"m":"é\n"}]}}`,
	} {
		b, err := c.Encode(nil, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Decode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		var a, o any
		_ = json.Unmarshal([]byte(in), &a)
		if err := json.Unmarshal(out, &o); err != nil || !reflect.DeepEqual(a, o) {
			t.Errorf("%s came back as %s", in, out)
		}
	}
}
