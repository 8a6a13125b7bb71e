package engine

import (
	"context"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// Publish delivers ev to every subscriber of its channels (a
// #server-to-user-{id} channel reaches every connection signed in as id).
// Each channel's frame is encoded once; Publish does not wait for writes.
func (e *Engine) Publish(ctx context.Context, app *App, ev *Event) error {
	rest := e.publishHTTP(app, ev)
	e.shareCache(ctx, app.ID, ev)
	if e.cluster.enabled() && len(rest) > 0 {
		e.cluster.publish(&busMsg{T: msgPublish, App: app.ID, Channels: rest, Event: ev.Name,
			Data: ev.Data, Except: ev.SocketID, Cache: true, V2: busV2Of(ev.V2)})
	}
	if ev.WantAcks {
		e.awaitAcks(ctx, ev)
	}
	return nil
}

// publishEvent encodes one channel event into a pooled frame and hands it
// to each worker that has subscribers of the channel. V2 subscribers get
// a second frame, encoded once too, when theirs differs (V2 fields, a
// rewritten prefix). With recovery on for the channel the message first
// gets its stream position (see publishApp).
func (e *Engine) publishEvent(key chanKey, event, data, userID, except string, x *V2Fields) {
	m := x.meta()
	f2 := e.deliverFrom(key, event, data, userID, except, &m, false, true)
	if f2 != nil {
		f2.release()
	}
}

// deliver encodes and fans out one channel event. With keep it always
// encodes the V2 frame and returns it holding one reference for the
// caller (who copies it into the replay buffer); otherwise it returns nil.
func (e *Engine) deliver(key chanKey, event, data, userID, except string, m *protocol.V2Meta, keep bool) *frame {
	return e.deliverFrom(key, event, data, userID, except, m, keep, false)
}

// deliverFrom is deliver; unlocked says the caller holds no lock, so it
// may write a worker's small share of the publish itself (worker.publish).
func (e *Engine) deliverFrom(key chanKey, event, data, userID, except string, m *protocol.V2Meta, keep, unlocked bool) *frame {
	var targets [64]*worker
	var v2 [64]bool
	var small uint64 // bit i: worker ws[i] owns few enough subscribers to inline
	ws, nv2 := e.targetsV2(key, targets[:0], v2[:0], &small)
	if len(ws) == 0 && !keep {
		return nil
	}
	var f, f2 *frame
	if len(ws) > 0 {
		f = e.frames.sized(len(event) + len(key.name) + len(data) + len(userID) + eventSlack)
		f.born = time.Now().UnixNano()
		f.seal(protocol.AppendEvent(f.payload(), event, key.name, data, userID), int32(len(ws)))
	}
	var kept *frame
	if keep && e.opts.V2.StripTags && len(m.Tags) > 0 {
		kept, keep = e.encodeV2(key, event, data, userID, m, 1), false // stored with its tags
	}
	if wm := e.wireMeta(m); keep || nv2 > 0 && v2Differs(wm, event) {
		refs := int32(nv2)
		if keep {
			refs++
		}
		f2 = e.encodeV2(key, event, data, userID, wm, refs)
	}
	var msg *filter.Message
	if nv2 > 0 {
		msg = e.filterMessage(key, ws, event, data, userID, m)
	}
	var dp *delta.Publication
	if nv2 > 0 {
		dp = e.deltaFrame(key, event, f, f2, m)
	}
	fx := e.wireFramesOf(key, ws, nv2, f, f2)
	for i, w := range ws {
		j := job{kind: jobPublish, key: key, f: f, except: except, serial: m.Serial, stream: m.StreamID, filterable: true, msg: msg, fx: fx}
		if v2[i] {
			j.f2, j.dp = f2, dp
		}
		w.publish(j, unlocked && small&(1<<i) != 0)
	}
	if kept != nil {
		return kept
	}
	if keep {
		return f2
	}
	return nil
}

// broadcast sends an encoded message to a channel's subscribers except
// one socket. Used for presence and count events, under the channel lock.
func (e *Engine) broadcast(key chanKey, msg []byte, except string) {
	var targets [64]*worker
	var v2 [64]bool
	ws, nv2 := e.targetsV2(key, targets[:0], v2[:0], nil)
	if len(ws) == 0 {
		return
	}
	f := e.frames.get()
	p := append(f.payload(), msg...)
	f.seal(p, int32(len(ws)))
	var f2 *frame
	if nv2 > 0 && protocol.NeedsV2Rewrite(msg) {
		f2 = e.frames.get()
		f2.seal(protocol.AppendV2Message(f2.payload(), msg, ""), int32(nv2))
	}
	fx := e.wireFramesOf(key, ws, nv2, f, f2)
	for i, w := range ws {
		j := job{kind: jobPublish, key: key, f: f, except: except, fx: fx}
		if v2[i] {
			j.f2 = f2
		}
		w.push(j)
	}
}

// targetsV2 appends the workers that own a subscriber of key, to ws, and
// whether each owns a V2 subscriber, to v2; it returns how many do. With
// small non-nil, bit i of *small is set when ws[i] owns at most inlineMax
// subscribers of key (a worker's share beyond the 64th is never small).
func (e *Engine) targetsV2(key chanKey, ws []*worker, v2 []bool, small *uint64) ([]*worker, int) {
	n := 0
	for _, w := range e.workers {
		has, hasV2, few := w.subscriberKinds(key)
		if has {
			if few && small != nil && len(ws) < 64 {
				*small |= 1 << len(ws)
			}
			ws = append(ws, w)
			v2 = append(v2, hasV2)
			if hasV2 {
				n++
			}
		}
	}
	return ws, n
}

// targets appends the workers that own a subscriber of key.
func (e *Engine) targets(key chanKey, dst []*worker) []*worker {
	for _, w := range e.workers {
		if w.hasSubscribers(key) {
			dst = append(dst, w)
		}
	}
	return dst
}

// cachedEvent is the last event published to a cache channel. absent
// records that the shared cache had none: a later publish reaches this
// node over the bus and replaces it, so the shared cache need not be
// asked again for every subscribe until it expires.
type cachedEvent struct {
	event, data string
	expires     int64 // unix nanos
	absent      bool
}

// Shared-cache timings: how long a miss is remembered, and how long the
// shared cache is left alone after an error, so subscribes (read on a
// worker's poller) do not each wait for an unreachable Redis.
const (
	sharedMissTTL = 10 * time.Second
	sharedBackoff = 5 * time.Second
)

func (e *Engine) storeCache(key chanKey, event, data string) {
	ce := cachedEvent{event: event, data: data, expires: time.Now().Add(e.opts.CacheTTL).UnixNano()}
	e.cache.Update(key, func(cachedEvent, bool) (cachedEvent, bool) { return ce, true })
}

// replayCache sends the cached event of key to c, or pusher:cache_miss,
// and reports whether there was one.
func (e *Engine) replayCache(c *Conn, key chanKey) bool {
	ce, ok := e.cache.Load(key)
	if ok && !ce.absent && ce.expires > time.Now().UnixNano() {
		c.send(protocol.AppendEvent(nil, ce.event, key.name, ce.data, ""))
		return true
	}
	c.send(protocol.AppendEventObject(nil, protocol.EventCacheMiss, key.name, nil))
	return false
}

// CachedEvent returns the cached last event of a cache channel.
func (e *Engine) CachedEvent(ctx context.Context, app *App, channel string) (CachedEvent, bool) {
	key := chanKey{e.runtimeFor(app), channel}
	e.fetchShared(ctx, key)
	ce, ok := e.cache.Load(key)
	left := time.Duration(ce.expires - time.Now().UnixNano())
	if !ok || ce.absent || left <= 0 {
		return CachedEvent{}, false
	}
	return CachedEvent{Event: ce.event, Data: ce.data, TTL: left}, true
}

// shareCache writes an HTTP publish to the shared cache for its cache
// channels. Only the node that accepted the publish writes.
func (e *Engine) shareCache(ctx context.Context, appID string, ev *Event) {
	sc := e.opts.SharedCache
	if sc == nil {
		return
	}
	for _, name := range ev.Channels {
		if _, cache := protocol.ParseChannel(name); cache {
			if err := sc.Set(ctx, appID, name, ev.Name, ev.Data, e.opts.CacheTTL); err != nil {
				e.log.Warn("shared cache write failed", "app", appID, "channel", name, "err", err)
			}
		}
	}
}

// fetchShared fills the local cache of key from the shared cache when the
// local copy is missing or expired (a node that started after the publish).
func (e *Engine) fetchShared(ctx context.Context, key chanKey) {
	sc := e.opts.SharedCache
	if sc == nil {
		return
	}
	now := time.Now().UnixNano()
	if ce, ok := e.cache.Load(key); ok && ce.expires > now {
		return
	}
	if now < e.sharedDownUntil.Load() {
		return
	}
	event, data, ttl, ok, err := sc.Get(ctx, key.app.id, key.name)
	if err != nil {
		e.sharedDownUntil.Store(time.Now().Add(sharedBackoff).UnixNano())
		e.log.Warn("shared cache read failed: cache channels answer from this node's copy for a while",
			"app", key.app.id, "channel", key.name, "retry_in", sharedBackoff, "err", err)
		return
	}
	ce := cachedEvent{absent: true, expires: time.Now().Add(sharedMissTTL).UnixNano()}
	if ok && ttl > 0 {
		ce = cachedEvent{event: event, data: data, expires: time.Now().Add(ttl).UnixNano()}
	}
	e.cache.Update(key, func(old cachedEvent, had bool) (cachedEvent, bool) {
		if had && !old.absent && old.expires > now {
			return old, true // a publish arrived meanwhile: it is newer
		}
		return ce, true
	})
}

// sweepCache drops expired cache entries once a minute so channels that
// are published to once and never read do not pin memory.
func (e *Engine) sweepCache() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-e.janitor:
			return
		case now := <-t.C:
			n := now.UnixNano()
			e.cache.Sweep(func(_ chanKey, ce cachedEvent) bool { return ce.expires <= n })
			if s, ok := e.opts.V2.Recovery.(interface{ Sweep() }); ok {
				s.Sweep() // optional: lets a buffer free idle channels
			}
		}
	}
}

// webhook forwards an event to the hooks port, stamped with the time.
func (e *Engine) webhook(app *App, ev WebhookEvent) {
	if e.opts.Hooks == nil {
		return
	}
	ev.TimeMS = time.Now().UnixMilli()
	e.opts.Hooks.Webhook(app, ev)
}
