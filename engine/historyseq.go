package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// HistoryOptions configures durable history (the `history` section).
// History is on for an app when Store is set and the app's policy, or
// else Enabled, says so.
type HistoryOptions struct {
	// Store is the durable store; nil turns history off everywhere.
	Store HistoryStore
	// Enabled is history.enabled, the default of apps without a policy.
	Enabled bool
	// RewindEnabled is history.rewind_enabled.
	RewindEnabled bool
	// MaxPageSize is history.max_page_size; 0 → 100.
	MaxPageSize int
	// Retention is the global retention (window, count, bytes).
	Retention HistoryRetention
	// WriterShards, QueueCapacity and BatchSize shape the writer; 0 → 4,
	// 16384, 256 (4 × 16384 queues hold what 16 × 4096 did).
	WriterShards, QueueCapacity, BatchSize int
	// BatchWait is how long a writer shard waits for its batch to fill
	// before writing what it has; 0 → 10 ms, negative → no wait.
	BatchWait time.Duration
	// WriteTimeout bounds one store call; 0 → 5 s.
	WriteTimeout time.Duration
	// ReserveBlock is how many serials one reservation takes from the
	// store; 0 → 64. 1 makes every publish wait for the store.
	ReserveBlock int
	// IdleStreams is how long a channel's sequencer is kept without a
	// publish or an attach before it is forgotten (its unused serials
	// given back); 0 → 5 min.
	IdleStreams time.Duration
	// PurgeInterval is history.purge_interval_seconds, how often entries
	// past a channel's window are deleted from channels no longer
	// written (see expireHistory); 0 → 5 min.
	PurgeInterval time.Duration
	// PurgeBatch and MaxPurgePerTick are history.purge_batch_size and
	// history.max_purge_per_tick: entries one store call deletes and the
	// most one sweep deletes; 0 → 1000 and 100,000.
	PurgeBatch, MaxPurgePerTick int
}

// AppHistory is an app's history policy; nil and zero fields inherit.
type AppHistory struct {
	Enabled       *bool
	RewindEnabled *bool
	Retention     HistoryRetention
}

// historyOn reports whether app's broadcasts are stored.
func (e *Engine) historyOn(app *App) bool {
	h := &e.opts.V2.History
	if h.Store == nil {
		return false
	}
	if app.History.Enabled != nil {
		return *app.History.Enabled
	}
	return h.Enabled
}

// rewindOn reports whether app's V2 subscribers may rewind.
func (e *Engine) rewindOn(app *App) bool {
	if !e.historyOn(app) {
		return false
	}
	if app.History.RewindEnabled != nil {
		return *app.History.RewindEnabled
	}
	return e.opts.V2.History.RewindEnabled
}

// retentionFor is app's retention: its own bounds where set.
func (e *Engine) retentionFor(app *App) HistoryRetention {
	r := e.opts.V2.History.Retention
	a := app.History.Retention
	if a.Window > 0 {
		r.Window = a.Window
	}
	if a.MaxMessages > 0 {
		r.MaxMessages = a.MaxMessages
	}
	if a.MaxBytes > 0 {
		r.MaxBytes = a.MaxBytes
	}
	return r
}

// seqStream is this node's view of one channel's durable stream: the
// block of serials reserved from the store and not yet used, the next
// block when it has been fetched ahead, and whether writes were lost.
// Its mutex serializes the channel's history publishes, so serials are
// delivered in order.
type seqStream struct {
	mu         sync.Mutex
	stream     string
	next, end  uint64 // current block [next, end)
	pend       block  // fetched ahead; zero when none
	fetching   bool
	fetched    chan struct{} // closed when the running reservation ends
	gen        uint64        // bumped by a reset: blocks fetched before it are stale
	retryAt    int64         // unix nanos: no synchronous reservation before
	degraded   bool
	degradedBy string
	// primed: stream and head are known (read from the store before any
	// block was taken); head is the last serial the stream assigned.
	primed bool
	head   uint64
	// follows: another node sequences the channel (its stamped messages
	// set head, see clusterhistory.go) and stores it; this node's writer
	// does not, so stored is learned from the store.
	follows bool
	// stored is the highest serial the writer has stored.
	stored atomic.Uint64
	// lastUsed (unix nanos) is the last publish or attach; dead marks a
	// stream the idle sweep removed: holders look it up again.
	lastUsed int64
	dead     bool
	// gapped: a message of the stream went out without a serial (the
	// store gave none), so no tier can replay it; gapEnd is the first
	// serial assigned after the latest such message, 0 while none has
	// been. See spansGap.
	gapped bool
	gapEnd uint64
}

