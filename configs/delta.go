package configs

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/sockudo/sockudo-go/engine/delta"
)

// DeltaCompression is the `delta_compression` section (protocol V2 delta
// compression), with Sockudo's keys and code defaults.
type DeltaCompression struct {
	// Enabled is the global switch; a V2 client still has to ask.
	Enabled bool `json:"enabled"`
	// Algorithm is "fossil" or "xdelta3"; only the exact lowercase
	// "xdelta3" selects VCDIFF, anything else means fossil, as in Sockudo.
	Algorithm string `json:"algorithm"`
	// FullMessageInterval is the deltas in a row before a full frame.
	FullMessageInterval int `json:"full_message_interval"`
	// MinMessageSize: smaller frames are sent full (bytes).
	MinMessageSize int `json:"min_message_size"`
	// MaxStateAgeSecs ages out bases and idle states; also the sweep
	// interval.
	MaxStateAgeSecs int `json:"max_state_age_secs"`
	// MaxChannelStatesPerSocket bounds the channels one socket gets
	// deltas on.
	MaxChannelStatesPerSocket int `json:"max_channel_states_per_socket"`
	// MaxConflationStatesPerChannel bounds the conflation keys kept per
	// channel and per subscriber.
	MaxConflationStatesPerChannel int `json:"max_conflation_states_per_channel"`
	// ConflationKeyPath is the dotted path of the conflation value
	// (e.g. "symbol", "data.asset"); empty = none.
	ConflationKeyPath string `json:"conflation_key_path"`
	// OmitDeltaAlgorithm leaves `algorithm` out of delta frames.
	OmitDeltaAlgorithm bool `json:"omit_delta_algorithm"`
	// ClusterCoordination and CoordinationBackend are accepted for
	// compatibility and change nothing: each node diffs what it delivers.
	ClusterCoordination bool   `json:"cluster_coordination"`
	CoordinationBackend string `json:"coordination_backend"`
}

func defaultDelta(c *Config) {
	d := delta.DefaultConfig()
	c.DeltaCompression = DeltaCompression{
		Enabled: d.Enabled, Algorithm: d.Algorithm, FullMessageInterval: d.FullMessageInterval,
		MinMessageSize: d.MinMessageSize, MaxStateAgeSecs: d.MaxStateAgeSecs,
		MaxChannelStatesPerSocket:     d.MaxChannelStatesPerSocket,
		MaxConflationStatesPerChannel: d.MaxConflationStatesPerChannel,
		CoordinationBackend:           d.CoordinationBackend,
	}
}

// Delta returns the section as the engine's delta.Config.
func (d DeltaCompression) Delta() delta.Config {
	return delta.Config{
		Enabled: d.Enabled, Algorithm: d.Algorithm, FullMessageInterval: d.FullMessageInterval,
		MinMessageSize: d.MinMessageSize, MaxStateAgeSecs: d.MaxStateAgeSecs,
		MaxChannelStatesPerSocket:     d.MaxChannelStatesPerSocket,
		MaxConflationStatesPerChannel: d.MaxConflationStatesPerChannel,
		ConflationKeyPath:             d.ConflationKeyPath, OmitDeltaAlgorithm: d.OmitDeltaAlgorithm,
		ClusterCoordination: d.ClusterCoordination, CoordinationBackend: d.CoordinationBackend,
	}
}

func (c *Config) validateDelta(v *checker) {
	d := &c.DeltaCompression
	v.atLeast("delta_compression.full_message_interval", d.FullMessageInterval, 0)
	v.atLeast("delta_compression.min_message_size", d.MinMessageSize, 0)
	v.atLeast("delta_compression.max_state_age_secs", d.MaxStateAgeSecs, 1)
	v.atLeast("delta_compression.max_channel_states_per_socket", d.MaxChannelStatesPerSocket, 0)
	v.atLeast("delta_compression.max_conflation_states_per_channel", d.MaxConflationStatesPerChannel, 1)
	if p := d.ConflationKeyPath; p != "" && strings.Contains("."+p+".", "..") {
		v.add("delta_compression.conflation_key_path", "%q has an empty segment", p)
	}
	v.oneOf("delta_compression.coordination_backend", d.CoordinationBackend, "auto", "none", "redis", "redis-cluster", "nats")
}

// DeltaChannels parses an app's channel_delta_compression map (pattern
// → setting) for the engine; nil when empty. Validation has rejected
// entries that do not parse; any left are skipped.
func (a *App) DeltaChannels() *delta.ChannelSettings {
	if len(a.ChannelDeltaCompression) == 0 {
		return nil
	}
	out := make(map[string]delta.ChannelSetting, len(a.ChannelDeltaCompression))
	for k, raw := range a.ChannelDeltaCompression {
		if s, err := deltaChannel(raw); err == nil {
			out[k] = s
		}
	}
	return delta.NewChannelSettings(out)
}

func deltaChannel(raw any) (delta.ChannelSetting, error) {
	var s delta.ChannelSetting
	b, err := json.Marshal(raw)
	if err == nil {
		err = s.UnmarshalJSON(b)
	}
	if err != nil {
		return s, errors.New(strings.TrimPrefix(err.Error(), "channel_delta_compression: "))
	}
	return s, nil
}

func validateDeltaChannels(v *checker, p string, a *App) {
	for _, k := range sortedKeys(a.ChannelDeltaCompression) {
		if _, err := deltaChannel(a.ChannelDeltaCompression[k]); err != nil {
			v.add(p+".channel_delta_compression."+k, "%v", err)
		}
	}
}
