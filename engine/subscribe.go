package engine

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// channelState is one channel's node-wide state, guarded by its registry
// shard lock. Every transition (occupied, member added, …) is decided under
// that lock, so the frames it causes are ordered with the joins and leaves.
type channelState struct {
	subs    int            // this node's connections subscribed
	remote  map[string]int // other nodes' subscriber counts (> 0 only)
	members shard.Members  // presence users, local and remote holders
	countAt int64          // unix nanos of the last subscription_count event
	// countTrail: a count change was held back by the throttle and is
	// sent when the window ends.
	countTrail bool
}

// total is the cluster-wide subscriber count.
func (ch *channelState) total() int {
	n := ch.subs
	for _, r := range ch.remote {
		n += r
	}
	return n
}

// holders counts the nodes with subscribers: the channel is occupied
// cluster-wide while it is above zero.
func (ch *channelState) holders() int {
	n := len(ch.remote)
	if ch.subs > 0 {
		n++
	}
	return n
}

// empty reports whether the state can be dropped.
func (ch *channelState) empty() bool {
	return ch.subs == 0 && len(ch.remote) == 0 && ch.members.Len() == 0
}

// subError is a refused subscription, sent as pusher:subscription_error.
type subError struct {
	typ    string // AuthError, LimitReached, InvalidChannel
	msg    string
	status int
}

// maxUserIDLength is Pusher's limit on presence user ids.
const maxUserIDLength = 128

// subscribe handles pusher:subscribe.
func (c *Conn) subscribe(data []byte) {
	var s protocol.Subscribe
	if err := protocol.DecodeSubscribe(data, &s); err != nil || s.Channel == "" {
		c.sendError(protocol.CodeInvalidMessage, "Invalid pusher:subscribe: data must be an object with a channel", "")
		return
	}
	name := strings.Clone(s.Channel)
	var pred *filter.Predicate
	if c.v2 {
		p, err := c.e.parseFilter(data)
		if err != nil {
			c.refuseFilter(name, err)
			return
		}
		pred = p
	}
	rw, hasRewind, err := protocol.DecodeRewind(data)
	if err != nil {
		c.sendError(protocol.CodeInvalidMessage, err.Error(), name)
		return
	}
	if hasRewind && !c.checkRewind(name) {
		return
	}
	sub, info, serr := c.authorize(name, &s)
	if serr != nil {
		c.refuseSubscription(name, serr)
		return
	}
	sub.pred = pred
	key := chanKey{c.rt, name}
	if sub.cache {
		// Before any lock: the shared cache is a network round trip.
		c.e.fetchShared(context.Background(), key)
	}
	if c.v2 && c.e.historyOn(c.app()) {
		c.e.primeHistory(key) // before any lock: a store round trip
	}
	c.prepareDelta(name, data)
	var at *attachPos
	if hasRewind {
		c.mu.Lock()
		if c.subIndex(name) < 0 { // a repeated subscribe is only re-acknowledged
			at = &attachPos{}
			c.rewindAttach = at
		}
		c.mu.Unlock()
	}
	serr = c.e.join(c, sub, info)
	if at != nil {
		c.mu.Lock()
		c.rewindAttach = nil
		c.mu.Unlock()
	}
	if serr != nil {
		c.mu.Lock()
		c.unprepareDelta(name)
		c.mu.Unlock()
		c.refuseSubscription(name, serr)
		return
	}
	if at != nil && at.ok {
		c.e.rewind(c, key, rw, at.stream, at.serial)
	} else if at != nil {
		c.sendError(protocol.CodeBadChannel, "Channel error: durable history is unavailable for channel '"+name+"'", name)
	}
}

