//go:build !race

package engine

import (
	"strconv"
	"testing"

	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/protocol/msgpackwire"
	"github.com/sockudo/sockudo-go/protocol/protobufwire"
)

// newFormatRig is newV2Rig whose connections speak wire format f, with
// both binary codecs wired.
func newFormatRig(tb testing.TB, n int, f protocol.WireFormat) *v2Rig {
	tb.Helper()
	v2 := V2Options{
		Recovery:    recovery.New(recovery.Options{}),
		MessagePack: msgpackwire.Codec{},
		Protobuf:    protobufwire.Codec{},
	}
	return newRig(tb, n, v2, ConnectRequest{AppKey: "key", Protocol: "2", Format: f}, "sockudo:subscribe")
}

// TestBinaryFanoutAllocatesNothingPerDelivery: MessagePack and Protobuf
// subscribers cost 0 allocations each: the publish is encoded once per
// format (with no allocation of its own) and every subscriber of the
// format gets that frame.
func TestBinaryFanoutAllocatesNothingPerDelivery(t *testing.T) {
	for _, f := range []protocol.WireFormat{protocol.FormatMessagePack, protocol.FormatProtobuf} {
		perPublish := func(n int) float64 {
			r := newFormatRig(t, n, f)
			for range 20 {
				r.publish()
			}
			return testing.AllocsPerRun(200, r.publish)
		}
		one, many := perPublish(1), perPublish(1000)
		if many > one+0.5 {
			t.Fatalf("%s: allocations per publish %.1f with 1 subscriber, %.1f with 1,000: want 0 per delivery", f, one, many)
		}
		t.Logf("%s: allocations per publish %.1f (1 subscriber), %.1f (1,000)", f, one, many)
	}
}

// BenchmarkBroadcastFormats compares a publish to n subscribers of each
// wire format (recovery on, so every frame has an id and a serial).
func BenchmarkBroadcastFormats(b *testing.B) {
	for _, f := range []protocol.WireFormat{protocol.FormatJSON, protocol.FormatMessagePack, protocol.FormatProtobuf} {
		for _, n := range []int{1, 1000} {
			b.Run(f.String()+"/subscribers_"+strconv.Itoa(n), func(b *testing.B) {
				r := newFormatRig(b, n, f)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					r.publish()
				}
			})
		}
	}
}
