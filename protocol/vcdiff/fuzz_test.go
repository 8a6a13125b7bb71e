package vcdiff

import (
	"bytes"
	"testing"
)

// FuzzDecode: any byte string either decodes or fails with an error; it
// never panics or runs away with memory.
func FuzzDecode(f *testing.F) {
	src := []byte(ticker(3, 1))
	f.Add(src, Encode(src, []byte(ticker(3, 2))))
	f.Add([]byte("abcdefghijklmnop"), []byte{0xD6, 0xC3, 0xC4, 0x00, 0x00, 1, 16, 0, 9, 8, 0, 0, 1, 0, 20, 0})
	f.Add([]byte{}, []byte{0xD6, 0xC3, 0xC4, 0x00, 0x04, 0, 0, 5, 3, 0, 3, 1, 0, 'a', 0})
	f.Fuzz(func(t *testing.T, source, delta []byte) {
		out, err := Decode(source, delta)
		if err == nil && len(out) > MaxTargetSize {
			t.Fatalf("%d bytes decoded", len(out))
		}
	})
}

// FuzzRoundTrip: Encode's output always decodes to the target.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(ticker(3, 1)), []byte(ticker(3, 2)))
	f.Add([]byte(""), []byte("aaaaaaaaaaaaaaaaaaaaa"))
	f.Add([]byte("abcabcabc"), []byte("abcXabcYabcabc"))
	f.Fuzz(func(t *testing.T, source, target []byte) {
		got, err := Decode(source, Encode(source, target))
		if err != nil || !bytes.Equal(got, target) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
