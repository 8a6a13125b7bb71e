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
	hub, store := newHub(), newSharedStore()
	nodes := map[string]*Engine{}
	for _, name := range []string{"a", "b"} {
		o := Options{Bus: hub.bus(), NodeName: name, HeartbeatInterval: 50 * time.Millisecond,
			NodeTimeout: 5 * time.Second, CleanupInterval: 50 * time.Millisecond,
			V2: V2Options{Recovery: recovery.New(recovery.Options{}),
				History: HistoryOptions{Store: store, Enabled: true, WriteTimeout: time.Second}}}
		nodes[name] = newEngine(b, o, app)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		sa, pa := nodes["a"].ClusterSettled()
		sb, pb := nodes["b"].ClusterSettled()
		if sa && sb && pa == 1 && pb == 1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("cluster did not settle")
		}
		time.Sleep(5 * time.Millisecond)
	}
	other := nodes["a"]
	if nodes["a"].ChannelSequencer("bench") == "a" {
		other = nodes["b"]
	}
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