// authorize validates the channel name and the signature, and resolves the
// presence member (from channel_data, or from the signed-in user when
// pusher-js ≥ 7.4 sends none).
func (c *Conn) authorize(name string, s *protocol.Subscribe) (subscription, []byte, *subError) {
	kind, cache := protocol.ParseChannel(name)
	sub := subscription{name: name, kind: kind, cache: cache}
	if kind == protocol.KindServerToUser {
		id, _ := protocol.ServerToUserID(name)
		c.mu.Lock()
		uid := c.userID
		c.mu.Unlock()
		if uid == "" || id != uid {
			return sub, nil, &subError{"AuthError", "A #server-to-user channel is only for the connection signed in as that user", 403}
		}
		return sub, nil, nil
	}
	maxName := c.app().maxChannelName()
	if len(name) > maxName {
		return sub, nil, &subError{"LimitReached", "Channel name is longer than " + strconv.Itoa(maxName) + " characters", 400}
	}
	if !protocol.ValidChannelName(name, maxName) {
		return sub, nil, &subError{"InvalidChannel", "Invalid channel name: use only A-Z a-z 0-9 _ - = @ , . ;", 400}
	}
	if !kind.RequiresAuth() {
		return sub, nil, nil
	}
	channelData := ""
	if kind == protocol.KindPresence && s.HasChannelData {
		channelData = s.ChannelData
	}
	if app := c.app(); !protocol.VerifyChannelAuth(app.Key, app.Secret, s.Auth, c.id, name, channelData) {
		c.e.stats.authFailures[authKind(kind)].Add(1)
		return sub, nil, &subError{"AuthError", "Invalid signature: expected HMAC SHA256 hex digest of " + c.id + ":" + name + presenceSuffix(channelData), 401}
	}
	c.authed.Store(true)
	if kind != protocol.KindPresence {
		return sub, nil, nil
	}
	return c.presenceMember(sub, s)
}

func presenceSuffix(channelData string) string {
	if channelData == "" {
		return ""
	}
	return ":<channel_data>"
}

func authKind(k protocol.Kind) int {
	if k == protocol.KindPresence {
		return authPresence
	}
	return authPrivate
}

// presenceMember resolves and checks the member a presence join adds.
func (c *Conn) presenceMember(sub subscription, s *protocol.Subscribe) (subscription, []byte, *subError) {
	var m protocol.Member
	if s.HasChannelData {
		if err := protocol.DecodePresenceMember(s.ChannelData, &m); err != nil {
			return sub, nil, &subError{"InvalidChannelData", "channel_data must be a JSON object with a user_id", 400}
		}
	} else {
		c.mu.Lock()
		m.UserID = c.userID
		if c.user != nil {
			m.UserInfo = c.user.info
		}
		c.mu.Unlock()
		if m.UserID == "" {
			return sub, nil, &subError{"AuthError", "Presence subscription without channel_data requires a signed-in connection", 401}
		}
	}
	if len(m.UserID) > maxUserIDLength {
		return sub, nil, &subError{"LimitReached", "Presence user_id is longer than 128 characters", 400}
	}
	if max := c.app().MaxPresenceMemberSizeKB; max > 0 && len(m.UserInfo) > max*1024 {
		return sub, nil, &subError{"LimitReached", "Presence user_info is larger than " + strconv.Itoa(max) + " KB", 400}
	}
	sub.userID = strings.Clone(m.UserID)
	return sub, append([]byte(nil), m.UserInfo...), nil
}