// unstamped records that a message went out without a serial; s.mu held.
func (s *seqStream) unstamped() { s.gapped, s.gapEnd = true, 0 }

// stamped records that serial was assigned; s.mu held.
func (s *seqStream) stamped(serial uint64) {
	if s.gapped && s.gapEnd == 0 {
		s.gapEnd = serial
	}
}

// spansGap reports whether a client at serial may have missed a message
// that went out without a serial: its position is before the first
// serial assigned after the latest such message (any position while
// none has been). Only the latest matters: a position after it is after
// every earlier one too. s.mu held.
func (s *seqStream) spansGap(serial uint64) bool {
	return s.gapped && (s.gapEnd == 0 || serial < s.gapEnd)
}

// resumeGap reports whether a resume of channel from stream/serial spans
// a message that went out without a serial (see spansGap), with the
// stream's id and head for resume_failed. A hot buffer would replay
// around it and the store never had it, so such a resume must fail. A
// position in another stream is left to fail as a stream reset.
func (e *Engine) resumeGap(key chanKey, stream string, serial uint64) (cur string, head uint64, gap bool) {
	s, ok := e.history.seqs.Load(key)
	if !ok {
		return "", 0, false // nothing went out here unstamped: a follower creates it on the owner's message
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	other := stream != "" && s.stream != "" && stream != s.stream
	return s.stream, s.lastSerial(), !s.dead && !other && s.spansGap(serial)
}

// lastSerial is the stream's last assigned serial as this node knows it;
// s.mu held.
func (s *seqStream) lastSerial() uint64 {
	if s.end != 0 {
		return s.next - 1
	}
	return s.head
}

func (s *seqStream) isDegraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.degraded
}

