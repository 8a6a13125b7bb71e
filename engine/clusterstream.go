package engine

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Cluster-wide streams (issue 12 item 9). Sockudo keeps a channel's
// replay buffer and serial counter on the publishing node, so two nodes
// publishing to one channel mint two streams and a client that reconnects
// to the other node cannot resume. Here a channel with recovery on or
// durable history on has one sequencer in the cluster: its owner, the
// settled node that wins the channel's rendezvous hash (cluster.owner,
// the same election that reports webhooks once). Without history the
// owner mints the stream and serials in its replay buffer (below); with
// history the owner takes them from the store's reserved blocks, the
// rest is the same (clusterhistory.go).
//
//   - A publish on the owner is sequenced there (recovery.Buffer.Append):
//     delivered to the owner's subscribers and, under the buffer's channel
//     lock, published on the bus with its stream id, serial and message id.
//     The bus delivers one sender's messages in order, so every node sees
//     the channel's serials in order.
//   - A publish on another node is forwarded to the owner (one bus hop,
//     Bus.Send) with a message id minted by the publishing node, and is
//     delivered there, as everywhere, when the owner's stamped message comes
//     back: the publishing node's own subscribers wait one round trip.
//   - Every node keeps a stamped message in its own replay buffer at the
//     owner's position (AppendAt) before fanning it out with those fields,
//     so a client resumes from whichever node it reconnects to.
//
// Owner changes (a node joins, leaves or dies): the new owner never
// continues a stream it learned from another node (recovery.Buffer starts
// a new one), so two sequencers can never hand out the same serial. While
// the nodes' views of the owner differ, messages of two streams may
// interleave for a moment; each is delivered once, and a client whose
// position is in the old stream gets resume_failed with stream_reset. A
// forward whose owner leaves or dies before answering is sent again to
// the new owner (counted as a retry); one never answered within
// forwardTimeout is counted as a failure and logged. A cluster starting
// (no settled node yet) and a node whose bus is down sequence locally.
//
// An HTTP publish that asks for acknowledgements (info or message_id)
// waits for a forwarded channel's serial up to forwardAckWait (and the
// request's context); past it the acknowledgement has the message id and
// no message_serial. The message id is known at once: the publishing node
// minted it.

// busPos is the position part of a publish on the bus: a stamped publish
// carries the sequencer's stream and serial; a forward (and the stamped
// publish that answers it) names the node waiting for it and its token.
type busPos struct {
	Stream string `json:"s,omitempty"`
	Serial uint64 `json:"n,omitempty"`
	Origin string `json:"o,omitempty"`
	Token  uint64 `json:"k,omitempty"`
	// Hops counts re-forwards: a node that disagrees about the owner
	// passes a forward on once, then sequences it itself.
	Hops int `json:"h,omitempty"`
}

// msgForward asks a channel's owner to sequence a publish.
const msgForward = "fwd"

// Forward timings.
const (
	// forwardAckWait bounds how long an HTTP publish waits for a
	// forwarded channel's serial.
	forwardAckWait = 2 * time.Second
	// forwardTimeoutMin is the least time a forward may stay unanswered
	// before it counts as failed; the node timeout (after which a dead
	// owner's forwards are retried) doubled when that is longer.
	forwardTimeoutMin = 5 * time.Second
)

// forwarded is a publish sent to its owner and not yet seen back.
type forwarded struct {
	msg  busMsg // the forward, sent again if its owner goes
	to   string
	at   int64 // unix nanos when (last) sent
	done chan struct{}
	// Set before done closes: the owner's position (serial 0: none).
	stream string
	serial uint64
}

// sequencer names the node that must sequence channel, "" for this one:
// no bus, a bus that is down, this node owns it, or no node has settled.
func (c *cluster) sequencer(channel string) string {
	if c.bus == nil || !c.up.Load() {
		return ""
	}
	if o, node := c.owner(channel); o == notOwner {
		return node
	}
	return ""
}

