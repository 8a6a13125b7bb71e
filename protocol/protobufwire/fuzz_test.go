package protobufwire

import (
	"testing"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

// FuzzProtobufDecode: any bytes a client sends are decoded or refused with
// an error, never a panic; what decodes is a valid UTF-8 JSON client frame
// the engine's decoder accepts, appended to dst without touching it.
func FuzzProtobufDecode(f *testing.F) {
	f.Add(client("client-x", "private-a", oneof(3, `{"k":1}`)))
	f.Add(client("e", "", oneof(2, "\x0a\x02cd\x22\x06\x0a\x01n\x12\x015")))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) { codectest.DecodeAny(t, Codec{}, p) })
}
