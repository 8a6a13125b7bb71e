package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// ErrNotPresence is returned for user queries on a non-presence channel.
var ErrNotPresence = errors.New("engine: not a presence channel")

// Channel reports one channel's occupancy and counts.
func (e *Engine) Channel(_ context.Context, app *App, name string) (ChannelInfo, error) {
	info := ChannelInfo{Name: name}
	kind, _ := protocol.ParseChannel(name)
	e.channels.View(chanKey{e.runtimeFor(app), name}, func(ch *channelState) {
		info.SubscriptionCount = ch.total()
		info.Occupied = info.SubscriptionCount > 0
		if kind == protocol.KindPresence {
			info.UserCount = ch.members.Len()
		}
	})
	return info, nil
}

// Channels lists the occupied channels whose names start with prefix.
func (e *Engine) Channels(_ context.Context, app *App, prefix string) ([]ChannelInfo, error) {
	rt := e.runtimeFor(app)
	var out []ChannelInfo
	e.channels.Range(func(k chanKey, ch *channelState) bool {
		if n := ch.total(); k.app == rt && n > 0 && strings.HasPrefix(k.name, prefix) {
			out = append(out, ChannelInfo{Name: k.name, Occupied: true, SubscriptionCount: n, UserCount: ch.members.Len()})
		}
		return true
	})
	return out, nil
}

// PresenceUsers lists the distinct user ids of a presence channel.
func (e *Engine) PresenceUsers(_ context.Context, app *App, channel string) ([]string, error) {
	if kind, _ := protocol.ParseChannel(channel); kind != protocol.KindPresence {
		return nil, ErrNotPresence
	}
	ids := []string{}
	e.channels.View(chanKey{e.runtimeFor(app), channel}, func(ch *channelState) {
		ch.members.Each(func(m *shard.Member) { ids = append(ids, m.ID) })
	})
	return ids, nil
}
