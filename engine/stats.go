package engine

import (
	"sync/atomic"

	"github.com/sockudo/sockudo-go/protocol"
)

// Kinds counted per channel type, in metrics label order.
const numKinds = int(protocol.KindServerToUser) + 1

// workerCounters are written by one worker only, so the adds never contend;
// atomics make them safe to read at scrape time. Padded to a cache line.
type workerCounters struct {
	sent      atomic.Uint64
	sentBytes atomic.Uint64
	_         [48]byte
}

// appStats are one app's counters on this node. Hot-path updates are
// single atomic adds; nothing here allocates.
type appStats struct {
	perWorker []workerCounters

	received       atomic.Uint64
	receivedBytes  atomic.Uint64
	connections    atomic.Int64
	newConns       atomic.Uint64
	disconnections atomic.Uint64
	subscribed     [numKinds]atomic.Uint64
	unsubscribed   [numKinds]atomic.Uint64
	channels       [numKinds]atomic.Int64
	presenceUsers  atomic.Int64
}

func (s *appStats) sent(worker, n int) {
	w := &s.perWorker[worker]
	w.sent.Add(1)
	w.sentBytes.Add(uint64(n))
}

func (s *appStats) recvBytes(n int) { s.receivedBytes.Add(uint64(n)) }

// Failure kinds counted by the node.
const (
	authPrivate = iota
	authPresence
	authSignin
	numAuthKinds
)

// RefusalLabels are the error_type labels of refused connections, indexed
// by refusalIndex.
var RefusalLabels = [...]string{
	"app_not_found", "app_disabled", "app_over_quota", "over_capacity",
	"origin_not_allowed", "unsupported_protocol", "invalid_version", "draining",
	"app_store_unavailable",
}

func refusalIndex(code protocol.Code) int {
	switch code {
	case protocol.CodeAppNotFound:
		return 0
	case protocol.CodeAppDisabled:
		return 1
	case protocol.CodeAppOverQuota:
		return 2
	case protocol.CodeOverCapacity:
		return 3
	case protocol.CodeUnauthorized:
		return 4
	case protocol.CodeUnsupportedProtocol:
		return 5
	case protocol.CodeInvalidVersion:
		return 6
	case protocol.CodeStoreUnavailable:
		return 8
	default:
		return 7
	}
}

// nodeStats are counters that are not per app.
type nodeStats struct {
	errors        atomic.Uint64 // pusher:error frames sent
	wsErrors      atomic.Uint64 // WebSocket protocol violations
	slowConsumers atomic.Uint64
	authFailures  [numAuthKinds]atomic.Uint64
	refused       [len(RefusalLabels)]atomic.Uint64

	// Wire formats.
	formatConns        [protocol.NumWireFormats]atomic.Int64 // open connections by format (V1 counts as json)
	wireEncodeFailures atomic.Uint64                         // frames a codec could not encode (dropped)

	// Protocol V2 connection recovery.
	v2Buffered atomic.Uint64                      // broadcasts given a serial
	replayed   atomic.Uint64                      // replayed messages sent (gate-dropped ones not)
	resumes    [len(ResumeOutcomes)]atomic.Uint64 // channel resumes by outcome

	// Cluster-wide streams: publishes sent to their channel's owner.
	forwarded      atomic.Uint64 // forwards sent
	forwardRetried atomic.Uint64 // sent again: their owner left or died
	forwardFailed  atomic.Uint64 // never confirmed by the owner, or undeliverable there

	// Durable history.
	historyWrites      atomic.Uint64 // entries stored
	historyBatches     atomic.Uint64 // store writes that succeeded
	historyDropped     atomic.Uint64 // entries not stored (queue full, write failed, no serial)
	historyExpired     atomic.Uint64 // entries the retention sweep deleted
	historyStoreErrors atomic.Uint64 // failed store calls (writes, reservations, reads)
	historyReads       atomic.Uint64 // history pages served (HTTP, WebSocket, rewind, cold recovery)
	rewinds            atomic.Uint64 // rewinds on subscribe answered

	// Subscription filters.
	filterSuppressed atomic.Uint64 // live deliveries a subscriber's filter suppressed
	filterRejected   atomic.Uint64 // subscribes refused for an invalid filter
}

// ResumeOutcomes label channel resumes: recovered, or the failure code of
// sockudo:resume_failed.
var ResumeOutcomes = [...]string{
	"recovered", "position_expired", "stream_reset", "continuity_unverifiable", "persistence_unavailable",
}

func resumeOutcomeIndex(code string) int {
	for i, o := range ResumeOutcomes {
		if o == code {
			return i
		}
	}
	return 1
}
