package engine

import (
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
)

// BenchmarkClusterStreamPublish measures what a publish to a
// recovery-enabled channel costs the node it arrives at: alone (no bus),
// in a cluster without recovery (the bus message every publish sends),
// on the channel's owner (sequence, keep, stamp on the bus), on another
// node (forward to the owner), and on another node waiting for the
// owner's serial (an HTTP publish with info: one bus round trip, here
// through the in-process bus).
func BenchmarkClusterStreamPublish(b *testing.B) {
	app := testApp()
	ev := func(ack bool) *Event {
		return &Event{Name: "tick", Data: `{"price":42}`, Channels: []string{"bench"}, WantAcks: ack}
	}
	run := func(b *testing.B, e *Engine, ack bool) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			x := ev(ack)
			if err := e.Publish(b.Context(), app, x); err != nil {
				b.Fatal(err)
			}
			if ack && !x.Acks[0].HasSerial {
				b.Fatal("no serial acknowledged")
			}
		}
	}
	b.Run("single", func(b *testing.B) {
		e := newEngine(b, Options{V2: V2Options{Recovery: recovery.New(recovery.Options{})}}, app)
		run(b, e, false)
	})
	clusterOf := func(b *testing.B, withRecovery bool) (owner, other *Engine) {
		return benchPair(b, app, func() V2Options {
			if withRecovery {
				return V2Options{Recovery: recovery.New(recovery.Options{})}
			}
			return V2Options{}
		})
	}
	cluster := func(b *testing.B) (owner, other *Engine) { return clusterOf(b, true) }
	b.Run("cluster-without-recovery", func(b *testing.B) {
		_, other := clusterOf(b, false)
		run(b, other, false)
	})
	b.Run("owner", func(b *testing.B) {
		owner, _ := cluster(b)
		run(b, owner, false)
	})
	b.Run("forward", func(b *testing.B) {
		_, other := cluster(b)
		run(b, other, false)
	})
	b.Run("forward-ack", func(b *testing.B) {
		_, other := cluster(b)
		run(b, other, true)
	})
}

// benchPair starts nodes a and b on one in-process bus, each with the V2
// options v2 returns (called once a node, so nothing is shared), waits up
// to 5 s for both to settle and know each other, and returns the node
// that owns channel "bench" and the other.
func benchPair(b *testing.B, app *App, v2 func() V2Options) (owner, other *Engine) {
	hub := newHub()
	nodes := map[string]*Engine{}
	for _, name := range []string{"a", "b"} {
		o := Options{Bus: hub.bus(), NodeName: name, HeartbeatInterval: 50 * time.Millisecond,
			NodeTimeout: 5 * time.Second, CleanupInterval: 50 * time.Millisecond, V2: v2()}
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
	if nodes["a"].ChannelSequencer("bench") == "a" {
		return nodes["a"], nodes["b"]
	}
	return nodes["b"], nodes["a"]
}
