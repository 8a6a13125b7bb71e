package engine

import (
	"context"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Rewind errors (sockudo-v2.md §9), code 4300.
const (
	msgRewindV1     = "Channel error: Channel rewind is only supported on protocol V2"
	msgRewindPolicy = "Channel error: Channel rewind is disabled by policy for channel '"
)

// maxGateFrames bounds the live frames one channel's attach gate holds
// while its rewind is read (websocket.max_messages' default); beyond it
// the connection is closed, as Sockudo does, rather than lose a message.
const maxGateFrames = 1000

// attachGate holds the live frames of one channel of a V2 connection
// while the channel's rewind is read from the store. Owned by the
// connection's worker.
type attachGate struct {
	holders int            // rewinds and resumes waiting on it
	floor   uint64         // highest serial they sent: held frames up to it are duplicates
	rewinds []*rewindBatch // rewinds whose rewind_complete follows the flush
	frames  [][]byte       // copies of the held WebSocket frames
	serials []uint64
	bytes   int
}

// hold keeps a live frame back; false when the gate is full.
func (g *attachGate) hold(b []byte, serial uint64, maxBytes int) bool {
	if len(g.frames) >= maxGateFrames || g.bytes+len(b) > maxBytes {
		return false
	}
	g.frames = append(g.frames, append([]byte(nil), b...))
	g.serials = append(g.serials, serial)
	g.bytes += len(b)
	return true
}

// gated reports whether c holds live frames of channel back, and holds
// b if so (closing c when the gate overflows). Worker only.
func (w *worker) gated(c *Conn, channel string, b []byte, serial uint64) bool {
	g := c.gates[channel]
	if g == nil {
		return false
	}
	if !g.hold(b, serial, w.e.opts.MaxBackpressure) {
		c.closeWith(protocol.CodeOverCapacity, "Rewind gate overflow")
	}
	return true
}

// openGate starts holding channel's live frames for c (jobAck of a
// subscribe with rewind).
func (c *Conn) openGate(channel string) {
	if c.gates == nil {
		c.gates = make(map[string]*attachGate)
	}
	g := c.gates[channel]
	if g == nil {
		g = &attachGate{}
		c.gates[channel] = g
	}
	g.holders++
}

// rewindBatch is a rewind's historical messages, read off the worker,
// and what rewind_complete reports.
type rewindBatch struct {
	replayBatch
	retention, limited bool
	failed             string // non-empty: send this error instead
	resume             bool   // a cold resume's replay, not a rewind
}

// finishRewind runs on the worker: the historical messages now; the
// held live frames newer than them and rewind_complete once nothing else
// (a cold resume of the same channel) holds the gate.
func (w *worker) finishRewind(j *job) {
	c, rb := j.conn, j.rewind
	g := c.gates[rb.channel]
	if g == nil {
		return // unsubscribed or closed meanwhile
	}
	w.resetDelta(c, rb.channel)
	if rb.resume {
		w.finishColdResume(c, g, rb, j.f.b)
		return
	}
	var last uint64
	if rb.failed != "" {
		w.queue(c, protocol.AppendFrame(nil, protocol.OpText, c.errorMessage(protocol.CodeBadChannel, rb.failed, rb.channel)))
	} else {
		rf := w.replayFilterOf(chanKey{c.rt, rb.channel}, c)
		start, sent := 0, rb.serials[:0]
		for i, s := range rb.serials {
			if b, pass := rf.frame(j.f.b[start:rb.ends[i]]); pass {
				w.queue(c, b)
				sent = append(sent, s) // historical_count counts what was sent
			}
			start, last = rb.ends[i], s
		}
		rb.serials = sent
		g.rewinds = append(g.rewinds, rb)
	}
	w.releaseGate(c, g, rb.channel, last)
}

// releaseGate drops one holder of c's gate on channel, last being the
// highest serial it sent; the last holder flushes the held frames newer
// than everything sent and then the rewinds' rewind_complete frames.
func (w *worker) releaseGate(c *Conn, g *attachGate, channel string, last uint64) {
	g.floor = max(g.floor, last)
	if g.holders--; g.holders > 0 {
		return
	}
	delete(c.gates, channel)
	live := 0
	for i, b := range g.frames {
		if g.serials[i] > g.floor {
			w.queue(c, b)
			live++
		}
	}
	for _, rb := range g.rewinds {
		w.queue(c, protocol.AppendFrame(nil, protocol.OpText, rewindComplete(rb, live)))
		w.e.stats.rewinds.Add(1)
	}
}

func rewindComplete(rb *rewindBatch, live int) []byte {
	msg := []byte(`{"event":"sockudo:rewind_complete","channel":`)
	msg = protocol.AppendJSONString(msg, rb.channel)
	msg = append(msg, `,"data":{"historical_count":`...)
	msg = strconv.AppendInt(msg, int64(len(rb.serials)), 10)
	msg = append(msg, `,"live_count":`...)
	msg = strconv.AppendInt(msg, int64(live), 10)
	msg = append(msg, `,"complete":`...)
	msg = strconv.AppendBool(msg, !rb.retention && !rb.limited)
	msg = append(msg, `,"truncated_by_retention":`...)
	msg = strconv.AppendBool(msg, rb.retention)
	msg = append(msg, `,"truncated_by_limit":`...)
	msg = strconv.AppendBool(msg, rb.limited)
	msg = append(msg, `},"message_id":`...)
	msg = protocol.AppendJSONString(msg, protocol.NewMessageID())
	return append(msg, '}')
}

// checkRewind applies §9's rules to a subscribe asking for rewind and
// answers the 4300 error when refused.
func (c *Conn) checkRewind(channel string) bool {
	switch {
	case !c.v2:
		c.sendError(protocol.CodeBadChannel, msgRewindV1, channel)
	case !c.e.rewindOn(c.app()):
		c.sendError(protocol.CodeBadChannel, msgRewindPolicy+channel+"'", channel)
	default:
		return true
	}
	return false
}

// rewind reads channel's history up to the attach serial and hands it to
// c's worker, whose gate has held the channel's live frames since
// subscription_succeeded. It first waits (bounded) for the writer to
// have stored everything up to the attach serial, so nothing delivered
// before the subscribe is missing from what it reads.
func (e *Engine) rewind(c *Conn, key chanKey, r protocol.Rewind, stream string, attach uint64) {
	rb := &rewindBatch{replayBatch: replayBatch{channel: key.name, stream: stream}}
	var frames []byte
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	defer cancel()
	if s, ok := e.history.seqs.Load(key); ok {
		e.awaitStored(ctx, key, s, stream, attach)
	}
	limit := e.HistoryMaxPageSize()
	q := HistoryQuery{App: key.app.id, Channel: key.name, EndSerial: &attach, StreamID: stream}
	if r.Count > 0 {
		q.Limit, q.NewestFirst = min(r.Count, limit), true
		rb.limited = r.Count > limit
	} else {
		from := time.Now().Add(-time.Duration(r.Seconds) * time.Second).UnixMilli()
		q.Limit, q.StartTimeMS = limit, &from
	}
	pred := c.w.predicateOf(key, c)
	page, scan, err := e.readRewind(ctx, q, pred)
	switch {
	case attach == 0 || stream == "":
		// nothing published yet: an empty rewind
	case err != nil:
		e.stats.historyStoreErrors.Add(1)
		rb.failed = "Channel error: durable history is unavailable for channel '" + key.name + "'"
	default:
		e.stats.historyReads.Add(1)
		if r.Count > 0 {
			for i, j := 0, len(page.Items)-1; i < j; i, j = i+1, j-1 {
				page.Items[i], page.Items[j] = page.Items[j], page.Items[i]
			}
		}
		for i := range page.Items {
			it := &page.Items[i]
			frames = protocol.AppendFrame(frames, protocol.OpText, it.Payload)
			rb.serials = append(rb.serials, it.Serial)
			rb.ends = append(rb.ends, len(frames))
		}
		rb.limited = rb.limited || r.Seconds > 0 && page.HasMore
		oldest := page.State.OldestSerial
		want := uint64(1)
		if r.Count > 0 && attach > uint64(r.Count) {
			want = attach - uint64(r.Count) + 1
		}
		rb.retention = page.State.RetainedMessages == 0 || oldest > want && r.Count > 0 || oldest > 1 && r.Seconds > 0 && len(page.Items) > 0 && page.Items[0].Serial == oldest
		if pred != nil {
			rb.retention = scan.retention(page.State, r.Count > 0, len(page.Items) < q.Limit)
		}
	}
	c.w.push(job{kind: jobRewind, conn: c, key: key, f: e.frames.raw(frames), rewind: rb})
}

// attachPos is where a rewinding subscription attached.
type attachPos struct {
	stream string
	serial uint64
	ok     bool
}

// finishColdResume sends a cold resume's messages that c has not
// received live, then the held frames newer than them, and makes c's
// continuity range cover the channel up to its head.
func (w *worker) finishColdResume(c *Conn, g *attachGate, rb *rewindBatch, frames []byte) {
	r := c.liveRange(rb.channel)
	same := r.stream == rb.stream
	rf := w.replayFilterOf(chanKey{c.rt, rb.channel}, c)
	start, sent := 0, 0
	var last uint64
	for i, s := range rb.serials {
		if !same || s < r.first || s > r.last {
			if b, pass := rf.frame(frames[start:rb.ends[i]]); pass {
				w.queue(c, b)
				sent++
			}
		}
		start, last = rb.ends[i], s
	}
	w.e.stats.replayed.Add(uint64(sent))
	if rb.failed == "" {
		nr := liveRange{stream: rb.stream, first: rb.from + 1, last: max(rb.head, last)}
		if same && r.last > nr.last {
			nr.last = r.last
		}
		*r = nr
	}
	w.releaseGate(c, g, rb.channel, last)
}
