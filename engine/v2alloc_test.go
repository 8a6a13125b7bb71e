//go:build !race

package engine

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// v2Rig is an engine with connection recovery on and n V2 connections
// subscribed to one channel: every publish gets a serial and a message
// id, is kept in the replay buffer and reaches each connection as V2.
type v2Rig struct {
	e     *Engine
	app   *App
	sinks []*sinkTransport
	seen  []int64
	ev    Event
}

func newV2Rig(tb testing.TB, n int) *v2Rig { return newRecoveryRig(tb, n, "2") }

// newRecoveryRig is newV2Rig with connections of protocol proto.
func newRecoveryRig(tb testing.TB, n int, proto string) *v2Rig {
	tb.Helper()
	return newRig(tb, n, V2Options{Recovery: recovery.New(recovery.Options{})},
		ConnectRequest{AppKey: "key", Protocol: proto}, "pusher:subscribe")
}

// newRig starts an engine with v2 and n connections made with req, each
// subscribed to "bench" with subscribe (the event name of its protocol)
// and waited for until the subscription is acknowledged.
func newRig(tb testing.TB, n int, v2 V2Options, req ConnectRequest, subscribe string) *v2Rig {
	tb.Helper()
	app := testApp()
	e, err := New(Options{Apps: staticApps{app}, Shards: 2, V2: v2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	r := &v2Rig{e: e, app: app, ev: Event{Name: "tick", Data: `{"price":42}`, Channels: []string{"bench"}}}
	sub := maskedFrame(protocol.OpText, []byte(`{"event":"`+subscribe+`","data":{"channel":"bench"}}`))
	for range n {
		s := &sinkTransport{}
		c, err := e.Connect(req, s)
		if err != nil {
			tb.Fatal(err)
		}
		spinUntil(func() bool { return s.bytes.Load() > 0 })
		before := s.bytes.Load()
		_ = c.Feed(sub)
		spinUntil(func() bool { return s.bytes.Load() > before })
		r.sinks = append(r.sinks, s)
		r.seen = append(r.seen, s.bytes.Load())
	}
	return r
}

// publish sends one event and waits until every connection got it.
func (r *v2Rig) publish() {
	_ = r.e.Publish(context.Background(), r.app, &r.ev)
	for i, s := range r.sinks {
		for s.bytes.Load() <= r.seen[i] {
			runtime.Gosched()
		}
		r.seen[i] = s.bytes.Load()
	}
}

// TestV2FanoutAllocatesNothingPerDelivery: a V2 publish with serial and
// message id costs a fixed number of allocations whatever the number of
// V2 recipients: 0 per delivery.
func TestV2FanoutAllocatesNothingPerDelivery(t *testing.T) {
	perPublish := func(n int) float64 {
		r := newV2Rig(t, n)
		for range 20 {
			r.publish()
		}
		return testing.AllocsPerRun(200, r.publish)
	}
	one, many := perPublish(1), perPublish(1000)
	if many > one+0.5 {
		t.Fatalf("allocations per V2 publish: %.1f with 1 subscriber, %.1f with 1,000: want 0 per delivery", one, many)
	}
	t.Logf("allocations per V2 publish: %.1f (1 subscriber), %.1f (1,000)", one, many)
}

// TestV1FanoutWithRecoveryAllocatesNothingPerDelivery: with recovery on,
// V1 subscribers still cost 0 allocations each (their frame is the plain
// V1 encoding, made once).
func TestV1FanoutWithRecoveryAllocatesNothingPerDelivery(t *testing.T) {
	perPublish := func(n int) float64 {
		r := newRecoveryRig(t, n, "7")
		for range 20 {
			r.publish()
		}
		return testing.AllocsPerRun(200, r.publish)
	}
	one, many := perPublish(1), perPublish(1000)
	if many > one+0.5 {
		t.Fatalf("allocations per publish to V1 subscribers with recovery on: %.1f with 1, %.1f with 1,000", one, many)
	}
}

func BenchmarkBroadcastV2(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run("subscribers_"+strconv.Itoa(n), func(b *testing.B) {
			r := newV2Rig(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.publish()
			}
		})
	}
}
