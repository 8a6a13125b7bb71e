package engine

import (
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// KindLabels are the channel_type labels, indexed by protocol.Kind.
var KindLabels = [numKinds]string{"public", "private", "presence", "private_encrypted", "server_to_user"}

// AuthLabels are the authentication-failure type labels the engine
// counts, indexed like NodeSnapshot.AuthFailures. (http_api failures are
// counted by the HTTP adapter.)
var AuthLabels = [numAuthKinds]string{"private", "presence", "signin"}

// AppSnapshot is one app's counters on this node at a point in time.
// Counters only grow; gauges (Connections, Channels, PresenceMembers) are
// exact current values.
type AppSnapshot struct {
	AppID            string
	Connections      int64
	NewConnections   uint64
	Disconnections   uint64
	MessagesSent     uint64
	BytesSent        uint64
	MessagesReceived uint64
	BytesReceived    uint64
	Subscriptions    [numKinds]uint64 // by KindLabels
	Unsubscriptions  [numKinds]uint64
	Channels         [numKinds]int64 // occupied channels by type
	PresenceMembers  int64           // distinct users per presence channel, summed
}

// ShardSnapshot is one worker's load.
type ShardSnapshot struct {
	Connections int64
	QueueDepth  int64 // jobs waiting in its inbox
}

// NodeSnapshot is the node-wide counters.
type NodeSnapshot struct {
	Connections   int64
	Errors        uint64 // pusher:error frames sent
	WSErrors      uint64 // WebSocket protocol violations (closed 1002/1007/1009)
	SlowConsumers uint64 // closed with 4100 for exceeding max_backpressure
	AuthFailures  [numAuthKinds]uint64
	Refused       [len(RefusalLabels)]uint64 // by RefusalLabels
	Shards        []ShardSnapshot
	Registries    [numRegistries]int64 // entries by RegistryLabels
	// Protocol V2 connection recovery.
	Resumes  [len(ResumeOutcomes)]uint64 // channel resumes by ResumeOutcomes
	Replayed uint64                      // messages replayed by resumes
	Buffered uint64                      // broadcasts given a serial and kept
	// Cluster-wide streams: publishes forwarded to their channel's owner,
	// forwards sent again after the owner left, forwards that failed.
	Forwarded, ForwardRetries, ForwardFailures uint64

	// Durable history.
	HistoryWrites      uint64 // entries stored
	HistoryBatches     uint64 // successful store writes
	HistoryDropped     uint64 // entries not stored (writer queue full, store write failed, no serial)
	HistoryExpired     uint64 // entries the retention sweep deleted
	HistoryStoreErrors uint64 // failed store calls
	HistoryReads       uint64 // history pages read
	Rewinds            uint64 // rewinds on subscribe answered
	HistoryStreams     int    // channels whose serials this node sequences now

	// Subscription filters.
	FilterSuppressed uint64 // live deliveries a subscriber's filter suppressed
	FilterRejected   uint64 // subscribes refused for an invalid filter
	FilteredSubs     int64  // V2 subscriptions with a filter now
	// Delta compression.
	Delta DeltaStats
	// Wire formats.
	FormatConnections  [protocol.NumWireFormats]int64 // open connections by protocol.WireFormat (V1 counts as json)
	WireEncodeFailures uint64                         // frames a binary codec could not encode (dropped)
}

// Observer receives measurements the engine makes on its hot path. Calls
// come from worker goroutines and must not block or allocate.
type Observer interface {
	// ObserveBroadcast is the time from a publish being accepted to its
	// last frame being handed to the kernel.
	ObserveBroadcast(d time.Duration)
	// ClientEventLimited counts a client event refused by the
	// per-connection rate limit.
	ClientEventLimited()
}

// AppSnapshot returns the counters of app id (zero when it never had a
// connection or publish on this node).
func (e *Engine) AppSnapshot(id string) AppSnapshot {
	s := AppSnapshot{AppID: id}
	v, ok := e.apps.Load(id)
	if !ok {
		return s
	}
	st := &v.(*appRuntime).stats
	for i := range st.perWorker {
		s.MessagesSent += st.perWorker[i].sent.Load()
		s.BytesSent += st.perWorker[i].sentBytes.Load()
	}
	s.Connections = st.connections.Load()
	s.NewConnections = st.newConns.Load()
	s.Disconnections = st.disconnections.Load()
	s.MessagesReceived = st.received.Load()
	s.BytesReceived = st.receivedBytes.Load()
	for k := range numKinds {
		s.Subscriptions[k] = st.subscribed[k].Load()
		s.Unsubscriptions[k] = st.unsubscribed[k].Load()
		s.Channels[k] = st.channels[k].Load()
	}
	s.PresenceMembers = st.presenceUsers.Load()
	return s
}

// NodeSnapshot returns the node-wide counters.
func (e *Engine) NodeSnapshot() NodeSnapshot {
	n := NodeSnapshot{
		Connections:   e.conns.Load(),
		Errors:        e.stats.errors.Load(),
		WSErrors:      e.stats.wsErrors.Load(),
		SlowConsumers: e.stats.slowConsumers.Load(),
	}
	for i := range n.AuthFailures {
		n.AuthFailures[i] = e.stats.authFailures[i].Load()
	}
	for i := range n.Refused {
		n.Refused[i] = e.stats.refused[i].Load()
	}
	for i := range n.Resumes {
		n.Resumes[i] = e.stats.resumes[i].Load()
	}
	n.Replayed, n.Buffered = e.stats.replayed.Load(), e.stats.v2Buffered.Load()
	n.Forwarded, n.ForwardRetries = e.stats.forwarded.Load(), e.stats.forwardRetried.Load()
	n.ForwardFailures = e.stats.forwardFailed.Load()
	n.HistoryWrites, n.HistoryBatches = e.stats.historyWrites.Load(), e.stats.historyBatches.Load()
	n.HistoryDropped, n.HistoryStoreErrors = e.stats.historyDropped.Load(), e.stats.historyStoreErrors.Load()
	n.HistoryExpired = e.stats.historyExpired.Load()
	n.HistoryReads, n.Rewinds = e.stats.historyReads.Load(), e.stats.rewinds.Load()
	n.FilterSuppressed, n.FilterRejected = e.stats.filterSuppressed.Load(), e.stats.filterRejected.Load()
	n.FilteredSubs = e.filteredSubs.Load()
	if e.history != nil {
		n.HistoryStreams = e.history.seqs.Len()
	}
	for i := range n.FormatConnections {
		n.FormatConnections[i] = e.stats.formatConns[i].Load()
	}
	n.WireEncodeFailures = e.stats.wireEncodeFailures.Load()
	for _, w := range e.workers {
		n.Shards = append(n.Shards, ShardSnapshot{Connections: w.nconns.Load(), QueueDepth: w.queued.Load()})
	}
	n.Registries = e.Registries()
	n.Delta = e.DeltaStats()
	return n
}
