//go:build !race

package protobufwire

import "testing"

// A broadcast is encoded once per publish per format, straight into its
// frame: the encode itself allocates nothing (pooled parse state, data
// unescaped into pooled scratch).
func TestEncodeBroadcastAllocatesNothing(t *testing.T) {
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() {
		dst, _ = (Codec{}).Encode(dst[:0], broadcastFrame)
	}); n != 0 {
		t.Fatalf("Encode allocates %.0f per broadcast", n)
	}
}
