package delta

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/centrifugal/fdelta"
	"github.com/sockudo/sockudo-go/engine/delta/deltatest"
	"github.com/sockudo/sockudo-go/protocol/vcdiff"
)

func testOptions() Options {
	o := DefaultConfig().Options()
	o.MinMessageSize = 0
	o.FirstSeq = 1
	return o
}

// TestFirstSeqFromClock: with conflation keys and no FirstSeq a Channel
// starts its sequences from the clock, so a recreated Channel never
// reissues an earlier one's; without conflation keys it starts at 1.
func TestFirstSeqFromClock(t *testing.T) {
	o := DefaultConfig().Options()
	if p := NewChannel("c", o).Publish(Message{Event: "e", Frame: []byte(`{"event":"e"}`)}, t0); p.Seq() != 1 {
		t.Fatalf("first sequence without conflation keys: %d", p.Seq())
	}
	o.ConflationKeyPath = "k"
	before := uint64(time.Now().UnixMilli()) * 1000
	a := NewChannel("c", o).Publish(Message{Event: "e", Frame: []byte(`{"event":"e"}`)}, t0)
	for i := 0; i < 10; i++ {
		a = a.ch.Publish(Message{Event: "e", Frame: []byte(`{"event":"e"}`)}, t0)
	}
	for deadline := time.Now().Add(time.Second); uint64(time.Now().UnixMilli())*1000 <= a.Seq() && time.Now().Before(deadline); {
	}
	b := NewChannel("c", o).Publish(Message{Event: "e", Frame: []byte(`{"event":"e"}`)}, t0)
	if a.Seq() < before || b.Seq() <= a.Seq() || b.Seq() >= 1<<53 {
		t.Fatalf("sequences %d then %d (clock %d)", a.Seq(), b.Seq(), before)
	}
}

