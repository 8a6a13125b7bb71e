package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// channelState is one channel's node-wide state, guarded by its registry
// shard lock. Every transition (occupied, member added, …) is decided under
// that lock, so the frames it causes are ordered with the joins and leaves.
type channelState struct {
	subs    int // connections subscribed
	members shard.Members
	countAt int64 // unix nanos of the last subscription_count event
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
	sub, info, serr := c.authorize(name, &s)
	if serr != nil {
		c.send(protocol.AppendSubscriptionError(nil, name, serr.typ, serr.msg, serr.status))
		return
	}
	if serr := c.e.join(c, sub, info); serr != nil {
		c.send(protocol.AppendSubscriptionError(nil, name, serr.typ, serr.msg, serr.status))
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
	if max := c.app.maxChannelName(); len(name) > max {
		return sub, nil, &subError{"LimitReached", "Channel name is longer than " + strconv.Itoa(max) + " characters", 400}
	}
	if !protocol.ValidChannelName(name, c.app.maxChannelName()) {
		return sub, nil, &subError{"InvalidChannel", "Invalid channel name: use only A-Z a-z 0-9 _ - = @ , . ;", 400}
	}
	if !kind.RequiresAuth() {
		return sub, nil, nil
	}
	channelData := ""
	if kind == protocol.KindPresence && s.HasChannelData {
		channelData = s.ChannelData
	}
	if !protocol.VerifyChannelAuth(c.app.Key, c.app.Secret, s.Auth, c.id, name, channelData) {
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
		m.UserID, m.UserInfo = c.userID, c.userInfo
		c.mu.Unlock()
		if m.UserID == "" {
			return sub, nil, &subError{"AuthError", "Presence subscription without channel_data requires a signed-in connection", 401}
		}
	}
	if len(m.UserID) > maxUserIDLength {
		return sub, nil, &subError{"LimitReached", "Presence user_id is longer than 128 characters", 400}
	}
	if max := c.app.MaxPresenceMemberSizeKB; max > 0 && len(m.UserInfo) > max*1024 {
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
	if max := c.app.MaxSubscriptionsPerConnection; max > 0 && len(c.subs) >= max {
		return &subError{"LimitReached", "Too many subscriptions on one connection (max " + strconv.Itoa(max) + ")", 400}
	}
	key := chanKey{c.rt, sub.name}
	var t transition
	var serr *subError
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			ch = &channelState{}
		}
		if sub.kind == protocol.KindPresence {
			if max := c.app.MaxPresenceMembersPerChannel; max > 0 && !ch.members.Has(sub.userID) && ch.members.Len() >= max {
				serr = &subError{"LimitReached", "Presence channel is full (max " + strconv.Itoa(max) + " members)", 400}
				return ch, ok
			}
			t.member = ch.members.Add(sub.userID, info)
		}
		ch.subs++
		t.count, t.occupied = ch.subs, ch.subs == 1
		c.send(succeeded(sub.name, ch, sub.kind))
		if sub.cache {
			t.cacheMiss = !e.replayCache(c, key)
		}
		c.w.indexAdd(key, c)
		if t.member {
			e.broadcast(key, protocol.AppendEvent(nil, protocol.EventMemberAdded, sub.name, memberJSON(sub.userID, info), ""), c.id)
		}
		t.countEvent = e.countEventLocked(c.app, key, ch, sub.kind)
		return ch, true
	})
	if serr != nil {
		return serr
	}
	c.subs = append(c.subs, sub)
	e.afterJoin(c, &sub, &t)
	return nil
}

// transition records what a join or leave changed, for stats and webhooks
// emitted after the lock is released.
type transition struct {
	count      int
	occupied   bool // join made the channel occupied
	vacated    bool // leave emptied it
	member     bool // member added or removed
	cacheMiss  bool
	countEvent bool
}