// sequence assigns the channel's next position in this node's replay
// buffer, delivers the message with it and, under the same channel lock,
// sends it to the other nodes stamped with that position (origin and tok
// answer a forward).
func (e *Engine) sequence(app *App, key chanKey, event, data, userID, except string, m *protocol.V2Meta, cache bool, origin string, tok uint64) {
	var kept *frame
	e.opts.V2.Recovery.Append(key.app.id, key.name, e.recoveryMax(app), func(stream string, serial uint64) []byte {
		m.StreamID, m.Serial, m.HasSerial = stream, serial, true
		kept = e.deliver(key, event, data, userID, except, m, true)
		e.cluster.stamp(key, event, data, userID, except, cache, m, origin, tok)
		return kept.buf[protocol.MaxFrameHeader:]
	})
	if kept != nil {
		kept.release()
	}
	e.stats.v2Buffered.Add(1)
}

// stamp publishes a sequenced message to the other nodes.
func (c *cluster) stamp(key chanKey, event, data, userID, except string, cache bool, m *protocol.V2Meta, origin string, tok uint64) {
	if c.bus == nil {
		return
	}
	c.publish(&busMsg{T: msgPublish, App: key.app.id, Channels: []string{key.name}, Event: event, Data: data,
		User: userID, Except: except, Cache: cache,
		V2:  &busV2{Tags: m.Tags, Extras: m.Extras, MessageID: m.MessageID, ObjectData: m.ObjectData, NoDelta: m.NoDelta},
		Pos: &busPos{Stream: m.StreamID, Serial: m.Serial, Origin: origin, Token: tok}})
}

// forward sends a publish to the channel's owner and remembers it until
// the owner's stamped message comes back; nil when the bus refused it
// (the caller then sequences the message here).
func (e *Engine) forward(to string, key chanKey, event, data, userID, except string, m *protocol.V2Meta, cache bool) *forwarded {
	c := e.cluster
	f := &forwarded{to: to, at: time.Now().UnixNano(), done: make(chan struct{}),
		msg: busMsg{T: msgForward, App: key.app.id, Channels: []string{key.name}, Event: event, Data: data,
			User: userID, Except: except, Cache: cache,
			V2: &busV2{Tags: m.Tags, Extras: m.Extras, MessageID: m.MessageID, ObjectData: m.ObjectData, NoDelta: m.NoDelta}}}
	c.fmu.Lock()
	c.fwdSeq++
	tok := c.fwdSeq
	f.msg.Pos = &busPos{Origin: c.self, Token: tok}
	if c.pending == nil {
		c.pending = map[uint64]*forwarded{}
	}
	c.pending[tok] = f
	c.fmu.Unlock()
	if err := c.sendErr(to, &f.msg); err != nil {
		c.fmu.Lock()
		delete(c.pending, tok)
		c.fmu.Unlock()
		return nil
	}
	e.stats.forwarded.Add(1)
	return f
}

// sendErr is send reporting the bus's error. m is not modified: a
// remembered forward may be sent again from another goroutine.
func (c *cluster) sendErr(node string, m *busMsg) error {
	mm := *m
	mm.From, mm.Ready = c.self, c.ready.Load()
	b, err := json.Marshal(&mm)
	if err != nil {
		return err
	}
	return c.bus.Send(node, b)
}

// applyForward sequences a publish another node forwarded (on the bus
// goroutine, under c.apply). A node that said goodbye leaves it to its
// origin, which sends it to the next owner on hearing the goodbye. A node that thinks a third node owns the channel passes it
// on once; after that, or when the two disagree with each other, it
// sequences it itself: a message is never bounced for good.
func (e *Engine) applyForward(m *busMsg) {
	if m.Pos == nil || len(m.Channels) != 1 || e.cluster.leaving {
		return
	}
	rt := e.runtimeByID(m.App)
	app := e.appOf(rt)
	if app == nil {
		e.stats.forwardFailed.Add(1)
		e.log.Warn("cluster: forwarded publish for an app this node cannot load: dropped", "app", m.App, "channel", m.Channels[0])
		return
	}
	if to := e.cluster.sequencer(m.Channels[0]); to != "" && to != m.From && to != m.Pos.Origin && m.Pos.Hops == 0 {
		fw := *m
		pos := *m.Pos
		pos.Hops++
		fw.Pos = &pos
		if e.cluster.sendErr(to, &fw) == nil {
			return
		}
	}
	e.sequenceForward(app, rt, m)
}

