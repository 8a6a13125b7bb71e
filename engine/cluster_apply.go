package engine

import (
	"time"

	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// runtimeByID returns the runtime of app id, creating it on first use.
func (e *Engine) runtimeByID(id string) *appRuntime {
	if v, ok := e.apps.Load(id); ok {
		return v.(*appRuntime)
	}
	rt := &appRuntime{id: id}
	rt.stats.perWorker = make([]workerCounters, len(e.workers))
	v, _ := e.apps.LoadOrStore(id, rt)
	return v.(*appRuntime)
}

// appOf returns the app of a runtime, for webhooks; nil when the store no
// longer has it.
func (e *Engine) appOf(rt *appRuntime) *App {
	a, err := e.opts.Apps.AppByID(rt.id)
	if err != nil {
		return nil
	}
	return a
}

// publishLocal delivers an event to this node's subscribers of channels;
// cache says whether cache channels keep it (HTTP publishes, not client
// events).
func (e *Engine) publishLocal(rt *appRuntime, channels []string, event, data, userID, except string, cache bool, x *V2Fields) {
	for _, name := range channels {
		if id, ok := protocol.ServerToUserID(name); ok {
			e.sendToUser(rt, id, protocol.AppendEvent(nil, event, name, data, ""))
			continue
		}
		key := chanKey{rt, name}
		if _, isCache := protocol.ParseChannel(name); isCache && cache {
			e.storeCache(key, event, data)
		}
		e.publishEvent(key, event, data, userID, except, x)
	}
}

// remoteCount applies node's subscriber count of a channel: occupancy,
// subscription_count events and, on the owner, the webhooks.
func (e *Engine) remoteCount(node string, key chanKey, n int) {
	var t transition
	kind, _ := protocol.ParseChannel(key.name)
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			if n == 0 {
				return nil, false
			}
			ch = &channelState{}
		}
		before := ch.holders()
		if ch.remote == nil {
			ch.remote = map[string]int{}
		}
		if n > 0 {
			ch.remote[node] = n
		} else {
			delete(ch.remote, node)
		}
		after := ch.holders()
		t.count, t.occupied, t.vacated = ch.total(), before == 0 && after > 0, before > 0 && after == 0
		if app := e.appOf(key.app); app != nil && after > 0 {
			t.countEvent = e.countEventLocked(app, key, ch, kind)
		}
		return ch, !ch.empty()
	})
	e.reportOccupancy(key, kind, &t)
}

// reportOccupancy counts and reports a channel's cluster-wide transitions;
// webhooks come from the channel's owner only.
func (e *Engine) reportOccupancy(key chanKey, kind protocol.Kind, t *transition) {
	st := &key.app.stats
	if t.occupied {
		st.channels[kind].Add(1)
	}
	if t.vacated {
		st.channels[kind].Add(-1)
	}
	if e.opts.Hooks == nil {
		return
	}
	app := e.appOf(key.app)
	if app == nil {
		return
	}
	if t.occupied {
		e.ownedWebhook(app, WebhookEvent{Kind: WebhookChannelOccupied, Channel: key.name})
	}
	if t.vacated {
		e.ownedWebhook(app, WebhookEvent{Kind: WebhookChannelVacated, Channel: key.name})
	}
	if kind != protocol.KindPresence && !t.vacated && (t.occupied || t.countChanged) {
		e.ownedWebhook(app, WebhookEvent{Kind: WebhookSubscriptionCount, Channel: key.name, SubscriptionCount: t.count})
	}
}

// ownedWebhook reports a cluster-wide transition of a channel: once, from
// the channel's owner.
func (e *Engine) ownedWebhook(app *App, ev WebhookEvent) {
	ev.TimeMS = time.Now().UnixMilli()
	e.cluster.report(app, ev)
}

// remoteMember applies a presence user another node starts or stops
// holding; this node's subscribers hear member_added/removed on the
// cluster-wide transitions only.
func (e *Engine) remoteMember(key chanKey, user string, info []byte, join bool) {
	var changed bool
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			if !join {
				return nil, false
			}
			ch = &channelState{}
		}
		if join {
			if changed = ch.members.AddRemote(user, info); changed {
				e.broadcast(key, protocol.AppendEvent(nil, protocol.EventMemberAdded, key.name, memberJSON(user, info), ""), "")
			}
		} else if changed = ch.members.RemoveRemote(user); changed {
			e.broadcast(key, memberRemoved(key.name, user), "")
		}
		return ch, !ch.empty()
	})
	if changed {
		e.reportMember(key, user, join)
	}
}

