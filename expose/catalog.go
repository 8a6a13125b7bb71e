package expose

// Metric types as the Prometheus text format names them.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
	typeSummary   = "summary"
)

// family is one metric family the server exports. name is without the
// prefix; the catalog below is the single list the scrape output, the
// tests and MONITORING.md agree on.
type family struct {
	name string
	typ  string
	help string
}

// catalog lists every prefixed family. Order is documentation order only;
// the scrape output is grouped by family, which is what the format needs.
var catalog = [...]family{
	// connections
	{"active_connections", typeGauge, "Open WebSocket connections on this node (exact)."},
	{"connected", typeGauge, "Open WebSocket connections on this node (Sockudo-compatible name of active_connections)."},
	{"new_connections_total", typeCounter, "WebSocket connections accepted."},
	{"new_disconnections_total", typeCounter, "Accepted WebSocket connections that ended, however they ended."},
	{"connection_errors_total", typeCounter, "WebSocket connections refused at handshake, by error_type."},
	// messages
	{"messages_sent_total", typeCounter, "WebSocket messages sent to clients, protocol messages included."},
	{"messages_received_total", typeCounter, "WebSocket messages received from clients."},
	{"ws_messages_sent_total", typeCounter, "WebSocket messages sent (Sockudo-compatible name of messages_sent_total)."},
	{"ws_messages_received_total", typeCounter, "WebSocket messages received (Sockudo-compatible name of messages_received_total)."},
	{"socket_received_bytes", typeCounter, "Bytes of WebSocket frames received from clients."},
	{"socket_transmitted_bytes", typeCounter, "Bytes of WebSocket frames sent to clients."},
	// HTTP API
	{"http_api_requests_total", typeCounter, "HTTP requests on the API port, by route pattern, method and status code."},
	{"http_api_request_duration_seconds", typeHistogram, "Time to answer an HTTP request, by route pattern."},
	{"http_calls_received_total", typeCounter, "REST API requests received, by app_id (Sockudo-compatible); WebSocket upgrades and unknown apps are not counted."},
	{"http_received_bytes", typeCounter, "REST API request body bytes received, by app_id."},
	{"http_transmitted_bytes", typeCounter, "REST API response body bytes sent, by app_id."},
	// channels
	{"active_channels", typeGauge, "Occupied channels, by channel_type."},
	{"channel_subscriptions_total", typeCounter, "Successful channel subscriptions, by channel_type."},
	{"channel_unsubscriptions_total", typeCounter, "Channel unsubscriptions, disconnects included, by channel_type."},
	{"presence_channel_members", typeGauge, "Distinct users per presence channel, summed over the app's presence channels."},
	{"registry_entries", typeGauge, "Entries in this node's channel, user and cluster registries, by registry; each returns to 0 when the cluster is idle."},
	// errors
	{"errors_total", typeCounter, "Errors by type; one failure may count under two types."},
	{"websocket_errors_total", typeCounter, "WebSocket-side errors by type."},
	{"authentication_failures_total", typeCounter, "Failed authentications, by type (private, presence, signin, http_api)."},
	// fan-out
	{"broadcast_latency_seconds", typeHistogram, "Time from a publish being accepted to its last frame handed to the kernel."},
	{"slow_consumer_disconnects_total", typeCounter, "Connections closed with 4100 because they read too slowly."},
	// rate limiting
	{"rate_limit_triggered_total", typeCounter, "Requests refused by a rate limiter, by limiter_type."},
	// queue and webhooks
	{"queue_jobs_processed_total", typeCounter, "Queue jobs (webhook batches) processed successfully."},
	{"queue_jobs_failed_total", typeCounter, "Queue jobs that failed for good."},
	{"queue_active_jobs", typeGauge, "Queue jobs waiting or running."},
	{"queue_job_duration_seconds", typeHistogram, "Time to process one queue job."},
	{"webhook_deliveries_total", typeCounter, "Webhook delivery attempts, by status (success, failed, retry)."},
	{"webhook_retries_total", typeCounter, "Webhook deliveries scheduled for another attempt."},
	// horizontal adapter
	{"adapter_published_total", typeCounter, "Messages this node published to the horizontal adapter."},
	{"adapter_received_total", typeCounter, "Messages this node received from the horizontal adapter."},
	{"adapter_errors_total", typeCounter, "Horizontal adapter errors."},
	{"adapter_request_duration_seconds", typeHistogram, "Time for a cross-node adapter request to be answered."},
	// app store (SQL drivers)
	{"app_store_lookups_total", typeCounter, "App lookups of the SQL app store, by result (hit, negative_hit, miss, not_found, error)."},
	{"app_store_errors_total", typeCounter, "Failed app database operations (queries, pings, refreshes)."},
	// protocol V2 connection recovery
	{"recovery_resumes_total", typeCounter, "Channels named in sockudo:resume requests, by outcome (recovered, failed) and code (the resume_failed code, none when recovered)."},
	{"recovery_replayed_messages_total", typeCounter, "Messages replayed to resuming connections."},
	{"recovery_buffered_messages_total", typeCounter, "Broadcasts given a stream position and kept in the replay buffer."},
	{"cluster_forwarded_publishes_total", typeCounter, "Publishes to recovery-enabled channels sent to the channel's owner node, which assigns the cluster-wide stream position."},
	{"cluster_forward_retries_total", typeCounter, "Forwarded publishes sent again because their owner node left or died before answering."},
	{"cluster_forward_failures_total", typeCounter, "Forwarded publishes the owner never confirmed (within max(5 s, 2 × node timeout)) or could not sequence; they may not have been delivered."},
	// protocol V2 idempotent publishing
	{"idempotent_publishes_total", typeCounter, "Keyed HTTP publishes not published, by outcome (duplicate, in_flight, conflict, unavailable)."},
	// durable history
	{"history_writes_total", typeCounter, "History entries stored."},
	{"history_write_batches_total", typeCounter, "Successful history store writes (each carries a batch of entries)."},
	{"history_expired_total", typeCounter, "History entries the periodic retention sweep deleted (past the window of channels no longer written)."},
	{"history_dropped_total", typeCounter, "History entries not stored: writer queue full, store write failed, or no serial could be reserved; the channel's stream is marked degraded."},
	{"history_store_errors_total", typeCounter, "Failed history store calls (writes, serial reservations, reads)."},
	{"history_reads_total", typeCounter, "History pages read (HTTP API, rewinds, cold recovery)."},
	{"history_rewinds_total", typeCounter, "Rewinds on subscribe answered with sockudo:rewind_complete."},
	// protocol V2 subscription filters
	{"filter_suppressed_total", typeCounter, "Live deliveries to V2 subscribers that their subscription filter suppressed."},
	{"filter_rejected_total", typeCounter, "V2 subscribes refused (sockudo:error 4000) for an invalid filter or one over a limit."},
	{"filtered_subscriptions", typeGauge, "V2 subscriptions with a filter on this node."},
	// protocol V2 delta compression
	{"delta_frames_sent_total", typeCounter, "Frames sent to delta-compression subscribers, by kind (delta: sockudo:delta, full: a full frame on the delta path)."},
	{"delta_bytes_saved_total", typeCounter, "Bytes the delta frames sent saved against the full frames they replaced."},
	{"delta_resyncs_total", typeCounter, "sockudo:delta_sync_error requests honoured (the subscriber's next frame is full)."},
	{"delta_channels", typeGauge, "Channels holding delta-compression state on this node."},
	// protocol V2 wire formats
	{"connections_by_wire_format", typeGauge, "Open WebSocket connections by wire format (json, msgpack, protobuf); V1 connections count as json."},
	{"wire_encode_failures_total", typeCounter, "Frames a binary wire format codec could not encode; they are dropped and logged."},
	// shards
	{"shard_connections", typeGauge, "Connections owned by each shard worker."},
	{"shard_queue_depth", typeGauge, "Jobs waiting in each shard worker's inbox."},
}

