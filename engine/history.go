package engine

import (
	"context"
	"errors"
	"time"
)

// HistoryStore is durable channel history (sockudo-v2.md §10, the cold
// tier of §8): an append-only log per app and channel with a stream id
// and serials reserved in the store, so every node publishing to a
// channel draws from one sequence. The engine never calls it on a
// publish's path except to reserve a block of serials; appends go
// through the engine's bounded writer. Implementations must be safe for
// concurrent use. engine/history (memory) and engine/history/pghistory
// (PostgreSQL) implement it.
type HistoryStore interface {
	// Reserve reserves n consecutive serials of channel's stream,
	// creating the stream (serial 1) if it has none, and returns the
	// stream id and the first serial of the block.
	Reserve(ctx context.Context, app, channel string, n int) (streamID string, first uint64, err error)
	// Release gives back the unused end of a reserved block, [next,
	// end), when nothing was reserved after it (next_serial is still
	// end), so a node's clean restart leaves no gap in the serials.
	Release(ctx context.Context, app, channel, streamID string, next, end uint64) error
	// Append stores entries (any channels, in serial order per channel)
	// and applies each entry's retention to its channel. Entries of a
	// stream that was reset meanwhile are dropped silently.
	Append(ctx context.Context, entries []HistoryEntry) error
	// Read returns a page of channel's current stream.
	Read(ctx context.Context, q HistoryQuery) (HistoryPage, error)
	// State returns channel's stream state (zero StreamID: no stream).
	State(ctx context.Context, app, channel string) (HistoryState, error)
	// SetDegraded records that writes to channel's stream were lost:
	// recovery from it is not allowed until a reset.
	SetDegraded(ctx context.Context, app, channel, reason string) error
	// Reset starts channel over with a new stream id: the old entries
	// are deleted and serials start again at 1.
	Reset(ctx context.Context, app, channel, reason string) (HistoryState, error)
	// Purge deletes entries of channel (all, or before a serial or a
	// time) and reports how many went. The stream id and serials stay.
	Purge(ctx context.Context, app, channel string, p HistoryPurge) (int64, error)
	// Expire deletes up to limit entries of app, in any channel,
	// published before beforeMS, and reports how many went. Append
	// applies a channel's window only when the channel is written, so
	// the engine's periodic sweep calls this for channels that are no
	// longer written.
	Expire(ctx context.Context, app string, beforeMS int64, limit int) (int64, error)
}

// ErrHistoryDisabled is returned by the engine's history calls when
// history is off for the app or channel.
var ErrHistoryDisabled = errors.New("durable history is disabled")

// HistoryEntry is one stored message.
type HistoryEntry struct {
	App, Channel, StreamID string
	Serial                 uint64
	PublishedAtMS          int64
	MessageID, EventName   string
	// Payload is the message as V2 subscribers received it (one JSON
	// object).
	Payload []byte
	// Retention bounds the channel after this entry is stored.
	Retention HistoryRetention
}

// HistoryRetention bounds what a channel keeps; zero fields are no bound.
type HistoryRetention struct {
	Window      time.Duration
	MaxMessages int64
	MaxBytes    int64
}

// HistoryQuery selects a page. Bounds are inclusive; nil = unbounded.
// After (when non-zero) continues a cursor: only serials beyond it in
// the page's direction.
type HistoryQuery struct {
	App, Channel string
	Limit        int
	NewestFirst  bool
	StartSerial  *uint64
	EndSerial    *uint64
	StartTimeMS  *int64
	EndTimeMS    *int64
	After        uint64
	// StreamID, when set, must be the current stream (a cursor's):
	// otherwise Read returns ErrHistoryStreamChanged.
	StreamID string
}

// ErrHistoryStreamChanged: a cursor names a stream that was reset.
var ErrHistoryStreamChanged = errors.New("history stream was reset")

// HistoryPage is one page of entries plus the stream's state.
type HistoryPage struct {
	Items   []HistoryEntry
	HasMore bool
	State   HistoryState
}

// HistoryState is a stream's position, what it retains and its health.
type HistoryState struct {
	StreamID   string
	NextSerial uint64
	// Retained* describe the entries kept now; Oldest/Newest are 0 when
	// none are.
	RetainedMessages int64
	RetainedBytes    int64
	OldestSerial     uint64
	NewestSerial     uint64
	OldestAtMS       int64
	NewestAtMS       int64
	// Degraded is set when writes were lost (durable_state degraded);
	// Reason says why, ChangedAtMS when.
	Degraded    bool
	Reason      string
	ChangedAtMS int64
}

// Head is the newest serial the stream assigned (next-1), or 0.
func (s *HistoryState) Head() uint64 {
	if s.NextSerial == 0 {
		return 0
	}
	return s.NextSerial - 1
}

// HistoryPurge selects what Purge deletes: everything, or entries before
// a serial or a time (exclusive).
type HistoryPurge struct {
	All          bool
	BeforeSerial uint64
	BeforeTimeMS int64
}