func (e *Engine) afterJoin(c *Conn, sub *subscription, t *transition) {
	st := &c.rt.stats
	st.subscribed[sub.kind].Add(1)
	if t.occupied {
		st.channels[sub.kind].Add(1)
		e.webhook(c.app, WebhookEvent{Kind: WebhookChannelOccupied, Channel: sub.name})
	}
	if t.member {
		st.presenceUsers.Add(1)
		e.webhook(c.app, WebhookEvent{Kind: WebhookMemberAdded, Channel: sub.name, UserID: sub.userID})
	}
	if t.cacheMiss {
		e.webhook(c.app, WebhookEvent{Kind: WebhookCacheMiss, Channel: sub.name})
	}
	if t.countEvent || e.opts.Hooks != nil && sub.kind != protocol.KindPresence {
		e.webhook(c.app, WebhookEvent{Kind: WebhookSubscriptionCount, Channel: sub.name, SubscriptionCount: t.count})
	}
}

// reacknowledge answers a subscribe to a channel c already joined.
func (e *Engine) reacknowledge(c *Conn, sub *subscription) {
	key := chanKey{c.rt, sub.name}
	e.channels.View(key, func(ch *channelState) {
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
}

// leave removes c from a channel. c.mu must be held.
func (e *Engine) leave(c *Conn, sub *subscription) {
	key := chanKey{c.rt, sub.name}
	var t transition
	e.channels.Update(key, func(ch *channelState, ok bool) (*channelState, bool) {
		if !ok {
			return nil, false
		}
		c.w.indexRemove(key, c)
		ch.subs--
		t.count, t.vacated = ch.subs, ch.subs == 0
		if sub.kind == protocol.KindPresence {
			t.member = ch.members.Remove(sub.userID)
		}
		if t.member && !t.vacated {
			e.broadcast(key, protocol.AppendEvent(nil, protocol.EventMemberRemoved, sub.name, `{"user_id":`+string(protocol.AppendJSONString(nil, sub.userID))+`}`, ""), "")
		}
		if !t.vacated {
			t.countEvent = e.countEventLocked(c.app, key, ch, sub.kind)
		}
		return ch, !t.vacated
	})
	st := &c.rt.stats
	st.unsubscribed[sub.kind].Add(1)
	if t.member {
		st.presenceUsers.Add(-1)
		e.webhook(c.app, WebhookEvent{Kind: WebhookMemberRemoved, Channel: sub.name, UserID: sub.userID})
	}
	if t.vacated {
		st.channels[sub.kind].Add(-1)
		e.webhook(c.app, WebhookEvent{Kind: WebhookChannelVacated, Channel: sub.name})
	}
	if t.countEvent || e.opts.Hooks != nil && sub.kind != protocol.KindPresence {
		e.webhook(c.app, WebhookEvent{Kind: WebhookSubscriptionCount, Channel: sub.name, SubscriptionCount: t.count})
	}
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
// non-presence channel of an app that enabled it, at most once per 5 s
// above 100 subscribers. The channel's shard lock must be held.
func (e *Engine) countEventLocked(app *App, key chanKey, ch *channelState, kind protocol.Kind) bool {
	if !app.EnableSubscriptionCount || kind == protocol.KindPresence {
		return false
	}
	now := time.Now().UnixNano()
	if ch.subs > 100 && now-ch.countAt < int64(5*time.Second) {
		return false
	}
	ch.countAt = now
	data := `{"subscription_count":` + strconv.Itoa(ch.subs) + `}`
	e.broadcast(key, protocol.AppendEvent(nil, protocol.EventSubscriptionCount, key.name, data, ""), "")
	return true
}

// succeeded encodes subscription_succeeded: "{}" data for ordinary
// channels, the member list for presence. The shard lock must be held.
func succeeded(name string, ch *channelState, kind protocol.Kind) []byte {
	if kind != protocol.KindPresence {
		return protocol.AppendEvent(nil, protocol.EventSubscriptionSucceeded, name, "{}", "")
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
	return protocol.AppendEvent(nil, protocol.EventSubscriptionSucceeded, name, string(b), "")
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
