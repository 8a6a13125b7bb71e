package engine

import (
	"github.com/sockudo/sockudo-go/protocol"
)

// acknowledge queues subscription_succeeded with data for c. A V2
// connection gets sockudo_internal:subscription_succeeded with a message
// id and, when recovery is on, the channel's stream_id and serial at the
// top level; that position is read and the frame queued under the
// replay buffer's channel lock, so every later serial reaches c after it
// and none before it is announced as received.
func (e *Engine) acknowledge(c *Conn, key chanKey, data string) {
	if !c.v2 {
		c.ack(key, protocol.AppendEvent(nil, protocol.EventSubscriptionSucceeded, key.name, data, ""))
		return
	}
	id := protocol.NewMessageID()
	if !e.recoveryOn(c.app()) {
		c.ack(key, protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, false, "", 0, id))
		return
	}
	e.opts.V2.Recovery.Head(key.app.id, key.name, func(stream string, serial uint64) {
		msg := protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, true, stream, serial, id)
		f := e.frames.get()
		p := append(f.payload(), msg...)
		c.w.push(job{kind: jobAck, conn: c, key: key, f: f.seal(p, 1), stream: stream, serial: serial})
	})
}

// reacknowledgeV2 answers a V2 subscribe to a channel c already joined:
// the same frame as acknowledge, without touching the continuity gate.
func (e *Engine) reacknowledgeV2(c *Conn, key chanKey, data string) {
	id := protocol.NewMessageID()
	if !e.recoveryOn(c.app()) {
		c.sendExact(protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, false, "", 0, id))
		return
	}
	e.opts.V2.Recovery.Head(key.app.id, key.name, func(stream string, serial uint64) {
		c.sendExact(protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, true, stream, serial, id))
	})
}

// v2SubscribeCode maps a refused subscription's Pusher error type to the
// code of the sockudo:error a V2 connection receives instead of
// pusher:subscription_error, which Sockudo does not send on V2.
func v2SubscribeCode(typ string) protocol.Code {
	switch typ {
	case "AuthError":
		return protocol.CodeUnauthorized
	case "LimitReached":
		return protocol.CodeOverCapacity
	}
	return protocol.CodeBadChannel
}

// refuseSubscription answers a refused subscribe: pusher:subscription_error
// on V1; on V2 a non-fatal sockudo:error {code, message}, as Sockudo sends.
func (c *Conn) refuseSubscription(channel string, serr *subError) {
	if !c.v2 {
		c.send(protocol.AppendSubscriptionError(nil, channel, serr.typ, serr.msg, serr.status))
		return
	}
	c.sendError(v2SubscribeCode(serr.typ), serr.msg+" (channel "+channel+")", "")
}
