package delta

import "time"

// Algorithm is a delta encoding the JS client can apply.
type Algorithm uint8

const (
	// Fossil is the Fossil SCM delta format (the default).
	Fossil Algorithm = iota
	// Xdelta3 is plain RFC 3284 VCDIFF, without checksum or secondary
	// compression, as @ably/vcdiff-decoder reads it.
	Xdelta3
)

// String is the name used on the wire ("fossil" or "xdelta3").
func (a Algorithm) String() string {
	if a == Xdelta3 {
		return "xdelta3"
	}
	return "fossil"
}

// ConfigAlgorithm reads the global `delta_compression.algorithm` value the
// way Sockudo does: only the exact lowercase "xdelta3" selects VCDIFF,
// anything else (including "Xdelta3" and "vcdiff") means fossil.
func ConfigAlgorithm(s string) Algorithm {
	if s == "xdelta3" {
		return Xdelta3
	}
	return Fossil
}

// Config is the `delta_compression` section of Sockudo's config.json, with
// Sockudo's keys. DefaultConfig has Sockudo's code defaults. The config
// loader decodes the section straight into it and checks its values there,
// with every other key's errors.
type Config struct {
	// Enabled is the global switch (default true). Deltas still need a V2
	// socket that asked for them.
	Enabled bool `json:"enabled"`
	// Algorithm is "fossil" (default) or "xdelta3", see ConfigAlgorithm.
	Algorithm string `json:"algorithm"`
	// FullMessageInterval is how many deltas a subscriber gets in a row
	// before the next frame is full again (default 10).
	FullMessageInterval int `json:"full_message_interval"`
	// MinMessageSize: frames shorter than this many bytes go full, still
	// on the delta path so the client's base follows (default 100).
	MinMessageSize int `json:"min_message_size"`
	// MaxStateAgeSecs: a base older than this is not diffed against, and
	// per-key states idle this long are dropped by Channel.Sweep, which the
	// engine runs at this interval (default 300).
	MaxStateAgeSecs int `json:"max_state_age_secs"`
	// MaxChannelStatesPerSocket bounds the channels one socket holds delta
	// state for; further subscriptions get plain frames (default 100).
	MaxChannelStatesPerSocket int `json:"max_channel_states_per_socket"`
	// MaxConflationStatesPerChannel bounds the conflation keys a channel,
	// and each subscriber of it, keeps bases for (default 100).
	MaxConflationStatesPerChannel int `json:"max_conflation_states_per_channel"`
	// ConflationKeyPath is the dotted path of the conflation value in the
	// V2 frame (e.g. "asset", "data.symbol"); empty = no conflation.
	ConflationKeyPath string `json:"conflation_key_path"`
	// OmitDeltaAlgorithm leaves `algorithm` out of delta frames; the
	// client then uses the one announced in delta_compression_enabled.
	OmitDeltaAlgorithm bool `json:"omit_delta_algorithm"`
	// ClusterCoordination and CoordinationBackend are read for
	// compatibility and have no effect: each node diffs what it delivers,
	// and Sockudo's receiving nodes never consult the shared counter.
	ClusterCoordination bool   `json:"cluster_coordination"`
	CoordinationBackend string `json:"coordination_backend"`
}

// Sockudo's per-app channel setting defaults.
const (
	DefaultMaxMessagesPerKey = 10
	DefaultMaxConflationKeys = 100
)

// DefaultConfig returns Sockudo's defaults (core/options/v2_features.rs).
func DefaultConfig() Config {
	return Config{
		Enabled:                       true,
		Algorithm:                     "fossil",
		FullMessageInterval:           10,
		MinMessageSize:                100,
		MaxStateAgeSecs:               300,
		MaxChannelStatesPerSocket:     100,
		MaxConflationStatesPerChannel: 100,
		CoordinationBackend:           "auto",
	}
}

// Options are the settings one Channel runs with: the global Config merged
// with the app's channel_delta_compression entry (see ChannelSetting).
type Options struct {
	ConflationKeyPath   string
	MaxMessagesPerKey   int // bases kept per conflation key
	MaxConflationKeys   int // conflation keys kept per channel and per subscriber
	FullMessageInterval int
	MinMessageSize      int
	MaxStateAge         time.Duration
	// OmitAlgorithm leaves `algorithm` out of delta frames made with
	// Announced, the algorithm sockudo:delta_compression_enabled told the
	// client (the global one); frames made with another still carry it,
	// or the client would apply them with the wrong decoder.
	OmitAlgorithm bool
	Announced     Algorithm
	// FirstSeq is the sequence of the Channel's first message. 0 means 1
	// without a conflation key path, and a start derived from the clock
	// (Unix milliseconds × 1000) with one: the JS client keeps its per-key
	// caches across reconnects and looks bases up by sequence, first match
	// wins, so a Channel recreated later (channel vacated and reoccupied,
	// another node after a reconnect) must not reissue an earlier one's
	// sequences. Without conflation keys the client ignores base_index and
	// small numbers save 24 bytes per delta frame. Clock-derived starts
	// stay below 2^53, so JS reads them exactly, and only collide for a
	// Channel that averaged 1000 messages per millisecond over its life.
	FirstSeq uint64
}

// Options returns the channel options of this Config with no per-app
// override.
func (c Config) Options() Options {
	return Options{
		ConflationKeyPath:   c.ConflationKeyPath,
		MaxMessagesPerKey:   DefaultMaxMessagesPerKey,
		MaxConflationKeys:   c.MaxConflationStatesPerChannel,
		FullMessageInterval: c.FullMessageInterval,
		MinMessageSize:      c.MinMessageSize,
		MaxStateAge:         time.Duration(c.MaxStateAgeSecs) * time.Second,
		OmitAlgorithm:       c.OmitDeltaAlgorithm,
		Announced:           ConfigAlgorithm(c.Algorithm),
	}
}

// normalized fills zero bounds with the defaults so a zero Options works.
func (o Options) normalized() Options {
	if o.MaxMessagesPerKey < 1 {
		o.MaxMessagesPerKey = DefaultMaxMessagesPerKey
	}
	if o.MaxConflationKeys < 1 {
		o.MaxConflationKeys = DefaultMaxConflationKeys
	}
	if o.MaxStateAge <= 0 {
		o.MaxStateAge = 300 * time.Second
	}
	return o
}
