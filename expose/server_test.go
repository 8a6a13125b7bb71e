package expose

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
)

// familyNames is every family the scrape must carry, prefixed.
func familyNames(prefix string) []string {
	var out []string
	for _, f := range catalog {
		out = append(out, prefix+f.name)
	}
	for _, f := range processCatalog {
		out = append(out, f.name)
	}
	return append(out, "process_cpu_seconds_total", "process_resident_memory_bytes",
		"process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
		"process_start_time_seconds", "go_goroutines", "go_gc_duration_seconds")
}

func TestEveryFamilyFromStartup(t *testing.T) {
	n := newNode(t, Options{}, false)
	text := n.scrape(t)
	for _, name := range familyNames(DefaultPrefix) {
		if !strings.Contains(text, "\n# TYPE "+name+" ") {
			t.Errorf("no TYPE line for %s", name)
		}
	}
	got := samples(t, text)
	want := []string{
		`sockudo_active_connections{app_id="app-1"}`,
		`sockudo_connected{app_id="app-2"}`,
		`sockudo_presence_channel_members{app_id="app-2"}`,
		`sockudo_broadcast_latency_seconds_bucket{le="+Inf"}`,
		`sockudo_http_api_requests_total{path="/apps/{app_id}/events",method="POST",status_code="200"}`,
		`sockudo_http_api_request_duration_seconds_count{path="/apps/{app_id}/channels"}`,
		`sockudo_authentication_failures_total{type="http_api"}`,
		`sockudo_webhook_deliveries_total{status="5xx"}`,
		`sockudo_rate_limit_triggered_total{limiter_type="client_events"}`,
		`sockudo_app_store_lookups_total{result="negative_hit"}`,
		`sockudo_app_store_errors_total`,
		`sockudo_queue_active_jobs`,
		`sockudo_shard_connections{shard="1"}`,
		`sockudo_recovery_resumes_total{outcome="recovered",code="none"}`,
		`sockudo_recovery_resumes_total{outcome="failed",code="stream_reset"}`,
		`sockudo_recovery_replayed_messages_total`,
		`sockudo_recovery_buffered_messages_total`,
		`sockudo_idempotent_publishes_total{outcome="in_flight"}`,
		`sockudo_recovery_resumes_total{outcome="failed",code="persistence_unavailable"}`,
		`sockudo_history_writes_total`,
		`sockudo_history_write_batches_total`,
		`sockudo_history_dropped_total`,
		`sockudo_history_store_errors_total`,
		`sockudo_history_reads_total`,
		`sockudo_history_rewinds_total`,
		`sockudo_connections_by_wire_format{format="json"}`,
		`sockudo_connections_by_wire_format{format="msgpack"}`,
		`sockudo_connections_by_wire_format{format="protobuf"}`,
		`sockudo_wire_encode_failures_total`,
		`process_network_receive_bytes_total`,
	}
	for _, kind := range engine.KindLabels {
		want = append(want, fmt.Sprintf(`sockudo_active_channels{app_id="app-1",channel_type=%q}`, kind),
			fmt.Sprintf(`sockudo_channel_subscriptions_total{app_id="app-2",channel_type=%q}`, kind))
	}
	for _, typ := range engine.RefusalLabels {
		want = append(want, fmt.Sprintf(`sockudo_connection_errors_total{error_type=%q}`, typ))
	}
	for _, reg := range engine.RegistryLabels {
		want = append(want, fmt.Sprintf(`sockudo_registry_entries{registry=%q}`, reg))
	}
	for _, typ := range engine.AuthLabels {
		want = append(want, fmt.Sprintf(`sockudo_authentication_failures_total{type=%q}`, typ))
	}
	for _, w := range want {
		v, ok := got[w]
		if !ok {
			t.Errorf("missing series %s", w)
		} else if v != 0 {
			t.Errorf("%s = %v at start-up, want 0", w, v)
		}
	}
}

