package engine

import (
	"context"

	"github.com/sockudo/sockudo-go/protocol"
)

// Failure codes and reasons of the cold tier (sockudo-v2.md §8.3).
const (
	failPersistence = "persistence_unavailable"

	ReasonHistoryStateUnavailable = "durable_history_state_unavailable"
	ReasonHistoryDegraded         = "history_stream_degraded"
	ReasonHistoryReadFailed       = "durable_history_read_failed"
	ReasonDurableStreamMismatch   = "durable_stream_id_mismatch"
	ReasonRetentionFloorAhead     = "retained_history_floor_is_ahead_of_requested_serial"
	ReasonDurableEmpty            = "durable_history_empty_after_prior_writes"
	ReasonDurableNotContiguous    = "durable_history_replay_is_not_contiguous"
	ReasonDurablePositionAhead    = "durable_position_is_ahead_of_stream_head"
)

// resumeCold recovers a channel from durable history when the hot buffer
// could not (sockudo-v2.md §8.2, source "cold"). The connection's live
// frames of the channel are held in a gate opened under the channel's
// sequencer lock at the head read there; the store is read without any
// lock, and the worker then sends the missed messages, the held ones
// newer than them, and closes the gate: nothing lost, nothing twice.
func (c *Conn) resumeCold(p *protocol.ResumePosition) (bool, []byte) {
	e := c.e
	key := chanKey{c.rt, p.Channel}
	s := e.primeHistory(key)
	if s == nil {
		return false, c.resumeFailed(p, failPersistence, ReasonHistoryStateUnavailable, "", 0, 0)
	}
	s.mu.Lock()
	if s.degraded {
		stream, head := s.stream, s.lastSerial()
		s.mu.Unlock()
		return false, c.resumeFailed(p, failPersistence, ReasonHistoryDegraded, stream, head, 0)
	}
	stream, head := s.stream, s.lastSerial()
	c.w.push(job{kind: jobGate, conn: c, key: key})
	s.mu.Unlock()

	rb := &rewindBatch{replayBatch: replayBatch{channel: p.Channel, stream: stream, from: p.Serial, head: head}, resume: true}
	var frames []byte
	finish := func() { c.w.push(job{kind: jobRewind, conn: c, key: key, f: e.frames.raw(frames), rewind: rb}) }
	fail := func(code, reason string, oldest uint64) (bool, []byte) {
		rb.failed = reason
		finish()
		return false, c.resumeFailed(p, code, reason, stream, head, oldest)
	}
	switch {
	case stream != p.StreamID:
		return fail(failStreamReset, ReasonDurableStreamMismatch, 0)
	case p.Serial == head:
		finish()
		c.markResumed(p.Channel, stream, head)
		return true, c.recoveredEntry(p.Channel, "cold", stream, nil, "")
	case p.Serial > head:
		return fail(failUnverifiable, ReasonDurablePositionAhead, 0)
	case head-p.Serial > uint64(e.recoveryMax(c.app())):
		return fail(failPositionExpired, ReasonWindowExceeded, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	defer cancel()
	e.awaitStored(ctx, key, s, stream, head)
	if s.isDegraded() {
		return fail(failPersistence, ReasonHistoryDegraded, 0)
	}
	from := p.Serial + 1
	page, err := e.opts.V2.History.Store.Read(ctx, HistoryQuery{App: key.app.id, Channel: key.name, StreamID: stream,
		StartSerial: &from, EndSerial: &head, Limit: int(head - p.Serial)})
	switch {
	case err == ErrHistoryStreamChanged:
		return fail(failStreamReset, "durable_stream_changed_during_reconnect", 0)
	case err != nil:
		e.stats.historyStoreErrors.Add(1)
		return fail(failPersistence, ReasonHistoryReadFailed, 0)
	}
	e.stats.historyReads.Add(1)
	oldest := page.State.OldestSerial
	switch {
	case page.State.Degraded:
		// Marked by the channel's owner, which may be another node.
		return fail(failPersistence, ReasonHistoryDegraded, 0)
	case page.State.RetainedMessages == 0:
		return fail(failPositionExpired, ReasonDurableEmpty, 0)
	case oldest > from:
		return fail(failPositionExpired, ReasonRetentionFloorAhead, oldest)
	}
	var lastID string
	for i := range page.Items {
		it := &page.Items[i]
		if it.Serial != from+uint64(i) {
			frames = nil
			rb.serials, rb.ends = nil, nil
			return fail(failUnverifiable, ReasonDurableNotContiguous, oldest)
		}
		frames = protocol.AppendFrame(frames, protocol.OpText, it.Payload)
		rb.serials = append(rb.serials, it.Serial)
		rb.ends = append(rb.ends, len(frames))
		lastID = it.MessageID
	}
	if uint64(len(page.Items)) != head-p.Serial {
		frames, rb.serials, rb.ends = nil, nil, nil
		return fail(failUnverifiable, ReasonDurableNotContiguous, oldest)
	}
	finish()
	c.markResumed(p.Channel, stream, head)
	return true, c.recoveredEntry(p.Channel, "cold", stream, rb.serials, lastID)
}
