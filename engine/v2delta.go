package engine

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// Delta compression wiring (sockudo-v2.md §12; the algorithms and frames
// are in engine/delta, which explains the split of work).
//
// Who owns what:
//   - the read side decides, at subscribe, whether a subscription may get
//     deltas (V2, JSON, channel and app settings, its own `delta` field)
//     and takes a slot of the socket's max_channel_states_per_socket
//     budget; the decision waits in deltaConn.pending for the worker;
//   - the worker takes it when it delivers subscription_succeeded (so no
//     frame of the channel reaches the socket before), owns the
//     subscriber's delta.Sub, and counts the channel's active delta
//     subscribers: only a channel with some gets a delta.Publication per
//     publish, so every other fan-out runs exactly as before;
//   - the publisher calls Channel.Publish once per message; each worker
//     serves its delta subscribers with Publication.For, which encodes
//     one delta per base shared by a group of subscribers.
//
// A subscription without its own `delta` field follows the socket's
// sockudo:enable_delta_compression, which the official client sends after
// it re-subscribes: it becomes active when that arrives.

// deltaState is the engine's delta compression state.
type deltaState struct {
	chans *shard.Map[chanKey, *deltaChan]
	// active counts delta subscribers node-wide: while 0, publishes skip
	// the channel lookup entirely.
	active atomic.Int64
	// resyncs counts sockudo:delta_sync_error requests honoured.
	resyncs atomic.Uint64
}

// deltaChan is a channel with active delta subscribers on this node.
// Guarded by its deltaState.chans shard lock.
type deltaChan struct {
	ch   *delta.Channel
	subs int
}

// deltaConn is one connection's delta compression state.
type deltaConn struct {
	// Owned by the worker. The first delta subscription lives inline, so
	// the fan-out reaches it in the connection's own memory instead of
	// through a map bucket and a record elsewhere on the heap (two cache
	// misses per delivery over ten thousand connections).
	inlineName string // channel of inline, "" when unused
	inline     deltaSub
	subs       map[string]*deltaSub // every delta subscription, inline included

	on atomic.Bool // sockudo:enable_delta_compression received

	// Read side, under Conn.mu.
	budget  delta.Budget
	held    map[string]bool      // channels holding a budget slot
	pending map[string]*deltaSub // decided at subscribe, taken at jobAck
}

// deltas returns c's delta state, creating it on the first delta
// subscription or switch: most connections never ask for deltas, and the
// state (with its inline subscription) would otherwise be ~180 bytes of
// every idle connection. Safe from the read side and the worker.
func (c *Conn) deltas() *deltaConn {
	if dc := c.dc.Load(); dc != nil {
		return dc
	}
	dc := new(deltaConn)
	if c.dc.CompareAndSwap(nil, dc) {
		return dc
	}
	return c.dc.Load()
}

// hasDeltaSubs reports whether c has delta subscriptions (worker only).
func (c *Conn) hasDeltaSubs() bool {
	dc := c.dc.Load()
	return dc != nil && dc.subs != nil
}

// deltaSub is one subscription's delta state, owned by the worker.
type deltaSub struct {
	sub  delta.Sub
	algo delta.Algorithm
	opts delta.Options
	// followSocket: the subscribe had no `delta` field, so the socket's
	// switch decides.
	followSocket bool
	active       bool // counted in its deltaChan
}

// deltaCounters are one worker's delta fan-out counters, read at scrape
// time. Padded to a cache line so workers never share one.
type deltaCounters struct {
	deltas     atomic.Uint64 // sockudo:delta frames queued
	fulls      atomic.Uint64 // full frames queued on the delta path
	bytesSaved atomic.Uint64 // full-frame bytes minus delta-frame bytes
	_          [40]byte
}

// DeltaStats are the node's delta compression counters.
type DeltaStats struct {
	DeltaFrames uint64 // sockudo:delta frames sent
	FullFrames  uint64 // full frames sent to delta subscribers
	BytesSaved  uint64 // bytes the delta frames saved against full frames
	Resyncs     uint64 // sockudo:delta_sync_error requests honoured
	Channels    int    // channels holding delta state
}

