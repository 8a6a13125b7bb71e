package delta

import (
	"fmt"
	"testing"
)

// tickerFrames returns n consecutive V2 frames of one ticker channel, each
// changing two of the payload's 20 fields; withIDs adds the message_id and
// serial a V2 frame carries when recovery or history is on.
func tickerFrames(n int, withIDs bool) [][]byte {
	return tickerFramesOf(newTicker(7, "BTCUSDT"), n, withIDs)
}

// verboseTicker has 8-decimal prices and longer constant fields.
func verboseTicker() *ticker {
	tk := newTicker(7, "BTCUSDT")
	tk.verbose = true
	tk.vals[1], tk.vals[2], tk.vals[3] = `"Binance Spot"`, `"USDT"`, `"TRADING"`
	for i := 4; i < 19; i++ {
		tk.vals[i] = tk.num()
	}
	return tk
}

func tickerFramesOf(tk *ticker, n int, withIDs bool) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		extra := ""
		if withIDs {
			extra = fmt.Sprintf(`,"message_id":"%08x-%04x-4%03x-8%03x-%012x","serial":%d`, i*2654435761, i%65536, i%4096, (i*7)%4096, i*40503, 1000+i)
		}
		out[i] = v2Frame("ticker", "ticker-btcusdt", tk.next(), extra)
	}
	return out
}

// BenchmarkTickerDelta measures one publish served to one delta
// subscriber: Publish (base copy, splice) plus the delta encoding and its
// frame, for the ticker payload. Reported: bytes of the plain V2
// frame, of the delta frame (whole JSON envelope included), their ratio,
// and the average bytes per message with a full frame every
// full_message_interval (10) deltas.
func BenchmarkTickerDelta(b *testing.B) {
	payloads := []struct {
		name string
		tk   func() *ticker
		ids  bool
	}{
		{"compact", func() *ticker { return newTicker(7, "BTCUSDT") }, false},
		{"compact+ids", func() *ticker { return newTicker(7, "BTCUSDT") }, true},
		{"verbose+ids", verboseTicker, true},
	}
	for _, pl := range payloads {
		for _, algo := range []Algorithm{Fossil, Xdelta3} {
			b.Run(fmt.Sprintf("%s/%s", algo, pl.name), func(b *testing.B) {
				frames := tickerFramesOf(pl.tk(), 4096, pl.ids)
				o := DefaultConfig().Options()
				o.FullMessageInterval = 1 << 30 // measure deltas only
				ch := NewChannel("ticker-btcusdt", o)
				var s Sub
				ch.Publish(Message{Event: "ticker", Frame: frames[0]}, t0).For(&s, algo)
				var plain, wire, full, deltas int
				b.ReportAllocs()
				i := 1
				for b.Loop() {
					f := frames[i%len(frames)]
					out, isDelta := ch.Publish(Message{Event: "ticker", Frame: f}, t0).For(&s, algo)
					i++
					if !isDelta { // frames wrapped around: unrelated states
						continue
					}
					plain += len(f)
					wire += len(out)
					full += len(f) + len(`,"__delta_seq":1234`)
					deltas++
				}
				b.ReportMetric(float64(plain)/float64(deltas), "plain-B")
				b.ReportMetric(float64(wire)/float64(deltas), "delta-frame-B")
				b.ReportMetric(float64(plain)/float64(wire), "ratio")
				// steady state: 10 deltas then one full frame
				avg := (10*float64(wire)/float64(deltas) + float64(full)/float64(deltas)) / 11
				b.ReportMetric(float64(plain)/float64(deltas)/avg, "ratio-interval10")
			})
		}
	}
}

// BenchmarkFanout10k is one ticker publish served to 10,000 delta
// subscribers holding the same base: one encoding, then a record update
// per subscriber. ns/op is per publish; ns/delivery per subscriber.
func BenchmarkFanout10k(b *testing.B) {
	for _, algo := range []Algorithm{Fossil, Xdelta3} {
		b.Run(algo.String(), func(b *testing.B) {
			frames := tickerFrames(256, true)
			ch := NewChannel("ticker-btcusdt", DefaultConfig().Options())
			subs := make([]Sub, 10_000)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := ch.Publish(Message{Event: "ticker", Frame: frames[i%len(frames)]}, t0)
				for j := range subs {
					p.For(&subs[j], algo)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(subs)), "ns/delivery")
		})
	}
}

// BenchmarkAppendDelta is the bare encoder on a ticker frame pair.
func BenchmarkAppendDelta(b *testing.B) {
	frames := tickerFrames(2, false)
	for _, algo := range []Algorithm{Fossil, Xdelta3} {
		b.Run(algo.String(), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendDelta(buf[:0], algo, frames[0], frames[1])
			}
			b.ReportMetric(float64(len(buf)), "delta-B")
		})
	}
}

// BenchmarkPublish is the per-publish cost before any subscriber: copy,
// splice, and the conflation key lookup when a path is set.
func BenchmarkPublish(b *testing.B) {
	for _, path := range []string{"", "symbol", "data.symbol"} {
		b.Run("path="+path, func(b *testing.B) {
			frames := tickerFrames(256, true)
			o := DefaultConfig().Options()
			o.ConflationKeyPath = path
			ch := NewChannel("ticker-btcusdt", o)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ch.Publish(Message{Event: "ticker", Frame: frames[i%len(frames)]}, t0)
				i++
			}
		})
	}
}
