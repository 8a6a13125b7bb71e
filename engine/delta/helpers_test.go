package delta

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta/deltatest"
)

// v2Frame is a compact V2 broadcast frame as an HTTP publish delivers it:
// `data` is a JSON string.
func v2Frame(event, channel, data string, extra string) []byte {
	e, _ := json.Marshal(event)
	c, _ := json.Marshal(channel)
	d, _ := json.Marshal(data)
	return []byte(`{"event":` + string(e) + `,"channel":` + string(c) + `,"data":` + string(d) + extra + `}`)
}

// tickerFields are the 20 fields of a typical market-data quote.
var tickerFields = [20]string{"symbol", "exchange", "currency", "status", "bid", "ask", "last", "open",
	"high", "low", "close", "volume", "vwap", "change", "change_pct", "bid_size", "ask_size", "trades",
	"market_cap", "updated_at"}

// ticker is a quote in which each next() changes exactly two numeric
// fields, the "typical ticker payload".
type ticker struct {
	rnd     *rand.Rand
	vals    [20]string
	verbose bool // 8-decimal prices, as crypto quotes have
}

func newTicker(seed int64, symbol string) *ticker {
	t := &ticker{rnd: rand.New(rand.NewSource(seed))}
	t.vals[0], t.vals[1], t.vals[2], t.vals[3] = strconv.Quote(symbol), `"BINANCE"`, `"USD"`, `"open"`
	for i := 4; i < 20; i++ {
		t.vals[i] = t.num()
	}
	t.vals[19] = "1767225600000"
	return t
}

func (t *ticker) num() string {
	if t.verbose {
		return strconv.FormatFloat(float64(t.rnd.Int63n(10_000_000_000_000))/1e8, 'f', 8, 64)
	}
	return strconv.FormatFloat(float64(t.rnd.Intn(10_000_000))/100, 'f', 2, 64)
}

func (t *ticker) next() string {
	a := 4 + t.rnd.Intn(16)
	b := 4 + (a-4+1+t.rnd.Intn(15))%16
	t.vals[a], t.vals[b] = t.num(), t.num()
	return t.json()
}

func (t *ticker) json() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range tickerFields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", f, t.vals[i])
	}
	b.WriteByte('}')
	return b.String()
}

// subscriber is one simulated delta subscriber: its server-side record and
// its JS-like client.
type subscriber struct {
	sub    Sub
	algo   Algorithm
	client *deltatest.Client
	// per key: deltas received in a row, to check full_message_interval
	run            map[string]int
	deltas, fulls  int
	skipEvery      int // filter: skip every n-th message (0 = none)
	received, seen int
	resyncs        int
}

// lose makes the client drop its state and request a resync, which the
// server handles at once.
func (s *subscriber) lose(channel string) {
	s.client.Resync(channel)
	s.resyncs++
	s.sub.Reset()
}

func newSubscriber(a Algorithm) *subscriber {
	return &subscriber{algo: a, client: deltatest.NewClient(), run: map[string]int{}}
}

// deliver serves p to s and checks the client reconstructs want exactly.
func (s *subscriber) deliver(t testing.TB, p *Publication, want []byte, interval int) {
	t.Helper()
	frame, isDelta := p.For(&s.sub, s.algo)
	text, ok, err := s.client.Receive(frame)
	if err != nil {
		t.Fatalf("seq %d: %v\nframe %s", p.Seq(), err, frame)
	}
	if !ok {
		if n := len(s.client.Resyncs); n > s.resyncs {
			// sockudo:delta_sync_error reaches the server: reset
			s.resyncs = n
			s.sub.Reset()
		}
		return
	}
	if text != string(want) {
		t.Fatalf("seq %d (delta %v): client holds\n%s\nwant\n%s", p.Seq(), isDelta, text, want)
	}
	key, _ := p.Key()
	if isDelta {
		s.deltas++
		s.run[key]++
		if interval >= 0 && s.run[key] > interval {
			t.Fatalf("seq %d: %d deltas in a row, full_message_interval %d", p.Seq(), s.run[key], interval)
		}
	} else {
		s.fulls++
		s.run[key] = 0
	}
	s.received++
}

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
