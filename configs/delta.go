package configs

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/sockudo/sockudo-go/engine/delta"
)

func defaultDelta(c *Config) {
	c.DeltaCompression = delta.DefaultConfig()
}

// validateDelta is the one check of the delta_compression section; the
// engine takes delta.Config as given.
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