// join adds c to a channel. It holds c.mu throughout so a concurrent
// release sees either nothing or the whole join.
func (e *Engine) join(c *Conn, sub subscription, info []byte) *subError {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() == stateClosed {
		return nil
	}
	if sub.kind == protocol.KindServerToUser {
		c.send(protocol.AppendEvent(nil, protocol.EventSubscriptionSucceeded, sub.name, "{}", ""))
		return nil
	}
	if i := c.subIndex(sub.name); i >= 0 {
		e.reacknowledge(c, &c.subs[i])
		return nil
	}
	if max := c.app().MaxSubscriptionsPerConnection; max > 0 && len(c.subs) >= max {
		return &subError{"LimitReached", "Too many subscriptions on one connection (max " + strconv.Itoa(max) + ")", 400}
	}
	key := chanKey{c.rt, sub.name}
	var t transition
	var serr *subError
	var localMember bool
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			ch = &channelState{}
		}
		if sub.kind == protocol.KindPresence {
			if max := c.app().MaxPresenceMembersPerChannel; max > 0 && !ch.members.Has(sub.userID) && ch.members.Len() >= max {
				serr = &subError{"LimitReached", "Presence channel is full (max " + strconv.Itoa(max) + " members)", 400}
				return ch, ok && !ch.empty()
			}
			t.member, localMember = ch.members.Add(sub.userID, info)
		}
		before := ch.holders()
		ch.subs++
		t.count, t.occupied, t.countChanged, t.edge = ch.total(), before == 0, true, ch.subs == 1
		c.w.indexAdd(key, c, sub.pred)
		e.acknowledge(c, key, succeededData(ch, sub.kind))
		if sub.cache {
			t.cacheMiss = !e.replayCache(c, key)
		}
		if t.member {
			e.broadcast(key, protocol.AppendEvent(nil, protocol.EventMemberAdded, sub.name, memberJSON(sub.userID, info), ""), c.id)
		}
		t.countEvent = e.countEventLocked(c.app(), key, ch, sub.kind)
		return ch, true
	})
	if serr != nil {
		return serr
	}
	c.subs = append(c.subs, sub)
	e.afterJoin(c, &sub, info, localMember, &t)
	return nil
}

// transition records what a join or leave changed, for stats, webhooks and
// announcements made after the lock is released.
type transition struct {
	count        int
	occupied     bool // the channel became occupied cluster-wide
	vacated      bool // it became empty cluster-wide
	member       bool // a member was added or removed cluster-wide
	cacheMiss    bool
	countEvent   bool
	countChanged bool
	edge         bool // this node's first subscriber came or last one left
}

func (e *Engine) afterJoin(c *Conn, sub *subscription, info []byte, localMember bool, t *transition) {
	key := chanKey{c.rt, sub.name}
	c.rt.stats.subscribed[sub.kind].Add(1)
	e.cluster.countChanged(key, t.edge)
	e.reportOccupancy(key, sub.kind, t)
	if localMember {
		e.cluster.announceMember(key, sub.userID)
	}
	if t.member {
		e.reportMember(key, sub.userID, true)
	}
	if t.cacheMiss {
		e.webhook(c.app(), WebhookEvent{Kind: WebhookCacheMiss, Channel: sub.name})
	}
}

// reacknowledge answers a subscribe to a channel c already joined.
func (e *Engine) reacknowledge(c *Conn, sub *subscription) {
	key := chanKey{c.rt, sub.name}
	e.channels.View(key, func(ch *channelState) {
		if c.v2 {
			e.reacknowledgeV2(c, key, succeededData(ch, sub.kind))
			return
		}
		c.send(succeeded(sub.name, ch, sub.kind))
	})
}

// unsubscribe handles pusher:unsubscribe (no reply in protocol 7).
func (c *Conn) unsubscribe(data []byte) {
	var s protocol.Subscribe
	if err := protocol.DecodeSubscribe(data, &s); err != nil || s.Channel == "" {
		c.sendError(protocol.CodeInvalidMessage, "Invalid pusher:unsubscribe: data must be an object with a channel", "")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.subIndex(s.Channel)
	if i < 0 {
		return
	}
	sub := c.subs[i]
	c.subs = append(c.subs[:i], c.subs[i+1:]...)
	c.e.leave(c, &sub)
	c.leaveDelta(chanKey{c.rt, sub.name})
}

// leave removes c from a channel. c.mu must be held.
func (e *Engine) leave(c *Conn, sub *subscription) {
	key := chanKey{c.rt, sub.name}
	var t transition
	var localMember bool
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			return nil, false
		}
		c.w.indexRemove(key, c)
		before := ch.holders()
		ch.subs--
		t.count, t.vacated, t.countChanged, t.edge = ch.total(), before > 0 && ch.holders() == 0, true, ch.subs == 0
		if sub.kind == protocol.KindPresence {
			t.member, localMember = ch.members.Remove(sub.userID)
		}
		if t.member && !t.vacated {
			e.broadcast(key, memberRemoved(sub.name, sub.userID), "")
		}
		if !t.vacated {
			t.countEvent = e.countEventLocked(c.app(), key, ch, sub.kind)
		}
		return ch, !ch.empty()
	})
	c.rt.stats.unsubscribed[sub.kind].Add(1)
	e.cluster.countChanged(key, t.edge)
	if localMember {
		e.cluster.announceMember(key, sub.userID)
	}
	if t.member {
		e.reportMember(key, sub.userID, false)
	}
	e.reportOccupancy(key, sub.kind, &t)
}

