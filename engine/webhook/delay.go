package webhook

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// delayShards stripes the delay table by channel.
const delayShards = 16

// delayer holds channel_vacated and member_removed for VacateDelay. A
// channel_occupied (member_added) for the same channel (and user) within
// the delay cancels the held event and is itself dropped, so a page
// reload produces nothing. Lock order: delayShard.mu → batch.mu; a held
// event is routed under its shard lock, so a later occupied, which must
// take that lock first, is always routed after it.
type delayer struct {
	seed   maphash.Seed
	shards [delayShards]delayShard
}

type delayShard struct {
	mu      sync.Mutex
	pending map[delayKey]*heldEvent
	closed  bool
}

// delayKey names what a held event waits on: a channel (user "") or a
// presence member.
type delayKey struct {
	app, channel, user string
	member             bool
}

type heldEvent struct {
	app   *engine.App
	ev    engine.WebhookEvent
	timer *time.Timer
}

func (d *delayer) shard(channel string) *delayShard {
	return &d.shards[maphash.String(d.seed, channel)%delayShards]
}

func keyOf(app *engine.App, ev *engine.WebhookEvent) delayKey {
	k := delayKey{app: app.ID, channel: ev.Channel}
	if ev.Kind == engine.WebhookMemberAdded || ev.Kind == engine.WebhookMemberRemoved {
		k.user, k.member = ev.UserID, true
	}
	return k
}

// hold delays ev (vacated or member_removed) and then routes it.
func (s *Sender) hold(app *engine.App, ev engine.WebhookEvent) {
	sh := s.delay.shard(ev.Channel)
	k := keyOf(app, &ev)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		s.route(app, ev)
		return
	}
	if old := sh.pending[k]; old != nil {
		old.timer.Stop() // not expected: two vacates without an occupy
	}
	h := &heldEvent{app: app, ev: ev}
	h.timer = time.AfterFunc(s.opts.VacateDelay, func() { s.release(sh, k, h) })
	if sh.pending == nil {
		sh.pending = map[delayKey]*heldEvent{}
	}
	sh.pending[k] = h
}

// release routes h when its delay ran out, unless it was cancelled.
func (s *Sender) release(sh *delayShard, k delayKey, h *heldEvent) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.pending[k] != h {
		return
	}
	delete(sh.pending, k)
	s.route(h.app, h.ev)
}

// cancelHeldOrRoute handles occupied and member_added: a held
// vacated/member_removed for the same channel (and user) is cancelled and
// ev dropped with it; otherwise ev is routed, under the shard lock, so
// after any held event released before it.
func (s *Sender) cancelHeldOrRoute(app *engine.App, ev engine.WebhookEvent) {
	sh := s.delay.shard(ev.Channel)
	k := keyOf(app, &ev)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if h := sh.pending[k]; h != nil {
		h.timer.Stop()
		delete(sh.pending, k)
		return
	}
	s.route(app, ev)
}

// releaseAll routes every held event now (Shutdown) and makes later
// holds route at once.
func (s *Sender) releaseAll() {
	for i := range s.delay.shards {
		sh := &s.delay.shards[i]
		sh.mu.Lock()
		sh.closed = true
		for k, h := range sh.pending {
			h.timer.Stop()
			delete(sh.pending, k)
			s.route(h.app, h.ev)
		}
		sh.mu.Unlock()
	}
}
