package engine

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/engine/delta/deltatest"
	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// deltaEngine runs an engine with the delta_compression section cfg.
func deltaEngine(t *testing.T, cfg delta.Config, opts Options, apps ...*App) *Engine {
	t.Helper()
	opts.V2.Delta = &cfg
	return newEngine(t, opts, apps...)
}

// quoteGen makes ticker payloads: a 20-field JSON object of which two
// numeric fields change per message.
type quoteGen struct {
	rnd  *rand.Rand
	vals [20]string
}

func newQuoteGen(seed int64, symbol string) *quoteGen {
	g := &quoteGen{rnd: rand.New(rand.NewSource(seed))}
	g.vals[0], g.vals[1], g.vals[2], g.vals[3] = strconv.Quote(symbol), `"BINANCE"`, `"USD"`, `"open"`
	for i := 4; i < 20; i++ {
		g.vals[i] = g.num()
	}
	return g
}

func (g *quoteGen) num() string {
	return strconv.FormatFloat(float64(g.rnd.Intn(10_000_000))/100, 'f', 2, 64)
}

func (g *quoteGen) next() string {
	a := 4 + g.rnd.Intn(16)
	b := 4 + (a-4+1+g.rnd.Intn(15))%16
	g.vals[a], g.vals[b] = g.num(), g.num()
	var sb strings.Builder
	sb.WriteByte('{')
	for i, v := range g.vals {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"f%02d":%s`, i, v)
	}
	sb.WriteByte('}')
	return sb.String()
}

// deltaPeer is a V2 test client decoding deltas as the official client
// does, with independent decoders (see deltatest.Client).
type deltaPeer struct {
	*client
	js     *deltatest.Client
	deltas int
	fulls  int // frames carrying __delta_seq
	run    int // deltas since the last full frame (no conflation key)
	maxRun int
}

func newDeltaPeer(t *testing.T, e *Engine) *deltaPeer {
	return &deltaPeer{client: connectV2(t, e, ""), js: deltatest.NewClient()}
}

// enable sends sockudo:enable_delta_compression as the JS client does and
// checks the confirmation.
func (p *deltaPeer) enable(algo string) {
	p.t.Helper()
	p.send(`{"event":"sockudo:enable_delta_compression","data":{"algorithms":["fossil","xdelta3"]}}`)
	m := p.expectV2("sockudo:delta_compression_enabled")
	if string(m.Data) != `{"enabled":true,"algorithm":"`+algo+`"}` || m.MessageID == nil || !uuidV4.MatchString(*m.MessageID) {
		p.t.Fatalf("delta_compression_enabled: %s", m.Raw)
	}
	p.js.DefaultAlgo = algo
}

// subscribeDelta subscribes with the raw `delta` member deltaField (""
// for none).
func (p *deltaPeer) subscribeDelta(channel, deltaField string) {
	p.t.Helper()
	d := `{"channel":"` + channel + `"`
	if deltaField != "" {
		d += `,"delta":` + deltaField
	}
	p.send(`{"event":"sockudo:subscribe","data":` + d + `}}`)
	p.expectV2("sockudo_internal:subscription_succeeded")
}

// next reads the next frame and returns it as the application sees it
// (reconstructed from a delta when it is one), with the raw frame.
func (p *deltaPeer) next() (app v2msg, raw v2msg) {
	p.t.Helper()
	raw, ok := p.rawNext()
	if !ok {
		p.t.Fatal("timed out waiting for a frame")
	}
	text, ok, err := p.js.Receive([]byte(raw.Raw))
	if err != nil {
		p.t.Fatalf("decode %s: %v", raw.Raw, err)
	}
	if !ok {
		p.t.Fatalf("client could not reconstruct %s (resyncs %v)", raw.Raw, p.js.Resyncs)
	}
	switch {
	case raw.Event == "sockudo:delta":
		p.deltas++
		p.run++
		p.maxRun = max(p.maxRun, p.run)
	case strings.Contains(raw.Raw, `"__delta_seq":`):
		p.fulls++
		p.run = 0
	}
	if err := json.Unmarshal([]byte(text), &app); err != nil {
		p.t.Fatalf("reconstructed %q: %v", text, err)
	}
	app.Raw = text
	return app, raw
}

// expectData reads the next frame and checks its event and data.
func (p *deltaPeer) expectData(event, data string) (v2msg, v2msg) {
	p.t.Helper()
	app, raw := p.next()
	if app.Event != event || app.dataString(p.t) != data {
		p.t.Fatalf("got %s (raw %s), want %s %s", app.Raw, raw.Raw, event, data)
	}
	return app, raw
}

// TestDeltaSequencesDecode publishes long sequences with several event
// names (and conflation keys) to delta subscribers and reconstructs every
// message with the independent decoders: an early subscriber that enables
// deltas after subscribing (as the JS client does), a late one asking per
// subscription, a resync, and the full-message interval.
func TestDeltaSequencesDecode(t *testing.T) {
	for _, tc := range []struct {
		name, algo, path string
	}{
		{"fossil", "fossil", ""},
		{"xdelta3", "xdelta3", ""},
		{"fossil-conflation", "fossil", "f00"},
		{"xdelta3-conflation", "xdelta3", "f00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := delta.DefaultConfig()
			cfg.Algorithm, cfg.ConflationKeyPath = tc.algo, tc.path
			e := deltaEngine(t, cfg, Options{})
			a := newDeltaPeer(t, e)
			a.subscribeDelta("ticker", "")
			a.enable(tc.algo)
			var b *deltaPeer
			symbols := []string{"BTC"}
			if tc.path != "" {
				symbols = []string{"BTC", "ETH", "SOL"}
			}
			gens := map[string]*quoteGen{}
			for i, s := range symbols {
				gens[s] = newQuoteGen(int64(i+1), s)
			}
			events := []string{"quote", "trade", "book"}
			rnd := rand.New(rand.NewSource(7))
			const n = 150
			for i := 0; i < n; i++ {
				if i == 60 {
					b = newDeltaPeer(t, e)
					// a late subscriber asking per subscription, without
					// enabling deltas for its socket
					b.js.DefaultAlgo = tc.algo
					b.subscribeDelta("ticker", `{"enabled":true,"algorithm":"`+tc.algo+`"}`)
				}
				if i == 100 {
					// the client lost its bases: it drops its state and
					// asks for a resync; the next frame must be full
					delete(a.js.Channels, "ticker")
					a.send(`{"event":"sockudo:delta_sync_error","data":{"channel":"ticker"}}`)
					waitFor(t, "resync counted", func() bool { return e.DeltaStats().Resyncs == 1 })
				}
				ev := events[rnd.Intn(len(events))]
				data := gens[symbols[rnd.Intn(len(symbols))]].next()
				publish(t, e, "ticker", ev, data, "")
				if _, raw := a.expectData(ev, data); i == 100 && raw.Event == "sockudo:delta" {
					t.Fatalf("frame after the resync is a delta: %s", raw.Raw)
				}
				if b != nil {
					b.expectData(ev, data)
				}
			}
			for _, p := range []*deltaPeer{a, b} {
				if len(p.js.Resyncs) != 0 || p.js.Ignored != 0 {
					t.Fatalf("client resyncs %v, ignored %d", p.js.Resyncs, p.js.Ignored)
				}
				// every frame was on the delta path, mostly as deltas
				if p.deltas+p.fulls == 0 || p.deltas < 3*p.fulls {
					t.Fatalf("deltas %d, full %d", p.deltas, p.fulls)
				}
				if tc.path == "" && p.maxRun != cfg.FullMessageInterval {
					t.Fatalf("longest run of deltas %d, want full_message_interval %d", p.maxRun, cfg.FullMessageInterval)
				}
			}
			a.quiet()
			s := e.DeltaStats()
			if s.DeltaFrames != uint64(a.deltas+b.deltas) || s.FullFrames != uint64(a.fulls+b.fulls) || s.BytesSaved == 0 || s.Channels != 1 {
				t.Fatalf("stats %+v, seen deltas %d full %d", s, a.deltas+b.deltas, a.fulls+b.fulls)
			}
			// unsubscribing frees the channel state with its last delta subscriber
			a.send(`{"event":"sockudo:unsubscribe","data":{"channel":"ticker"}}`)
			b.c.Gone(nil)
			waitFor(t, "delta channel state freed", func() bool { return e.DeltaStats().Channels == 0 })
		})
	}
}

// TestDeltaNeverWhereNotAllowed: encrypted channels, V1 connections,
// delta:false publishes and subscriptions declining deltas get plain
// frames, and a plain frame does not disturb the delta chain.
func TestDeltaNeverWhereNotAllowed(t *testing.T) {
	e := deltaEngine(t, delta.DefaultConfig(), Options{})
	app, _ := e.opts.Apps.AppByKey("key")
	a := newDeltaPeer(t, e)
	a.enable("fossil")
	enc := "private-encrypted-x"
	a.send(`{"event":"sockudo:subscribe","data":{"channel":"` + enc + `","auth":"key:` + protocol.SignChannel("secret", a.id, enc, "") + `"}}`)
	a.expectV2("sockudo_internal:subscription_succeeded")
	a.subscribeDelta("plain", "")
	a.subscribeDelta("declined", `"disabled"`)
	v1 := connect(t, e, "key")
	v1.mustSubscribe("plain")
	g := newQuoteGen(3, "BTC")
	for i := 0; i < 12; i++ {
		data := g.next()
		noDelta := i == 5
		for _, ch := range []string{enc, "plain", "declined"} {
			ev := &Event{Name: "quote", Data: data, Channels: []string{ch}}
			if noDelta && ch == "plain" {
				ev.V2 = &V2Fields{NoDelta: true}
			}
			if err := e.Publish(t.Context(), app, ev); err != nil {
				t.Fatal(err)
			}
			_, raw := a.expectData("quote", data)
			onPath := raw.Event == "sockudo:delta" || strings.Contains(raw.Raw, "__delta")
			if want := ch == "plain" && !noDelta; onPath != want {
				t.Fatalf("%s message %d: delta path %v: %s", ch, i, onPath, raw.Raw)
			}
			if ch == "plain" && i > 6 && raw.Event != "sockudo:delta" {
				t.Fatalf("no delta after a delta:false publish: %s", raw.Raw)
			}
		}
		m, ok := v1.next()
		if !ok || m.Event != "quote" || m.DataString() != data {
			t.Fatalf("V1: %+v", m)
		}
	}
	v1.quiet()
	if !strings.Contains(string(v1.tr.out), `"quote"`) || strings.Contains(string(v1.tr.out), "delta") {
		t.Fatal("V1 connection saw delta markers")
	}
}

// TestDeltaFramesCarryPosition: with recovery on, delta frames carry the
// message_id, stream_id and serial of the message they encode (Sockudo
// omits them); after an abrupt drop and a resume, the client's message
// ids and serials show no duplicate and no gap, deltas included.
func TestDeltaFramesCarryPosition(t *testing.T) {
	opts := Options{}
	opts.V2.Delta = &delta.Config{}
	*opts.V2.Delta = delta.DefaultConfig()
	e, _ := recoveryEngine(t, recovery.Options{}, opts)
	g := newQuoteGen(5, "ETH")
	sent := map[uint64]string{}
	pub := func(serial uint64) {
		d := g.next()
		sent[serial] = d
		publish(t, e, "ticker", "quote", d, "")
	}
	seen := map[string]bool{}
	serials := []uint64{}
	stream := ""
	consume := func(p *deltaPeer) {
		app, raw := p.next()
		if raw.MessageID == nil || raw.StreamID == nil || raw.Serial == nil {
			t.Fatalf("frame without position: %s", raw.Raw)
		}
		if *raw.MessageID != *app.MessageID || *raw.Serial != *app.Serial || *raw.StreamID != *app.StreamID {
			t.Fatalf("delta frame position %s differs from its message %s", raw.Raw, app.Raw)
		}
		if seen[*raw.MessageID] {
			t.Fatalf("duplicate message %s", raw.Raw)
		}
		seen[*raw.MessageID] = true
		if app.dataString(t) != sent[*app.Serial] {
			t.Fatalf("serial %d reconstructed as %s", *app.Serial, app.Raw)
		}
		serials = append(serials, *app.Serial)
		stream = *app.StreamID
	}
	a := newDeltaPeer(t, e)
	a.subscribeDelta("ticker", "")
	a.enable("fossil")
	for s := uint64(1); s <= 8; s++ {
		pub(s)
		consume(a)
	}
	if a.deltas == 0 {
		t.Fatal("no delta frames before the drop")
	}
	a.c.Gone(nil) // abrupt drop
	for s := uint64(9); s <= 14; s++ {
		pub(s)
	}
	b := newDeltaPeer(t, e)
	b.js = a.js // the same client, reconnected: it keeps its bases
	b.subscribeDelta("ticker", "")
	b.send(`{"event":"sockudo:resume","data":` + resumeData("ticker", stream, serials[len(serials)-1]) + `}`)
	for range 6 {
		consume(b)
	}
	b.expectV2("sockudo:resume_success")
	b.enable("fossil")
	for s := uint64(15); s <= 30; s++ {
		pub(s)
		consume(b)
	}
	b.quiet()
	if b.deltas == 0 {
		t.Fatal("no delta frames after the resume")
	}
	for i, s := range serials {
		if s != uint64(i+1) {
			t.Fatalf("serials %v: gap or duplicate at %d", serials, i)
		}
	}
}

// TestDeltaAcrossTwoNodes: each node diffs what it delivers from the
// messages it receives over the bus; subscribers on both nodes
// reconstruct every message, and a delta:false publish crosses the bus.
func TestDeltaAcrossTwoNodes(t *testing.T) {
	hub := newHub()
	app := testApp()
	node := func(name string) *Engine {
		opts := Options{Bus: hub.bus(), NodeName: name, HeartbeatInterval: 50 * time.Millisecond,
			NodeTimeout: time.Second, CleanupInterval: 50 * time.Millisecond}
		opts.V2.Delta = &delta.Config{}
		*opts.V2.Delta = delta.DefaultConfig()
		e := newEngine(t, opts, app)
		hub.settled(t)
		return e
	}
	a, b := node("a"), node("b")
	local, remote := newDeltaPeer(t, a), newDeltaPeer(t, b)
	local.subscribeDelta("ticker", `"xdelta3"`)
	local.js.DefaultAlgo = "xdelta3"
	remote.subscribeDelta("ticker", "")
	remote.enable("fossil")
	waitFor(t, "b's subscriber known on a", func() bool { return subscriptions(t, a, "ticker") == 2 })
	g := newQuoteGen(9, "BTC")
	for i := 0; i < 40; i++ {
		ev := &Event{Name: []string{"quote", "trade"}[i%2], Data: g.next(), Channels: []string{"ticker"}}
		noDelta := i == 25
		if noDelta {
			ev.V2 = &V2Fields{NoDelta: true}
		}
		if err := a.Publish(t.Context(), app, ev); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*deltaPeer{local, remote} {
			_, raw := p.expectData(ev.Name, ev.Data)
			if onPath := raw.Event == "sockudo:delta" || strings.Contains(raw.Raw, "__delta_seq"); onPath == noDelta {
				t.Fatalf("message %d (delta:false %v): %s", i, noDelta, raw.Raw)
			}
		}
	}
	for _, p := range []*deltaPeer{local, remote} {
		if p.deltas < 25 || len(p.js.Resyncs) != 0 {
			t.Fatalf("deltas %d, resyncs %v", p.deltas, p.js.Resyncs)
		}
	}
}

// TestDeltaStateBoundedAndSwept: max_channel_states_per_socket bounds the
// channels a socket gets deltas on, and the sweeper drops states idle for
// max_state_age_secs, after which the next frame is full.
func TestDeltaStateBoundedAndSwept(t *testing.T) {
	cfg := delta.DefaultConfig()
	cfg.MaxChannelStatesPerSocket, cfg.MaxStateAgeSecs = 1, 1
	e := deltaEngine(t, cfg, Options{})
	p := newDeltaPeer(t, e)
	p.enable("fossil")
	p.subscribeDelta("first", "")
	p.subscribeDelta("second", "")
	g := newQuoteGen(4, "BTC")
	for i := 0; i < 4; i++ {
		for _, ch := range []string{"first", "second"} {
			d := g.next()
			publish(t, e, ch, "quote", d, "")
			_, raw := p.expectData("quote", d)
			onPath := raw.Event == "sockudo:delta" || strings.Contains(raw.Raw, "__delta_seq")
			if onPath != (ch == "first") {
				t.Fatalf("%s: delta path %v: %s", ch, onPath, raw.Raw)
			}
		}
	}
	dc, ok := e.delta.chans.Load(chanKey{p.c.rt, "first"})
	if !ok || dc.ch.Stats().Keys != 1 {
		t.Fatal("no delta state for the first channel")
	}
	// the sweeper runs every second and drops keys idle for a second
	for deadline := time.Now().Add(10 * time.Second); dc.ch.Stats().Keys != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("idle delta state not swept within 10 s")
		}
	}
	d := g.next()
	publish(t, e, "first", "quote", d, "")
	if _, raw := p.expectData("quote", d); !strings.Contains(raw.Raw, "__delta_seq") {
		t.Fatalf("after the sweep: %s", raw.Raw)
	}
}

// TestDeltaEventsOnV1AndWhenOff: V1 answers the delta events as any
// unknown event, as before; with delta_compression.enabled false a V2
// socket's request is ignored and frames stay full.
func TestDeltaEventsOnV1AndWhenOff(t *testing.T) {
	cfg := delta.DefaultConfig()
	cfg.Enabled = false
	e := deltaEngine(t, cfg, Options{})
	v1 := connect(t, e, "key")
	v1.send(`{"event":"pusher:enable_delta_compression","data":{}}`)
	if m := v1.expect(protocol.EventError); !strings.Contains(string(m.Data), "Unknown event") {
		t.Fatalf("V1: %s", m.Data)
	}
	p := newDeltaPeer(t, e)
	p.send(`{"event":"sockudo:enable_delta_compression","data":{"algorithms":["fossil"]}}`)
	p.subscribeDelta("ticker", "true")
	g := newQuoteGen(8, "BTC")
	for i := 0; i < 5; i++ {
		d := g.next()
		publish(t, e, "ticker", "quote", d, "")
		if _, raw := p.expectData("quote", d); strings.Contains(raw.Raw, "delta") {
			t.Fatalf("delta compression off, got %s", raw.Raw)
		}
	}
}