// subIndex finds a joined channel; c.mu must be held.
func (c *Conn) subIndex(name string) int {
	for i := range c.subs {
		if c.subs[i].name == name {
			return i
		}
	}
	return -1
}

// countEventLocked sends pusher_internal:subscription_count to a
// non-presence channel of an app that enabled it. Above
// countThrottleAbove subscribers it goes out at most once per
// countWindow, and a change held back is sent when the window ends, so
// clients always end up with the current count. The channel's shard lock
// must be held.
func (e *Engine) countEventLocked(app *App, key chanKey, ch *channelState, kind protocol.Kind) bool {
	if !app.EnableSubscriptionCount || kind == protocol.KindPresence {
		return false
	}
	now := time.Now().UnixNano()
	if ch.total() > countThrottleAbove {
		if wait := ch.countAt + int64(e.countWindow) - now; wait > 0 {
			if !ch.countTrail {
				ch.countTrail = true
				time.AfterFunc(time.Duration(wait), func() { e.trailingCount(key) })
			}
			return false
		}
	}
	e.sendCountLocked(key, ch, now)
	return true
}

// countThrottleAbove is the subscriber count above which
// subscription_count events are throttled (Pusher's rule).
const countThrottleAbove = 100

func (e *Engine) sendCountLocked(key chanKey, ch *channelState, now int64) {
	ch.countAt, ch.countTrail = now, false
	data := `{"subscription_count":` + strconv.Itoa(ch.total()) + `}`
	e.broadcast(key, protocol.AppendEvent(nil, protocol.EventSubscriptionCount, key.name, data, ""), "")
}

// trailingCount sends the count held back during a throttle window, unless
// a count went out meanwhile or the channel was emptied.
func (e *Engine) trailingCount(key chanKey) {
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			return nil, false
		}
		if ch.countTrail {
			e.sendCountLocked(key, ch, time.Now().UnixNano())
		}
		return ch, !ch.empty()
	})
}

// succeeded encodes subscription_succeeded: "{}" data for ordinary
// channels, the member list for presence. The shard lock must be held.
func succeeded(name string, ch *channelState, kind protocol.Kind) []byte {
	return protocol.AppendEvent(nil, protocol.EventSubscriptionSucceeded, name, succeededData(ch, kind), "")
}

// succeededData is the data string of subscription_succeeded.
func succeededData(ch *channelState, kind protocol.Kind) string {
	if kind != protocol.KindPresence {
		return "{}"
	}
	b := []byte(`{"presence":{"ids":[`)
	ch.members.Each(func(m *shard.Member) {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = protocol.AppendJSONString(b, m.ID)
	})
	b = append(b, `],"hash":{`...)
	first := true
	ch.members.Each(func(m *shard.Member) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = protocol.AppendJSONString(b, m.ID)
		b = append(b, ':')
		b = append(b, m.Info...)
	})
	b = append(b, `},"count":`...)
	b = strconv.AppendInt(b, int64(ch.members.Len()), 10)
	b = append(b, "}}"...)
	return string(b)
}

// memberJSON is the data of member_added.
func memberJSON(id string, info []byte) string {
	b := []byte(`{"user_id":`)
	b = protocol.AppendJSONString(b, id)
	b = append(b, `,"user_info":`...)
	b = append(b, info...)
	b = append(b, '}')
	return string(b)
}