func TestCountersMoveWithTraffic(t *testing.T) {
	n := newNode(t, Options{}, false)
	conns := traffic(t, n.eng, 3)
	waitFor(t, 2*time.Second, func() error {
		got := samples(t, n.scrape(t))
		for series, want := range map[string]float64{
			`sockudo_active_connections{app_id="app-1"}`:                                3,
			`sockudo_connected{app_id="app-1"}`:                                         3,
			`sockudo_new_connections_total{app_id="app-1"}`:                             3,
			`sockudo_active_channels{app_id="app-1",channel_type="public"}`:             1,
			`sockudo_registry_entries{registry="channels"}`:                             1,
			`sockudo_channel_subscriptions_total{app_id="app-1",channel_type="public"}`: 3,
			`sockudo_messages_received_total{app_id="app-1"}`:                           6,
			`sockudo_ws_messages_received_total{app_id="app-1"}`:                        6,
			// connection_established, subscription_succeeded, pong, update
			`sockudo_messages_sent_total{app_id="app-1"}`:                 12,
			`sockudo_connection_errors_total{error_type="app_not_found"}`: 1,
			`sockudo_errors_total{type="connection_refused"}`:             1,
			`sockudo_broadcast_latency_seconds_count`:                     1,
			`sockudo_active_connections{app_id="app-2"}`:                  0,
		} {
			if got[series] != want {
				return fmt.Errorf("%s = %v, want %v", series, got[series], want)
			}
		}
		if got[`sockudo_socket_transmitted_bytes{app_id="app-1"}`] == 0 || got[`process_network_transmit_bytes_total`] == 0 {
			return fmt.Errorf("no bytes counted")
		}
		return nil
	})
	for _, c := range conns {
		c.Gone(io.EOF)
	}
	waitFor(t, 2*time.Second, func() error {
		got := samples(t, n.scrape(t))
		for series, want := range map[string]float64{
			`sockudo_active_connections{app_id="app-1"}`:                                  0,
			`sockudo_new_disconnections_total{app_id="app-1"}`:                            3,
			`sockudo_active_channels{app_id="app-1",channel_type="public"}`:               0,
			`sockudo_channel_unsubscriptions_total{app_id="app-1",channel_type="public"}`: 3,
			`sockudo_shard_connections{shard="0"}`:                                        0,
			`sockudo_registry_entries{registry="channels"}`:                               0,
		} {
			if got[series] != want {
				return fmt.Errorf("%s = %v, want %v", series, got[series], want)
			}
		}
		return nil
	})
}

func TestCustomPrefixAndTwoServers(t *testing.T) {
	a := newNode(t, Options{Prefix: "alpha_"}, false)
	b := newNode(t, Options{Prefix: "beta_", AppIDs: []string{"app-2"}}, false)
	a.srv.RateLimited("api")
	ta, tb := a.scrape(t), b.scrape(t)
	for _, name := range familyNames("beta_") {
		if !strings.Contains(tb, "# TYPE "+name+" ") {
			t.Errorf("beta: no %s", name)
		}
	}
	if strings.Contains(ta, "sockudo_") || strings.Contains(ta, "beta_") || strings.Contains(tb, "alpha_") {
		t.Error("a series leaked between servers or kept the default prefix")
	}
	if got := samples(t, ta)[`alpha_rate_limit_triggered_total{limiter_type="api"}`]; got != 1 {
		t.Errorf("alpha rate limit = %v, want 1", got)
	}
	if got := samples(t, tb)[`beta_rate_limit_triggered_total{limiter_type="api"}`]; got != 0 {
		t.Errorf("beta rate limit = %v, want 0", got)
	}
	if strings.Contains(tb, `app_id="app-1"`) {
		t.Error("beta exports an app it was not given")
	}
	if _, err := New(Options{Prefix: "9bad"}); err == nil {
		t.Error("invalid prefix accepted")
	}
}

