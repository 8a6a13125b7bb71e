//go:build !race

package vcdiff

import "testing"

// TestEncodeNoAllocs: with a destination that has room, a steady stream of
// deltas allocates nothing (the matcher's tables are pooled).
func TestEncodeNoAllocs(t *testing.T) {
	a, b := []byte(ticker(3, 100)), []byte(ticker(3, 101))
	buf := make([]byte, 0, 1024)
	Encode(a, b)
	if n := testing.AllocsPerRun(200, func() { AppendEncode(buf[:0], a, b) }); n > 0 {
		t.Fatalf("AppendEncode into a buffer with room: %.1f allocations", n)
	}
}
