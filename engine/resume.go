package engine

import (
	"strconv"

	"github.com/sockudo/sockudo-go/protocol"
)

// Recovery error codes (sockudo-v2.md §8.1).
const (
	codeRecoveryDisabled protocol.Code = 4301
	codeNoPositions      protocol.Code = 4302
)

// Failure codes of sockudo:resume_failed.
const (
	failPositionExpired = "position_expired"
	failStreamReset     = "stream_reset"
	failUnverifiable    = "continuity_unverifiable"
)

// resume handles sockudo:resume (any prefix, V1 or V2 as Sockudo does):
// each channel's missed messages are replayed from the hot buffer in
// serial order, each failed channel gets sockudo:resume_failed, then one
// sockudo:resume_success lists both. Replays go through the connection's
// worker after every live frame queued before them, and the worker's
// continuity gate drops anything the connection already received, so a
// message published during the resume is delivered exactly once.
func (c *Conn) resume(data []byte) {
	rb := c.e.opts.V2.Recovery
	if rb == nil || c.app().RecoveryDisabled {
		c.sendError(codeRecoveryDisabled, "Connection recovery is not enabled", "")
		return
	}
	limit := protocol.MaxResumeChannels
	if n := c.app().MaxSubscriptionsPerConnection; n > 0 {
		limit = n // a client resumes at most the channels it may join
	}
	positions, err := protocol.DecodeResume(data, limit)
	if err == protocol.ErrResumeEmpty {
		c.sendError(codeNoPositions, "No channel recovery positions provided", "")
		return
	}
	if err != nil {
		c.sendError(protocol.CodeInvalidMessage, "Invalid message format: "+err.Error(), "")
		return
	}
	recovered := []byte{'['}
	failed := []byte{'['}
	for i := range positions {
		p := &positions[i]
		if ok, entry := c.resumeChannel(rb, p); ok {
			recovered = appendListItem(recovered, entry)
		} else {
			failed = appendListItem(failed, entry)
		}
	}
	data2 := append([]byte(`{"recovered":`), recovered...)
	data2 = append(data2, `],"failed":`...)
	data2 = append(data2, failed...)
	data2 = append(data2, "]}"...)
	c.send(protocol.AppendEvent(nil, "pusher:resume_success", "", string(data2), ""))
}

func appendListItem(list, item []byte) []byte {
	if len(list) > 1 {
		list = append(list, ',')
	}
	return append(list, item...)
}

// replayCollector gathers one Replay's messages into a single job of
// back-to-back WebSocket frames.
type replayCollector struct {
	batch  replayBatch
	frames []byte
	lastID string
}

func (r *replayCollector) emit(serial uint64, payload []byte) {
	r.frames = protocol.AppendFrame(r.frames, protocol.OpText, payload)
	r.batch.serials = append(r.batch.serials, serial)
	r.batch.ends = append(r.batch.ends, len(r.frames))
	r.lastID = messageIDOf(payload)
}

// push queues the replay on c's worker. Called under the channel's
// buffer lock, so later live frames queue behind it.
func (r *replayCollector) push(c *Conn, stream string, head uint64) {
	r.batch.stream, r.batch.head = stream, head
	c.w.push(job{kind: jobReplay, conn: c, f: c.e.frames.raw(r.frames), replay: &r.batch})
}

// resumeMark is where a resume left a channel c had not subscribed to
// yet: the official client re-sends a private or presence channel's
// subscribe only after its HTTP authorization, usually after the
// resume, and what is published in between is replayed from here when
// the subscribe arrives (acknowledgeResumed).
type resumeMark struct {
	stream string
	serial uint64
}

