package protocol

import (
	"bytes"
	"testing"
)

func BenchmarkFrameReaderFeed(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"64B", 64}, {"200B", 200}, {"4KiB", 4 << 10}, {"60KiB", 60 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			frame := clientFrame(true, OpText, bytes.Repeat([]byte("a"), bc.size))
			r := FrameReader{MaxMessage: 1 << 16}
			fn := func(Opcode, []byte) error { return nil }
			b.ReportAllocs()
			b.SetBytes(int64(bc.size))
			for b.Loop() {
				if r.Feed(frame, fn) != nil {
					b.Fatal("feed failed")
				}
			}
		})
	}
}

// BenchmarkFrameReaderFeedSplit feeds a 200-byte frame in two halves, the
// path that buffers.
func BenchmarkFrameReaderFeedSplit(b *testing.B) {
	frame := clientFrame(true, OpText, bytes.Repeat([]byte("a"), 200))
	half := len(frame) / 2
	r := FrameReader{MaxMessage: 1 << 16}
	fn := func(Opcode, []byte) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if r.Feed(frame[:half], fn) != nil || r.Feed(frame[half:], fn) != nil {
			b.Fatal("feed failed")
		}
	}
}
