package engine

// ReplayBuffer is the hot tier of connection recovery (sockudo-v2.md §8):
// per app and channel it assigns the stream id and the serials of
// broadcasts and keeps the last messages, as V2 subscribers receive them,
// so a client that reconnects can be sent exactly what it missed. The
// engine serializes each channel's publishes through it: every callback
// runs under the channel's lock, which is how live deliveries and replays
// keep serial order. A durable history tier can later implement the same
// port (or sit behind it) without the engine changing.
//
// engine/recovery implements it in memory.
type ReplayBuffer interface {
	// Append assigns channel's next position and calls deliver with it;
	// deliver fans the message out and returns its V2 encoding, which the
	// buffer copies and keeps.
	Append(app, channel string, maxSize int, deliver func(streamID string, serial uint64) []byte)
	// AppendAt is Append for a position assigned elsewhere (durable
	// history): deliver runs under the channel's lock, and a stream id
	// different from the kept one starts the channel over.
	AppendAt(app, channel string, maxSize int, streamID string, serial uint64, deliver func() []byte)
	// Head calls fn with channel's stream id and last serial, creating
	// a stream at serial 0 for a channel never published to.
	Head(app, channel string, fn func(streamID string, serial uint64))
	// Replay looks up the messages after serial in stream streamID ("" =
	// any stream: the legacy channel_serials form). When it holds every
	// one of them and there are at most max, it calls emit for each in
	// serial order and then done with reason ""; otherwise it calls only
	// done, with Sockudo's failure reason (ReasonStreamMismatch,
	// ReasonWindowExceeded, ReasonHotExpired). done runs under the
	// channel's lock, after the emits; cur and head are the channel's
	// current stream and last serial ("" and 0 when it has none), oldest
	// the first serial still kept (0 when none).
	Replay(app, channel, streamID string, serial uint64, max int,
		emit func(serial uint64, payload []byte),
		done func(cur string, head, oldest uint64, reason string))
}

// Failure reasons of the hot tier, Sockudo's exact strings.
const (
	ReasonStreamMismatch = "stream_id_mismatch"
	ReasonWindowExceeded = "recovery_window_exceeded"
	ReasonHotExpired     = "hot_replay_expired_and_durable_history_disabled"
	ReasonLegacyNoCold   = "legacy_serial_only_position_cannot_use_cold_recovery"
)