// primeHistory makes sure this node knows channel's stream and head
// before a V2 subscriber attaches, reading (and for a channel never
// published to, creating) the stream in the store. Called outside every
// lock; nil when the store cannot answer.
func (e *Engine) primeHistory(key chanKey) *seqStream {
	s := e.lockSeq(key)
	s.lastUsed = time.Now().UnixNano()
	ok, gen := s.primed || s.end != 0, s.gen
	s.mu.Unlock()
	if ok {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	defer cancel()
	st, err := e.opts.V2.History.Store.State(ctx, key.app.id, key.name)
	var b block
	if err == nil && st.StreamID == "" {
		b, err = e.reserve(key)
	}
	if err != nil {
		e.stats.historyStoreErrors.Add(1)
		return nil
	}
	remote := e.cluster.sequencer(key.name) != ""
	if remote && b.end != 0 {
		// Another node sequences the channel: the block only created the
		// stream. Given back at once, it leaves no gap before the owner's.
		_ = e.opts.V2.History.Store.Release(ctx, key.app.id, key.name, b.stream, b.first, b.end)
		st.StreamID, st.NextSerial, b = b.stream, b.first, block{}
	} else if remote {
		// The owner may hold unused serials below next_serial: what is
		// stored is the surest head (it lags only the owner's writer).
		st.NextSerial = st.NewestSerial + 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil // swept meanwhile (a block reserved here is a gap); rare
	}
	if s.gen != gen || s.primed || s.end != 0 {
		return s
	}
	if b.end != 0 {
		s.stream, s.next, s.end = b.stream, b.first, b.end
	} else {
		s.stream, s.head, s.follows = st.StreamID, st.Head(), remote
		if st.Degraded {
			s.degraded, s.degradedBy = true, st.Reason
		}
	}
	s.primed = true
	if s.stored.Load() < st.NewestSerial {
		s.stored.Store(st.NewestSerial)
	}
	return s
}

type block struct {
	stream     string
	first, end uint64
}

// historyState is the engine's durable-history runtime: per-channel
// sequencers and the writer.
type historyState struct {
	seqs   *shard.Map[chanKey, *seqStream]
	writer *historyWriter
	stop   chan struct{}
	done   chan struct{}
}

func newHistoryState(e *Engine) *historyState {
	h := &e.opts.V2.History
	if h.Store == nil {
		return nil
	}
	hs := &historyState{seqs: shard.NewMap[chanKey, *seqStream](registryShards), writer: newHistoryWriter(e),
		stop: make(chan struct{}), done: make(chan struct{})}
	idle := h.IdleStreams
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	go e.runSweeper(hs, idle)
	return hs
}

func (e *Engine) runSweeper(hs *historyState, idle time.Duration) {
	defer close(hs.done)
	t := time.NewTicker(max(idle/5, 10*time.Millisecond))
	defer t.Stop()
	p := time.NewTicker(e.opts.V2.History.purgeInterval())
	defer p.Stop()
	for {
		select {
		case <-hs.stop:
			return
		case <-t.C:
			e.sweepIdle(hs, idle)
		case <-p.C:
			e.expireHistory()
		}
	}
}

// lockSeq returns the channel's sequencer locked (never a swept one).
func (e *Engine) lockSeq(key chanKey) *seqStream {
	for {
		s := e.seqFor(key)
		s.mu.Lock()
		if !s.dead {
			return s
		}
		s.mu.Unlock()
	}
}

func (e *Engine) seqFor(key chanKey) *seqStream {
	var s *seqStream
	e.history.seqs.Update(key, func(v *seqStream, ok bool) (*seqStream, bool) {
		if !ok {
			v = &seqStream{lastUsed: time.Now().UnixNano()}
		}
		s = v
		return v, true
	})
	return s
}

// takeSerial returns the channel's next position; s.mu is held. The
// block is refilled ahead of use in the background; only a channel's
// first publish on this node (or a store that cannot keep up) waits for
// a reservation, bounded by firstReserveTimeout, and it waits with s.mu
// released: subscribes, resumes and the bus goroutine's stamped messages
// and resets of the channel never wait on the store. The channel's other
// publishes wait for that reservation (s.fetching) rather than reserve
// one after it and use them out of order.
func (e *Engine) takeSerial(key chanKey, s *seqStream) (string, uint64, bool) {
	for s.next == s.end {
		if s.fetching {
			// A block is on its way: wait for it.
			ch := s.fetched
			s.mu.Unlock()
			select {
			case <-ch:
			case <-time.After(e.historyTimeout()):
			}
			s.mu.Lock()
			continue
		}
		if s.pend.end != 0 {
			s.stream, s.next, s.end, s.pend = s.pend.stream, s.pend.first, s.pend.end, block{}
			break
		}
		now := time.Now().UnixNano()
		if now < s.retryAt {
			return "", 0, false
		}
		b, fresh, err := e.reserveUnlocked(key, s)
		if err != nil {
			// Do not make every publish wait out the timeout.
			s.retryAt = now + int64(time.Second)
			e.historyDegraded(key, s, ReasonStoreUnavailable, err)
			return "", 0, false
		}
		if fresh && s.next == s.end {
			s.stream, s.next, s.end = b.stream, b.first, b.end
		}
		// Otherwise a reset or another node's stamp came meanwhile: look
		// again (the unused block is a gap, as a dead node's is).
	}
	serial := s.next
	s.next++
	s.follows = false
	s.lastUsed = time.Now().UnixNano()
	n := e.reserveBlock()
	if n > 1 && !s.fetching && s.pend.end == 0 && s.end-s.next <= uint64(n/2) {
		s.fetching, s.fetched = true, make(chan struct{})
		go e.prefetch(key, s, s.gen, s.fetched)
	}
	return s.stream, serial, true
}

// serialAtHand reports whether takeSerial would return a serial without
// waiting for the store; s.mu held.
func (s *seqStream) serialAtHand() bool {
	return s.next < s.end || s.pend.end != 0 && !s.fetching
}

func (e *Engine) reserveBlock() int {
	if n := e.opts.V2.History.ReserveBlock; n > 0 {
		return n
	}
	return 64
}

// firstReserveTimeout bounds the one reservation a publish may wait for
// (its channel's first on this node): with the store down, one publish
// per channel and second waits this long, the others not at all.
const firstReserveTimeout = 500 * time.Millisecond

func (e *Engine) reserve(key chanKey) (block, error) {
	return e.reserveWithin(key, e.historyTimeout())
}

func (e *Engine) reserveWithin(key chanKey, d time.Duration) (block, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n := e.reserveBlock()
	id, first, err := e.opts.V2.History.Store.Reserve(ctx, key.app.id, key.name, n)
	if err != nil {
		e.stats.historyStoreErrors.Add(1)
		return block{}, err
	}
	return block{stream: id, first: first, end: first + uint64(n)}, nil
}

// reserveUnlocked reserves a block with s.mu released (s.fetching set
// meanwhile) and reports whether it is still fresh: no reset or stamp of
// another node dropped this node's blocks while the store was asked.
func (e *Engine) reserveUnlocked(key chanKey, s *seqStream) (block, bool, error) {
	gen, done := s.gen, make(chan struct{})
	s.fetching, s.fetched = true, done // one fetch at a time: the prefetch starts only when none runs
	s.mu.Unlock()
	b, err := e.reserveWithin(key, min(e.historyTimeout(), firstReserveTimeout))
	s.mu.Lock()
	s.fetching = false
	close(done)
	return b, s.gen == gen, err
}

// prefetch reserves the channel's next block off the publish path.
func (e *Engine) prefetch(key chanKey, s *seqStream, gen uint64, done chan struct{}) {
	b, err := e.reserve(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(done)
	s.fetching = false
	if err == nil && s.gen == gen {
		s.pend = b
	}
}

func (e *Engine) historyTimeout() time.Duration {
	if d := e.opts.V2.History.WriteTimeout; d > 0 {
		return d
	}
	return 5 * time.Second
}

// Reasons a stream becomes degraded, recorded in the store.
const (
	ReasonStoreUnavailable = "history_store_unavailable"
	ReasonWriterQueueFull  = "history_writer_queue_full"
	ReasonWriteFailed      = "history_write_failed"
)

// historyDegraded marks the channel's stream degraded on this node (s.mu
// held) and, off the publish path, in the store; logged at most once a
// second.
func (e *Engine) historyDegraded(key chanKey, s *seqStream, reason string, err error) {
	if !s.degraded {
		s.degraded, s.degradedBy = true, reason
		e.history.writer.markDegraded(key, reason)
	}
	if n, ok := e.historyLog.Due(time.Now()); ok {
		e.log.Warn("history: stream degraded, messages not stored", "app", key.app.id, "channel", key.name,
			"reason", reason, "err", err, "occurrences", n)
	}
}

// publishHistory publishes one message of a channel with history on: its
// position comes from the channel's reserved block, it is delivered (and
// kept in the hot buffer with recovery on) and sent to the other nodes
// stamped with that position under the channel's sequencer lock, and
// queued for the store without waiting. When no serial can be had (the
// store is down at the channel's first publish) the message is still
// delivered everywhere, without a position, and counted as dropped.
// cache, origin and tok go with the stamped message (see cluster.stamp).
func (e *Engine) publishHistory(app *App, key chanKey, event, data, userID, except string, m *protocol.V2Meta, cache bool, origin string, tok uint64) bool {
	s := e.lockSeq(key)
	defer s.mu.Unlock()
	return e.publishHistoryLocked(app, key, s, event, data, userID, except, m, cache, origin, tok)
}

// publishHistoryLocked is publishHistory with the channel's sequencer s
// locked by the caller.
func (e *Engine) publishHistoryLocked(app *App, key chanKey, s *seqStream, event, data, userID, except string, m *protocol.V2Meta, cache bool, origin string, tok uint64) bool {
	stream, serial, ok := e.takeSerial(key, s)
	if !ok {
		e.stats.historyDropped.Add(1)
		s.unstamped()
		e.deliver(key, event, data, userID, except, m, false)
		e.cluster.stamp(key, event, data, userID, except, cache, m, origin, tok)
		return false
	}
	m.StreamID, m.Serial, m.HasSerial = stream, serial, true
	s.stamped(serial)
	var kept *frame
	deliver := func() []byte {
		kept = e.deliver(key, event, data, userID, except, m, true)
		return kept.buf[protocol.MaxFrameHeader:]
	}
	if rb := e.opts.V2.Recovery; rb != nil && !app.RecoveryDisabled {
		rb.AppendAt(key.app.id, key.name, e.recoveryMax(app), stream, serial, deliver)
	} else {
		deliver()
	}
	e.cluster.stamp(key, event, data, userID, except, cache, m, origin, tok)
	e.history.writer.enqueue(key, s, HistoryEntry{
		App: key.app.id, Channel: key.name, StreamID: stream, Serial: serial,
		PublishedAtMS: time.Now().UnixMilli(), MessageID: m.MessageID, EventName: event,
		Payload: append([]byte(nil), kept.buf[protocol.MaxFrameHeader:]...), Retention: e.retentionFor(app),
	})
	kept.release()
	return true
}

// releaseSerials gives the unused serials of every reserved block back to
// the store at shutdown (newest block first, each only if nothing was
// reserved after it), so a clean restart continues each channel's
// sequence without a gap and cold recovery across it stays possible.
// One deadline bounds them all: a store that is down costs the gaps, not
// the shutdown.
func (e *Engine) releaseSerials() {
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	defer cancel()
	store := e.opts.V2.History.Store
	e.history.seqs.Range(func(key chanKey, s *seqStream) bool {
		s.mu.Lock()
		pend, stream, next, end := s.pend, s.stream, s.next, s.end
		s.pend, s.next, s.end = block{}, 0, 0
		s.mu.Unlock()
		if pend.end != 0 {
			if store.Release(ctx, key.app.id, key.name, pend.stream, pend.first, pend.end) != nil {
				return ctx.Err() == nil
			}
		}
		if end != 0 && next < end {
			_ = store.Release(ctx, key.app.id, key.name, stream, next, end)
		}
		return ctx.Err() == nil
	})
}

// sweepIdle forgets the sequencers of channels idle for longer than the
// idle time (nothing published or attached), giving their unused serials
// back, so a node that saw many channels does not keep them all. A later
// publish or subscribe starts from the store again, where the sequence
// continues.
func (e *Engine) sweepIdle(hs *historyState, idle time.Duration) {
	cut := time.Now().Add(-idle).UnixNano()
	var gone []chanKey
	var blocks [][2]block
	hs.seqs.Sweep(func(k chanKey, s *seqStream) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.lastUsed > cut || s.fetching {
			return false
		}
		s.dead = true
		gone = append(gone, k)
		blocks = append(blocks, [2]block{s.pend, {stream: s.stream, first: s.next, end: s.end}})
		return true
	})
	if len(gone) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	defer cancel()
	for i, k := range gone {
		for _, b := range blocks[i] {
			if b.end != 0 && b.first < b.end {
				_ = e.opts.V2.History.Store.Release(ctx, k.app.id, k.name, b.stream, b.first, b.end)
			}
		}
	}
}
