package engine

import (
	"strconv"
	"time"

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
	if e.acknowledgeHistory(c, key, data, id) {
		return
	}
	if !e.recoveryOn(c.app()) {
		c.ack(key, protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, false, "", 0, id))
		return
	}
	if m, ok := c.resumed[key.name]; ok {
		delete(c.resumed, key.name)
		e.acknowledgeResumed(c, key, data, id, m)
		return
	}
	e.opts.V2.Recovery.Head(key.app.id, key.name, func(stream string, serial uint64) {
		e.pushAck(c, key, data, id, stream, serial)
	})
}

// pushAck queues subscription_succeeded at position stream/serial; the
// worker starts c's continuity gate there. Called under the channel's
// replay-buffer lock.
func (e *Engine) pushAck(c *Conn, key chanKey, data, id, stream string, serial uint64) {
	msg := protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, true, stream, serial, id)
	f := e.frames.get()
	p := append(f.payload(), msg...)
	c.w.push(job{kind: jobAck, conn: c, key: key, f: f.seal(p, 1), stream: stream, serial: serial})
}

// acknowledgeResumed subscribes c to a channel a resume already replayed
// up to m: under one buffer lock it queues subscription_succeeded and
// then everything published since the resume, so c gets those once, in
// serial order, before any later live message. When the buffer can no
// longer serve them, c is acknowledged as usual and then gets a
// resume_failed for the channel (after subscription_succeeded, so the
// official client, already subscribed, only drops its stale position).
func (e *Engine) acknowledgeResumed(c *Conn, key chanKey, data, id string, m resumeMark) {
	rb := e.opts.V2.Recovery
	col := &replayCollector{batch: replayBatch{channel: key.name, from: m.serial}}
	var cur, reason string
	var head, oldest uint64
	rb.Replay(key.app.id, key.name, m.stream, m.serial, e.recoveryMax(c.app()), col.emit,
		func(s string, h, o uint64, r string) {
			cur, head, oldest, reason = s, h, o, r
			if r != "" {
				return
			}
			e.pushAck(c, key, data, id, s, h)
			if len(col.batch.serials) > 0 {
				col.push(c, s, h)
			}
		})
	if reason == "" {
		return
	}
	rb.Head(key.app.id, key.name, func(stream string, serial uint64) {
		e.pushAck(c, key, data, id, stream, serial)
	})
	code := failPositionExpired
	if reason == ReasonStreamMismatch {
		code = failStreamReset
	}
	c.failResume(key.name, m.stream, code, reason, cur, head, oldest)
}

// reacknowledgeV2 answers a V2 subscribe to a channel c already joined:
// the same frame as acknowledge, without touching the continuity gate.
func (e *Engine) reacknowledgeV2(c *Conn, key chanKey, data string) {
	id := protocol.NewMessageID()
	if e.historyOn(c.app()) {
		if s, ok := e.history.seqs.Load(key); ok {
			s.mu.Lock()
			if !s.dead && (s.primed || s.end != 0) {
				head := s.lastSerial()
				c.sendExact(protocol.AppendV2SubscriptionSucceeded(nil, key.name, withAttachSerial(data, head), e.recoveryOn(c.app()), s.stream, head, id))
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
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

// acknowledgeHistory acknowledges a V2 subscribe to a channel with
// durable history on and its stream known here (primeHistory): data
// gets attach_serial, the channel's last assigned serial, and with
// recovery on the top level gets the same position. It is read and the
// frame queued under the channel's sequencer lock, which every history
// publish holds while delivering, so messages up to attach_serial came
// before the subscription and every later one reaches c after the frame.
// With c.rewindAttach set (a subscribe asking for rewind) the worker
// then holds the channel's live frames until the rewind is delivered.
func (e *Engine) acknowledgeHistory(c *Conn, key chanKey, data, id string) bool {
	app := c.app()
	if !e.historyOn(app) {
		return false
	}
	s, ok := e.history.seqs.Load(key)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead || !s.primed && s.end == 0 {
		return false
	}
	s.lastUsed = time.Now().UnixNano()
	head := s.lastSerial()
	data = withAttachSerial(data, head)
	msg := protocol.AppendV2SubscriptionSucceeded(nil, key.name, data, e.recoveryOn(app), s.stream, head, id)
	f := e.frames.get()
	p := append(f.payload(), msg...)
	c.w.push(job{kind: jobAck, conn: c, key: key, f: f.seal(p, 1), stream: s.stream, serial: head, gate: c.rewindAttach != nil})
	if c.attachSerials == nil {
		c.attachSerials = make(map[string]uint64)
	}
	c.attachSerials[key.name] = head
	if c.rewindAttach != nil {
		c.rewindAttach.stream, c.rewindAttach.serial, c.rewindAttach.ok = s.stream, head, true
	}
	return true
}

// withAttachSerial adds attach_serial to a subscription_succeeded data
// object.
func withAttachSerial(data string, serial uint64) string {
	b := []byte(data[:len(data)-1])
	if len(data) > 2 {
		b = append(b, ',')
	}
	b = append(b, `"attach_serial":`...)
	b = strconv.AppendUint(b, serial, 10)
	return string(append(b, '}'))
}
