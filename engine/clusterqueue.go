package engine

import (
	"sync"
	"time"
)

// The owner never sequences a forwarded publish of a channel with
// durable history on the bus goroutine when that could wait for the
// store (issue 12). Taking a serial may wait: a reservation at a block
// boundary, or a prefetch in flight, bounded by the reservation or write
// timeout (0.5-5 s). On the bus goroutine that wait held up everything
// behind it: other channels' publishes, presence, heartbeats (a peer
// could be declared dead). So a forward is sequenced on the bus
// goroutine only when nothing can wait (sequenceForwardNow: no earlier
// forward of the channel queued, the channel's sequencer lock free, a
// serial at hand), which is most of them and costs no goroutine handoff;
// any other is queued per channel and sequenced by a goroutine that
// lives while its channel has forwards queued. Per-channel order is the
// bus's (a channel with a queue gets every later forward queued behind,
// one goroutine drains it in arrival order), and a stalled store holds
// up only the channels waiting for a serial. Everything else (stamped
// publishes from other owners, presence, heartbeats, forwards of
// channels without history, which never wait) stays on the bus
// goroutine. (takeSerial also waits for the store with the sequencer
// lock released, so the bus goroutine's stamped messages and resets of
// a channel never wait behind a reservation either.)
//
// The queues hold at most maxQueuedForwards messages in all; a forward
// beyond that is dropped, counted as a failed forward and logged (at
// most once a second); its origin's acknowledgement then times out.
//
// Shutdown: the goodbye is said under fwdMu's write lock, and a queued
// forward is sequenced under its read lock only while the node is not
// leaving, so each forward is either stamped before the goodbye or left
// to its origin, which sends it to the next owner when it hears the
// goodbye (as before, when c.apply alone gave that guarantee).
//
// A reset (msgHistReset) and a forward that crossed the bus before it
// from the same node may now be applied in either order; across nodes
// their order was never defined.

// maxQueuedForwards bounds the forwards waiting for a serial on a node.
const maxQueuedForwards = 16384

// forwardQueues holds forwarded history publishes waiting for their
// channel's serial, by channel; a channel is in chans while its drainer
// runs.
type forwardQueues struct {
	mu     sync.Mutex
	chans  map[chanKey]*[]*busMsg
	queued int
	log    LogLimiter // overflow
}

// sequenceForwardNow sequences a forward of a channel with durable
// history on the bus goroutine when that cannot wait for the store (see
// above), and reports whether it did. Called under c.apply, as every
// queueHistoryForward is: no forward of the channel is queued between
// the check and the publish, and the goodbye cannot come in between.
func (e *Engine) sequenceForwardNow(app *App, key chanKey, m *busMsg) bool {
	q := &e.cluster.fwdq
	q.mu.Lock()
	_, queued := q.chans[key]
	q.mu.Unlock()
	if queued {
		return false
	}
	s := e.seqFor(key)
	if !s.mu.TryLock() {
		return false
	}
	defer s.mu.Unlock()
	if s.dead || !s.serialAtHand() {
		return false
	}
	meta := m.V2.meta()
	if e.publishHistoryLocked(app, key, s, m.Event, m.Data, m.User, m.Except, &meta, m.Cache, m.Pos.Origin, m.Pos.Token) {
		e.stats.v2Buffered.Add(1)
	}
	if m.Pos.Origin == e.cluster.self {
		e.cluster.resolve(m.Pos.Token, meta.StreamID, meta.Serial)
	}
	return true
}

// queueHistoryForward queues a forward of a channel with durable history
// for sequencing off the bus goroutine, starting the channel's drainer
// when none runs.
func (e *Engine) queueHistoryForward(key chanKey, m *busMsg) {
	q := &e.cluster.fwdq
	q.mu.Lock()
	if q.queued >= maxQueuedForwards {
		q.mu.Unlock()
		e.stats.forwardFailed.Add(1)
		if n, ok := q.log.Due(time.Now()); ok {
			e.log.Warn("cluster: forwarded publishes waiting for the history store exceed the queue: dropped",
				"channel", key.name, "limit", maxQueuedForwards, "occurrences", n)
		}
		return
	}
	q.queued++
	msgs, running := q.chans[key]
	if !running {
		if q.chans == nil {
			q.chans = map[chanKey]*[]*busMsg{}
		}
		msgs = new([]*busMsg)
		q.chans[key] = msgs
		go e.drainHistoryForwards(key, msgs)
	}
	*msgs = append(*msgs, m)
	q.mu.Unlock()
}

// drainHistoryForwards sequences a channel's queued forwards in order and
// ends when its queue is empty.
func (e *Engine) drainHistoryForwards(key chanKey, msgs *[]*busMsg) {
	q := &e.cluster.fwdq
	for {
		q.mu.Lock()
		if len(*msgs) == 0 {
			delete(q.chans, key)
			q.mu.Unlock()
			return
		}
		m := (*msgs)[0]
		(*msgs)[0] = nil
		*msgs = (*msgs)[1:]
		q.queued--
		q.mu.Unlock()
		e.sequenceHistoryForward(key, m)
	}
}

// sequenceHistoryForward sequences one queued forward (see above).
func (e *Engine) sequenceHistoryForward(key chanKey, m *busMsg) {
	c := e.cluster
	c.fwdMu.RLock()
	defer c.fwdMu.RUnlock()
	if c.leaving {
		return // its origin sends it to the next owner on our goodbye
	}
	app := e.appOf(key.app)
	if app == nil {
		e.stats.forwardFailed.Add(1)
		e.log.Warn("cluster: forwarded publish for an app this node cannot load: dropped", "app", m.App, "channel", key.name)
		return
	}
	meta := m.V2.meta()
	if e.publishHistory(app, key, m.Event, m.Data, m.User, m.Except, &meta, m.Cache, m.Pos.Origin, m.Pos.Token) {
		e.stats.v2Buffered.Add(1)
	}
	if m.Pos.Origin == c.self {
		c.resolve(m.Pos.Token, meta.StreamID, meta.Serial)
	}
}
