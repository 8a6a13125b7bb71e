package main

import (
	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/engine/filter/jmes"
	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol/msgpackwire"
	"github.com/sockudo/sockudo-go/protocol/protobufwire"
)

// v2Options maps the protocol V2 sections onto the engine's options; the
// replay buffer exists only when connection_recovery is on.
func v2Options(cfg configs.Config) engine.V2Options {
	o := engine.V2Options{
		EchoControlDisabled:   !cfg.EchoControl.Enabled,
		EchoOffByDefault:      !cfg.EchoControl.DefaultEchoMessages,
		EphemeralDisabled:     !cfg.Ephemeral.Enabled,
		RecoveryMaxBufferSize: cfg.ConnectionRecovery.MaxBufferSize,
		Filters:               filterConfig(cfg),
		StripTags:             !cfg.TagsEmitted(),
		// Both binary wire formats are always served, as by Sockudo.
		MessagePack: msgpackwire.Codec{},
		Protobuf:    protobufwire.Codec{},
	}
	if d := cfg.DeltaCompression; d.Enabled {
		o.Delta = &d
	}
	if r := cfg.ConnectionRecovery; r.Enabled {
		o.Recovery = recovery.New(recovery.Options{TTL: r.BufferTTLSeconds.Duration(), MaxSize: r.MaxBufferSize})
	}
	return o
}

// filterConfig maps event_name_filtering and tag_filtering onto the
// filter compiler, with JMESPath from its adapter.
func filterConfig(cfg configs.Config) filter.Config {
	f := filter.DefaultConfig()
	f.EventNameFiltering = cfg.EventNameFiltering.Enabled
	f.MaxEventsPerFilter = cfg.EventNameFiltering.MaxEventsPerFilter
	f.MaxEventNameLength = cfg.EventNameFiltering.MaxEventNameLength
	f.TagFiltering = cfg.TagFilteringOn()
	f.Expressions = jmes.Compiler{}
	return f
}