// DeltaStats sums the delta counters of every worker.
func (e *Engine) DeltaStats() DeltaStats {
	var s DeltaStats
	for _, w := range e.workers {
		s.DeltaFrames += w.dstats.deltas.Load()
		s.FullFrames += w.dstats.fulls.Load()
		s.BytesSaved += w.dstats.bytesSaved.Load()
	}
	s.Resyncs = e.delta.resyncs.Load()
	if e.delta.chans != nil {
		s.Channels = e.delta.chans.Len()
	}
	return s
}

// deltaEnabled reports whether delta compression is configured at all.
func (e *Engine) deltaEnabled() bool {
	return e.opts.V2.Delta != nil && e.opts.V2.Delta.Enabled
}

// enableDelta answers sockudo:enable_delta_compression (its algorithm
// list is ignored, as Sockudo does) and activates the socket's
// subscriptions that follow the socket's switch.
func (c *Conn) enableDelta() {
	if !c.e.deltaEnabled() {
		// the client keeps receiving full frames, which it handles
		return
	}
	c.deltas().on.Store(true)
	var id [36]byte
	trailer := append([]byte(`,"message_id":"`), protocol.AppendUUIDv4(id[:0])...)
	trailer = append(trailer, '"')
	c.sendExact(delta.AppendEnabled(nil, delta.ConfigAlgorithm(c.e.opts.V2.Delta.Algorithm), trailer))
	c.w.push(job{kind: jobDelta, conn: c, reason: deltaOpEnable})
}

// deltaSyncError handles sockudo:delta_sync_error {channel}: the client
// dropped its bases, so the subscriber's next frame of each key is full.
func (c *Conn) deltaSyncError(data []byte) {
	var s protocol.Subscribe
	if err := protocol.DecodeSubscribe(data, &s); err != nil || s.Channel == "" {
		c.sendError(protocol.CodeInvalidMessage, "Invalid sockudo:delta_sync_error: data must be an object with a channel", "")
		return
	}
	c.w.push(job{kind: jobDelta, conn: c, key: chanKey{c.rt, strings.Clone(s.Channel)}, reason: deltaOpReset})
}

// jobDelta operations (job.reason).
const (
	deltaOpEnable = "enable" // the socket enabled deltas
	deltaOpReset  = "reset"  // forget key's bases (resync)
	deltaOpDrop   = "drop"   // unsubscribed from key
)

// prepareDelta decides, before a subscribe joins, whether the
// subscription may get deltas; the worker takes the decision with the
// subscription_succeeded it delivers. c.mu must not be held.
func (c *Conn) prepareDelta(name string, data []byte) {
	cfg := c.e.opts.V2.Delta
	if !c.v2 || cfg == nil || strings.HasPrefix(name, "#") {
		return // #server-to-user channels carry no channel broadcasts
	}
	set, err := delta.ParseSubSetting(subscribeDelta(data))
	if err != nil {
		set = delta.SubSetting{} // malformed: the socket's setting decides
	}
	found := false
	var cs delta.ChannelSetting
	if app := c.app(); app.DeltaChannels != nil {
		cs, found = app.DeltaChannels.Lookup(name)
	}
	opts, algo, chOn := cfg.ChannelOptions(cs, found)
	// socket enabled = true: decide what this subscription could ever
	// get; a subscription following the socket waits for its switch
	if !delta.Allowed(name, true, true, chOn, true, set) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dc := c.deltas()
	if c.subIndex(name) >= 0 || dc.held[name] {
		return // a repeated subscribe keeps the subscription as it is
	}
	if dc.budget.Used() == 0 && dc.held == nil {
		dc.budget = delta.NewBudget(cfg.MaxChannelStatesPerSocket)
	}
	if !dc.budget.Acquire() {
		return
	}
	if dc.held == nil {
		dc.held = make(map[string]bool)
		dc.pending = make(map[string]*deltaSub)
	}
	dc.held[name] = true
	dc.pending[name] = &deltaSub{algo: delta.Pick(set, algo), opts: opts, followSocket: !set.Given}
}

// unprepareDelta gives back what prepareDelta took when the subscription
// was refused or is left. c.mu must be held.
func (c *Conn) unprepareDelta(name string) {
	dc := c.dc.Load()
	if dc == nil || !dc.held[name] {
		return
	}
	delete(dc.held, name)
	delete(dc.pending, name)
	dc.budget.Release()
}

