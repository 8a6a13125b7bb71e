package engine

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// deltaRig is an engine with n V2 subscribers of a ticker channel, all
// asking for deltas (algo) or none ("").
type deltaRig struct {
	e     *Engine
	app   *App
	sinks []*sinkTransport
	base  []int64 // writes each sink had before the first publish
	msgs  []string
}

func newDeltaRig(tb testing.TB, n int, algo string, recover bool, interval int, omitAlgo bool) *deltaRig {
	tb.Helper()
	app := testApp()
	cfg := delta.DefaultConfig()
	cfg.OmitDeltaAlgorithm = omitAlgo
	if interval > 0 {
		cfg.FullMessageInterval = interval
	}
	opts := Options{Apps: staticApps{app}, Shards: 2}
	opts.V2.Delta = &cfg
	if recover {
		opts.V2.Recovery = recovery.New(recovery.Options{})
	}
	e, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	r := &deltaRig{e: e, app: app}
	g := newQuoteGen(1, "BTC")
	for range 1000 {
		r.msgs = append(r.msgs, g.next())
	}
	sub := `{"event":"sockudo:subscribe","data":{"channel":"ticker"}}`
	if algo != "" {
		sub = `{"event":"sockudo:subscribe","data":{"channel":"ticker","delta":"` + algo + `"}}`
	}
	frame := maskedFrame(protocol.OpText, []byte(sub))
	for i := 0; i < n; i++ {
		s := &sinkTransport{}
		c, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "2"}, s)
		if err != nil {
			tb.Fatal(err)
		}
		spinUntil(func() bool { return s.bytes.Load() > 0 }) // connection_established
		before := s.bytes.Load()
		_ = c.Feed(frame)
		spinUntil(func() bool { return s.bytes.Load() > before }) // subscription_succeeded
		r.sinks = append(r.sinks, s)
		r.base = append(r.base, s.writes.Load())
	}
	return r
}

// publish sends the round-th message and waits, sleeping so the waiter
// burns no CPU of its own, until every subscriber's socket was written.
func (r *deltaRig) publish(round int) {
	ev := Event{Name: "quote", Data: r.msgs[round%len(r.msgs)], Channels: []string{"ticker"}}
	_ = r.e.Publish(context.Background(), r.app, &ev)
	for i, s := range r.sinks {
		for s.writes.Load() < r.base[i]+int64(round+1) {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func (r *deltaRig) bytes() int64 {
	var n int64
	for _, s := range r.sinks {
		n += s.bytes.Load()
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeltaTicker: 10,000 V2 subscribers of a ticker channel (a
// 20-field JSON object, 2 fields changing per message), plain against
// delta-compressed. Reports the process CPU and the bytes written per
// delivery; compare the plain and delta runs for the ratios.
func BenchmarkDeltaTicker(b *testing.B) {
	n := benchDeltaSubs
	for _, recover := range []bool{false, true} {
		for _, mode := range []struct {
			name, algo string
			interval   int
			omit       bool
		}{
			{"plain", "", 0, false},
			{"fossil", "fossil", 0, false},
			{"xdelta3", "xdelta3", 0, false},
			// the bytes a deployment tuned for tickers gets: a full frame
			// every 100 messages, no algorithm in delta frames
			{"fossil-interval100-omit", "fossil", 100, true},
		} {
			b.Run(fmt.Sprintf("recovery=%v/%s", recover, mode.name), func(b *testing.B) {
				r := newDeltaRig(b, n, mode.algo, recover, mode.interval, mode.omit)
				for i := range 20 { // warm: every subscriber holds a base
					r.publish(i)
				}
				bytes0, cpu0 := r.bytes(), cpuTime()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.publish(20 + i)
				}
				b.StopTimer()
				d := float64(b.N * n)
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/d, "cpu-ns/delivery")
				b.ReportMetric(float64(r.bytes()-bytes0)/d, "B/delivery")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
				if mode.algo != "" && r.e.DeltaStats().DeltaFrames == 0 {
					b.Fatal("no delta frames sent")
				}
			})
		}
	}
}

// benchDeltaSubs is the subscriber count of BenchmarkDeltaTicker.
var benchDeltaSubs = 10000
