package engine

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// clientEvent relays a client-* event to the other subscribers of a private
// or presence channel the sender joined. Rejections answer pusher:error
// 4301 with the channel and keep the connection open (a close with 43xx
// would stop pusher-js from reconnecting).
func (c *Conn) clientEvent(m *protocol.ClientMessage) {
	reject := func(msg string) {
		c.sendError(protocol.CodeClientEventRejected, msg, m.Channel)
	}
	app := c.app()
	if !app.EnableClientMessages {
		reject("Client events are not enabled for this app")
		return
	}
	kind, _ := protocol.ParseChannel(m.Channel)
	if kind != protocol.KindPrivate && kind != protocol.KindPresence {
		reject("Client events are only supported on private and presence channels")
		return
	}
	if max := maxOr(app.MaxEventNameLength, 200); len(m.Event) > max {
		reject("Client event name is longer than " + strconv.Itoa(max) + " characters")
		return
	}
	if max := app.MaxEventPayloadKB; max > 0 && len(m.Data) > max*1024 {
		reject("Client event data is larger than " + strconv.Itoa(max) + " KB")
		return
	}
	if !c.allowClientEvent() {
		if obs := c.e.opts.Observer; obs != nil {
			obs.ClientEventLimited()
		}
		msg := "Client event rejected: rate limit of " + strconv.Itoa(app.MaxClientEventsPerSecond) + " events per second exceeded"
		if app.TerminateOnClientEventLimit {
			c.closeWith(protocol.CodeClientEventRejected, msg)
			return
		}
		reject(msg)
		return
	}
	userID, ok := c.memberOf(m.Channel)
	if !ok {
		reject("Client event rejected: not subscribed to " + m.Channel)
		return
	}
	data := clientData(m.Data)
	if kind != protocol.KindPresence {
		userID = ""
	}
	// The message aliases the read buffer: the job outlives it.
	channel := strings.Clone(m.Channel)
	except := c.id
	if c.v2 && c.echo {
		except = "" // V2 echo control: the sender gets its own event
	}
	var x *V2Fields
	if objectData(m.Data) {
		x = &V2Fields{ObjectData: true}
	}
	ack := c.e.publishApp(c.app(), chanKey{c.rt, channel}, m.Event, data, userID, except, x, false)
	if c.e.cluster.enabled() && !ack.onBus {
		c.e.cluster.publish(&busMsg{T: msgPublish, App: c.rt.id, Channels: []string{channel}, Event: m.Event, Data: data, Except: c.id, User: userID, V2: busV2Of(x)})
	}
	c.e.webhook(app, WebhookEvent{Kind: WebhookClientEvent, Channel: channel,
		Event: strings.Clone(m.Event), Data: data, SocketID: c.id, UserID: userID})
}

// allowClientEvent applies the per-connection limit of client events per
// second, over a fixed window (one second unless the app sets decay_seconds).
func (c *Conn) allowClientEvent() bool {
	app := c.app() // one generation of the app for the whole check
	max := app.MaxClientEventsPerSecond
	if max <= 0 {
		return true
	}
	window := app.ClientEventWindow
	if window <= 0 {
		window = time.Second
	}
	now := time.Now().UnixNano()
	if now-c.evStart >= int64(window) {
		c.evStart, c.evCount = now, 0
	}
	if c.evCount < math.MaxInt32 {
		c.evCount++
	}
	return int(c.evCount) <= max
}

// memberOf reports whether c joined channel, and its presence user id.
func (c *Conn) memberOf(channel string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.subIndex(channel)
	if i < 0 {
		return "", false
	}
	return c.subs[i].userID, true
}

// clientData turns a client event's data into the string relayed on the
// wire: a JSON string is unquoted, anything else (pusher-js sends objects)
// is its JSON text, stringified once.
func clientData(raw []byte) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// objectData reports whether a client event's data is a JSON value other
// than a string, which filters see as that value (see V2Fields.ObjectData).
func objectData(raw []byte) bool {
	return len(raw) > 0 && raw[0] != '"'
}

func maxOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
