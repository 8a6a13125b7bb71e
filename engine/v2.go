package engine

import (
	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// V2Options configures Sockudo protocol V2 (sockudo-v2.md). The zero value
// is Sockudo's defaults with connection recovery off.
type V2Options struct {
	// EchoControlDisabled is echo_control.enabled=false: every V2
	// connection then receives its own client events, whatever its
	// echo_messages parameter says.
	EchoControlDisabled bool
	// EchoOffByDefault is echo_control.default_echo_messages=false: the
	// echo of a V2 connection that sends no echo_messages parameter.
	EchoOffByDefault bool
	// EphemeralDisabled is ephemeral.enabled=false: extras.ephemeral is
	// then ignored and such messages get serials like any other.
	EphemeralDisabled bool
	// Recovery is the hot replay buffer of connection recovery; nil turns
	// recovery off for every app (connection_recovery.enabled=false).
	Recovery ReplayBuffer
	// RecoveryMaxBufferSize is connection_recovery.max_buffer_size, the
	// most messages one channel's resume may replay; 0 → 100.
	RecoveryMaxBufferSize int
	// History configures durable history; a nil History.Store turns it
	// off.
	History HistoryOptions
	// Filters is how subscription filters compile (event_name_filtering.*,
	// tag_filtering.enabled, the JMESPath compiler). Build it from
	// filter.DefaultConfig: its zero value drops every `events` list.
	Filters filter.Config
	// StripTags is tag emission off (tag_filtering.enable_tags=false, and
	// Sockudo's default when the tag_filtering section is absent): V2
	// frames, live and replayed, go out without the publisher's `tags`,
	// which filters still read. The zero value sends them.
	StripTags bool
	// Delta is the delta_compression section; nil turns delta
	// compression off (sockudo:enable_delta_compression is then ignored).
	Delta *delta.Config
	// MessagePack and Protobuf are the binary wire formats' codecs
	// (format=msgpack, format=protobuf); nil leaves a format unserved.
	MessagePack, Protobuf WireCodec
}

// v2 frames: the activity ping and the pong, which never carry a message id.
var (
	v2PingMessage = []byte(`{"event":"sockudo:ping","data":{}}`)
	v2PongMessage = []byte(`{"event":"sockudo:pong"}`)
)

// isV2 reports whether a connect request selects protocol V2.
func (r *ConnectRequest) isV2() bool { return r.Protocol == protocol.ProtocolV2 }

// echoFor decides whether a V2 connection receives its own client events.
func (o *V2Options) echoFor(param string) bool {
	if o.EchoControlDisabled {
		return true
	}
	echo, err := protocol.ParseEchoMessages(param, !o.EchoOffByDefault)
	if err != nil {
		return !o.EchoOffByDefault
	}
	return echo
}

// appendDirect appends an encoded V1 message as c receives it: unchanged
// for V1, prefix-rewritten and stamped with a fresh message id for V2.
func (c *Conn) appendDirect(dst, msg []byte) []byte {
	if !c.v2 {
		return append(dst, msg...)
	}
	var id [36]byte
	return protocol.AppendV2Message(dst, msg, string(protocol.AppendUUIDv4(id[:0])))
}
