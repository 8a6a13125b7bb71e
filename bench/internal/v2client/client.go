package v2client

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/wire"
)

// Config is shared by the clients of one run.
type Config struct {
	// Host is the server's host:port.
	Host string
	// Key is the app key.
	Key string
	// Event is the application event name the bench publishes; frames of
	// it on the client's channel are the messages tracked.
	Event string
	// SrcIP is the source address of client i (nil: the kernel's choice).
	SrcIP func(i int) net.IP
	// DedupCapacity is the message_id LRU size (the official client's
	// 1,000 when 0).
	DedupCapacity int
}

// Stats is what one client saw; read it with Client.Stats.
type Stats struct {
	Connections  int             // connections that completed the handshake
	Messages     int64           // message frames received (raw, before dedup)
	Distinct     int64           // different serials among them
	Duplicates   int64           // serials the server sent more than once
	Below        int64           // serials at or before the first subscription's
	DedupDropped int64           // frames dropped by the message_id LRU
	NoSerial     int64           // message frames without a serial
	Base, Max    uint64          // first subscription's serial; highest received
	Contiguous   bool            // every serial Base+1…Max arrived
	Resumes      int             // resume_success frames
	Recovered    int             // resume_success listing the channel as recovered
	Replayed     int             // Σ replayed in those entries
	Failed       []ResumeFailure // resume_failed frames and failed[] entries for the channel
	Errors       []string        // sockudo:error frames, bad frames, unexpected disconnects
	missing      func(uint64) int64
}

// Missing counts the serials in (Base, head] that never arrived.
func (s Stats) Missing(head uint64) int64 {
	if s.missing == nil {
		return int64(head - s.Base)
	}
	return s.missing(head)
}

// Client is one V2 connection to one channel that reconnects and resumes
// after Drop.
type Client struct {
	cfg     *Config
	idx     int
	Channel string

	subscribed chan struct{}
	subOnce    sync.Once

	mu       sync.Mutex
	nc       net.Conn
	hold     <-chan struct{}
	stopping bool
	stats    Stats
	track    *Tracker

	// Since the last Drop (unix nanos, 0 = not yet).
	afterDrop   atomic.Bool
	mustReach   atomic.Uint64
	reconnected atomic.Int64
	resumed     atomic.Int64
	caught      atomic.Int64
	maxSerial   atomic.Uint64

	// Reader-owned.
	pos    Position
	hasPos bool
	dedup  *recentIDs
	mask   [4]byte
	out    []byte
}

// New returns client idx of a run, for channel.
func New(cfg *Config, idx int, channel string) *Client {
	c := &Client{cfg: cfg, idx: idx, Channel: channel, subscribed: make(chan struct{})}
	n := cfg.DedupCapacity
	if n <= 0 {
		n = 1000
	}
	c.dedup = newRecentIDs(n)
	binary.LittleEndian.PutUint32(c.mask[:], uint32(idx)*2654435761+1)
	return c
}

// Subscribed is closed when the first subscription succeeded.
func (c *Client) Subscribed() <-chan struct{} { return c.subscribed }

// MaxSerial is the highest serial received so far.
func (c *Client) MaxSerial() uint64 { return c.maxSerial.Load() }

// Times since the last Drop, unix nanos (0 = not yet): handshake of the
// new connection, resume_success, and the moment every serial up to
// the drop's head (and everything after it received so far) was there.
func (c *Client) Times() (reconnected, resumed, caught int64) {
	return c.reconnected.Load(), c.resumed.Load(), c.caught.Load()
}

// Stats returns a copy of the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Failed = append([]ResumeFailure(nil), s.Failed...)
	s.Errors = append([]string(nil), s.Errors...)
	if t := c.track; t != nil {
		s.Distinct, s.Duplicates, s.Below = t.Distinct(), t.Duplicates(), t.Below()
		s.Base, s.Max, s.Contiguous = t.Base(), t.Max(), t.Contiguous()
		s.missing = t.Missing // called by the coordinator after Close only
	}
	return s
}

