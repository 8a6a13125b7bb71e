package delta

import (
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/fdelta"
	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/protocol/vcdiff"
)

// Publication is one published message, ready to be served to every delta
// subscriber of its channel. Its frames are shared: callers must not
// modify the slices For and Full return. Safe for concurrent use.
type Publication struct {
	ch       *Channel
	event    string
	at       time.Time
	bypassed string
	ws       bool // frames are WebSocket text frames

	seq     uint64
	key     string
	hasKey  bool
	base    []byte // what the client stores: the frame without markers
	full    []byte // the frame with markers
	prev    []base // the key's bases before this message, oldest first
	trailer []byte

	// first is the first group encoded: nearly every subscriber holds the
	// previous message, so most calls end at one atomic load
	first  atomic.Pointer[group]
	mu     sync.Mutex
	groups []group
}

// group is the delta frame shared by every subscriber holding one base
// with one algorithm; frame is nil when a full frame is no larger.
type group struct {
	baseSeq uint64
	algo    Algorithm
	frame   []byte
}

// Bypassed is why the message is not on the delta path ("" when it is).
// A bypassed message goes to everyone as the plain frame and changes no
// subscriber's base.
func (p *Publication) Bypassed() string { return p.bypassed }

// Seq is the message's `__delta_seq` (0 when bypassed).
func (p *Publication) Seq() uint64 { return p.seq }

// Key is the conflation value, and whether the channel has a key path.
func (p *Publication) Key() (string, bool) { return p.key, p.hasKey }

// Full is the full frame delta subscribers get: the plain frame with the
// marker fields, or the plain frame itself when bypassed.
func (p *Publication) Full() []byte { return p.full }

// Base is the frame the client keeps as its base after this message.
func (p *Publication) Base() []byte { return p.base }

// For returns the frame to write to the subscriber s, whose default
// algorithm is algo, and advances s to this message. Call it only for a
// frame that will be written to that socket, once, in publish order: s
// records that the client now holds this message as its base. A frame
// that is then not delivered must be followed by s.Reset().
func (p *Publication) For(s *Sub, algo Algorithm) (frame []byte, isDelta bool) {
	if p.bypassed != "" {
		return p.full, false
	}
	o := &p.ch.opts
	r := s.load(p.ch, p.key, p.hasKey)
	if r.seq != 0 && int(r.deltas) < o.FullMessageInterval && len(p.base) >= o.MinMessageSize {
		if b, ok := p.findBase(r.seq); ok && p.at.Sub(b.at) <= o.MaxStateAge {
			if f := p.delta(b, algo); f != nil {
				s.store(p.key, p.hasKey, rec{seq: p.seq, deltas: r.deltas + 1}, o.MaxConflationKeys)
				return f, true
			}
		}
	}
	s.store(p.key, p.hasKey, rec{seq: p.seq}, o.MaxConflationKeys)
	return p.full, false
}

func (p *Publication) findBase(seq uint64) (base, bool) {
	for i := len(p.prev) - 1; i >= 0; i-- {
		if p.prev[i].seq == seq {
			return p.prev[i], true
		}
	}
	return base{}, false
}

// delta returns the delta frame against b, encoding it on the first call
// for (b, algo) only; nil when it would not be smaller than the full frame.
func (p *Publication) delta(b base, algo Algorithm) []byte {
	if g := p.first.Load(); g != nil && g.baseSeq == b.seq && g.algo == algo {
		return g.frame
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.groups {
		if g.baseSeq == b.seq && g.algo == algo {
			return g.frame
		}
	}
	f := p.encode(b, algo)
	if len(f) >= len(p.full) {
		f = nil
	}
	p.groups = append(p.groups, group{baseSeq: b.seq, algo: algo, frame: f})
	if len(p.groups) == 1 {
		p.first.Store(&p.groups[0])
	}
	return f
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encode builds the sockudo:delta frame (reference §12.3):
// {"event":"sockudo:delta","channel":…,"data":{"event":…,"delta":"<std
// base64>","seq":N,"algorithm":…,"conflation_key":…,"base_index":B}…}
func (p *Publication) encode(b base, algo Algorithm) []byte {
	sp := scratchPool.Get().(*[]byte)
	raw := AppendDelta((*sp)[:0], algo, b.data, p.base)
	defer func() { *sp = raw[:0]; scratchPool.Put(sp) }()

	n := 128 + protocol.MaxFrameHeader + len(p.ch.name) + len(p.event) + len(p.key) + base64.StdEncoding.EncodedLen(len(raw)) + len(p.trailer)
	f := make([]byte, 0, n)
	if p.ws {
		f = f[:protocol.MaxFrameHeader]
	}
	f = append(f, `{"event":"sockudo:delta","channel":`...)
	f = protocol.AppendJSONString(f, p.ch.name)
	f = append(f, `,"data":{"event":`...)
	f = protocol.AppendJSONString(f, p.event)
	f = append(f, `,"delta":"`...)
	f = base64.StdEncoding.AppendEncode(f, raw)
	f = append(f, `","seq":`...)
	f = strconv.AppendUint(f, p.seq, 10)
	if !p.ch.opts.OmitAlgorithm || algo != p.ch.opts.Announced {
		f = append(f, `,"algorithm":"`...)
		f = append(f, algo.String()...)
		f = append(f, '"')
	}
	if p.hasKey {
		f = append(f, `,"conflation_key":`...)
		f = protocol.AppendJSONString(f, p.key)
	}
	f = append(f, `,"base_index":`...)
	f = strconv.AppendUint(f, b.seq, 10)
	f = append(f, '}')
	f = append(f, p.trailer...)
	f = append(f, '}')
	if p.ws {
		return wsFrame(f, protocol.MaxFrameHeader)
	}
	return f
}

// AppendDelta appends the delta from base to target in algorithm a.
func AppendDelta(dst []byte, a Algorithm, base, target []byte) []byte {
	if a == Xdelta3 {
		return vcdiff.AppendEncode(dst, base, target)
	}
	return fdelta.AppendCreate(dst, base, target)
}
