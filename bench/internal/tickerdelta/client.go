package tickerdelta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/v2client"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
	"github.com/sockudo/sockudo-go/engine/delta/deltatest"
)

// shared is what every client of a run reads: where to connect, and the
// payloads in publish order (message k must reconstruct to want[k]).
type shared struct {
	host, key, channel, event string
	delta                     bool // negotiate delta compression
	want                      []string
	wantFrame                 []string // want[k] as the server frames it without extra members
	warmup                    int      // messages before the measured window
	msgPrefix, deltaPrefix    []byte   // how message frames start
	// readEvery spaces a client's reads. Over loopback the server's
	// write syscall also wakes the reader when it waits in epoll, so a
	// loader that keeps up costs the server more per delivery than one
	// that lags; reading lazily in every mode narrows that difference
	// between plain and delta runs (the delta loader does more work per
	// frame), but cannot remove it once the delta loader falls behind:
	// Result.WindowSecs shows when it did.
	readEvery time.Duration
	srcIP     func(i int) net.IP
}

// counts are one client's figures; the coordinator sums them.
type counts struct {
	got        atomic.Int64 // messages received (full or reconstructed), in order
	exact      atomic.Int64 // … equal to the published payload
	wireBytes  atomic.Int64 // measured window: frame header + payload
	fullBytes  atomic.Int64 // measured window: payload bytes of full frames
	deltaBytes atomic.Int64 // measured window: payload bytes of delta frames
	fulls      atomic.Int64 // measured window: full frames
	deltas     atomic.Int64 // measured window: sockudo:delta frames
	resyncs    atomic.Int64 // delta_sync_error sent (a base was missing)
}

// client is one V2 connection subscribed to the ticker channel that
// decodes deltas as the official JS client does (deltatest.Client: its
// regex stripping of __delta_seq, one base per channel, fdelta.Apply /
// VCDIFF) and checks each reconstructed payload against the published one.
type client struct {
	sh    *shared
	idx   int
	ready chan struct{} // subscribed, and deltas confirmed when asked
	once  sync.Once
	n     counts
	js    *deltatest.Client
	mask  [4]byte
	out   []byte

	subscribed, confirmed, isReady bool // reader-owned

	mu     sync.Mutex
	nc     net.Conn
	closed bool
	errs   []string
	sample [2]string // one full and one delta frame of the window, as received
}

func newClient(sh *shared, idx int) *client {
	c := &client{sh: sh, idx: idx, ready: make(chan struct{}), js: deltatest.NewClient()}
	binary.LittleEndian.PutUint32(c.mask[:], uint32(idx)*2654435761+1)
	return c
}

func (c *client) note(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	if len(s) > 300 {
		s = s[:300]
	}
	c.mu.Lock()
	if len(c.errs) < 3 {
		c.errs = append(c.errs, s)
	}
	c.mu.Unlock()
}

func (c *client) close() {
	c.mu.Lock()
	c.closed = true
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// run connects once and reads until the socket ends; a disconnect before
// close is an error (the run then misses deliveries and fails).
func (c *client) run() {
	err := c.session()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.note("disconnected: %v", err)
	}
}

func (c *client) session() error {
	var src net.IP
	if c.sh.srcIP != nil {
		src = c.sh.srcIP(c.idx)
	}
	nc, err := v2client.Dial(c.sh.host, src)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return nil
	}
	c.nc = nc
	c.mu.Unlock()
	defer nc.Close()
	pend, err := v2client.Upgrade(nc, c.sh.host, c.sh.key)
	if err != nil {
		return err
	}
	handshaken := false
	onFrame := func(op byte, pl []byte, k int) error {
		switch op {
		case wire.OpText:
			return c.onText(nc, pl, k, &handshaken)
		case wire.OpPing:
			c.send(nc, wire.OpPong, pl)
		case wire.OpClose:
			return fmt.Errorf("closed by server: %q", pl)
		}
		return nil
	}
	var pause func()
	if c.sh.readEvery > 0 {
		pause = func() {
			if c.isReady {
				time.Sleep(c.sh.readEvery)
			}
		}
	}
	return v2client.ReadFrames(nc, append(make([]byte, 0, 8<<10), pend...), onFrame, pause)
}

func (c *client) send(nc net.Conn, op byte, payload []byte) {
	c.out = wire.AppendClientFrame(c.out[:0], op, payload, c.mask)
	_, _ = nc.Write(c.out)
}

// envelope is the part of a frame the client routes on.
type envelope struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// newShared prepares what the clients compare with: the frame text the
// server sends for each payload when it adds no member of its own, so the
// common case is checked with one comparison instead of a JSON parse
// (the loader shares the server's 2 cores).
func newShared(host, key, channel, event string, delta bool, want []string, warmup int) *shared {
	sh := &shared{host: host, key: key, channel: channel, event: event, delta: delta, want: want, warmup: warmup,
		wantFrame: make([]string, len(want))}
	for k, w := range want {
		sh.wantFrame[k] = `{"event":` + jsonString(event) + `,"channel":` + jsonString(channel) + `,"data":` + jsonString(w) + `}`
	}
	sh.msgPrefix = []byte(`{"event":` + jsonString(event) + `,"channel":` + jsonString(channel) + `,`)
	sh.deltaPrefix = []byte(`{"event":"sockudo:delta","channel":` + jsonString(channel) + `,`)
	return sh
}

