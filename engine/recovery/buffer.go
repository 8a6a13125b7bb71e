package recovery

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Failure reasons, Sockudo's exact strings (equal to engine's Reason*).
const (
	ReasonStreamMismatch = "stream_id_mismatch"
	ReasonWindowExceeded = "recovery_window_exceeded"
	ReasonHotExpired     = "hot_replay_expired_and_durable_history_disabled"
)

// Options configures a Buffer; zero values take Sockudo's defaults.
type Options struct {
	// TTL is connection_recovery.buffer_ttl_seconds: messages older than
	// it are no longer replayed; 0 → 120 s.
	TTL time.Duration
	// MaxSize is connection_recovery.max_buffer_size, the messages kept
	// per channel when Append is given no size; 0 → 100.
	MaxSize int
	// IdleStreams is how long a stream with nothing kept survives without
	// publishes before it is forgotten (a later resume naming it then
	// fails with stream_reset); 0 → 10 × TTL.
	IdleStreams time.Duration
	// Now is the clock; nil → time.Now. Tests move it.
	Now func() time.Time
}

// Buffer keeps the recent messages of every channel. Safe for concurrent
// use; each channel has its own lock, and callbacks run under it.
type Buffer struct {
	opts   Options
	seed   maphash.Seed
	shards [64]bufShard
}

type bufShard struct {
	mu      sync.Mutex
	streams map[streamKey]*stream
}

type streamKey struct{ app, channel string }

// stream is one channel's position and its kept messages: a ring of the
// last len(ring) messages, oldest at ring[start].
type stream struct {
	mu sync.Mutex
	id string
	// own: this buffer minted id, so Append may continue it. A stream
	// learned from elsewhere (AppendAt, Store: another node or a durable
	// store assigned it) is never continued by Append: in a cluster that
	// would let two nodes assign the same serial of one stream while the
	// channel's sequencer moves between them.
	own      bool
	head     uint64 // last serial assigned; 0 before the first publish
	ring     []entry
	start, n int
	lastUsed int64 // unix nanos of the last append or lookup
	dead     bool  // removed by Sweep: callers holding it look again
}

type entry struct {
	serial uint64
	at     int64 // unix nanos when kept
	data   []byte
}

