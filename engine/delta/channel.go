package delta

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Channel is the delta state of one channel: per conflation key, the last
// MaxMessagesPerKey delta-path frames (the bases) and the sequence counter.
// Safe for concurrent use; the engine calls Publish in publish order.
type Channel struct {
	name string
	opts Options

	mu      sync.Mutex
	lastSeq uint64 // never reset, so no two messages of a Channel share a seq
	keys    map[string]*keyState
}

// keyState holds one conflation key's bases, oldest first.
//
// Invariant: a bases slice is only ever appended to or resliced from the
// front, never written in place, so a Publication may keep the slice
// header it saw without copying it.
type keyState struct {
	bases    []base
	lastUsed time.Time
}

// base is one delta-path frame as the client stores it: the frame without
// the marker fields. data is immutable.
type base struct {
	seq  uint64
	at   time.Time
	data []byte
}

// NewChannel returns the delta state of the channel called name.
func NewChannel(name string, opts Options) *Channel {
	c := &Channel{name: name, opts: opts.normalized(), keys: make(map[string]*keyState)}
	first := opts.FirstSeq
	switch {
	case first != 0:
	case opts.ConflationKeyPath != "":
		first = uint64(time.Now().UnixMilli()) * 1000
	default:
		first = 1
	}
	c.lastSeq = first - 1
	return c
}

// Name is the channel name the delta frames carry.
func (c *Channel) Name() string { return c.name }

// Message is one publish as the engine hands it over.
type Message struct {
	// Event is the event name as V2 clients see it.
	Event string
	// Frame is the compact V2 JSON frame as sent to subscribers without
	// deltas (no marker fields); it must end with '}'. Publish copies it.
	Frame []byte
	// Trailer, when set, is appended inside delta frames after `data`:
	// top-level fields such as `,"message_id":"…","serial":7`, each
	// starting with a comma. Publish copies it.
	Trailer []byte
	// WebSocket makes Full and For return complete WebSocket text frames
	// (header included), so the engine queues them without a copy.
	WebSocket bool
}

// internalPrefixes are events the JS client never stores as bases.
var internalPrefixes = [...]string{"pusher:", "pusher_internal:", "sockudo:", "sockudo_internal:"}

// bypass reports why a message cannot travel on the delta path, or "".
func bypass(m Message) string {
	for _, p := range internalPrefixes {
		if strings.HasPrefix(m.Event, p) {
			return "internal event"
		}
	}
	if len(m.Frame) < 2 || m.Frame[0] != '{' || m.Frame[len(m.Frame)-1] != '}' {
		return "not a JSON object"
	}
	// the client strips these with global regular expressions over the
	// whole frame: a frame already holding one would lose bytes
	if bytes.Contains(m.Frame, []byte(`"__delta_seq":`)) || bytes.Contains(m.Frame, []byte(`"__conflation_key":`)) {
		return "marker field in frame"
	}
	return ""
}

// Publish records m as the newest base of its conflation key and returns
// the Publication its subscribers are served from. A message that cannot
// travel on the delta path (Bypassed) is not recorded.
func (c *Channel) Publish(m Message, now time.Time) *Publication {
	p := &Publication{ch: c, event: m.Event, at: now}
	if why := bypass(m); why != "" {
		p.bypassed, p.full = why, m.Frame
		return p
	}
	if c.opts.ConflationKeyPath != "" {
		p.key, p.hasKey = ConflationKey(m.Frame, c.opts.ConflationKeyPath), true
		// `,"__conflation_key":"[^"]*"` cannot strip a value holding a quote
		if strings.Contains(p.key, `"`) {
			p.bypassed, p.full = "conflation key holds a quote", m.Frame
			return p
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastSeq++
	p.seq = c.lastSeq
	p.ws = m.WebSocket
	p.base, p.full = c.frames(m.Frame, p.seq, p.key, p.hasKey, m.WebSocket)
	if len(m.Trailer) > 0 {
		p.trailer = append([]byte(nil), m.Trailer...)
	}
	ks := c.keyState(p.key, now)
	p.prev = ks.bases
	ks.bases = append(ks.bases, base{seq: p.seq, at: now, data: p.base})
	if over := len(ks.bases) - c.opts.MaxMessagesPerKey; over > 0 {
		ks.bases = ks.bases[over:]
	}
	ks.lastUsed = now
	return p
}

// frames returns, in one allocation, the base (a copy of frame) and the
// full frame: frame with `,"__delta_seq":N[,"__conflation_key":"k"]`
// spliced before its final '}', the exact text the client's regular
// expressions remove. With ws the full frame is a WebSocket text frame.
func (c *Channel) frames(frame []byte, seq uint64, key string, hasKey, ws bool) (baseData, full []byte) {
	n := len(frame)
	buf := make([]byte, 0, 2*n+protocol.MaxFrameHeader+len(`,"__delta_seq":,"__conflation_key":`)+20+len(key)*2+8)
	buf = append(buf, frame...)
	baseData = buf[:n:n]
	if ws {
		buf = buf[:n+protocol.MaxFrameHeader]
	}
	start := len(buf)
	buf = append(buf, frame[:n-1]...)
	buf = append(buf, `,"__delta_seq":`...)
	buf = strconv.AppendUint(buf, seq, 10)
	if hasKey {
		buf = append(buf, `,"__conflation_key":`...)
		buf = protocol.AppendJSONString(buf, key)
	}
	buf = append(buf, '}')
	if ws {
		return baseData, wsFrame(buf, start)
	}
	return baseData, buf[n:]
}

// wsFrame writes the text-frame header of buf[start:] into the
// protocol.MaxFrameHeader bytes reserved before start and returns the
// frame.
func wsFrame(buf []byte, start int) []byte {
	var hdr [protocol.MaxFrameHeader]byte
	h := protocol.AppendFrameHeader(hdr[:0], protocol.OpText, len(buf)-start)
	copy(buf[start-len(h):], h)
	return buf[start-len(h):]
}

// keyState returns the state of key, creating it and evicting the least
// recently published key beyond MaxConflationKeys. Called with mu held.
func (c *Channel) keyState(key string, now time.Time) *keyState {
	if ks, ok := c.keys[key]; ok {
		return ks
	}
	if len(c.keys) >= c.opts.MaxConflationKeys {
		var oldest string
		var at time.Time
		first := true
		for k, ks := range c.keys {
			if first || ks.lastUsed.Before(at) {
				oldest, at, first = k, ks.lastUsed, false
			}
		}
		delete(c.keys, oldest)
	}
	ks := &keyState{lastUsed: now}
	c.keys[key] = ks
	return ks
}

// Sweep drops the keys no message has been published on for MaxStateAge
// and returns how many it dropped. The engine runs it every MaxStateAge,
// so idle state lives between one and two MaxStateAge.
func (c *Channel) Sweep(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, ks := range c.keys {
		if now.Sub(ks.lastUsed) >= c.opts.MaxStateAge {
			delete(c.keys, k)
			n++
		}
	}
	return n
}

// Stats is what a Channel holds, for metrics.
type Stats struct {
	Keys, Bases, Bytes int
}

// Stats counts the keys, bases and base bytes held.
func (c *Channel) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Keys: len(c.keys)}
	for _, ks := range c.keys {
		s.Bases += len(ks.bases)
		for _, b := range ks.bases {
			s.Bytes += len(b.data)
		}
	}
	return s
}