// TestSpliceIsWhatTheClientStrips: the full frame is the plain frame with
// the markers before the final brace, and the client's regular expressions
// turn it back into exactly the bytes diffed here.
func TestSpliceIsWhatTheClientStrips(t *testing.T) {
	for _, path := range []string{"", "symbol"} {
		o := testOptions()
		o.ConflationKeyPath = path
		ch := NewChannel("ticker", o)
		for i, key := range []string{"BTC", `back\slash`, "tab\there", "é", ""} {
			frame := v2Frame("quote", "ticker", `{"symbol":`+mustJSON(key)+`,"p":1}`, `,"message_id":"m1","serial":7`)
			p := ch.Publish(Message{Event: "quote", Frame: frame}, t0)
			want := string(frame[:len(frame)-1]) + fmt.Sprintf(`,"__delta_seq":%d`, i+1)
			if path != "" {
				want += `,"__conflation_key":` + mustJSON(key)
			}
			want += "}"
			if string(p.Full()) != want {
				t.Fatalf("full frame\n%s\nwant\n%s", p.Full(), want)
			}
			text, ok, err := deltatest.NewClient().Receive(p.Full())
			if err != nil || !ok || text != string(frame) || !bytes.Equal(p.Base(), frame) {
				t.Fatalf("client base %q (%v %v), want %q", text, ok, err, frame)
			}
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestLongSequence: 600 publishes of three event names on one channel,
// with conflation keys or without, both algorithms, a subscriber from the
// start, a late one, one that loses its base and resyncs, one behind an
// event filter; every frame reconstructs exactly, deltas dominate and no
// subscriber gets more than full_message_interval deltas in a row.
func TestLongSequence(t *testing.T) {
	for _, algo := range []Algorithm{Fossil, Xdelta3} {
		for _, path := range []string{"", "symbol"} {
			t.Run(fmt.Sprintf("%s/key=%q", algo, path), func(t *testing.T) {
				o := DefaultConfig().Options()
				o.ConflationKeyPath = path
				o.FullMessageInterval = 7
				ch := NewChannel("market", o)
				tickers := map[string]*ticker{"BTC": newTicker(1, "BTC"), "ETH": newTicker(2, "ETH"), "SOL": newTicker(3, "SOL")}
				symbols := []string{"BTC", "ETH", "SOL"}
				if path == "" {
					// one base per channel: quotes of different symbols
					// share little, that is what conflation keys are for
					symbols = []string{"BTC", "BTC", "BTC"}
				}
				events := []string{"quote", "trade", "book"}
				early, late, resync, filtered := newSubscriber(algo), newSubscriber(algo), newSubscriber(algo), newSubscriber(Fossil+Xdelta3-algo)
				rnd := rand.New(rand.NewSource(42))
				for i := 0; i < 600; i++ {
					sym := symbols[rnd.Intn(3)]
					ev := events[rnd.Intn(3)]
					frame := v2Frame(ev, "market", tickers[sym].next(), fmt.Sprintf(`,"message_id":"id-%d","serial":%d`, i, i+1))
					p := ch.Publish(Message{Event: ev, Frame: frame}, t0.Add(time.Duration(i)*time.Millisecond))
					early.deliver(t, p, frame, 7)
					if i >= 200 {
						late.deliver(t, p, frame, 7)
					}
					if i == 300 { // the client lost its base: it deletes its state and resyncs
						resync.lose("market")
					}
					resync.deliver(t, p, frame, 7)
					if ev != "book" {
						filtered.deliver(t, p, frame, 7)
					}
				}
				for name, s := range map[string]*subscriber{"early": early, "late": late, "resync": resync, "filtered": filtered} {
					if s.deltas < 3*s.fulls {
						t.Errorf("%s: %d deltas, %d full frames", name, s.deltas, s.fulls)
					}
				}
				if len(resync.client.Resyncs) != 1 {
					t.Errorf("resyncs %v, want one", resync.client.Resyncs)
				}
				if len(early.client.Resyncs)+len(late.client.Resyncs)+len(filtered.client.Resyncs) != 0 {
					t.Errorf("unexpected resyncs")
				}
			})
		}
	}
}

// TestFullMessageInterval: full, then interval deltas, then full again.
func TestFullMessageInterval(t *testing.T) {
	o := testOptions()
	o.FullMessageInterval = 3
	ch := NewChannel("c", o)
	tk := newTicker(1, "X")
	s := newSubscriber(Fossil)
	var got []string
	for i := 0; i < 10; i++ {
		frame := v2Frame("e", "c", tk.next(), "")
		p := ch.Publish(Message{Event: "e", Frame: frame}, t0)
		f, isDelta := p.For(&s.sub, Fossil)
		if _, ok, err := s.client.Receive(f); err != nil || !ok {
			t.Fatal(err)
		}
		got = append(got, map[bool]string{true: "d", false: "F"}[isDelta])
	}
	if g := strings.Join(got, ""); g != "FdddFdddFd" {
		t.Fatalf("frames %s, want FdddFdddFd", g)
	}
	o.FullMessageInterval = 0 // every frame full
	ch = NewChannel("c", o)
	var sub Sub
	for i := 0; i < 3; i++ {
		if _, isDelta := ch.Publish(Message{Event: "e", Frame: v2Frame("e", "c", tk.next(), "")}, t0).For(&sub, Fossil); isDelta {
			t.Fatal("delta with full_message_interval 0")
		}
	}
}

// TestMinMessageSize: frames under the size go full, still on the delta
// path so the client keeps following.
func TestMinMessageSize(t *testing.T) {
	o := testOptions()
	o.MinMessageSize = 100
	ch := NewChannel("c", o)
	s := newSubscriber(Fossil)
	for i := 0; i < 5; i++ {
		frame := v2Frame("e", "c", fmt.Sprintf(`{"n":%d}`, i), "")
		s.deliver(t, ch.Publish(Message{Event: "e", Frame: frame}, t0), frame, 10)
	}
	if s.deltas != 0 || s.fulls != 5 {
		t.Fatalf("%d deltas, %d full for frames under min_message_size", s.deltas, s.fulls)
	}
	tk := newTicker(1, "X")
	for i := 0; i < 5; i++ {
		frame := v2Frame("e", "c", tk.next(), "")
		s.deliver(t, ch.Publish(Message{Event: "e", Frame: frame}, t0), frame, 10)
	}
	if s.deltas != 4 {
		t.Fatalf("%d deltas for large frames, want 4", s.deltas)
	}
}

// TestBypass: internal events, frames already holding a marker and
// conflation values with a quote are never on the delta path, and leave
// every base as it was.
func TestBypass(t *testing.T) {
	o := testOptions()
	o.ConflationKeyPath = "k"
	ch := NewChannel("c", o)
	s := newSubscriber(Fossil)
	tk := newTicker(1, "X")
	frame := v2Frame("e", "c", tk.next(), `,"k":"a"`)
	s.deliver(t, ch.Publish(Message{Event: "e", Frame: frame}, t0), frame, 10)
	for _, m := range []Message{
		{Event: "sockudo:error", Frame: []byte(`{"event":"sockudo:error","data":{}}`)},
		{Event: "pusher_internal:member_added", Frame: []byte(`{"event":"pusher_internal:member_added","channel":"c","data":"{}"}`)},
		{Event: "e", Frame: []byte(`{"event":"e","channel":"c","data":{"__delta_seq":1}}`)},
		{Event: "e", Frame: []byte(`{"event":"e","channel":"c","data":{"x":1,"__conflation_key":"z"}}`)},
		{Event: "e", Frame: []byte(`{"event":"e","channel":"c","k":"a\"b"}`)},
		{Event: "e", Frame: []byte(`not json`)},
	} {
		p := ch.Publish(m, t0)
		if p.Bypassed() == "" {
			t.Fatalf("%s: on the delta path", m.Frame)
		}
		if f, isDelta := p.For(&s.sub, Fossil); isDelta || !bytes.Equal(f, m.Frame) {
			t.Fatalf("bypassed frame changed: %s", f)
		}
	}
	frame = v2Frame("e", "c", tk.next(), `,"k":"a"`)
	s.deliver(t, ch.Publish(Message{Event: "e", Frame: frame}, t0), frame, 10)
	if s.deltas != 1 {
		t.Fatal("the base did not survive bypassed messages")
	}
}

// TestEncodeOncePerGroup: a thousand subscribers holding one base cost one
// delta encoding per algorithm.
func TestEncodeOncePerGroup(t *testing.T) {
	ch := NewChannel("c", testOptions())
	tk := newTicker(1, "X")
	subs := make([]Sub, 1000)
	p := ch.Publish(Message{Event: "e", Frame: v2Frame("e", "c", tk.next(), "")}, t0)
	for i := range subs {
		p.For(&subs[i], Fossil)
	}
	p = ch.Publish(Message{Event: "e", Frame: v2Frame("e", "c", tk.next(), "")}, t0)
	for i := range subs {
		if _, isDelta := p.For(&subs[i], Algorithm(i%2)); !isDelta {
			t.Fatal("no delta")
		}
	}
	if len(p.groups) != 2 {
		t.Fatalf("%d encodings for 1000 subscribers on one base with two algorithms", len(p.groups))
	}
}

// TestBoundsAndAgeing: keys per channel and per subscriber, bases per key,
// the age of a base, Sweep, and Budget.
func TestBoundsAndAgeing(t *testing.T) {
	o := testOptions()
	o.ConflationKeyPath = "k"
	o.MaxConflationKeys = 3
	o.MaxMessagesPerKey = 2
	o.MaxStateAge = time.Minute
	ch := NewChannel("c", o)
	tk := newTicker(1, "X")
	pub := func(key string, at time.Time) (*Publication, []byte) {
		f := v2Frame("e", "c", tk.next(), `,"k":"`+key+`"`)
		return ch.Publish(Message{Event: "e", Frame: f}, at), f
	}
	s := newSubscriber(Fossil)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		p, f := pub(k, t0.Add(time.Duration(i)*time.Second))
		s.deliver(t, p, f, 10)
	}
	if st := ch.Stats(); st.Keys != 3 || st.Bases != 3 {
		t.Fatalf("channel holds %+v, want 3 keys", st)
	}
	if s.sub.Keys() != 3 {
		t.Fatalf("subscriber holds %d keys, want 3", s.sub.Keys())
	}
	// key "a" was evicted on both sides: its next frame is full
	p, f := pub("a", t0.Add(5*time.Second))
	s.deliver(t, p, f, 10)
	if s.deltas != 0 {
		t.Fatal("delta against an evicted key")
	}
	// "e" is held; two more "e" messages skipped by this subscriber push
	// its base out of the two kept per key: full again
	pub("e", t0.Add(6*time.Second))
	pub("e", t0.Add(7*time.Second))
	p, f = pub("e", t0.Add(8*time.Second))
	s.deliver(t, p, f, 10)
	if s.deltas != 0 {
		t.Fatal("delta against a base no longer kept")
	}
	p, f = pub("e", t0.Add(9*time.Second))
	s.deliver(t, p, f, 10)
	if s.deltas != 1 {
		t.Fatal("no delta against the previous message")
	}
	// a base older than MaxStateAge is not used
	p, f = pub("e", t0.Add(9*time.Second+time.Minute+time.Millisecond))
	s.deliver(t, p, f, 10)
	if s.deltas != 1 {
		t.Fatal("delta against a base older than max_state_age")
	}
	// Sweep drops keys idle for MaxStateAge
	if n := ch.Sweep(t0.Add(9*time.Second + 2*time.Minute)); n != 2 || ch.Stats().Keys != 1 {
		t.Fatalf("Sweep dropped %d, %+v left", n, ch.Stats())
	}
	if n := ch.Sweep(t0.Add(9*time.Second + 3*time.Minute)); n != 1 || ch.Stats().Keys != 0 {
		t.Fatalf("second Sweep dropped %d, %+v left", n, ch.Stats())
	}
	b := NewBudget(2)
	if !b.Acquire() || !b.Acquire() || b.Acquire() {
		t.Fatal("budget of 2 gave a third state")
	}
	b.Release()
	if !b.Acquire() || b.Used() != 2 {
		t.Fatal("released state not reusable")
	}
}

// TestResetMakesNextFull: sockudo:delta_sync_error resets the subscriber,
// whose next frame is full while others keep getting deltas.
func TestResetMakesNextFull(t *testing.T) {
	ch := NewChannel("c", testOptions())
	tk := newTicker(1, "X")
	a, b := newSubscriber(Fossil), newSubscriber(Fossil)
	for i := 0; i < 3; i++ {
		f := v2Frame("e", "c", tk.next(), "")
		p := ch.Publish(Message{Event: "e", Frame: f}, t0)
		a.deliver(t, p, f, 10)
		b.deliver(t, p, f, 10)
	}
	b.sub.Reset()
	f := v2Frame("e", "c", tk.next(), "")
	p := ch.Publish(Message{Event: "e", Frame: f}, t0)
	if _, d := p.For(&a.sub, Fossil); !d {
		t.Fatal("a lost its delta")
	}
	if _, d := p.For(&b.sub, Fossil); d {
		t.Fatal("reset subscriber got a delta")
	}
	// a Sub moved to another Channel starts over
	other := NewChannel("c", testOptions())
	other.Publish(Message{Event: "e", Frame: f}, t0)
	if _, d := other.Publish(Message{Event: "e", Frame: v2Frame("e", "c", tk.next(), "")}, t0).For(&a.sub, Fossil); d {
		t.Fatal("delta against another channel's sequence")
	}
}

// TestDeltaFrameShape: the sockudo:delta frame of reference §12.3, with
// the engine's trailer, and without algorithm when configured so.
func TestDeltaFrameShape(t *testing.T) {
	for _, omit := range []bool{false, true} {
		o := testOptions()
		o.ConflationKeyPath = "data.symbol"
		o.OmitAlgorithm = omit
		o.Announced = Xdelta3
		ch := NewChannel(`chan"nel`, o)
		tk := newTicker(1, "BTC")
		var s Sub
		first := v2Frame("quote", `chan"nel`, tk.next(), "")
		ch.Publish(Message{Event: "quote", Frame: first}, t0).For(&s, Xdelta3)
		frame := v2Frame("quote", `chan"nel`, tk.next(), "")
		f, isDelta := ch.Publish(Message{Event: "quote", Frame: frame, Trailer: []byte(`,"message_id":"m","serial":2`)}, t0).For(&s, Xdelta3)
		if !isDelta {
			t.Fatal("no delta")
		}
		var got struct {
			Event     string `json:"event"`
			Channel   string `json:"channel"`
			MessageID string `json:"message_id"`
			Serial    int    `json:"serial"`
			Data      map[string]any
		}
		if err := json.Unmarshal(f, &got); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		wantKeys := `{"event":"sockudo:delta","channel":"chan\"nel","data":{"event":"quote","delta":"`
		if !bytes.HasPrefix(f, []byte(wantKeys)) || got.MessageID != "m" || got.Serial != 2 {
			t.Fatalf("frame %s", f)
		}
		d := got.Data
		if d["seq"] != 2.0 || d["base_index"] != 1.0 || d["conflation_key"] != "BTC" {
			t.Fatalf("data %v", d)
		}
		if _, has := d["algorithm"]; has == omit {
			t.Fatalf("omit_delta_algorithm %v: data %v", omit, d)
		}
		if omit { // a subscription using another algorithm than announced keeps the field
			var s2 Sub
			p1 := ch.Publish(Message{Event: "quote", Frame: frame}, t0)
			p1.For(&s2, Fossil)
			p2 := ch.Publish(Message{Event: "quote", Frame: v2Frame("quote", `chan"nel`, tk.next(), "")}, t0)
			if f, _ := p2.For(&s2, Fossil); !bytes.Contains(f, []byte(`"algorithm":"fossil"`)) {
				t.Fatalf("fossil frame without algorithm while xdelta3 was announced: %s", f)
			}
		}
		raw, err := base64.StdEncoding.DecodeString(d["delta"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := vcdiff.Decode(first, raw); err != nil || !bytes.Equal(out, frame) {
			t.Fatalf("decoded %q, %v", out, err)
		}
		if omit {
			continue
		}
		if i := bytes.Index(f, []byte(`"seq":2,"algorithm":"xdelta3","conflation_key":"BTC","base_index":1},"message_id"`)); i < 0 {
			t.Fatalf("field order: %s", f)
		}
	}
}

// TestRandomSequences is the property test: random channels, options,
// payloads, event names, conflation keys, algorithms, late joins, filters,
// lost frames and resyncs; every frame a subscriber accepts reconstructs
// the published frame byte for byte with the independent decoders.
func TestRandomSequences(t *testing.T) {
	seeds := 20
	if testing.Short() || raceEnabled {
		seeds = 5
	}
	for seed := int64(0); seed < int64(seeds); seed++ {
		rnd := rand.New(rand.NewSource(seed))
		o := testOptions()
		o.FullMessageInterval = rnd.Intn(12)
		o.MinMessageSize = rnd.Intn(300)
		o.MaxMessagesPerKey = 1 + rnd.Intn(5)
		o.MaxConflationKeys = 1 + rnd.Intn(6)
		o.OmitAlgorithm = rnd.Intn(2) == 0
		o.Announced = Algorithm(rnd.Intn(2))
		if rnd.Intn(2) == 0 {
			o.ConflationKeyPath = []string{"symbol", "data.symbol", "missing"}[rnd.Intn(3)]
		}
		ch := NewChannel(fmt.Sprintf("ch-%d", seed), o)
		tickers := make([]*ticker, 1+rnd.Intn(8))
		for i := range tickers {
			tickers[i] = newTicker(seed*100+int64(i), fmt.Sprintf("S%d", i))
		}
		var subs []*subscriber
		for i := 0; i < 1+rnd.Intn(6); i++ {
			s := newSubscriber(Algorithm(rnd.Intn(2)))
			s.client.DefaultAlgo = o.Announced.String() // from delta_compression_enabled
			s.skipEvery = rnd.Intn(4)
			subs = append(subs, s)
		}
		for i := 0; i < 300; i++ {
			if rnd.Intn(40) == 0 {
				s := newSubscriber(Algorithm(rnd.Intn(2)))
				s.client.DefaultAlgo = o.Announced.String()
				subs = append(subs, s)
			}
			tk := tickers[rnd.Intn(len(tickers))]
			ev := []string{"quote", "trade", "book", "client-x"}[rnd.Intn(4)]
			data := tk.next()
			if rnd.Intn(10) == 0 {
				data = strings.Repeat("z", rnd.Intn(50)) + data[rnd.Intn(len(data)):]
			}
			frame := v2Frame(ev, ch.Name(), data, fmt.Sprintf(`,"serial":%d`, i))
			p := ch.Publish(Message{Event: ev, Frame: frame}, t0.Add(time.Duration(i)*time.Second))
			for _, s := range subs {
				s.seen++
				if s.skipEvery > 0 && s.seen%(s.skipEvery+1) == 0 {
					continue // filtered out: For is not called
				}
				switch rnd.Intn(60) {
				case 0: // frame lost before the write: the engine resets
					p.For(&s.sub, s.algo)
					s.sub.Reset()
					continue
				case 1: // the client lost its base and resyncs
					s.lose(ch.Name())
				}
				s.deliver(t, p, frame, o.FullMessageInterval)
			}
		}
		total := 0
		for _, s := range subs {
			total += s.deltas
		}
		if total == 0 && o.FullMessageInterval > 0 && o.MinMessageSize < 200 {
			t.Errorf("seed %d: no delta at all with %+v", seed, o)
		}
	}
}

// TestFossilMatchesApply: the fossil deltas AppendDelta makes are what the
// Fossil format's own Apply reads, for ticker frames and random bytes.
func TestFossilMatchesApply(t *testing.T) {
	rnd := rand.New(rand.NewSource(9))
	tk := newTicker(1, "X")
	prev := []byte(tk.next())
	for i := 0; i < 500; i++ {
		next := []byte(tk.next())
		if i%5 == 0 {
			next = make([]byte, rnd.Intn(2000))
			rnd.Read(next)
		}
		for _, a := range []Algorithm{Fossil, Xdelta3} {
			d := AppendDelta(nil, a, prev, next)
			var out []byte
			var err error
			if a == Fossil {
				out, err = fdelta.Apply(prev, d)
			} else {
				out, err = vcdiff.Decode(prev, d)
			}
			if err != nil || !bytes.Equal(out, next) {
				t.Fatalf("%s: %v", a, err)
			}
		}
		prev = next
	}
}

// TestReconnectKeepsClientCache: the JS client keeps its per-key caches
// across reconnects and finds bases by sequence, first match first. A new
// connection served by a Channel whose sequences overlap the old one's
// makes it decode against a stale base; sequences from a later range (the
// clock-derived FirstSeq) keep every frame exact.
func TestReconnectKeepsClientCache(t *testing.T) {
	run := func(firstB uint64) error {
		o := testOptions()
		o.ConflationKeyPath = "symbol"
		tk := newTicker(1, "BTC")
		client := deltatest.NewClient()
		serve := func(ch *Channel, n int) error {
			var sub Sub // a new connection: a new record
			for i := 0; i < n; i++ {
				f := v2Frame("e", "c", tk.next(), "")
				out, _ := ch.Publish(Message{Event: "e", Frame: f}, t0).For(&sub, Xdelta3)
				text, ok, err := client.Receive(out)
				if err != nil {
					return err
				}
				if ok && text != string(f) {
					return fmt.Errorf("message %d reconstructed wrongly", i)
				}
			}
			return nil
		}
		if err := serve(NewChannel("c", o), 5); err != nil {
			return err
		}
		o.FirstSeq = firstB
		return serve(NewChannel("c", o), 5)
	}
	if err := run(1); err == nil {
		t.Fatal("overlapping sequences decoded fine: the hazard this guards against is gone?")
	}
	if err := run(1000); err != nil {
		t.Fatalf("later sequences: %v", err)
	}
}

// TestSubIsSmall: the per-subscriber record stays a few words, so 10,000
// delta subscribers of a channel cost a few hundred kilobytes at most.
func TestSubIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(Sub{}); n > 32 {
		t.Fatalf("Sub is %d bytes", n)
	}
}
