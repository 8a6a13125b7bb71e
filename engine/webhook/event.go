package webhook

import (
	"strconv"
	"strings"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// matches reports whether t wants ev.
func (t *target) matches(ev *engine.WebhookEvent) bool {
	if t.types != nil && !t.types[string(ev.Kind)] {
		return false
	}
	f := &t.Filter
	ch := ev.Channel
	if f.ChannelPrefix != "" && !strings.HasPrefix(ch, f.ChannelPrefix) {
		return false
	}
	if f.ChannelSuffix != "" && !strings.HasSuffix(ch, f.ChannelSuffix) {
		return false
	}
	if t.pattern != nil && !t.pattern.MatchString(ch) {
		return false
	}
	if f.ChannelNamespace != "" || t.spaces != nil {
		ns, _, ok := strings.Cut(ch, ":")
		if !ok {
			ns = ""
		}
		if f.ChannelNamespace != "" && ns != f.ChannelNamespace {
			return false
		}
		if t.spaces != nil && !t.spaces[ns] {
			return false
		}
	}
	return true
}

// appendEvent appends ev as a Pusher webhook event object
// (pusher-protocol.md §2.4). user_id and data are always strings, which
// the Go SDK requires.
func appendEvent(dst []byte, ev *engine.WebhookEvent) []byte {
	dst = append(dst, `{"name":`...)
	dst = protocol.AppendJSONString(dst, string(ev.Kind))
	dst = append(dst, `,"channel":`...)
	dst = protocol.AppendJSONString(dst, ev.Channel)
	field := func(name, v string) {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		dst = protocol.AppendJSONString(dst, v)
	}
	switch ev.Kind {
	case engine.WebhookChannelOccupied, engine.WebhookChannelVacated, engine.WebhookCacheMiss:
	case engine.WebhookMemberAdded, engine.WebhookMemberRemoved:
		field("user_id", ev.UserID)
	case engine.WebhookClientEvent:
		field("event", ev.Event)
		field("data", ev.Data)
		if ev.SocketID != "" {
			field("socket_id", ev.SocketID)
		}
		if ev.UserID != "" {
			field("user_id", ev.UserID)
		}
	case engine.WebhookSubscriptionCount:
		dst = append(dst, `,"subscription_count":`...)
		dst = strconv.AppendInt(dst, int64(ev.SubscriptionCount), 10)
	default:
		if ev.UserID != "" {
			field("user_id", ev.UserID)
		}
	}
	return append(dst, '}')
}

// appendBody appends the POST body {"time_ms":…,"events":[…]}.
func appendBody(dst []byte, timeMS int64, evs []engine.WebhookEvent) []byte {
	dst = append(dst, `{"time_ms":`...)
	dst = strconv.AppendInt(dst, timeMS, 10)
	dst = append(dst, `,"events":[`...)
	for i := range evs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendEvent(dst, &evs[i])
	}
	return append(dst, ']', '}')
}