// reportMember counts and reports a cluster-wide member transition.
func (e *Engine) reportMember(key chanKey, user string, added bool) {
	kind := WebhookMemberRemoved
	if added {
		kind = WebhookMemberAdded
		key.app.stats.presenceUsers.Add(1)
	} else {
		key.app.stats.presenceUsers.Add(-1)
	}
	if e.opts.Hooks == nil {
		return
	}
	if app := e.appOf(key.app); app != nil {
		e.ownedWebhook(app, WebhookEvent{Kind: kind, Channel: key.name, UserID: user})
	}
}

// remoteUser applies a user another node signs in or out; watchers hear
// the cluster-wide transitions only.
func (e *Engine) remoteUser(uk userKey, online bool) {
	var changed bool
	e.users.Update(uk, func(us *userState, ok bool) (*userState, bool) {
		if !ok {
			if !online {
				return nil, false
			}
			us = &userState{}
		}
		before := us.online()
		if online {
			us.remote++
		} else if us.remote > 0 {
			us.remote--
		}
		changed = before != us.online()
		return us, us.online()
	})
	if changed {
		if app := e.appOf(uk.app); app != nil && app.EnableWatchlistEvents {
			e.notifyWatchers(uk.app, uk.id, onlineName(online))
		}
	}
}

func onlineName(online bool) string {
	if online {
		return "online"
	}
	return "offline"
}

// Peer bookkeeping: what each node holds, so a dead node's share can be
// removed. These run on the bus handler goroutine or under applyMu.

func (e *Engine) peerMember(node string, p *peer, m *busMsg) {
	key := chanKey{e.runtimeByID(m.App), m.Channel}
	join := m.T == msgJoin
	e.cluster.mu.Lock()
	set := p.members[key]
	_, had := set[m.User]
	if join && !had {
		if set == nil {
			set = map[string]struct{}{}
			p.members[key] = set
		}
		set[m.User] = struct{}{}
	} else if !join && had {
		delete(set, m.User)
		if len(set) == 0 {
			delete(p.members, key)
		}
	}
	e.cluster.mu.Unlock()
	if join != had {
		e.remoteMember(key, m.User, []byte(m.Info), join)
	}
}

func (e *Engine) peerUser(p *peer, uk userKey, online bool) {
	e.cluster.mu.Lock()
	_, had := p.users[uk]
	if online {
		p.users[uk] = struct{}{}
	} else {
		delete(p.users, uk)
	}
	e.cluster.mu.Unlock()
	if online != had {
		e.remoteUser(uk, online)
	}
}

func (e *Engine) peerCounts(node string, p *peer, counts, conns []countEntry) {
	for _, c := range counts {
		key := chanKey{e.runtimeByID(c.A), c.C}
		e.cluster.mu.Lock()
		old := p.counts[key]
		if c.N > 0 {
			p.counts[key] = c.N
		} else {
			delete(p.counts, key)
		}
		e.cluster.mu.Unlock()
		if old != c.N {
			e.remoteCount(node, key, c.N)
		}
	}
	e.cluster.mu.Lock()
	for _, c := range conns {
		if rt := e.runtimeByID(c.A); c.N > 0 {
			p.conns[rt] = c.N
		} else {
			delete(p.conns, rt)
		}
	}
	e.cluster.mu.Unlock()
}

