package delta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// SubSetting is the `delta` field of a V2 subscribe request.
type SubSetting struct {
	// Given is false when the request had no usable `delta` field: the
	// socket-level setting applies.
	Given bool
	// Enabled is the subscription's choice when Given.
	Enabled bool
	// Algorithm is meaningful when HasAlgorithm.
	Algorithm    Algorithm
	HasAlgorithm bool
}

// ParseSubSetting reads every shape Sockudo accepts
// (handler/types.rs): "fossil", "xdelta3"/"vcdiff" (enabled with that
// algorithm), "disabled"/"false"/"none", any other string (enabled), true,
// false, and {enabled?, algorithm?}; names are case-insensitive. Other
// JSON values (null, numbers, arrays) count as not given, as in Sockudo.
// Only malformed JSON is an error.
func ParseSubSetting(raw []byte) (SubSetting, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return SubSetting{}, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return SubSetting{}, fmt.Errorf("delta setting: %w", err)
	}
	switch x := v.(type) {
	case string:
		switch strings.ToLower(x) {
		case "disabled", "false", "none":
			return SubSetting{Given: true}, nil
		}
		s := SubSetting{Given: true, Enabled: true}
		s.Algorithm, s.HasAlgorithm = subAlgorithm(x)
		return s, nil
	case bool:
		return SubSetting{Given: true, Enabled: x}, nil
	case map[string]any:
		s := SubSetting{Given: true}
		if e, ok := x["enabled"].(bool); ok {
			s.Enabled = e
		} else {
			// {algorithm} alone: Sockudo leaves enabled unset, which the
			// socket's setting then decides
			s.Given = false
		}
		if a, ok := x["algorithm"].(string); ok {
			s.Algorithm, s.HasAlgorithm = subAlgorithm(a)
		}
		return s, nil
	}
	return SubSetting{}, nil
}

func subAlgorithm(s string) (Algorithm, bool) {
	switch strings.ToLower(s) {
	case "fossil":
		return Fossil, true
	case "xdelta3", "vcdiff":
		return Xdelta3, true
	}
	return Fossil, false
}

// ChannelSetting is one entry of an app's
// `policy.channels.channel_delta_compression` map.
type ChannelSetting struct {
	// Inherit: use the global settings ("inherit").
	Inherit bool
	// Enabled false turns deltas off for the channel ("disabled", or the
	// object form with "enabled":false).
	Enabled      bool
	Algorithm    Algorithm
	HasAlgorithm bool
	// ConflationKey overrides delta_compression.conflation_key_path.
	ConflationKey     string
	MaxMessagesPerKey int
	MaxConflationKeys int
	// EnableTags is carried for the tag-emission code (default true).
	EnableTags bool
}

