package engine

import (
	"strings"

	"github.com/sockudo/sockudo-go/protocol"
)

// pongMessage is the reply to pusher:ping, encoded once.
var pongMessage = []byte(`{"event":"pusher:pong","data":{}}`)

// handle dispatches one client text message. Protocol events are
// accepted with any of Sockudo's prefixes (pusher:, pusher_internal:,
// sockudo:, sockudo_internal:) on V1 and V2 alike, as Sockudo does.
func (c *Conn) handle(payload []byte) {
	var m protocol.ClientMessage
	if err := protocol.DecodeClientMessage(payload, &m); err != nil {
		c.sendError(protocol.CodeInvalidMessage, "Invalid message: "+err.Error(), "")
		return
	}
	if name, ok := protocol.CanonicalEvent(m.Event); ok && c.handleProtocol(name, &m) {
		return
	}
	if strings.HasPrefix(m.Event, protocol.ClientEventPrefix) {
		c.clientEvent(&m)
		return
	}
	if m.Event == "channel_history" {
		c.channelHistory(m.Data) // Sockudo also takes it unprefixed
		return
	}
	if c.v2 {
		// Sockudo ignores unknown events; the official V2 client sends
		// some this server does not serve yet (auth), which must not
		// turn into errors on the client.
		c.e.log.Debug("V2 event ignored", "app", c.app().ID, "socket_id", c.id, "event", truncate(m.Event, 64))
		return
	}
	c.sendError(protocol.CodeInvalidMessage, "Unknown event "+truncate(m.Event, 64)+": the server handles pusher:* events and client-* events", "")
}

// handleProtocol handles a protocol event by its unprefixed name and
// reports whether it knew it.
func (c *Conn) handleProtocol(name string, m *protocol.ClientMessage) bool {
	switch name {
	case "ping":
		if c.v2 {
			c.sendExact(v2PongMessage)
		} else {
			c.send(pongMessage)
		}
	case "pong":
		// Activity is already recorded; nothing to answer.
	case "subscribe":
		c.subscribe(m.Data)
	case "unsubscribe":
		c.unsubscribe(m.Data)
	case "signin":
		c.signin(m.Data)
	case "resume":
		c.resume(m.Data)
	case "channel_history":
		c.channelHistory(m.Data)
	case "enable_delta_compression", "delta_sync_error":
		if !c.v2 {
			return false // V1 answers them as before: unknown event
		}
		if name == "delta_sync_error" {
			c.deltaSyncError(m.Data)
		} else {
			c.enableDelta()
		}
	default:
		return false
	}
	return true
}

// truncate keeps error messages bounded whatever the client sent.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
