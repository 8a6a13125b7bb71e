package msgpackwire

import "testing"

// broadcastFrame is a typical V2 broadcast as the engine encodes it with
// recovery on: string data of a 20-field ticker object, id and position.
var broadcastFrame = []byte(`{"event":"tick","channel":"ticker","data":"{\"s\":\"BTC\",\"p\":64210.5,\"q\":0.25,\"f1\":1,\"f2\":2,\"f3\":3,\"f4\":4,\"f5\":5,\"f6\":6,\"f7\":7,\"f8\":8,\"f9\":9,\"f10\":10,\"f11\":11,\"f12\":12,\"f13\":13,\"f14\":14,\"f15\":15,\"f16\":16,\"f17\":17}","message_id":"0b7e4c1e-9d0a-4f6e-8c55-1f2a3b4c5d6e","stream_id":"9d0a4f6e-0b7e-4c1e-8c55-6e5d4c3b2a1f","serial":4242}`)

func BenchmarkEncodeBroadcast(b *testing.B) {
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(broadcastFrame)))
	for b.Loop() {
		var err error
		if dst, err = (Codec{}).Encode(dst[:0], broadcastFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeClientEvent(b *testing.B) {
	p, err := Codec{}.Encode(nil, []byte(`{"event":"client-typing","channel":"private-room","data":{"user":"u1","typing":true}}`))
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = (Codec{}).Decode(dst[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}
