package engine

import (
	"strings"

	"github.com/sockudo/sockudo-go/protocol"
)

// pongMessage is the reply to pusher:ping, encoded once.
var pongMessage = []byte(`{"event":"pusher:pong","data":{}}`)

// handle dispatches one client text message.
func (c *Conn) handle(payload []byte) {
	var m protocol.ClientMessage
	if err := protocol.DecodeClientMessage(payload, &m); err != nil {
		c.sendError(protocol.CodeInvalidMessage, "Invalid message: "+err.Error(), "")
		return
	}
	switch m.Event {
	case protocol.EventPing:
		c.send(pongMessage)
	case protocol.EventPong:
		// Activity is already recorded; nothing to answer.
	case protocol.EventSubscribe:
		c.subscribe(m.Data)
	case protocol.EventUnsubscribe:
		c.unsubscribe(m.Data)
	case protocol.EventSignin:
		c.signin(m.Data)
	default:
		if strings.HasPrefix(m.Event, protocol.ClientEventPrefix) {
			c.clientEvent(&m)
			return
		}
		c.sendError(protocol.CodeInvalidMessage, "Unknown event "+truncate(m.Event, 64)+": the server handles pusher:* events and client-* events", "")
	}
}

// truncate keeps error messages bounded whatever the client sent.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
