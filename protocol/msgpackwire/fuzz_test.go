package msgpackwire

import (
	"testing"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

// FuzzMsgpackDecode: any bytes a client sends are decoded or refused with
// an error, never a panic or an allocation beyond the input's size; what
// decodes is a valid UTF-8 JSON client frame the engine's decoder accepts,
// appended to dst without touching it.
func FuzzMsgpackDecode(f *testing.F) {
	f.Add([]byte{0x9f, 0xa1, 'e', 0xc0, 0x92, 0xa4, 'j', 's', 'o', 'n', 0xa2, '{', '}', 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0})
	f.Add([]byte{0x81, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x'})
	f.Add([]byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) { codectest.DecodeAny(t, Codec{}, p) })
}
