package expose

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// observed are the series fed by calls from other layers: the engine's
// broadcast latency, and the ports of the queue/webhook, horizontal
// adapter and rate-limit layers. Each exists, at zero, from New, so a
// dashboard built today shows them before the layer feeding them ships.
type observed struct {
	broadcast *metrics.PrometheusHistogram

	jobsProcessed *metrics.Counter
	jobsFailed    *metrics.Counter
	jobsActive    atomic.Int64
	jobDuration   *metrics.PrometheusHistogram
	webhooks      map[string]*metrics.Counter // by status, guarded by mu
	retries       *metrics.Counter

	published  *metrics.Counter
	received   *metrics.Counter
	adapterErr *metrics.Counter
	adapterReq *metrics.PrometheusHistogram

	lookups  [len(lookupResults)]*metrics.Counter
	storeErr *metrics.Counter

	idempotency [len(idempotencyOutcomes)]*metrics.Counter

	mu      sync.RWMutex
	limited map[string]*metrics.Counter // by limiter type
	s       *Server
}

func (o *observed) init(s *Server) {
	o.s = s
	set := s.set
	o.broadcast = set.NewPrometheusHistogramExt(s.name("broadcast_latency_seconds"), latencyBuckets)
	o.jobsProcessed = set.NewCounter(s.name("queue_jobs_processed_total"))
	o.jobsFailed = set.NewCounter(s.name("queue_jobs_failed_total"))
	set.NewGauge(s.name("queue_active_jobs"), func() float64 { return float64(o.jobsActive.Load()) })
	o.jobDuration = set.NewPrometheusHistogramExt(s.name("queue_job_duration_seconds"), jobBuckets)
	o.retries = set.NewCounter(s.name("webhook_retries_total"))
	o.published = set.NewCounter(s.name("adapter_published_total"))
	o.received = set.NewCounter(s.name("adapter_received_total"))
	o.adapterErr = set.NewCounter(s.name("adapter_errors_total"))
	o.adapterReq = set.NewPrometheusHistogramExt(s.name("adapter_request_duration_seconds"), requestBuckets)
	for i, r := range lookupResults {
		o.lookups[i] = set.NewCounter(s.name("app_store_lookups_total") + "{" + labelPair("result", r) + "}")
	}
	o.storeErr = set.NewCounter(s.name("app_store_errors_total"))
	for i, r := range idempotencyOutcomes {
		o.idempotency[i] = set.NewCounter(s.name("idempotent_publishes_total") + "{" + labelPair("outcome", r) + "}")
	}
	o.webhooks = make(map[string]*metrics.Counter)
	for _, st := range webhookStatuses {
		o.labelled(o.webhooks, "webhook_deliveries_total", "status", st)
	}
	o.limited = make(map[string]*metrics.Counter)
	for _, t := range limiterTypes {
		o.labelled(o.limited, "rate_limit_triggered_total", "limiter_type", t)
	}
}

// labelled returns the counter of family{label="value"} from m, creating
// it on first use. Callers pass label values from a small fixed set.
func (o *observed) labelled(m map[string]*metrics.Counter, fam, label, value string) *metrics.Counter {
	o.mu.RLock()
	c := m[value]
	o.mu.RUnlock()
	if c != nil {
		return c
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if c = m[value]; c == nil {
		c = o.s.set.NewCounter(o.s.name(fam) + "{" + labelPair(label, value) + "}")
		m[value] = c
	}
	return c
}

// ObserveBroadcast records the time from a publish being accepted to its
// last frame being handed to the kernel. It satisfies engine.Observer:
// it neither blocks for long nor allocates.
func (s *Server) ObserveBroadcast(d time.Duration) { s.obs.broadcast.Update(d.Seconds()) }

// The methods below are the ports later adapters' observer interfaces will
// be satisfied by, as ObserveHTTP satisfies httpapi's: the webhook queue,
// the horizontal adapter and the rate limiters declare a small interface
// with the methods they call, and cmd passes the Server. All are safe for
// concurrent use and allocate nothing once a label value exists.

// QueueJobProcessed counts a queue job that succeeded and records how
// long it took (queue_jobs_processed_total, queue_job_duration_seconds).
func (s *Server) QueueJobProcessed(d time.Duration) {
	s.obs.jobsProcessed.Inc()
	s.obs.jobDuration.Update(d.Seconds())
}

// QueueJobFailed counts a queue job that failed for good.
func (s *Server) QueueJobFailed() { s.obs.jobsFailed.Inc() }

// SetQueueActive sets queue_active_jobs, the jobs waiting or running.
func (s *Server) SetQueueActive(n int) { s.obs.jobsActive.Store(int64(n)) }

// ClientEventLimited counts a client event refused by the engine's
// per-connection limit (engine.Observer).
func (s *Server) ClientEventLimited() { s.RateLimited("client_events") }

// WebhookDelivered counts one webhook delivery attempt by outcome: the
// receiver's status class "2xx", "3xx", "4xx", "5xx" or "error" (no
// answer), pre-created as the webhook sender reports them; other values
// get their own series on first use, so keep them to a small fixed set.
func (s *Server) WebhookDelivered(status string) {
	s.obs.labelled(s.obs.webhooks, "webhook_deliveries_total", "status", status).Inc()
}

// WebhookRetried counts a delivery scheduled for another attempt.
func (s *Server) WebhookRetried() { s.obs.retries.Inc() }

// AdapterPublished counts a message published to the horizontal adapter.
func (s *Server) AdapterPublished() { s.obs.published.Inc() }

// AdapterReceived counts a message received from the horizontal adapter.
func (s *Server) AdapterReceived() { s.obs.received.Inc() }

// AdapterError counts a horizontal adapter error.
func (s *Server) AdapterError() { s.obs.adapterErr.Inc() }

// ObserveAdapterRequest records how long a cross-node request took.
func (s *Server) ObserveAdapterRequest(d time.Duration) { s.obs.adapterReq.Update(d.Seconds()) }

// RateLimited counts a request refused by a limiter. limiterType is one of
// "api", "websocket_connect", "backend_events", "read_requests" and
// "client_events" (pre-created); another value gets its own series on
// first use, so keep them to a small fixed set.
func (s *Server) RateLimited(limiterType string) {
	s.obs.labelled(s.obs.limited, "rate_limit_triggered_total", "limiter_type", limiterType).Inc()
}

// AppStoreLookup counts one lookup of the SQL app store by result: "hit",
// "negative_hit", "miss", "not_found" or "error" (app_store_lookups_total;
// other values are dropped). It is on the connect path: an atomic add, no
// lock, no allocation.
func (s *Server) AppStoreLookup(result string) {
	for i, r := range lookupResults {
		if r == result {
			s.obs.lookups[i].Inc()
			return
		}
	}
}

// AppStoreError counts a failed app database operation
// (app_store_errors_total).
func (s *Server) AppStoreError() { s.obs.storeErr.Inc() }

// Idempotency counts a keyed publish answered without publishing, by
// outcome: "duplicate" (the first response replayed), "in_flight" (503,
// the first still running), "conflict" (400, another payload) or
// "unavailable" (503, the key store failed). It satisfies
// idempotency.Observer; other values are dropped.
func (s *Server) Idempotency(outcome string) {
	for i, o := range idempotencyOutcomes {
		if o == outcome {
			s.obs.idempotency[i].Inc()
			return
		}
	}
}