// subscribeDelta returns the raw `delta` member of a subscribe's data
// object, or nil.
func subscribeDelta(data []byte) []byte {
	if !bytes.Contains(data, []byte(`"delta"`)) {
		return nil
	}
	var d struct {
		Delta json.RawMessage `json:"delta"`
	}
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	return d.Delta
}

// leaveDelta gives back c's delta state of channel on unsubscribe.
// c.mu must be held.
func (c *Conn) leaveDelta(key chanKey) {
	if !c.v2 || c.e.opts.V2.Delta == nil {
		return
	}
	c.unprepareDelta(key.name)
	c.w.push(job{kind: jobDelta, conn: c, key: key, reason: deltaOpDrop})
}

// deltaFrame returns the Publication for a fan-out whose V1 frame is f
// and V2 frame f2 (nil when the same), or nil (see deltaPublish).
func (e *Engine) deltaFrame(key chanKey, event string, f, f2 *frame, m *protocol.V2Meta) *delta.Publication {
	if e.delta.active.Load() == 0 {
		return nil
	}
	if f2 == nil {
		f2 = f
	}
	return e.deltaPublish(key, event, f2.buf[protocol.MaxFrameHeader:], m)
}

// startDelta prepares the delta state and its sweeper.
func (e *Engine) startDelta() {
	e.delta.chans = shard.NewMap[chanKey, *deltaChan](registryShards)
	if e.deltaEnabled() {
		go e.sweepDelta()
	}
}

// attachDelta installs the decision prepareDelta left for key, when the
// worker delivers c's subscription_succeeded for it.
func (w *worker) attachDelta(c *Conn, key chanKey) {
	dc := c.dc.Load()
	if dc == nil {
		return // no delta subscription was prepared
	}
	c.mu.Lock()
	ds := dc.pending[key.name]
	delete(dc.pending, key.name)
	c.mu.Unlock()
	if ds == nil {
		return
	}
	if dc.subs == nil {
		dc.subs = make(map[string]*deltaSub)
	}
	if old := dc.subs[key.name]; old != nil {
		w.e.deltaLeave(key, old)
		if old == &dc.inline {
			dc.inlineName = ""
		}
	}
	if dc.inlineName == "" {
		dc.inline, dc.inlineName = *ds, key.name
		ds = &dc.inline
	}
	dc.subs[key.name] = ds
	if !ds.followSocket || dc.on.Load() {
		w.e.deltaJoin(key, ds)
	}
}

// deltaJob runs a jobDelta on the worker.
func (w *worker) deltaJob(j *job) {
	dc := j.conn.dc.Load()
	if dc == nil {
		return // the connection never subscribed with deltas
	}
	switch j.reason {
	case deltaOpEnable:
		for name, ds := range dc.subs {
			if !ds.active {
				w.e.deltaJoin(chanKey{j.conn.rt, name}, ds)
			}
		}
	case deltaOpReset:
		if dc.subs[j.key.name] != nil {
			w.e.delta.resyncs.Add(1) // counted only when it resets something
		}
		w.resetDelta(j.conn, j.key.name)
	case deltaOpDrop:
		if ds := dc.subs[j.key.name]; ds != nil {
			delete(dc.subs, j.key.name)
			w.e.deltaLeave(j.key, ds)
			if ds == &dc.inline {
				dc.inline, dc.inlineName = deltaSub{}, ""
			}
		}
	}
}

// resetDelta makes c's next frame of channel full: after a resync, and
// after a replay or rewind, whose frames are delivered without markers.
func (w *worker) resetDelta(c *Conn, channel string) {
	dc := c.dc.Load()
	if dc == nil {
		return
	}
	if ds := dc.subs[channel]; ds != nil {
		ds.sub.Reset()
	}
}

// dropDeltas releases c's delta state when the connection closes.
func (w *worker) dropDeltas(c *Conn) {
	dc := c.dc.Load()
	if dc == nil {
		return
	}
	for name, ds := range dc.subs {
		w.e.deltaLeave(chanKey{c.rt, name}, ds)
	}
	dc.subs, dc.inlineName = nil, ""
}

