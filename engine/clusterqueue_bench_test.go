package engine

import (
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
)

// BenchmarkClusterHistoryForward measures a publish to a channel with
// durable history on another node than its owner, waiting for the
// owner's serial (an HTTP publish with info): one bus round trip through
// the in-process bus, the owner sequencing the forward off its bus
// goroutine (clusterqueue.go), against an in-memory store.
func BenchmarkClusterHistoryForward(b *testing.B) {
	app := testApp()
	store := newSharedStore()
	_, other := benchPair(b, app, func() V2Options {
		return V2Options{Recovery: recovery.New(recovery.Options{}),
			History: HistoryOptions{Store: store, Enabled: true, WriteTimeout: time.Second}}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x := &Event{Name: "tick", Data: `{"price":42}`, Channels: []string{"bench"}, WantAcks: true}
		if err := other.Publish(b.Context(), app, x); err != nil {
			b.Fatal(err)
		}
		if !x.Acks[0].HasSerial {
			b.Fatal("no serial acknowledged")
		}
	}
}
