package engine

import (
	"bytes"
	"encoding/json"

	"github.com/sockudo/sockudo-go/protocol"
)

// V2Fields are the V2 members of an HTTP publish (sockudo-v2.md §4),
// validated by the adapter. V1 subscribers never see any of them.
type V2Fields struct {
	// Tags is the publisher's tags as a JSON object of strings, or nil.
	Tags []byte
	// Extras is the extras object as V2 subscribers receive it, or nil.
	Extras []byte
	// MessageID is the publisher's message id; "" lets the server assign
	// one when recovery is on for the channel.
	MessageID string
	// Ephemeral is extras.ephemeral: no id, no serial, not buffered.
	Ephemeral bool
	// IdempotencyKey (body idempotency_key) and ChannelKey
	// (extras.idempotencyKey, per channel) are enforced by the HTTP layer
	// through engine/idempotency before Publish; the engine ignores them.
	IdempotencyKey string
	ChannelKey     string
	// ObjectData: data is the JSON text of the object (or other non-string
	// value) a client event carried, which filter expressions read as
	// that value; HTTP publishes leave it false (data is a string).
	ObjectData bool
	// NoDelta is the publish's `delta:false`: every subscriber gets the
	// full frame, and no delta subscriber's base changes.
	NoDelta bool
}

// meta is the V2Meta the publish's fields give a frame (nil-safe),
// without a position.
func (x *V2Fields) meta() protocol.V2Meta {
	if x == nil {
		return protocol.V2Meta{}
	}
	return protocol.V2Meta{Tags: x.Tags, Extras: x.Extras, MessageID: x.MessageID, ObjectData: x.ObjectData, NoDelta: x.NoDelta}
}

// busV2 carries a publish's V2 members to the other nodes, whose V2
// subscribers then see the same tags, extras and publisher message id.
// A sequenced message's position travels beside it (busPos).
type busV2 struct {
	Tags      json.RawMessage `json:"t,omitempty"`
	Extras    json.RawMessage `json:"x,omitempty"`
	MessageID string          `json:"m,omitempty"`
	// ObjectData is V2Fields.ObjectData.
	ObjectData bool `json:"o,omitempty"`
	NoDelta    bool `json:"d,omitempty"`
}

func busV2Of(x *V2Fields) *busV2 {
	if x == nil || len(x.Tags) == 0 && len(x.Extras) == 0 && x.MessageID == "" && !x.ObjectData && !x.NoDelta {
		return nil
	}
	return &busV2{Tags: x.Tags, Extras: x.Extras, MessageID: x.MessageID, ObjectData: x.ObjectData, NoDelta: x.NoDelta}
}

// fields turns a received busV2 back into V2Fields (nil-safe).
func (b *busV2) fields() *V2Fields {
	if b == nil {
		return nil
	}
	return &V2Fields{Tags: b.Tags, Extras: b.Extras, MessageID: b.MessageID, ObjectData: b.ObjectData, NoDelta: b.NoDelta}
}

// meta is the V2Meta of a received busV2 (nil-safe), without a
// position.
func (b *busV2) meta() protocol.V2Meta {
	if b == nil {
		return protocol.V2Meta{}
	}
	return protocol.V2Meta{Tags: b.Tags, Extras: b.Extras, MessageID: b.MessageID, ObjectData: b.ObjectData, NoDelta: b.NoDelta}
}

// PublishAck is what an HTTP publish reports per channel when the
// request asks for it (info or message_id present).
type PublishAck struct {
	Channel   string
	MessageID string // the acknowledgement id
	Serial    uint64
	HasSerial bool
	// Stored: the serial came from durable history and the message is
	// queued for it (history_serial).
	Stored bool

	onBus bool       // the message already crossed the bus (clusterstream.go)
	wait  *forwarded // forwarded to the channel's owner: its serial comes later
}

// v2Differs reports whether a V2 subscriber's frame differs from the V1
// frame of event: V2 members or a rewritten prefix.
func v2Differs(m *protocol.V2Meta, event string) bool {
	if len(m.Tags) > 0 || len(m.Extras) > 0 || m.MessageID != "" || m.HasSerial {
		return true
	}
	_, n := protocol.V2EventPrefix(event)
	return n > 0
}

// publishHTTP delivers an HTTP publish on this node and fills ev.Acks
// when ev.WantAcks. It returns the channels the other nodes still have to
// be sent (see offBus).
func (e *Engine) publishHTTP(app *App, ev *Event) []string {
	rt := e.runtimeFor(app)
	if ev.WantAcks {
		ev.Acks = ev.Acks[:0]
	}
	var onBus []bool
	for i, name := range ev.Channels {
		if id, ok := protocol.ServerToUserID(name); ok {
			e.sendToUser(rt, id, protocol.AppendEvent(nil, ev.Name, name, ev.Data, ""))
			if ev.WantAcks {
				ev.Acks = append(ev.Acks, PublishAck{Channel: name, MessageID: protocol.NewMessageID()})
			}
			continue
		}
		key := chanKey{rt, name}
		if _, isCache := protocol.ParseChannel(name); isCache {
			e.storeCache(key, ev.Name, ev.Data)
		}
		ack := e.publishApp(app, key, ev.Name, ev.Data, "", ev.SocketID, ev.V2, true)
		if ack.onBus {
			if onBus == nil {
				onBus = make([]bool, len(ev.Channels))
			}
			onBus[i] = true
		}
		if ev.WantAcks {
			if ack.MessageID == "" {
				ack.MessageID = protocol.NewMessageID()
			}
			ev.Acks = append(ev.Acks, ack)
		}
	}
	return offBus(ev.Channels, onBus)
}