// deltaJoin counts ds as an active delta subscriber of key, creating the
// channel's delta state for the first.
func (e *Engine) deltaJoin(key chanKey, ds *deltaSub) {
	ds.active = true
	ds.sub.Reset()
	e.delta.chans.Update(key, func(dc *deltaChan, ok bool) (*deltaChan, bool) {
		if !ok {
			dc = &deltaChan{ch: delta.NewChannel(key.name, ds.opts)}
		}
		dc.subs++
		return dc, true
	})
	e.delta.active.Add(1)
}

// deltaLeave undoes deltaJoin; the channel's state goes with its last
// delta subscriber.
func (e *Engine) deltaLeave(key chanKey, ds *deltaSub) {
	if !ds.active {
		return
	}
	ds.active = false
	e.delta.chans.Update(key, func(dc *deltaChan, ok bool) (*deltaChan, bool) {
		if !ok {
			return nil, false
		}
		dc.subs--
		return dc, dc.subs > 0
	})
	e.delta.active.Add(-1)
}

// deltaPublish returns the Publication delta subscribers of key get for
// a V2 frame (payload without WebSocket header), or nil when the channel
// has none or the publish bypasses deltas (delta:false).
func (e *Engine) deltaPublish(key chanKey, event string, payload []byte, m *protocol.V2Meta) *delta.Publication {
	if e.delta.active.Load() == 0 || m.NoDelta {
		return nil
	}
	dc, ok := e.delta.chans.Load(key)
	if !ok {
		return nil
	}
	p := dc.ch.Publish(delta.Message{
		// a pusher: event, rewritten to sockudo: for V2, is internal and
		// bypassed either way
		Event:     event,
		Frame:     payload,
		Trailer:   deltaTrailer(m),
		WebSocket: true,
	}, time.Now())
	if p.Bypassed() != "" {
		return nil
	}
	return p
}

// deltaTrailer is the position a delta frame carries at its top level,
// as full frames do, so the client's duplicate filter and recovery
// position advance on delta-delivered messages too (Sockudo omits them).
func deltaTrailer(m *protocol.V2Meta) []byte {
	if m.MessageID == "" && !m.HasSerial {
		return nil
	}
	var b []byte
	if m.MessageID != "" {
		b = append(b, `,"message_id":`...)
		b = protocol.AppendJSONString(b, m.MessageID)
	}
	if m.HasSerial {
		if m.StreamID != "" {
			b = append(b, `,"stream_id":`...)
			b = protocol.AppendJSONString(b, m.StreamID)
		}
		b = append(b, `,"serial":`...)
		b = strconv.AppendUint(b, m.Serial, 10)
	}
	return b
}

// queueDelta queues j's message for c when c is an active delta
// subscriber of j's channel and reports whether it did.
func (w *worker) queueDelta(c *Conn, j *job) bool {
	dc := c.dc.Load()
	ds := &dc.inline
	if dc.inlineName != j.key.name {
		ds = dc.subs[j.key.name]
	}
	if ds == nil || !ds.active {
		return false
	}
	b, isDelta := j.dp.For(&ds.sub, ds.algo)
	w.queue(c, b)
	if isDelta {
		w.dpend.deltas++
		w.dpend.bytesSaved += uint64(len(j.dp.Full()) - len(b))
	} else {
		w.dpend.fulls++
	}
	return true
}

// deltaPending are a worker's counts of one fan-out, published to its
// deltaCounters once per publish instead of with atomics per delivery.
type deltaPending struct {
	deltas, fulls, bytesSaved uint64
}

// flushDeltaStats publishes the counts of the fan-out just done.
func (w *worker) flushDeltaStats() {
	p := &w.dpend
	if p.deltas != 0 {
		w.dstats.deltas.Add(p.deltas)
		w.dstats.bytesSaved.Add(p.bytesSaved)
	}
	if p.fulls != 0 {
		w.dstats.fulls.Add(p.fulls)
	}
	*p = deltaPending{}
}

// sweepDelta ages out idle conflation states every max_state_age_secs.
func (e *Engine) sweepDelta() {
	cfg := e.opts.V2.Delta
	t := time.NewTicker(time.Duration(cfg.MaxStateAgeSecs) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-e.janitor:
			return
		case now := <-t.C:
			e.delta.chans.Range(func(_ chanKey, dc *deltaChan) bool {
				dc.ch.Sweep(now)
				return true
			})
		}
	}
}