// resumeChannel replays one channel or sends its resume_failed, and
// returns its entry for resume_success.
func (c *Conn) resumeChannel(rb ReplayBuffer, p *protocol.ResumePosition) (bool, []byte) {
	if c.e.historyOn(c.app()) {
		if cur, head, gap := c.e.resumeGap(chanKey{c.rt, p.Channel}, p.StreamID, p.Serial); gap {
			return false, c.resumeFailed(p, failPersistence, ReasonHistoryDegraded, cur, head, 0)
		}
	}
	col := &replayCollector{batch: replayBatch{channel: p.Channel, from: p.Serial}}
	var cur, reason string
	var head, oldest uint64
	rb.Replay(c.rt.id, p.Channel, p.StreamID, p.Serial, c.e.recoveryMax(c.app()), col.emit,
		func(s string, h, o uint64, r string) {
			cur, head, oldest, reason = s, h, o, r
			if r == "" {
				col.push(c, s, h)
			}
		})
	if reason == "" {
		c.markResumed(p.Channel, cur, head)
		return true, c.recoveredEntry(p.Channel, "hot", cur, col.batch.serials, col.lastID)
	}
	code := failPositionExpired
	switch {
	case p.StreamID == "":
		code, reason = failUnverifiable, ReasonLegacyNoCold
	case c.e.historyOn(c.app()):
		// The hot buffer cannot prove continuity: durable history may.
		return c.resumeCold(p)
	case reason == ReasonStreamMismatch:
		code = failStreamReset
	}
	return false, c.resumeFailed(p, code, reason, cur, head, oldest)
}

// recoveredEntry counts a recovered channel and encodes its entry in
// resume_success.
func (c *Conn) recoveredEntry(channel, source, cur string, serials []uint64, lastID string) []byte {
	n := len(serials)
	c.e.stats.resumes[0].Add(1)
	b := []byte(`{"channel":`)
	b = protocol.AppendJSONString(b, channel)
	b = append(b, `,"source":"`+source+`","replayed":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"position":`...)
	if n == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"stream_id":`...)
		b = protocol.AppendJSONString(b, cur)
		b = append(b, `,"serial":`...)
		b = strconv.AppendUint(b, serials[n-1], 10)
		if lastID != "" {
			b = append(b, `,"last_message_id":`...)
			b = protocol.AppendJSONString(b, lastID)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// resumeFailed counts a failed channel, sends its resume_failed and
// returns its entry for resume_success.
func (c *Conn) resumeFailed(p *protocol.ResumePosition, code, reason, cur string, head, oldest uint64) []byte {
	return c.failResume(p.Channel, p.StreamID, code, reason, cur, head, oldest)
}

// failResume counts a failed channel, sends its resume_failed and returns
// its entry for resume_success.
func (c *Conn) failResume(channel, expected, code, reason, cur string, head, oldest uint64) []byte {
	c.e.stats.resumes[resumeOutcomeIndex(code)].Add(1)
	fail := resumeFailure(channel, expected, code, reason, cur, head, oldest)
	c.send(protocol.AppendEvent(nil, "pusher:resume_failed", channel, string(fail), ""))
	return fail
}

// markResumed remembers where a resume left channel when c has not
// subscribed to it (yet); a subscribed channel continues live.
func (c *Conn) markResumed(channel, stream string, head uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subIndex(channel) >= 0 || len(c.resumed) >= protocol.MaxResumeChannels {
		return // bounded: repeated resumes cannot grow it without limit
	}
	if c.resumed == nil {
		c.resumed = make(map[string]resumeMark)
	}
	c.resumed[channel] = resumeMark{stream: stream, serial: head}
}

// resumeFailure encodes the data of resume_failed, which is also the
// entry in resume_success's failed list. channel is inside the data as
// well as at the frame's top level: the JS client reads it there.
func resumeFailure(channel, expected, code, reason, cur string, head, oldest uint64) []byte {
	b := []byte(`{"channel":`)
	b = protocol.AppendJSONString(b, channel)
	b = append(b, `,"code":`...)
	b = protocol.AppendJSONString(b, code)
	b = append(b, `,"reason":`...)
	b = protocol.AppendJSONString(b, reason)
	b = append(b, `,"expected_stream_id":`...)
	b = appendOptString(b, expected)
	b = append(b, `,"current_stream_id":`...)
	b = appendOptString(b, cur)
	b = append(b, `,"oldest_available_serial":`...)
	b = appendOptSerial(b, oldest, oldest != 0)
	b = append(b, `,"newest_available_serial":`...)
	b = appendOptSerial(b, head, cur != "")
	return append(b, '}')
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return protocol.AppendJSONString(b, s)
}

func appendOptSerial(b []byte, v uint64, ok bool) []byte {
	if !ok {
		return append(b, "null"...)
	}
	return strconv.AppendUint(b, v, 10)
}
