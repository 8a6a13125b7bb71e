package protocol

import "testing"

func BenchmarkDecodeClientMessage(b *testing.B) {
	for _, bc := range []struct{ name, frame string }{
		{"ping", pusherJSFrames[6]},
		{"subscribe_presence", pusherJSFrames[2]},
		{"client_event", pusherJSFrames[8]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.frame)
			var m ClientMessage
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if DecodeClientMessage(in, &m) != nil {
					b.Fatal("decode failed")
				}
			}
		})
	}
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	var m ClientMessage
	if err := DecodeClientMessage([]byte(pusherJSFrames[2]), &m); err != nil {
		b.Fatal(err)
	}
	var s Subscribe
	b.ReportAllocs()
	for b.Loop() {
		if DecodeSubscribe(m.Data, &s) != nil {
			b.Fatal("decode failed")
		}
	}
}

func BenchmarkDecodePresenceMember(b *testing.B) {
	var m Member
	b.ReportAllocs()
	for b.Loop() {
		if DecodePresenceMember(`{"user_id":"u1","user_info":{"name":"Me"}}`, &m) != nil {
			b.Fatal("decode failed")
		}
	}
}

func BenchmarkParseChannel(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseChannel("private-encrypted-cache-room")
		ValidChannelName("private-encrypted-cache-room", DefaultMaxChannelNameLength)
	}
}