// onText handles one text frame of wireLen bytes on the wire.
func (c *client) onText(nc net.Conn, p []byte, wireLen int, handshaken *bool) error {
	// Messages first, recognised by the server's member order; anything
	// else (or another order) takes the parse below.
	if *handshaken {
		switch {
		case bytes.HasPrefix(p, c.sh.msgPrefix):
			c.onMessage(nc, p, wireLen, false)
			return nil
		case bytes.HasPrefix(p, c.sh.deltaPrefix):
			c.onMessage(nc, p, wireLen, true)
			return nil
		}
	}
	var f envelope
	if err := json.Unmarshal(p, &f); err != nil {
		c.note("bad frame %.120q: %v", p, err)
		return nil
	}
	if !*handshaken {
		if f.Event != "sockudo:connection_established" {
			return fmt.Errorf("first frame is %.120s, not sockudo:connection_established", p)
		}
		*handshaken = true
		// As the official client on `connected`: its subscriptions, then
		// (with the deltaCompression option) enable_delta_compression.
		sub, _ := json.Marshal(map[string]any{"event": "sockudo:subscribe",
			"data": map[string]string{"auth": "", "channel": c.sh.channel}})
		c.send(nc, wire.OpText, sub)
		if c.sh.delta {
			c.send(nc, wire.OpText, []byte(`{"event":"sockudo:enable_delta_compression","data":{"algorithms":["fossil","xdelta3"]}}`))
		}
		return nil
	}
	switch {
	case f.Event == "sockudo:ping":
		c.send(nc, wire.OpText, v2client.Pong)
	case f.Event == "sockudo_internal:subscription_succeeded" && f.Channel == c.sh.channel:
		c.subscribed = true
		c.checkReady()
	case f.Event == "sockudo:delta_compression_enabled":
		var d struct {
			Algorithm string `json:"algorithm"`
		}
		if err := json.Unmarshal(f.Data, &d); err != nil || d.Algorithm == "" {
			c.note("bad delta_compression_enabled %.120s", p)
			break
		}
		c.js.DefaultAlgo = d.Algorithm
		c.confirmed = true
		c.checkReady()
	case f.Event == "sockudo:error":
		c.note("sockudo:error %.160s", f.Data)
	case f.Channel == c.sh.channel && (f.Event == c.sh.event || f.Event == "sockudo:delta"):
		c.onMessage(nc, p, wireLen, f.Event == "sockudo:delta")
	}
	return nil
}

func (c *client) checkReady() {
	if c.subscribed && (c.confirmed || !c.sh.delta) {
		c.isReady = true
		c.once.Do(func() { close(c.ready) })
	}
}

// onMessage reconstructs one published message and checks it.
func (c *client) onMessage(nc net.Conn, p []byte, wireLen int, isDelta bool) {
	k := int(c.n.got.Load())
	if k >= c.sh.warmup {
		c.n.wireBytes.Add(int64(wireLen))
		if isDelta {
			c.n.deltas.Add(1)
			c.n.deltaBytes.Add(int64(len(p)))
		} else {
			c.n.fulls.Add(1)
			c.n.fullBytes.Add(int64(len(p)))
		}
		if c.idx == 0 {
			c.mu.Lock()
			if i := b2i(isDelta); c.sample[i] == "" {
				c.sample[i] = string(p)
			}
			c.mu.Unlock()
		}
	}
	// Without the deltaCompression option the official client has no
	// delta manager: frames are used as they come.
	text, ok, err := string(p), true, error(nil)
	if c.sh.delta {
		text, ok, err = c.js.Receive(p)
	}
	if !ok {
		// The official client asks for a resync when a base is missing
		// (Resyncs grew); the message is lost to the application.
		if n := len(c.js.Resyncs); n > 0 {
			c.js.Resyncs = c.js.Resyncs[:0]
			c.n.resyncs.Add(int64(n))
			c.send(nc, wire.OpText, []byte(`{"event":"sockudo:delta_sync_error","data":{"channel":`+
				jsonString(c.sh.channel)+`}}`))
		}
		c.note("message %d not reconstructed (%v): %.160s", k, err, p)
		c.n.got.Add(1)
		return
	}
	if k < len(c.sh.wantFrame) && text == c.sh.wantFrame[k] {
		c.n.exact.Add(1)
		c.n.got.Add(1)
		return
	}
	var m struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	switch err := json.Unmarshal([]byte(text), &m); {
	case err != nil:
		c.note("message %d: %v: %.160s", k, err, text)
	case k >= len(c.sh.want):
		c.note("message %d beyond the %d published: %.160s", k, len(c.sh.want), text)
	case m.Event != c.sh.event || m.Data != c.sh.want[k]:
		c.note("message %d differs from the published payload: %.200s", k, text)
	default:
		c.n.exact.Add(1)
	}
	c.n.got.Add(1)
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