// sequenceForward sequences a forward here: with durable history on, at
// the store's next serial, off the bus goroutine when taking it may wait
// (clusterqueue.go); with recovery on for the app as this node sees it,
// at this node's next position; otherwise without one, answered with
// serial 0.
func (e *Engine) sequenceForward(app *App, rt *appRuntime, m *busMsg) {
	key := chanKey{rt, m.Channels[0]}
	if _, isCache := protocol.ParseChannel(key.name); isCache && m.Cache {
		e.storeCache(key, m.Event, m.Data)
	}
	if e.historyOn(app) {
		if !e.sequenceForwardNow(app, key, m) {
			e.queueHistoryForward(key, m) // taking its serial may wait for the store (clusterqueue.go)
		}
		return
	}
	meta := m.V2.meta()
	if !e.recoveryOn(app) {
		e.deliver(key, m.Event, m.Data, m.User, m.Except, &meta, false)
		e.cluster.stamp(key, m.Event, m.Data, m.User, m.Except, m.Cache, &meta, m.Pos.Origin, m.Pos.Token)
	} else {
		e.sequence(app, key, m.Event, m.Data, m.User, m.Except, &meta, m.Cache, m.Pos.Origin, m.Pos.Token)
	}
	if m.Pos.Origin == e.cluster.self {
		e.cluster.resolve(m.Pos.Token, meta.StreamID, meta.Serial)
	}
}

// applyStamped delivers a publish the channel's sequencer stamped: kept
// in this node's replay buffer at that position (with recovery on here),
// fanned out with it, and, when this node forwarded it, acknowledged.
func (e *Engine) applyStamped(m *busMsg) {
	rt := e.runtimeByID(m.App)
	key := chanKey{rt, m.Channels[0]}
	if _, isCache := protocol.ParseChannel(key.name); isCache && m.Cache {
		e.storeCache(key, m.Event, m.Data)
	}
	meta := m.V2.meta()
	meta.StreamID, meta.Serial, meta.HasSerial = m.Pos.Stream, m.Pos.Serial, m.Pos.Serial != 0
	app := e.appOf(rt)
	if app != nil && e.historyOn(app) {
		e.applyStampedHistory(app, key, m, &meta)
	} else if rb := e.opts.V2.Recovery; meta.HasSerial && rb != nil && app != nil && e.recoveryOn(app) {
		var kept *frame
		rb.AppendAt(rt.id, key.name, e.recoveryMax(app), meta.StreamID, meta.Serial, func() []byte {
			kept = e.deliver(key, m.Event, m.Data, m.User, m.Except, &meta, true)
			return kept.buf[protocol.MaxFrameHeader:]
		})
		if kept != nil {
			kept.release()
		}
		e.stats.v2Buffered.Add(1)
	} else {
		e.deliver(key, m.Event, m.Data, m.User, m.Except, &meta, false)
	}
	if m.Pos.Origin == e.cluster.self {
		e.cluster.resolve(m.Pos.Token, meta.StreamID, meta.Serial)
	}
}

// resolve ends a forward: the owner's position reached this node.
func (c *cluster) resolve(tok uint64, stream string, serial uint64) {
	c.fmu.Lock()
	f := c.pending[tok]
	delete(c.pending, tok)
	c.fmu.Unlock()
	if f != nil {
		f.stream, f.serial = stream, serial
		close(f.done)
	}
}