// recoveryOn reports whether broadcasts of app get stream positions:
// the global connection_recovery switch and the app's policy.
func (e *Engine) recoveryOn(app *App) bool {
	return e.opts.V2.Recovery != nil && !app.RecoveryDisabled
}

// recoveryMax is how many messages one channel may replay (and keep).
func (e *Engine) recoveryMax(app *App) int {
	if app.RecoveryMaxBufferSize > 0 {
		return app.RecoveryMaxBufferSize
	}
	return e.opts.V2.RecoveryMaxBufferSize
}

// publishApp publishes one event of app to one channel. With recovery on
// (and the message not ephemeral) the message gets a message id and the
// channel's next serial, and is kept in the replay buffer; the fan-out
// happens under the buffer's channel lock, so every worker sees serials
// in order. In a cluster the channel's owner assigns the serial: a
// publish elsewhere is forwarded to it (clusterstream.go). With durable
// history on, the history store positions it instead (publishStored).
// cache says whether cache channels keep the event (HTTP publishes).
func (e *Engine) publishApp(app *App, key chanKey, event, data, userID, except string, x *V2Fields, cache bool) PublishAck {
	ack := PublishAck{Channel: key.name}
	if x != nil {
		ack.MessageID = x.MessageID
	}
	ephemeral := x != nil && x.Ephemeral && !e.opts.V2.EphemeralDisabled
	stored := !ephemeral && e.historyOn(app)
	if !stored && (!e.recoveryOn(app) || ephemeral) {
		e.publishEvent(key, event, data, userID, except, x)
		return ack
	}
	m := x.meta()
	if m.MessageID == "" {
		m.MessageID = protocol.NewMessageID()
	}
	if to := e.cluster.sequencer(key.name); to != "" {
		if f := e.forward(to, key, event, data, userID, except, &m, cache); f != nil {
			ack.MessageID, ack.wait, ack.onBus, ack.Stored = m.MessageID, f, true, stored
			return ack
		}
	}
	if stored {
		return e.publishStored(app, key, event, data, userID, except, &m, cache, ack)
	}
	e.sequence(app, key, event, data, userID, except, &m, cache, "", 0)
	ack.MessageID, ack.Serial, ack.HasSerial, ack.onBus = m.MessageID, m.Serial, true, e.cluster.enabled()
	return ack
}

// liveRange is the contiguous run of serials of one channel a V2
// connection has received, for the continuity gate: a live message or a
// replayed one inside it is a duplicate and is skipped. Owned by the
// connection's worker.
type liveRange struct {
	stream      string
	first, last uint64 // empty when first > last
}

// attach starts channel's range at the position subscription_succeeded
// announced: nothing received yet, the next serial expected is serial+1.
func (c *Conn) attach(channel, stream string, serial uint64) {
	*c.liveRange(channel) = liveRange{stream: stream, first: serial + 1, last: serial}
}

// liveRange returns channel's range, creating an empty one. One map
// lookup per delivery: the range is updated in place.
func (c *Conn) liveRange(channel string) *liveRange {
	if r, ok := c.live[channel]; ok {
		return r
	}
	if c.live == nil {
		c.live = make(map[string]*liveRange)
	}
	r := &liveRange{first: 1}
	c.live[channel] = r
	return r
}

// gateLive records a live delivery of serial and reports whether c should
// get it (false: a replay already delivered it).
func (c *Conn) gateLive(channel, stream string, serial uint64) bool {
	r := c.liveRange(channel)
	switch {
	case r.stream != stream:
		*r = liveRange{stream: stream, first: serial, last: serial}
	case serial >= r.first && serial <= r.last:
		return false
	case serial > r.last:
		r.last = serial
		if r.first > r.last {
			r.first = serial
		}
	default:
		r.first = serial
	}
	return true
}

// replayBatch is one channel's replay for a resume: frames holds the
// messages as WebSocket frames back to back, ends[i] where message i
// ends, serials[i] its serial.
type replayBatch struct {
	channel, stream string
	from, head      uint64
	serials         []uint64
	ends            []int
}

// replay delivers a resume's messages that c has not received live, then
// makes c's range cover everything up to the channel's head.
func (w *worker) replay(j *job) {
	c, rb := j.conn, j.replay
	r := c.liveRange(rb.channel)
	ok := r.stream == rb.stream
	rf := w.replayFilterOf(chanKey{c.rt, rb.channel}, c)
	start, sent := 0, 0
	for i, s := range rb.serials {
		end := rb.ends[i]
		if !ok || s < r.first || s > r.last {
			if b, pass := rf.frame(j.f.b[start:end]); pass {
				w.queue(c, b)
				sent++
			}
		}
		start = end
	}
	w.e.stats.replayed.Add(uint64(sent))
	w.resetDelta(c, rb.channel)
	nr := liveRange{stream: rb.stream, first: rb.from + 1, last: rb.head}
	if ok && r.last > nr.last {
		nr.last = r.last
	}
	*r = nr
}

// messageIDOf extracts the message_id of a V2 frame this server encoded.
func messageIDOf(payload []byte) string {
	const key = `"message_id":"`
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return ""
	}
	rest := payload[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// publishStored positions a message this node owns with durable history
// on: the position comes from the history store (see publishHistory). A
// publish on another node reaches it forwarded (clusterhistory.go).
func (e *Engine) publishStored(app *App, key chanKey, event, data, userID, except string, m *protocol.V2Meta, cache bool, ack PublishAck) PublishAck {
	ack.onBus = e.cluster.enabled()
	if e.publishHistory(app, key, event, data, userID, except, m, cache, "", 0) {
		e.stats.v2Buffered.Add(1)
		ack.MessageID, ack.Serial, ack.HasSerial, ack.Stored = m.MessageID, m.Serial, true, true
	}
	return ack
}
