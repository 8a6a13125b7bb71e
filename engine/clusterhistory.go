package engine

import (
	"context"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Cluster-wide streams with durable history on (issue 12 item 9). The
// store already hands out a channel's serials from one sequence, but in
// blocks: were every node to stamp its own publishes, serials would
// interleave out of order across nodes (node A's block 1-64, node B's
// 65-128) and no receiver could tell a gap from a late message. So the
// owner sequences here too, exactly as without history
// (clusterstream.go), only drawing serials from its reserved blocks
// instead of minting a stream in its replay buffer:
//
//   - The owner takes the serial, delivers, keeps the message in its hot
//     buffer (AppendAt), publishes it on the bus stamped with stream id,
//     serial and message id, all under the channel's sequencer lock, and
//     queues it for its store writer. A publish on another node is
//     forwarded to the owner (same forwards, retries and acknowledgements,
//     history_serial included), which sequences it off the bus goroutine
//     (clusterqueue.go): taking a serial may wait for the store.
//   - Every other node follows (applyStampedHistory): under its own
//     sequencer lock it records the stream and head (what
//     subscription_succeeded's attach_serial and a cold resume read),
//     keeps the message in its hot buffer at the owner's position, and
//     delivers it with those fields. It stores nothing: the owner did.
//     A block it still holds from when it sequenced is dropped, as using
//     it later would hand out serials below ones already delivered.
//   - Resume works on any node: from the hot buffer, else from the
//     store, where a following node asks the store how far the owner's
//     writer got (awaitStored) instead of its own writer.
//
// Owner change: the stream id is the store's and stays; the new owner
// reserves the next block. A node shutting down gives its unused
// serials back before its goodbye, so the new owner continues without a
// gap and a client resumes across the change. A node that dies (or is
// displaced by a joining node) leaves its unused serials as a gap: live
// delivery goes on, and a resume whose missed range spans the gap fails
// (continuity_unverifiable, or position_expired past the window: the hot
// buffer keeps no run across a gap, the cold tier requires contiguous
// serials) instead of skipping it.
// While the nodes' views of the owner differ, two nodes may sequence for
// a moment from their own blocks: serials stay unique, each message is
// delivered once, a subscriber may see a few out of serial order; each
// node drops its block on the other's stamp, so it settles. A reset
// (ResetHistory) on any node is announced on the bus, so the owner
// forgets the old stream and its next publish starts the new one.
//
// Store down: a publish whose owner can get no serial is delivered
// everywhere without stream_id/serial (stamped with serial 0), counted as
// dropped, and the stream is marked degraded on the owner and in the
// store; a cold resume on any node then fails with
// persistence_unavailable. A hot resume would replay around that
// message (its serials are contiguous without it), so every node that
// delivers it also records the gap (seqStream.unstamped): the bus
// brings the owner's messages in order, so each node marks it at the
// same place, and a resume from a position before the first serial
// assigned after it fails with persistence_unavailable /
// history_stream_degraded on any node (resumeGap); one from that serial
// on resumes as usual. A node that forgets the channel's sequencer (idle
// sweep, reset) forgets the gap: its hot buffer has expired by then and
// the cold tier answers from the store's degraded mark.

// applyStampedHistory delivers a message the channel's owner sequenced
// with durable history on (see above); on the bus goroutine.
func (e *Engine) applyStampedHistory(app *App, key chanKey, m *busMsg, meta *protocol.V2Meta) {
	s := e.lockSeq(key)
	defer s.mu.Unlock()
	rb := e.opts.V2.Recovery
	if !meta.HasSerial {
		s.unstamped() // the owner got no serial: resumes across it fail here too
	}
	if !meta.HasSerial || rb == nil || app.RecoveryDisabled {
		if meta.HasSerial {
			s.follow(meta.StreamID, meta.Serial)
			s.stamped(meta.Serial)
		}
		e.deliver(key, m.Event, m.Data, m.User, m.Except, meta, false)
		return
	}
	s.follow(meta.StreamID, meta.Serial)
	s.stamped(meta.Serial)
	var kept *frame
	rb.AppendAt(key.app.id, key.name, e.recoveryMax(app), meta.StreamID, meta.Serial, func() []byte {
		kept = e.deliver(key, m.Event, m.Data, m.User, m.Except, meta, true)
		return kept.buf[protocol.MaxFrameHeader:]
	})
	if kept != nil {
		kept.release()
	}
	e.stats.v2Buffered.Add(1)
}

// follow records that another node assigned serial of stream; s.mu held.
// Blocks this node reserved are dropped (a prefetch in flight too, by
// the generation): another node sequences the channel now.
func (s *seqStream) follow(stream string, serial uint64) {
	prev := s.lastSerial()
	if s.end != 0 || s.pend.end != 0 || s.fetching {
		s.gen++
		s.next, s.end, s.pend = 0, 0, block{}
	}
	switch {
	case s.stream != stream:
		// Reset elsewhere: the old stream's state no longer applies. A
		// gap seen before the stream was known stays: it was in this one.
		if s.stream != "" {
			s.gapped, s.gapEnd = false, 0
		}
		s.stream, s.head, s.degraded, s.degradedBy = stream, serial, false, ""
		s.stored.Store(0)
	default:
		s.head = max(prev, serial)
	}
	s.primed, s.follows = true, true
	s.lastUsed = time.Now().UnixNano()
}

// following reports whether another node sequences and stores the
// channel as this node last saw it.
func (s *seqStream) following() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.follows
}

// awaitStored waits, until ctx ends or the stream degrades, for the
// store to hold stream's serials up to head. This node's writer reports
// what it stored; for a channel another node sequences, the store's
// state is asked (its degraded mark is taken over too).
func (e *Engine) awaitStored(ctx context.Context, key chanKey, s *seqStream, stream string, head uint64) {
	for s.stored.Load() < head && ctx.Err() == nil && !s.isDegraded() {
		if !s.following() {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		st, err := e.opts.V2.History.Store.State(ctx, key.app.id, key.name)
		if err == nil && st.StreamID == stream {
			for {
				cur := s.stored.Load()
				if st.NewestSerial <= cur || s.stored.CompareAndSwap(cur, st.NewestSerial) {
					break
				}
			}
			if st.Degraded {
				s.mu.Lock()
				if s.stream == stream {
					s.degraded, s.degradedBy = true, st.Reason
				}
				s.mu.Unlock()
			}
		}
		if s.stored.Load() < head {
			time.Sleep(5 * time.Millisecond)
		}
	}
}