// processCatalog lists the unprefixed families the server adds to the
// process metrics of VictoriaMetrics/metrics.
var processCatalog = [...]family{
	{"process_network_transmit_bytes_total", typeCounter, "Bytes this server sent: WebSocket frames plus HTTP response bodies."},
	{"process_network_receive_bytes_total", typeCounter, "Bytes this server received: WebSocket frames plus HTTP request bodies."},
}

// processHelp is the help text of the best-known process metrics written by
// VictoriaMetrics/metrics; others get a generic line.
var processHelp = map[string]string{
	"process_cpu_seconds_total":     "CPU time (user and system) used by the process.",
	"process_resident_memory_bytes": "Resident memory of the process.",
	"process_virtual_memory_bytes":  "Virtual memory of the process.",
	"process_open_fds":              "Open file descriptors.",
	"process_max_fds":               "Limit on open file descriptors.",
	"process_start_time_seconds":    "Start time of the process, Unix seconds.",
	"go_goroutines":                 "Goroutines that currently exist.",
	"go_gc_duration_seconds":        "Stop-the-world GC pause durations.",
	"go_memlimit_bytes":             "The Go memory limit (GOMEMLIMIT); math.MaxInt64 when unset.",
}

const processHelpDefault = "Process or Go runtime metric (VictoriaMetrics/metrics)."

// httpAuthType is the authentication_failures_total type of the HTTP
// API's 401 answers; the engine's types are engine.AuthLabels.
const httpAuthType = "http_api"

// Label values known from start-up.
var (
	// limiterTypes are the pre-created limiter_type labels.
	limiterTypes = [...]string{"api", "websocket_connect", "backend_events", "read_requests", "client_events"}
	// webhookStatuses are the pre-created webhook_deliveries_total labels.
	webhookStatuses = [...]string{"2xx", "3xx", "4xx", "5xx", "error"}
	// errorTypes are the type labels of errors_total.
	errorTypes = [...]string{"pusher_error", "websocket_protocol", "slow_consumer",
		"connection_refused", "authentication", "http_client_error", "http_server_error"}
	// lookupResults are the result labels of app_store_lookups_total.
	lookupResults = [...]string{"hit", "negative_hit", "miss", "not_found", "error"}
	// idempotencyOutcomes are the outcome labels of
	// idempotent_publishes_total (engine/idempotency's Observed*).
	idempotencyOutcomes = [...]string{"duplicate", "in_flight", "conflict", "unavailable"}
	// websocketErrorTypes are the type labels of websocket_errors_total.
	websocketErrorTypes = [...]string{"protocol", "pusher_error", "slow_consumer"}
)

// Histogram buckets, in seconds.
var (
	latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	jobBuckets     = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)