// Drop closes the socket abruptly (no close frame, as a lost network
// does). The client reconnects when hold is closed, re-subscribes and
// resumes; it counts as caught up once it holds every serial up to the
// target set by SetTarget (before hold is closed) without a gap.
func (c *Client) Drop(hold <-chan struct{}) {
	c.reconnected.Store(0)
	c.resumed.Store(0)
	c.caught.Store(0)
	c.mustReach.Store(0)
	c.afterDrop.Store(true)
	c.mu.Lock()
	c.hold = hold
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// SetTarget sets the serial the client must hold (with everything before
// it) to count as caught up after a Drop: the channel's head when the
// client reconnects, so the messages published while it was away count.
func (c *Client) SetTarget(serial uint64) { c.mustReach.Store(serial) }

// Close stops the client for good.
func (c *Client) Close() {
	c.mu.Lock()
	c.stopping = true
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// Run connects and keeps the client connected until Close: after a Drop
// it waits for the hold to be released, otherwise it reconnects after
// 100 ms (and records why).
func (c *Client) Run() {
	for {
		err := c.session()
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		h := c.hold
		c.hold = nil
		c.nc = nil
		if h == nil {
			c.noteLocked(fmt.Sprintf("disconnected: %v", err))
		}
		c.mu.Unlock()
		if h != nil {
			<-h
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (c *Client) noteLocked(s string) {
	if len(s) > 200 {
		s = s[:200]
	}
	if len(c.stats.Errors) < 5 {
		c.stats.Errors = append(c.stats.Errors, s)
	}
}

func (c *Client) note(s string) {
	c.mu.Lock()
	c.noteLocked(s)
	c.mu.Unlock()
}

// session runs one connection: upgrade, handshake, subscribe (+ resume),
// then frames until the socket ends.
func (c *Client) session() error {
	var src net.IP
	if c.cfg.SrcIP != nil {
		src = c.cfg.SrcIP(c.idx)
	}
	nc, err := Dial(c.cfg.Host, src)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		nc.Close()
		return errors.New("stopping")
	}
	c.nc = nc
	c.mu.Unlock()
	defer nc.Close()
	buf, err := c.upgrade(nc)
	if err != nil {
		return err
	}
	handshaken := false
	onFrame := func(op byte, pl []byte, _ int) error {
		switch op {
		case wire.OpText:
			return c.onText(nc, pl, &handshaken)
		case wire.OpPing:
			c.send(nc, wire.OpPong, pl)
		case wire.OpClose:
			code := 1005
			if len(pl) >= 2 {
				code = int(binary.BigEndian.Uint16(pl))
			}
			c.note(fmt.Sprintf("closed by server: %d %q", code, pl[min(2, len(pl)):]))
			return fmt.Errorf("close %d", code)
		}
		return nil
	}
	return ReadFrames(nc, append(make([]byte, 0, 16<<10), buf...), onFrame, nil)
}

// upgrade sends the V2 WebSocket upgrade the official client sends and
// returns what followed the response head.
func (c *Client) upgrade(nc net.Conn) ([]byte, error) {
	return Upgrade(nc, c.cfg.Host, c.cfg.Key)
}

// Upgrade sends on nc the V2 WebSocket upgrade the official client sends
// for app key (host is the Host header) and returns what followed the
// response head: frames the server sent at once.
func Upgrade(nc net.Conn, host, key string) ([]byte, error) {
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	defer nc.SetDeadline(time.Time{}) //nolint:errcheck
	var wsKey [16]byte
	_, _ = rand.Read(wsKey[:])
	uri := "/app/" + url.PathEscape(key) + "?protocol=2&client=sockudo-bench&version=1.0.0&flash=false"
	req := "GET " + uri + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(wsKey[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, fmt.Errorf("upgrade write: %w", err)
	}
	data := make([]byte, 0, 4096)
	for {
		if len(data) == cap(data) {
			return nil, errors.New("upgrade: response head too long")
		}
		n, err := nc.Read(data[len(data):cap(data)])
		if err != nil {
			return nil, fmt.Errorf("upgrade read: %w", err)
		}
		data = data[:len(data)+n]
		if end := bytes.Index(data, []byte("\r\n\r\n")); end >= 0 {
			status := data[:bytes.IndexByte(data, '\n')+1]
			if !bytes.Contains(status, []byte(" 101 ")) {
				return nil, fmt.Errorf("upgrade: %s", strings.TrimSpace(string(status)))
			}
			return append([]byte(nil), data[end+4:]...), nil
		}
	}
}

func (c *Client) send(nc net.Conn, op byte, payload []byte) {
	c.out = wire.AppendClientFrame(c.out[:0], op, payload, c.mask)
	_, _ = nc.Write(c.out)
}

// onText handles one text frame as the official client does.
func (c *Client) onText(nc net.Conn, p []byte, handshaken *bool) error {
	now := time.Now().UnixNano()
	f, err := ParseFrame(p)
	if err != nil {
		c.note(fmt.Sprintf("bad frame %.80q: %v", p, err))
		return nil
	}
	if !*handshaken {
		if f.Event != "sockudo:connection_established" {
			return fmt.Errorf("first frame is %.120s, not sockudo:connection_established", p)
		}
		var hs struct {
			SocketID        string `json:"socket_id"`
			ActivityTimeout int    `json:"activity_timeout"`
		}
		if err := f.DataInto(&hs); err != nil || hs.SocketID == "" || hs.ActivityTimeout == 0 {
			return fmt.Errorf("bad handshake %.120s", p)
		}
		*handshaken = true
		c.mu.Lock()
		c.stats.Connections++
		c.mu.Unlock()
		if c.afterDrop.Load() {
			c.reconnected.CompareAndSwap(0, now)
		}
		// As on every `connected`: subscribe, then resume with the
		// positions known.
		c.send(nc, wire.OpText, SubscribeMessage(c.Channel))
		if c.hasPos {
			c.send(nc, wire.OpText, ResumeMessage(map[string]Position{c.Channel: c.pos}))
		}
		return nil
	}
	isMsg := f.Event == c.cfg.Event && f.Channel == c.Channel
	if isMsg {
		c.mu.Lock()
		c.stats.Messages++
		switch {
		case !f.Serial.OK:
			c.stats.NoSerial++
		case c.track == nil:
			c.noteLocked("message before subscription_succeeded")
		default:
			c.track.Add(f.Serial.V)
			if f.Serial.V > c.maxSerial.Load() {
				c.maxSerial.Store(f.Serial.V)
			}
		}
		c.mu.Unlock()
	}
	if f.MessageID != "" && c.dedup.seen(f.MessageID) {
		c.mu.Lock()
		c.stats.DedupDropped++
		c.mu.Unlock()
		return nil
	}
	if f.Channel != "" && f.Serial.OK {
		c.pos, c.hasPos = Position{StreamID: f.StreamID, Serial: f.Serial.V, LastMessageID: f.MessageID}, true
	}
	switch f.Event {
	case "sockudo:ping":
		c.send(nc, wire.OpText, Pong)
	case "sockudo:error":
		c.note(fmt.Sprintf("sockudo:error %.160s", f.Data))
	case "sockudo_internal:subscription_succeeded":
		if f.Channel == c.Channel {
			c.mu.Lock()
			if c.track == nil {
				if !f.Serial.OK {
					c.noteLocked("subscription_succeeded without a serial: is connection recovery on?")
				}
				c.track = NewTracker(f.Serial.V)
			}
			c.mu.Unlock()
			c.subOnce.Do(func() { close(c.subscribed) })
		}
	case "sockudo:resume_success":
		var rs ResumeSuccess
		if err := f.DataInto(&rs); err != nil {
			c.note(fmt.Sprintf("bad resume_success %.160s", f.Data))
			break
		}
		c.mu.Lock()
		c.stats.Resumes++
		for _, r := range rs.Recovered {
			if r.Channel != c.Channel {
				continue
			}
			c.stats.Recovered++
			c.stats.Replayed += r.Replayed
			if r.Position != nil && r.Position.Serial.OK {
				c.pos = Position{StreamID: r.Position.StreamID, Serial: r.Position.Serial.V, LastMessageID: r.Position.LastMessageID}
			}
		}
		for _, fl := range rs.Failed {
			if fl.Channel == c.Channel {
				c.stats.Failed = append(c.stats.Failed, fl)
			}
		}
		c.mu.Unlock()
		if c.afterDrop.Load() {
			c.resumed.CompareAndSwap(0, now)
		}
	case "sockudo:resume_failed":
		var fl ResumeFailure
		if err := f.DataInto(&fl); err != nil {
			c.note(fmt.Sprintf("bad resume_failed %.160s", f.Data))
			break
		}
		if fl.Channel == "" {
			fl.Channel = f.Channel
		}
		if fl.Channel == c.Channel {
			// The official client forgets the position and subscribes
			// again (a no-op while subscribed). Recorded as a failure.
			c.hasPos = false
			c.mu.Lock()
			c.stats.Failed = append(c.stats.Failed, fl)
			c.mu.Unlock()
		}
	}
	c.checkCaught(now)
	return nil
}

// checkCaught marks the client caught up once it has resumed and holds
// every serial up to the drop's head, with no gap before its newest.
func (c *Client) checkCaught(now int64) {
	if !c.afterDrop.Load() || c.resumed.Load() == 0 || c.caught.Load() != 0 {
		return
	}
	c.mu.Lock()
	ok := c.track != nil && c.track.Contiguous() && c.track.Max() >= c.mustReach.Load()
	c.mu.Unlock()
	if ok {
		c.caught.CompareAndSwap(0, now)
	}
}

// recentIDs is the official client's bounded set of seen message ids.
type recentIDs struct {
	ids   map[string]struct{}
	order []string
	cap   int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{ids: make(map[string]struct{}, n), cap: n}
}

// seen reports whether id was seen; otherwise it remembers it, forgetting
// the oldest id beyond capacity.
func (r *recentIDs) seen(id string) bool {
	if _, ok := r.ids[id]; ok {
		return true
	}
	r.ids[id] = struct{}{}
	r.order = append(r.order, id)
	if len(r.order) > r.cap {
		delete(r.ids, r.order[0])
		r.order = r.order[1:]
	}
	return false
}
