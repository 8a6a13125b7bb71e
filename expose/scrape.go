package expose

import (
	"io"
	"strconv"
	"strings"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// writeEngine renders the engine's counters at scrape time from its
// snapshots, so the engine's hot path stays plain atomic adds and no
// per-app metric object exists here. Registered with the Set, it runs
// inside Set.WritePrometheus. Each family is written contiguously, as the
// text format requires.
func (s *Server) writeEngine(w io.Writer) {
	apps := *s.apps.Load()
	snaps := make([]engine.AppSnapshot, len(apps))
	var node engine.NodeSnapshot
	if e := s.eng.Load(); e != nil {
		for i, a := range apps {
			snaps[i] = e.AppSnapshot(a.id)
		}
		node = e.NodeSnapshot()
	}
	r := render{s: s, b: make([]byte, 0, 8<<10), apps: apps, snaps: snaps}
	r.connections(&node)
	r.messages()
	r.channels()
	r.registries(&node)
	r.errors(&node)
	r.recovery(&node)
	r.wireFormats(&node)
	r.shards(&node)
	r.network()
	_, _ = w.Write(r.b)
}

// render accumulates one scrape's engine series.
type render struct {
	s     *Server
	b     []byte
	apps  []appLabel
	snaps []engine.AppSnapshot
}

// sample appends `prefixname{labels} v`.
func (r *render) sample(name, labels string, v uint64) {
	r.b = append(r.b, r.s.prefix...)
	r.b = appendSample(r.b, name, labels, v)
}

func appendSample(b []byte, name, labels string, v uint64) []byte {
	b = append(b, name...)
	if labels != "" {
		b = append(b, '{')
		b = append(b, labels...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}

// perApp writes one series per app.
func (r *render) perApp(name string, v func(*engine.AppSnapshot) uint64) {
	for i := range r.apps {
		r.sample(name, r.apps[i].label, v(&r.snaps[i]))
	}
}

// perKind writes one series per app and channel type.
func (r *render) perKind(name string, v func(*engine.AppSnapshot, int) uint64) {
	for i := range r.apps {
		for k, kind := range engine.KindLabels {
			r.sample(name, r.apps[i].label+","+labelPair("channel_type", kind), v(&r.snaps[i], k))
		}
	}
}

// gauge converts an exact engine gauge; it is never negative, and a
// negative value would be a bug better shown as 0 than as 2^64-1.
func gauge(v int64) uint64 { return uint64(max(v, 0)) }

func (r *render) connections(n *engine.NodeSnapshot) {
	conns := func(a *engine.AppSnapshot) uint64 { return gauge(a.Connections) }
	r.perApp("active_connections", conns)
	r.perApp("connected", conns)
	r.perApp("new_connections_total", func(a *engine.AppSnapshot) uint64 { return a.NewConnections })
	r.perApp("new_disconnections_total", func(a *engine.AppSnapshot) uint64 { return a.Disconnections })
	for i, t := range engine.RefusalLabels {
		r.sample("connection_errors_total", labelPair("error_type", t), n.Refused[i])
	}
}

func (r *render) messages() {
	sent := func(a *engine.AppSnapshot) uint64 { return a.MessagesSent }
	recv := func(a *engine.AppSnapshot) uint64 { return a.MessagesReceived }
	r.perApp("messages_sent_total", sent)
	r.perApp("ws_messages_sent_total", sent)
	r.perApp("messages_received_total", recv)
	r.perApp("ws_messages_received_total", recv)
	r.perApp("socket_received_bytes", func(a *engine.AppSnapshot) uint64 { return a.BytesReceived })
	r.perApp("socket_transmitted_bytes", func(a *engine.AppSnapshot) uint64 { return a.BytesSent })
}

func (r *render) channels() {
	r.perKind("active_channels", func(a *engine.AppSnapshot, k int) uint64 { return gauge(a.Channels[k]) })
	r.perKind("channel_subscriptions_total", func(a *engine.AppSnapshot, k int) uint64 { return a.Subscriptions[k] })
	r.perKind("channel_unsubscriptions_total", func(a *engine.AppSnapshot, k int) uint64 { return a.Unsubscriptions[k] })
	r.perApp("presence_channel_members", func(a *engine.AppSnapshot) uint64 { return gauge(a.PresenceMembers) })
}

// registries writes how much state the node keeps: every registry holds
// entries only while something is subscribed or signed in somewhere, so a
// value that grows under channel churn and never returns is a leak.
func (r *render) registries(n *engine.NodeSnapshot) {
	for i, name := range engine.RegistryLabels {
		r.sample("registry_entries", labelPair("registry", name), gauge(n.Registries[i]))
	}
}

func (r *render) errors(n *engine.NodeSnapshot) {
	h := &r.s.http
	var refused, auth uint64
	for _, v := range n.Refused {
		refused += v
	}
	for i, t := range engine.AuthLabels {
		r.sample("authentication_failures_total", labelPair("type", t), n.AuthFailures[i])
		auth += n.AuthFailures[i]
	}
	r.sample("authentication_failures_total", labelPair("type", httpAuthType), h.authFailed.Load())
	auth += h.authFailed.Load()

	byType := [len(errorTypes)]uint64{n.Errors, n.WSErrors, n.SlowConsumers, refused, auth,
		h.client.Load(), h.server.Load()}
	for i, t := range errorTypes {
		r.sample("errors_total", labelPair("type", t), byType[i])
	}
	ws := [len(websocketErrorTypes)]uint64{n.WSErrors, n.Errors, n.SlowConsumers}
	for i, t := range websocketErrorTypes {
		r.sample("websocket_errors_total", labelPair("type", t), ws[i])
	}
	r.sample("slow_consumer_disconnects_total", "", n.SlowConsumers)
}

// recovery writes the protocol V2 connection recovery counters.
func (r *render) recovery(n *engine.NodeSnapshot) {
	for i, o := range engine.ResumeOutcomes {
		outcome, code := "failed", o
		if i == 0 {
			outcome, code = o, "none"
		}
		r.sample("recovery_resumes_total", labelPair("outcome", outcome)+","+labelPair("code", code), n.Resumes[i])
	}
	r.sample("recovery_replayed_messages_total", "", n.Replayed)
	r.sample("recovery_buffered_messages_total", "", n.Buffered)
	r.sample("cluster_forwarded_publishes_total", "", n.Forwarded)
	r.sample("cluster_forward_retries_total", "", n.ForwardRetries)
	r.sample("cluster_forward_failures_total", "", n.ForwardFailures)
	r.sample("history_writes_total", "", n.HistoryWrites)
	r.sample("history_write_batches_total", "", n.HistoryBatches)
	r.sample("history_dropped_total", "", n.HistoryDropped)
	r.sample("history_expired_total", "", n.HistoryExpired)
	r.sample("history_store_errors_total", "", n.HistoryStoreErrors)
	r.sample("history_reads_total", "", n.HistoryReads)
	r.sample("history_rewinds_total", "", n.Rewinds)
	r.sample("filter_suppressed_total", "", n.FilterSuppressed)
	r.sample("filter_rejected_total", "", n.FilterRejected)
	r.sample("filtered_subscriptions", "", uint64(n.FilteredSubs))
	r.sample("delta_frames_sent_total", labelPair("kind", "delta"), n.Delta.DeltaFrames)
	r.sample("delta_frames_sent_total", labelPair("kind", "full"), n.Delta.FullFrames)
	r.sample("delta_bytes_saved_total", "", n.Delta.BytesSaved)
	r.sample("delta_resyncs_total", "", n.Delta.Resyncs)
	r.sample("delta_channels", "", gauge(int64(n.Delta.Channels)))
}

// wireFormats writes the connections per wire format and the frames no
// codec could encode.
func (r *render) wireFormats(n *engine.NodeSnapshot) {
	for i, c := range n.FormatConnections {
		r.sample("connections_by_wire_format", labelPair("format", protocol.WireFormat(i).String()), gauge(c))
	}
	r.sample("wire_encode_failures_total", "", n.WireEncodeFailures)
}

func (r *render) shards(n *engine.NodeSnapshot) {
	for i, sh := range n.Shards {
		r.sample("shard_connections", labelPair("shard", strconv.Itoa(i)), gauge(sh.Connections))
	}
	for i, sh := range n.Shards {
		r.sample("shard_queue_depth", labelPair("shard", strconv.Itoa(i)), gauge(sh.QueueDepth))
	}
}

// network writes the process's network byte counters, unprefixed like the
// other process_ metrics. They count what this server moved: WebSocket
// frames of the configured apps plus HTTP bodies. /proc/net/dev is not
// used because it counts a whole network namespace (every process in the
// container or host), not this process.
func (r *render) network() {
	h := &r.s.http
	tx, rx := h.txBytes.Load(), h.rxBytes.Load()
	for i := range r.snaps {
		tx += r.snaps[i].BytesSent
		rx += r.snaps[i].BytesReceived
	}
	r.b = appendSample(r.b, "process_network_transmit_bytes_total", "", tx)
	r.b = appendSample(r.b, "process_network_receive_bytes_total", "", rx)
}

// labelPair renders name="value" with the text format's escaping.
func labelPair(name, value string) string {
	var sb strings.Builder
	sb.Grow(len(name) + len(value) + 3)
	sb.WriteString(name)
	sb.WriteString(`="`)
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			sb.WriteString(`\\`)
		case '"':
			sb.WriteString(`\"`)
		case '\n':
			sb.WriteString(`\n`)
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// validName reports whether s may start a metric name:
// [a-zA-Z_:][a-zA-Z0-9_:]*.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}
