package engine

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// filterRig is an engine with V2 connections subscribed to one channel,
// connection i with the subscribe extra filters[i] ("" for none).
type filterRig struct {
	e     *Engine
	app   *App
	sinks []*sinkTransport
	seen  []int64
}

func newFilterRig(tb testing.TB, filters []string) *filterRig {
	tb.Helper()
	app := testApp()
	fc := filter.DefaultConfig()
	fc.TagFiltering = true
	e, err := New(Options{Apps: staticApps{app}, Shards: 2, V2: V2Options{Filters: fc}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	r := &filterRig{e: e, app: app}
	for _, f := range filters {
		s := &sinkTransport{}
		c, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "2"}, s)
		if err != nil {
			tb.Fatal(err)
		}
		spinUntil(func() bool { return s.bytes.Load() > 0 })
		before := s.bytes.Load()
		data := `{"channel":"bench"`
		if f != "" {
			data += "," + f
		}
		_ = c.Feed(maskedFrame(protocol.OpText, []byte(`{"event":"sockudo:subscribe","data":`+data+`}}`)))
		spinUntil(func() bool { return s.bytes.Load() > before })
		r.sinks = append(r.sinks, s)
		r.seen = append(r.seen, s.bytes.Load())
	}
	return r
}

// regionFilter is a subscriber filtering on one region.
func regionFilter(region string) string {
	return `"tags_filter":{"key":"region","cmp":"eq","val":"` + region + `"}`
}

// publish sends ev and waits until the connections in want got it.
func (r *filterRig) publish(ev *Event, want []int) {
	_ = r.e.Publish(context.Background(), r.app, ev)
	for _, i := range want {
		s := r.sinks[i]
		for s.bytes.Load() <= r.seen[i] {
			runtime.Gosched()
		}
		r.seen[i] = s.bytes.Load()
	}
}

func taggedEvent(region string) *Event {
	return &Event{Name: "tick", Data: `{"price":42}`, Channels: []string{"bench"},
		V2: &V2Fields{Tags: []byte(`{"region":"` + region + `"}`)}}
}

// BenchmarkFilteredPublish is the cost of one publish to a channel of
// 10,000 V2 subscribers that filter on the region tag, by how many of
// them the message matches: 1 (10,000 distinct regions), 100 (100
// regions) or all 10,000 (one region); unfiltered is the same 10,000
// without filters. The cost follows the matching subscribers.
func BenchmarkFilteredPublish(b *testing.B) {
	const n = 10000
	for _, c := range []struct {
		name    string
		regions int
		filter  bool
	}{
		{"match=1of10000", n, true},
		{"match=100of10000", 100, true},
		{"match=10000of10000", 1, true},
		{"unfiltered10000", 1, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			filters := make([]string, n)
			var want []int
			for i := range filters {
				if c.filter {
					filters[i] = regionFilter("r" + strconv.Itoa(i%c.regions))
				}
				if i%c.regions == 0 {
					want = append(want, i)
				}
			}
			r := newFilterRig(b, filters)
			ev := taggedEvent("r0")
			r.publish(ev, want)
			runtime.GC() // the rig's garbage is not the publishes'
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r.publish(ev, want)
			}
			b.ReportMetric(float64(len(want)), "deliveries/op")
		})
	}
}
