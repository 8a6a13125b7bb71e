package configs

import (
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/engine/delta"
)

func TestDeltaCompressionSection(t *testing.T) {
	cfg, warnings := mustParse(t, withApp(app1), nil)
	if len(warnings) != 0 {
		t.Fatalf("warnings %q", warnings)
	}
	requireEqual(t, "defaults", cfg.DeltaCompression, delta.DefaultConfig())

	cfg, _ = mustParse(t, withApp(
		`{"id":"1","key":"k1","secret":"s1","policy":{"channels":{"channel_delta_compression":{
			"ticker-*":{"enabled":true,"algorithm":"Xdelta3","conflation_key":"symbol","max_messages_per_key":5},
			"ticker-raw":"disabled","chat":"inherit"}}}}`,
		`"delta_compression":{"enabled":true,"algorithm":"xdelta3","full_message_interval":4,"min_message_size":0,
			"max_state_age_secs":60,"max_channel_states_per_socket":3,"max_conflation_states_per_channel":7,
			"conflation_key_path":"data.asset","omit_delta_algorithm":true,"cluster_coordination":true,"coordination_backend":"nats"}`), nil)
	d := cfg.DeltaCompression
	if d.Algorithm != "xdelta3" || d.FullMessageInterval != 4 || d.MinMessageSize != 0 || d.MaxStateAgeSecs != 60 ||
		d.MaxChannelStatesPerSocket != 3 || d.MaxConflationStatesPerChannel != 7 || d.ConflationKeyPath != "data.asset" ||
		!d.OmitDeltaAlgorithm || !d.ClusterCoordination || d.CoordinationBackend != "nats" {
		t.Fatalf("section %+v", d)
	}
	settings := cfg.Apps()[0].DeltaChannels()
	s, ok := settings.Lookup("ticker-btc")
	if !ok || !s.Enabled || s.Algorithm != delta.Xdelta3 || s.ConflationKey != "symbol" || s.MaxMessagesPerKey != 5 {
		t.Fatalf("ticker-btc: %+v %v", s, ok)
	}
	if s, ok := settings.Lookup("ticker-raw"); !ok || s.Enabled {
		t.Fatalf("ticker-raw: %+v %v", s, ok)
	}
	if s, ok := settings.Lookup("chat"); !ok || !s.Inherit {
		t.Fatalf("chat: %+v %v", s, ok)
	}
}

func TestDeltaCompressionErrorsNameTheKey(t *testing.T) {
	_, _, err := parse([]byte(withApp(
		`{"id":"1","key":"k1","secret":"s1","channel_delta_compression":{"news":"brotli","feed":{"algorithm":"lz4"}}}`,
		`"delta_compression":{"full_message_interval":-1,"max_state_age_secs":0,"max_conflation_states_per_channel":0,
			"conflation_key_path":"a..b","coordination_backend":"kafka"}`)), envOf())
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{
		"delta_compression.full_message_interval",
		"delta_compression.max_state_age_secs",
		"delta_compression.max_conflation_states_per_channel",
		"delta_compression.conflation_key_path",
		"delta_compression.coordination_backend",
		"app_manager.array.apps[0].channel_delta_compression.news",
		"app_manager.array.apps[0].channel_delta_compression.feed",
	} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("no error naming %s in:\n%v", key, err)
		}
	}
}