func TestObserveHTTP(t *testing.T) {
	n := newNode(t, Options{}, false)
	s := n.srv
	s.ObserveHTTP("/apps/{app_id}/events", "POST", "app-1", 200, 3*time.Millisecond, 120, 2)
	s.ObserveHTTP("/apps/{app_id}/events", "POST", "app-1", 401, time.Millisecond, 50, 30)
	s.ObserveHTTP("", "OTHER", "", 404, 0, 0, 20)
	s.ObserveHTTP("/apps/{app_id}/channels", "GET", "ghost", 500, time.Millisecond, 0, 10) // not an app of this server
	got := samples(t, n.scrape(t))
	for series, want := range map[string]float64{
		`sockudo_http_api_requests_total{path="/apps/{app_id}/events",method="POST",status_code="200"}`: 1,
		`sockudo_http_api_requests_total{path="/apps/{app_id}/events",method="POST",status_code="401"}`: 1,
		`sockudo_http_api_requests_total{path="unmatched",method="OTHER",status_code="404"}`:            1,
		`sockudo_http_api_request_duration_seconds_count{path="/apps/{app_id}/events"}`:                 2,
		`sockudo_http_api_request_duration_seconds_bucket{path="/apps/{app_id}/events",le="0.005"}`:     2,
		`sockudo_http_calls_received_total{app_id="app-1"}`:                                             2,
		`sockudo_http_received_bytes{app_id="app-1"}`:                                                   170,
		`sockudo_http_transmitted_bytes{app_id="app-1"}`:                                                32,
		`sockudo_http_calls_received_total{app_id="app-2"}`:                                             0,
		`sockudo_authentication_failures_total{type="http_api"}`:                                        1,
		`sockudo_errors_total{type="http_client_error"}`:                                                2,
		`sockudo_errors_total{type="http_server_error"}`:                                                1,
		`process_network_receive_bytes_total`:                                                           170,
		`process_network_transmit_bytes_total`:                                                          62,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
	for series := range got {
		if strings.Contains(series, "ghost") {
			t.Errorf("an unknown app id created a series: %s", series)
		}
		if strings.Contains(series, "/apps/app-1") {
			t.Errorf("raw URL in a label: %s", series)
		}
		if name, _, _ := strings.Cut(series, "{"); sockudoHTTPTotals[name] && !strings.Contains(series, `{app_id="`) {
			t.Errorf("a series without app_id: %s", series)
		}
	}
}

// sockudoHTTPTotals are the Sockudo-compatible HTTP families, which count
// REST API calls per app and have no series without app_id.
var sockudoHTTPTotals = map[string]bool{
	"sockudo_http_calls_received_total": true,
	"sockudo_http_received_bytes":       true,
	"sockudo_http_transmitted_bytes":    true,
}

func TestLaterAdapterPorts(t *testing.T) {
	n := newNode(t, Options{}, false)
	s := n.srv
	s.QueueJobProcessed(20 * time.Millisecond)
	s.QueueJobFailed()
	s.SetQueueActive(7)
	s.WebhookDelivered("2xx")
	s.WebhookDelivered("5xx")
	s.WebhookRetried()
	s.AdapterPublished()
	s.AdapterReceived()
	s.AdapterReceived()
	s.AdapterError()
	s.ObserveAdapterRequest(time.Millisecond)
	s.RateLimited("websocket_connect")
	got := samples(t, n.scrape(t))
	for series, want := range map[string]float64{
		`sockudo_queue_jobs_processed_total`:                                   1,
		`sockudo_queue_jobs_failed_total`:                                      1,
		`sockudo_queue_active_jobs`:                                            7,
		`sockudo_queue_job_duration_seconds_bucket{le="0.025"}`:                1,
		`sockudo_webhook_deliveries_total{status="2xx"}`:                       1,
		`sockudo_webhook_deliveries_total{status="error"}`:                     0,
		`sockudo_webhook_retries_total`:                                        1,
		`sockudo_adapter_published_total`:                                      1,
		`sockudo_adapter_received_total`:                                       2,
		`sockudo_adapter_errors_total`:                                         1,
		`sockudo_adapter_request_duration_seconds_count`:                       1,
		`sockudo_rate_limit_triggered_total{limiter_type="websocket_connect"}`: 1,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}

func TestHealthAndMetricsOverHTTP(t *testing.T) {
	n := newNode(t, Options{}, true)
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(n.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	f := func(path string, wantStatus int) {
		t.Helper()
		if got, _, _ := get(path); got != wantStatus {
			t.Errorf("GET %s = %d, want %d", path, got, wantStatus)
		}
	}
	code, ctype, body := get("/metrics")
	if code != 200 || ctype != ContentType || !strings.Contains(body, "sockudo_active_connections") {
		t.Errorf("GET /metrics = %d %q, body %d bytes", code, ctype, len(body))
	}
	f("/up", 200)
	f("/ready", 200)
	f("/nope", 404)
	_ = n.eng.Shutdown(t.Context())
	f("/up", 503)
	f("/ready", 503)
}

func TestReadyBeforeAttach(t *testing.T) {
	s, err := New(Options{AppIDs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(path string) int {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		s.Handler()(&ctx)
		return ctx.Response.StatusCode()
	}
	if call("/ready") != 503 || call("/up") != 200 || call("/metrics") != 200 {
		t.Error("health before Attach: want /ready 503, /up 200, /metrics 200")
	}
}

func TestLabelEscaping(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := labelPair("app_id", in); got != want {
			t.Errorf("labelPair(%q) = %s, want %s", in, got, want)
		}
	}
	f("plain", `app_id="plain"`)
	f(`a"b`, `app_id="a\"b"`)
	f(`a\b`, `app_id="a\\b"`)
	f("a\nb", `app_id="a\nb"`)
}

func TestParseRoutes(t *testing.T) {
	if _, err := parseRoutes([]string{"apps/x"}); err == nil {
		t.Error("pattern without / accepted")
	}
	r, err := parseRoutes([]string{"/up", "POST /apps/{app_id}/events"})
	if err != nil || r[0] != (route{"GET", "/up"}) || r[1] != (route{"POST", "/apps/{app_id}/events"}) {
		t.Errorf("parseRoutes = %v, %v", r, err)
	}
}

// Series created lazily by concurrent requests while Prometheus scrapes.
func TestConcurrentObserveAndScrape(t *testing.T) {
	n := newNode(t, Options{}, false)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				n.srv.ObserveHTTP("/apps/{app_id}/events", "POST", "app-1", 200+i%5, time.Microsecond, 1, 1)
				n.srv.RateLimited("api")
				n.srv.ObserveBroadcast(time.Microsecond)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		_ = n.scrape(t)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	got := samples(t, n.scrape(t))
	if got[`sockudo_http_calls_received_total{app_id="app-1"}`] != 800 || got[`sockudo_broadcast_latency_seconds_count`] != 800 {
		t.Errorf("lost updates: calls %v, broadcasts %v", got[`sockudo_http_calls_received_total{app_id="app-1"}`],
			got[`sockudo_broadcast_latency_seconds_count`])
	}
	if got[`sockudo_http_api_requests_total{path="/apps/{app_id}/events",method="POST",status_code="204"}`] != 160 {
		t.Error("lazily created series lost updates")
	}
}

// MONITORING.md is pasted into the README: its table must list every
// family the server exports.
func TestMonitoringDocListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("MONITORING.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range familyNames(DefaultPrefix) {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("MONITORING.md does not list %s", name)
		}
	}
}

// httpObserver is the httpapi adapter's Observer port; expose may not
// import httpapi, so the method set is checked here.
type httpObserver interface {
	ObserveHTTP(route, method, appID string, status int, dur time.Duration, reqBytes, respBytes int)
}

var _ httpObserver = (*Server)(nil)