// New returns an empty buffer.
func New(opts Options) *Buffer {
	if opts.TTL <= 0 {
		opts.TTL = 120 * time.Second
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = 100
	}
	if opts.IdleStreams <= 0 {
		opts.IdleStreams = 10 * opts.TTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Buffer{opts: opts, seed: maphash.MakeSeed()}
	for i := range b.shards {
		b.shards[i].streams = make(map[streamKey]*stream)
	}
	return b
}

func (b *Buffer) shard(k streamKey) *bufShard {
	var h maphash.Hash
	h.SetSeed(b.seed)
	h.WriteString(k.app)
	h.WriteByte(0)
	h.WriteString(k.channel)
	return &b.shards[h.Sum64()%uint64(len(b.shards))]
}

// lock returns the channel's stream locked, creating it when create is
// set (nil when not and there is none).
func (b *Buffer) lock(app, channel string, create bool) *stream {
	for {
		s := b.get(app, channel, create)
		if s == nil {
			return nil
		}
		s.mu.Lock()
		if !s.dead {
			return s
		}
		s.mu.Unlock()
	}
}

// get returns the channel's stream, creating it (new id, serial 0) when
// create is set.
func (b *Buffer) get(app, channel string, create bool) *stream {
	k := streamKey{app, channel}
	sh := b.shard(k)
	sh.mu.Lock()
	s := sh.streams[k]
	if s == nil && create {
		s = &stream{id: protocol.NewMessageID(), own: true, lastUsed: b.opts.Now().UnixNano()}
		sh.streams[k] = s
	}
	sh.mu.Unlock()
	return s
}

// Append assigns the channel's next serial, calls deliver with it and
// keeps a copy of the bytes deliver returns (the last maxSize messages;
// 0 → Options.MaxSize). deliver runs under the channel's lock. When the
// channel's current stream was assigned elsewhere (AppendAt, Store), a
// new stream starts at serial 1: this buffer becomes the channel's
// sequencer and must not collide with the previous one.
func (b *Buffer) Append(app, channel string, maxSize int, deliver func(streamID string, serial uint64) []byte) {
	now := b.opts.Now().UnixNano()
	s := b.lock(app, channel, true)
	if !s.own {
		s.id, s.head, s.start, s.n, s.own = protocol.NewMessageID(), 0, 0, 0, true
	}
	s.head++
	p := deliver(s.id, s.head)
	s.keep(s.head, now, p, b.size(maxSize))
	s.lastUsed = now
	s.mu.Unlock()
}

// AppendAt is Append with the position assigned elsewhere (durable
// history reserves serials in its store): deliver runs under the
// channel's lock with streamID and serial, and its bytes are kept as
// Store keeps them.
func (b *Buffer) AppendAt(app, channel string, maxSize int, streamID string, serial uint64, deliver func() []byte) {
	now := b.opts.Now().UnixNano()
	s := b.lock(app, channel, true)
	p := deliver()
	s.storeLocked(streamID, serial, now, p, b.size(maxSize))
	s.mu.Unlock()
}

// storeLocked keeps a message at a given position; a different stream
// starts over, a gap drops what no longer leads to it.
func (s *stream) storeLocked(streamID string, serial uint64, now int64, p []byte, size int) {
	if s.id != streamID {
		s.id, s.start, s.n, s.own = streamID, 0, 0, false
	} else if serial <= s.head && s.n > 0 {
		return // already kept, or out of order
	}
	if s.n > 0 && serial != s.head+1 {
		s.start, s.n = 0, 0
	}
	s.head = serial
	s.keep(serial, now, p, size)
	s.lastUsed = now
}

// Store keeps a message whose position was assigned elsewhere (another
// node, a durable store). A different stream id starts the channel over:
// what was kept belongs to the old stream and is dropped.
func (b *Buffer) Store(app, channel, streamID string, serial uint64, payload []byte, maxSize int) {
	now := b.opts.Now().UnixNano()
	s := b.lock(app, channel, true)
	s.storeLocked(streamID, serial, now, payload, b.size(maxSize))
	s.mu.Unlock()
}

func (b *Buffer) size(maxSize int) int {
	if maxSize > 0 {
		return maxSize
	}
	return b.opts.MaxSize
}

// keep copies p into the ring, evicting the oldest message when full.
// The slot's buffer is reused, so a steady stream does not allocate.
func (s *stream) keep(serial uint64, at int64, p []byte, size int) {
	if len(s.ring) != size {
		s.resize(size)
	}
	i := (s.start + s.n) % len(s.ring)
	if s.n == len(s.ring) {
		s.start = (s.start + 1) % len(s.ring)
	} else {
		s.n++
	}
	e := &s.ring[i]
	e.serial, e.at = serial, at
	e.data = append(e.data[:0], p...)
}

// resize moves the kept messages into a ring of size slots, keeping the
// newest.
func (s *stream) resize(size int) {
	ring := make([]entry, size)
	drop := max(0, s.n-size)
	for k := drop; k < s.n; k++ {
		ring[k-drop] = s.ring[(s.start+k)%len(s.ring)]
	}
	s.ring, s.start, s.n = ring, 0, s.n-drop
}

// expire drops messages older than ttl from the front.
func (s *stream) expire(now int64, ttl time.Duration) {
	cut := now - int64(ttl)
	for s.n > 0 && s.ring[s.start].at <= cut {
		s.ring[s.start].data = nil
		s.start = (s.start + 1) % len(s.ring)
		s.n--
	}
	if s.n == 0 {
		s.start = 0
	}
}

// oldest is the first serial still kept, 0 when none.
func (s *stream) oldest() uint64 {
	if s.n == 0 {
		return 0
	}
	return s.ring[s.start].serial
}

// Head calls fn with the channel's stream id and last serial under the
// channel's lock, creating a stream at serial 0 for a new channel.
func (b *Buffer) Head(app, channel string, fn func(streamID string, serial uint64)) {
	s := b.lock(app, channel, true)
	s.lastUsed = b.opts.Now().UnixNano()
	fn(s.id, s.head)
	s.mu.Unlock()
}

// Replay hands the messages after serial to emit in order, then calls
// done, all under the channel's lock; see engine.ReplayBuffer. It fails
// (done with a reason, no emit) when the stream differs, when more than
// max messages are missing (recovery_window_exceeded) or when some of
// them are no longer kept (TTL or eviction).
func (b *Buffer) Replay(app, channel, streamID string, serial uint64, max int,
	emit func(serial uint64, payload []byte),
	done func(cur string, head, oldest uint64, reason string)) {
	now := b.opts.Now().UnixNano()
	s := b.lock(app, channel, false)
	if s == nil {
		reason := ReasonHotExpired
		if streamID != "" {
			reason = ReasonStreamMismatch
		}
		done("", 0, 0, reason)
		return
	}
	defer s.mu.Unlock()
	s.lastUsed = now
	if len(s.ring) > 0 {
		s.expire(now, b.opts.TTL)
	}
	oldest := s.oldest()
	if max <= 0 {
		max = b.opts.MaxSize
	}
	switch {
	case streamID != "" && streamID != s.id:
		done(s.id, s.head, oldest, ReasonStreamMismatch)
		return
	case serial == s.head:
		done(s.id, s.head, oldest, "")
		return
	case serial > s.head:
		done(s.id, s.head, oldest, ReasonHotExpired)
		return
	case s.head-serial > uint64(max):
		done(s.id, s.head, oldest, ReasonWindowExceeded)
		return
	case s.n == 0 || oldest > serial+1:
		done(s.id, s.head, oldest, ReasonHotExpired)
		return
	}
	for k := int(serial + 1 - oldest); k < s.n; k++ {
		e := &s.ring[(s.start+k)%len(s.ring)]
		emit(e.serial, e.data)
	}
	done(s.id, s.head, oldest, "")
}

// Sweep drops expired messages and forgets streams that kept nothing and
// saw no publish for Options.IdleStreams. Call it now and then (the
// engine does once a minute); lookups expire lazily anyway.
func (b *Buffer) Sweep() {
	now := b.opts.Now().UnixNano()
	idle := now - int64(b.opts.IdleStreams)
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for k, s := range sh.streams {
			s.mu.Lock()
			if len(s.ring) > 0 {
				s.expire(now, b.opts.TTL)
			}
			if s.n == 0 {
				s.ring = nil
				if s.lastUsed <= idle {
					s.dead = true
					delete(sh.streams, k)
				}
			}
			s.mu.Unlock()
		}
		sh.mu.Unlock()
	}
}

// Len reports how many channels have a stream.
func (b *Buffer) Len() int {
	n := 0
	for i := range b.shards {
		b.shards[i].mu.Lock()
		n += len(b.shards[i].streams)
		b.shards[i].mu.Unlock()
	}
	return n
}
