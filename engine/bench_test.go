package engine

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sockudo/sockudo-go/protocol"
)

// sinkTransport accepts every write and counts them, like a client that
// reads instantly, so benchmarks measure the engine and not a peer.
type sinkTransport struct{ writes, bytes atomic.Int64 }

func (s *sinkTransport) TryWrite(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	s.writes.Add(1)
	s.bytes.Add(int64(n))
	return n, nil
}
func (s *sinkTransport) Write(p []byte) error { s.bytes.Add(int64(len(p))); return nil }
func (s *sinkTransport) Close() error         { return nil }

// fanoutRig is an engine with n connections subscribed to one channel.
type fanoutRig struct {
	e     *Engine
	app   *App
	sinks []*sinkTransport
	base  []int64 // bytes each sink had before the first publish
	frame int64   // bytes of one published frame
	ev    Event
}

func newFanoutRig(tb testing.TB, n int) *fanoutRig {
	tb.Helper()
	app := testApp()
	e, err := New(Options{Apps: staticApps{app}, Shards: 2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	r := &fanoutRig{e: e, app: app, ev: Event{Name: "tick", Data: `{"price":42}`, Channels: []string{"bench"}}}
	r.frame = int64(len(protocol.AppendFrame(nil, protocol.OpText, protocol.AppendEvent(nil, "tick", "bench", r.ev.Data, ""))))
	sub := maskedFrame(protocol.OpText, []byte(`{"event":"pusher:subscribe","data":{"channel":"bench"}}`))
	for i := 0; i < n; i++ {
		s := &sinkTransport{}
		c, err := e.Connect(ConnectRequest{AppKey: "key"}, s)
		if err != nil {
			tb.Fatal(err)
		}
		spinUntil(func() bool { return s.bytes.Load() > 0 }) // connection_established
		before := s.bytes.Load()
		_ = c.Feed(sub)
		spinUntil(func() bool { return s.bytes.Load() > before }) // subscription_succeeded
		r.sinks = append(r.sinks, s)
		r.base = append(r.base, s.bytes.Load())
	}
	return r
}

// spinUntil yields until cond holds; it allocates nothing, so it is safe
// inside AllocsPerRun.
func spinUntil(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// publish sends the round-th event and waits until every subscriber got it.
func (r *fanoutRig) publish(round int64) {
	_ = r.e.Publish(context.Background(), r.app, &r.ev)
	for i, s := range r.sinks {
		want := r.base[i] + round*r.frame
		for s.bytes.Load() < want {
			runtime.Gosched()
		}
	}
}

func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("subscribers_"+strconv.Itoa(n), func(b *testing.B) {
			r := newFanoutRig(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.publish(int64(i + 1))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkBroadcastSize publishes events of growing data size to 10
// subscribers: B/op is what one publish allocates, the frame included.
func BenchmarkBroadcastSize(b *testing.B) {
	for _, size := range []int{100, 10 << 10, 64 << 10} {
		b.Run("data_"+strconv.Itoa(size), func(b *testing.B) {
			r := newFanoutRig(b, 10)
			r.ev.Data = strings.Repeat("x", size)
			r.frame = int64(len(protocol.AppendFrame(nil, protocol.OpText, protocol.AppendEvent(nil, "tick", "bench", r.ev.Data, ""))))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.publish(int64(i + 1))
			}
		})
	}
}

func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	e := newEngine(b, Options{})
	s := &sinkTransport{}
	c, err := e.Connect(ConnectRequest{AppKey: "key"}, s)
	if err != nil {
		b.Fatal(err)
	}
	sub := maskedFrame(protocol.OpText, []byte(`{"event":"pusher:subscribe","data":{"channel":"room"}}`))
	unsub := maskedFrame(protocol.OpText, []byte(`{"event":"pusher:unsubscribe","data":{"channel":"room"}}`))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = c.Feed(sub)
		_ = c.Feed(unsub)
	}
}

func BenchmarkChannelLookup(b *testing.B) {
	r := newFanoutRig(b, 10)
	key := chanKey{r.e.runtimeFor(r.app), "bench"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var t [64]*worker
		if len(r.e.targets(key, t[:0])) == 0 {
			b.Fatal("no subscribers found")
		}
	}
}

// BenchmarkSmallChannels publishes round-robin to 100 channels of 10
// subscribers each (issue 14 row 1, in miniature) and waits for every
// delivery, so each publish finds its workers idle, as at 2,000 publishes/s
// over 1,000 channels: ns/op is one publish with its 10 writes to sinks.
func BenchmarkSmallChannels(b *testing.B) {
	const channels, perChannel = 100, 10
	app := testApp()
	e, err := New(Options{Apps: staticApps{app}, Shards: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	evs := make([]Event, channels)
	sinks := make([][]*sinkTransport, channels)
	for ch := range channels {
		name := "small-" + strconv.Itoa(ch)
		evs[ch] = Event{Name: "tick", Data: `{"price":42}`, Channels: []string{name}}
		sub := maskedFrame(protocol.OpText, []byte(`{"event":"pusher:subscribe","data":{"channel":"`+name+`"}}`))
		for range perChannel {
			s := &sinkTransport{}
			c, err := e.Connect(ConnectRequest{AppKey: "key"}, s)
			if err != nil {
				b.Fatal(err)
			}
			spinUntil(func() bool { return s.writes.Load() > 0 })
			_ = c.Feed(sub)
			spinUntil(func() bool { return s.writes.Load() > 1 })
			sinks[ch] = append(sinks[ch], s)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ch := i % channels
		want := int64(2 + i/channels + 1)
		_ = e.Publish(context.Background(), app, &evs[ch])
		for _, s := range sinks[ch] {
			for s.writes.Load() < want {
				runtime.Gosched()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perChannel), "ns/delivery")
}