// reforward sends the forwards still waiting on node, a node that left
// or died, to the channels' new owners (in the order they were first
// sent), or sequences them here when this node is the owner now. Called
// under c.apply, after node left the peers.
func (c *cluster) reforward(node string) {
	c.fmu.Lock()
	var again []uint64
	for tok, f := range c.pending {
		if f.to == node {
			again = append(again, tok)
		}
	}
	c.fmu.Unlock()
	slices.Sort(again)
	for _, tok := range again {
		c.fmu.Lock()
		f := c.pending[tok]
		c.fmu.Unlock()
		if f == nil {
			continue
		}
		c.e.stats.forwardRetried.Add(1)
		if to := c.sequencer(f.msg.Channels[0]); to != "" {
			c.fmu.Lock()
			f.to, f.at = to, time.Now().UnixNano()
			c.fmu.Unlock()
			if c.sendErr(to, &f.msg) == nil {
				continue
			}
		}
		rt := c.e.runtimeByID(f.msg.App)
		if app := c.e.appOf(rt); app != nil {
			c.e.sequenceForward(app, rt, &f.msg) // resolves it
		} else {
			c.fail(tok)
		}
	}
}

// expireForwards gives up on forwards unanswered for longer than the
// forward timeout while their owner still seems alive (a message the bus
// lost): counted, logged, and their HTTP acknowledgements released.
func (c *cluster) expireForwards(now int64) {
	limit := now - int64(max(forwardTimeoutMin, 2*c.e.opts.NodeTimeout))
	c.fmu.Lock()
	var old []uint64
	for tok, f := range c.pending {
		if f.at < limit {
			old = append(old, tok)
		}
	}
	c.fmu.Unlock()
	for _, tok := range old {
		c.fail(tok)
	}
	if len(old) > 0 {
		c.e.log.Warn("cluster: forwarded publishes not confirmed by the channel's owner; they may not have been delivered",
			"count", len(old))
	}
}

// fail ends a forward without a position and counts it.
func (c *cluster) fail(tok uint64) {
	c.fmu.Lock()
	f := c.pending[tok]
	delete(c.pending, tok)
	c.fmu.Unlock()
	if f != nil {
		c.e.stats.forwardFailed.Add(1)
		close(f.done)
	}
}

// awaitAcks fills in the serials of forwarded channels an HTTP publish
// asked acknowledgements for, waiting at most forwardAckWait in all.
func (e *Engine) awaitAcks(ctx context.Context, ev *Event) {
	var timeout <-chan time.Time
	expired := false
	for i := range ev.Acks {
		a := &ev.Acks[i]
		f := a.wait
		if f == nil {
			continue
		}
		a.wait = nil
		if expired {
			continue
		}
		if timeout == nil {
			t := time.NewTimer(forwardAckWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-f.done:
			if f.serial != 0 {
				a.Serial, a.HasSerial = f.serial, true
			}
		case <-ctx.Done():
			expired = true
		case <-timeout:
			expired = true
		}
	}
}

// offBus is channels minus those whose message already crossed the bus
// (onBus[i]); channels itself when none did.
func offBus(channels []string, onBus []bool) []string {
	if onBus == nil {
		return channels
	}
	rest := make([]string, 0, len(channels))
	for i, name := range channels {
		if !onBus[i] {
			rest = append(rest, name)
		}
	}
	return rest
}

// ClusterSettled reports whether this node has settled (it may own
// channels) and how many other nodes it knows to have settled. Once every
// node reports itself settled and knows all the others, the nodes agree
// on each channel's owner, and so on its sequencer. Without a bus a node
// is settled alone.
func (e *Engine) ClusterSettled() (settled bool, readyPeers int) {
	c := e.cluster
	if c.bus == nil {
		return true, 0
	}
	return c.ready.Load(), c.readyPeers()
}

// ChannelSequencer names the node that assigns channel's stream positions
// as this node sees it: its owner, or this node when it sequences the
// channel itself (no bus, bus down, no node settled yet).
func (e *Engine) ChannelSequencer(channel string) string {
	if to := e.cluster.sequencer(channel); to != "" {
		return to
	}
	return e.cluster.self
}