// applySnapshot makes node's share equal to s, applying only the
// differences, so a resync does not flap members or occupancy.
func (e *Engine) applySnapshot(node string, p *peer, s *snapshot) {
	if s == nil {
		s = &snapshot{}
	}
	counts := map[chanKey]int{}
	for _, c := range s.Counts {
		counts[chanKey{e.runtimeByID(c.A), c.C}] = c.N
	}
	conns := map[string]bool{}
	for _, c := range s.Conns {
		conns[c.A] = true
	}
	e.cluster.mu.Lock()
	var zero, zeroConns []countEntry
	for k := range p.counts {
		if _, ok := counts[k]; !ok {
			zero = append(zero, countEntry{A: k.app.id, C: k.name})
		}
	}
	for rt := range p.conns {
		if !conns[rt.id] {
			zeroConns = append(zeroConns, countEntry{A: rt.id})
		}
	}
	e.cluster.mu.Unlock()
	e.peerCounts(node, p, append(zero, s.Counts...), append(zeroConns, s.Conns...))

	members := map[chanKey]map[string]memberEntry{}
	for _, m := range s.Members {
		k := chanKey{e.runtimeByID(m.A), m.C}
		if members[k] == nil {
			members[k] = map[string]memberEntry{}
		}
		members[k][m.U] = m
	}
	var leaves []busMsg
	e.cluster.mu.Lock()
	for k, set := range p.members {
		for u := range set {
			if _, ok := members[k][u]; !ok {
				leaves = append(leaves, busMsg{T: msgLeave, App: k.app.id, Channel: k.name, User: u})
			}
		}
	}
	e.cluster.mu.Unlock()
	for i := range leaves {
		e.peerMember(node, p, &leaves[i])
	}
	for _, m := range s.Members {
		e.peerMember(node, p, &busMsg{T: msgJoin, App: m.A, Channel: m.C, User: m.U, Info: m.I})
	}

	online := map[userKey]bool{}
	for _, u := range s.Users {
		online[userKey{e.runtimeByID(u.A), u.C}] = true
	}
	var offs []userKey
	e.cluster.mu.Lock()
	for uk := range p.users {
		if !online[uk] {
			offs = append(offs, uk)
		}
	}
	e.cluster.mu.Unlock()
	for _, uk := range offs {
		e.peerUser(p, uk, false)
	}
	for uk := range online {
		e.peerUser(p, uk, true)
	}
}

// dropPeer removes a node that said goodbye or stopped beating, with
// everything it held: its members leave (member_removed where it was
// their last holder), its counts drop, its users go offline. First the
// webhooks it owned from reclaimSince on are reported again by their new
// owners: it may have gone before sending them.
func (e *Engine) dropPeer(node string, reclaimSince int64) {
	e.cluster.mu.Lock()
	p := e.cluster.peers[node]
	delete(e.cluster.peers, node)
	e.cluster.mu.Unlock()
	if p == nil {
		return
	}
	e.cluster.reclaim(node, reclaimSince)
	e.cluster.reforward(node)
	e.applySnapshot(node, p, nil)
}

// localSnapshot is everything this node holds, for a peer's resync.
func (e *Engine) localSnapshot() *snapshot {
	s := &snapshot{}
	e.channels.Range(func(k chanKey, ch *channelState) bool {
		if ch.subs > 0 {
			s.Counts = append(s.Counts, countEntry{A: k.app.id, C: k.name, N: ch.subs})
		}
		ch.members.Each(func(m *shard.Member) {
			if m.Conns > 0 {
				s.Members = append(s.Members, memberEntry{A: k.app.id, C: k.name, U: m.ID, I: m.Info})
			}
		})
		return true
	})
	e.users.Range(func(uk userKey, us *userState) bool {
		if len(us.conns) > 0 {
			s.Users = append(s.Users, countEntry{A: uk.app.id, C: uk.id})
		}
		return true
	})
	e.apps.Range(func(_, v any) bool {
		rt := v.(*appRuntime)
		if n := rt.stats.connections.Load(); n > 0 {
			s.Conns = append(s.Conns, countEntry{A: rt.id, N: int(n)})
		}
		return true
	})
	return s
}

// localCount is this node's subscriber count of a channel.
func (e *Engine) localCount(k chanKey) int {
	n := 0
	e.channels.View(k, func(ch *channelState) { n = ch.subs })
	return n
}

// terminateLocal closes this node's connections signed in as user.
func (e *Engine) terminateLocal(rt *appRuntime, user string) int {
	var conns []*Conn
	e.users.View(userKey{rt, user}, func(us *userState) { conns = append(conns, us.conns...) })
	for _, c := range conns {
		c.closeWith(protocol.CodeUnauthorized, "Connection terminated by the app")
	}
	return len(conns)
}

func memberRemoved(channel, user string) []byte {
	return protocol.AppendEvent(nil, protocol.EventMemberRemoved, channel, `{"user_id":`+string(protocol.AppendJSONString(nil, user))+`}`, "")
}