// UnmarshalJSON reads the shapes Sockudo's serde accepts: the strings
// "inherit", "disabled", "fossil", "xdelta3" (lowercase), or an object
// {enabled=true, algorithm="Fossil"|"Xdelta3", conflation_key,
// max_messages_per_key=10, max_conflation_keys=100, enable_tags=true}.
//
// "disabled" disables: Sockudo's code treats it like "inherit", which is
// not what an operator writing it means.
func (s *ChannelSetting) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		switch str {
		case "inherit":
			*s = ChannelSetting{Inherit: true, Enabled: true, EnableTags: true}
		case "disabled":
			*s = ChannelSetting{}
		case "fossil", "xdelta3":
			*s = ChannelSetting{Enabled: true, Algorithm: ConfigAlgorithm(str), HasAlgorithm: true,
				MaxMessagesPerKey: DefaultMaxMessagesPerKey, MaxConflationKeys: DefaultMaxConflationKeys, EnableTags: true}
		default:
			return fmt.Errorf("channel_delta_compression: unknown setting %q (inherit, disabled, fossil, xdelta3)", str)
		}
		return nil
	}
	var o struct {
		Enabled           *bool   `json:"enabled"`
		Algorithm         *string `json:"algorithm"`
		ConflationKey     *string `json:"conflation_key"`
		MaxMessagesPerKey *int    `json:"max_messages_per_key"`
		MaxConflationKeys *int    `json:"max_conflation_keys"`
		EnableTags        *bool   `json:"enable_tags"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("channel_delta_compression: %w", err)
	}
	*s = ChannelSetting{Enabled: true, MaxMessagesPerKey: DefaultMaxMessagesPerKey,
		MaxConflationKeys: DefaultMaxConflationKeys, EnableTags: true}
	if o.Enabled != nil {
		s.Enabled = *o.Enabled
	}
	if o.Algorithm != nil {
		switch *o.Algorithm {
		case "Fossil":
			s.Algorithm, s.HasAlgorithm = Fossil, true
		case "Xdelta3":
			s.Algorithm, s.HasAlgorithm = Xdelta3, true
		default:
			return fmt.Errorf("channel_delta_compression: algorithm %q is not Fossil or Xdelta3", *o.Algorithm)
		}
	}
	if o.ConflationKey != nil {
		s.ConflationKey = *o.ConflationKey
	}
	if o.MaxMessagesPerKey != nil {
		if *o.MaxMessagesPerKey < 1 {
			return fmt.Errorf("channel_delta_compression: max_messages_per_key must be at least 1")
		}
		s.MaxMessagesPerKey = *o.MaxMessagesPerKey
	}
	if o.MaxConflationKeys != nil {
		if *o.MaxConflationKeys < 1 {
			return fmt.Errorf("channel_delta_compression: max_conflation_keys must be at least 1")
		}
		s.MaxConflationKeys = *o.MaxConflationKeys
	}
	if o.EnableTags != nil {
		s.EnableTags = *o.EnableTags
	}
	return nil
}

// ChannelSettings is an app's channel_delta_compression map, prepared for
// lookups.
type ChannelSettings struct {
	exact    map[string]ChannelSetting
	patterns []patternSetting
}

type patternSetting struct {
	pattern string
	setting ChannelSetting
}

// NewChannelSettings prepares m. Patterns contain `*` (prefix*, *suffix or
// pre*suf, Sockudo's wildcard_pattern_matches); Sockudo tries them in map
// order, which is random, so here the longest pattern wins, then the
// alphabetically first.
func NewChannelSettings(m map[string]ChannelSetting) *ChannelSettings {
	cs := &ChannelSettings{exact: make(map[string]ChannelSetting, len(m))}
	for k, v := range m {
		cs.exact[k] = v
		if strings.Contains(k, "*") {
			cs.patterns = append(cs.patterns, patternSetting{k, v})
		}
	}
	sort.Slice(cs.patterns, func(i, j int) bool {
		a, b := cs.patterns[i].pattern, cs.patterns[j].pattern
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	return cs
}

// Lookup returns the setting for channel: the exact entry, else the first
// matching pattern; ok is false when none applies.
func (cs *ChannelSettings) Lookup(channel string) (ChannelSetting, bool) {
	if cs == nil {
		return ChannelSetting{}, false
	}
	if s, ok := cs.exact[channel]; ok {
		return s, true
	}
	for _, p := range cs.patterns {
		if wildcardMatch(channel, p.pattern) {
			return p.setting, true
		}
	}
	return ChannelSetting{}, false
}

func wildcardMatch(channel, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(channel, prefix)
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(channel, suffix)
	}
	pre, suf, _ := strings.Cut(pattern, "*")
	if strings.Contains(suf, "*") {
		return false
	}
	return len(channel) >= len(pre)+len(suf) && strings.HasPrefix(channel, pre) && strings.HasSuffix(channel, suf)
}

// ChannelOptions merges the global Config with the app's setting for a
// channel. enabled is false when deltas are off for it; algorithm is the
// channel's default algorithm.
func (c Config) ChannelOptions(s ChannelSetting, found bool) (opts Options, algorithm Algorithm, enabled bool) {
	opts, algorithm = c.Options(), ConfigAlgorithm(c.Algorithm)
	if !found || s.Inherit {
		return opts, algorithm, c.Enabled
	}
	if !s.Enabled {
		return opts, algorithm, false
	}
	if s.HasAlgorithm {
		algorithm = s.Algorithm
	}
	if s.ConflationKey != "" {
		opts.ConflationKeyPath = s.ConflationKey
	}
	opts.MaxMessagesPerKey = s.MaxMessagesPerKey
	opts.MaxConflationKeys = min(s.MaxConflationKeys, c.MaxConflationStatesPerChannel)
	return opts, algorithm, c.Enabled
}
