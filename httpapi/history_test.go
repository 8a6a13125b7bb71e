package httpapi

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	os.Exit(code)
}

// withHistory turns history on over store, with recovery on too.
func withHistory(store engine.HistoryStore, tweak func(*engine.HistoryOptions)) func(*engine.Options) {
	return func(o *engine.Options) {
		withRecovery(o)
		o.V2.History = engine.HistoryOptions{Store: store, Enabled: true, RewindEnabled: true}
		if tweak != nil {
			tweak(&o.V2.History)
		}
	}
}

func pgStore(t *testing.T, db *pgtest.DB) *pghistory.Store {
	t.Helper()
	s, err := pghistory.New(pghistory.Options{URL: db.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

type pageResp struct {
	Items []struct {
		StreamID         string         `json:"stream_id"`
		Serial           uint64         `json:"serial"`
		PublishedAtMS    int64          `json:"published_at_ms"`
		MessageID        string         `json:"message_id"`
		EventName        string         `json:"event_name"`
		OperationKind    string         `json:"operation_kind"`
		PayloadSizeBytes int            `json:"payload_size_bytes"`
		Message          map[string]any `json:"message"`
	} `json:"items"`
	Direction  string  `json:"direction"`
	Limit      int     `json:"limit"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
	Continuity struct {
		StreamID             string `json:"stream_id"`
		OldestSerial         uint64 `json:"oldest_available_serial"`
		NewestSerial         uint64 `json:"newest_available_serial"`
		RetainedMessages     int64  `json:"retained_messages"`
		Complete             bool   `json:"complete"`
		TruncatedByRetention bool   `json:"truncated_by_retention"`
	} `json:"continuity"`
	StreamState struct {
		DurableState    string `json:"durable_state"`
		RecoveryAllowed bool   `json:"recovery_allowed"`
	} `json:"stream_state"`
}

func (p pageResp) serials() string {
	var s []string
	for _, it := range p.Items {
		s = append(s, fmt.Sprint(it.Serial))
	}
	return strings.Join(s, ",")
}

func (ts *testServer) page(t *testing.T, ch string, params map[string]string) pageResp {
	t.Helper()
	r := ts.get(t, "/channels/"+ch+"/history", params)
	requireStatus(t, r, 200)
	var p pageResp
	decodeBody(t, r, &p)
	return p
}

type stateResp struct {
	Channel string `json:"channel"`
	Stream  struct {
		StreamID   string `json:"stream_id"`
		NextSerial uint64 `json:"next_serial"`
		Retained   struct {
			RetainedMessages int64 `json:"retained_messages"`
		} `json:"retained"`
		State struct {
			DurableState string `json:"durable_state"`
		} `json:"state"`
	} `json:"stream"`
}

func (ts *testServer) state(t *testing.T, ch string) stateResp {
	t.Helper()
	r := ts.get(t, "/channels/"+ch+"/history/state", nil)
	requireStatus(t, r, 200)
	var s stateResp
	decodeBody(t, r, &s)
	return s
}

func (ts *testServer) publishN(t *testing.T, ch string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		requireStatus(t, ts.post(t, "/events", fmt.Sprintf(`{"name":"ev","channel":%q,"data":"%d"}`, ch, i)), 200)
	}
}

func (ts *testServer) waitStored(t *testing.T, ch string, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d entries stored", n), func() bool {
		return ts.state(t, ch).Stream.Retained.RetainedMessages == n
	})
}

func TestHistoryHTTPMemory(t *testing.T) { historyHTTP(t, history.NewMemory(nil)) }

func TestHistoryHTTPPostgres(t *testing.T) { historyHTTP(t, pgStore(t, pgtest.Start(t))) }

// historyHTTP: publishes get serials from the store and are stored as V2
// subscribers received them; pages, cursors, bounds, state, purge and
// reset answer as sockudo-v2.md §10.1 describes.
func historyHTTP(t *testing.T, store engine.HistoryStore) {
	ts := startServerWith(t, withHistory(store, nil), nil)
	v2 := ts.dialV2(t, "")
	v2.send(`{"event":"sockudo:subscribe","data":{"channel":"orders"}}`)
	v2.expect("sockudo_internal:subscription_succeeded")
	v1 := ts.dial(t)
	v1.subscribe("orders")
	ts.publishN(t, "orders", 1, 5)
	for range 5 {
		if f := v1.expect("ev"); strings.Contains(f.str(), "serial") || strings.Contains(f.str(), "message_id") {
			t.Fatalf("V1 frame with V2 members: %s", f.str())
		}
	}
	var live []v2Frame
	for range 5 {
		live = append(live, v2.expect("ev"))
	}
	stream := *live[0].StreamID
	for i, f := range live {
		if *f.Serial != uint64(i+1) || *f.StreamID != stream {
			t.Fatalf("live %d: %s", i, f.raw)
		}
	}
	ts.waitStored(t, "orders", 5)

	p := ts.page(t, "orders", map[string]string{"limit": "2"})
	if p.serials() != "5,4" || !p.HasMore || p.NextCursor == nil || p.Direction != "newest_first" || p.Limit != 2 {
		t.Fatalf("first page %+v", p)
	}
	it := p.Items[0]
	if it.StreamID != stream || it.MessageID != *live[4].MessageID || it.EventName != "ev" || it.OperationKind != "append" ||
		it.PayloadSizeBytes != len(live[4].raw) || it.Message["serial"] != float64(5) || it.Message["data"] != "5" {
		t.Fatalf("item %+v, live %s", it, live[4].raw)
	}
	if c := p.Continuity; c.StreamID != stream || c.OldestSerial != 1 || c.NewestSerial != 5 || c.RetainedMessages != 5 || c.Complete || c.TruncatedByRetention {
		t.Fatalf("continuity %+v", c)
	}
	if p.StreamState.DurableState != "healthy" || !p.StreamState.RecoveryAllowed {
		t.Fatalf("stream state %+v", p.StreamState)
	}
	p = ts.page(t, "orders", map[string]string{"limit": "2", "cursor": *p.NextCursor})
	if p.serials() != "3,2" || !p.HasMore {
		t.Fatalf("second page %+v", p)
	}
	p = ts.page(t, "orders", map[string]string{"limit": "2", "cursor": *p.NextCursor})
	if p.serials() != "1" || p.HasMore || p.NextCursor != nil || !p.Continuity.Complete {
		t.Fatalf("last page %+v", p)
	}
	p = ts.page(t, "orders", map[string]string{"direction": "oldest_first", "start_serial": "2", "end_serial": "4"})
	if p.serials() != "2,3,4" || p.Direction != "oldest_first" {
		t.Fatalf("serial bounds %+v", p)
	}
	all := ts.page(t, "orders", map[string]string{"direction": "forwards"})
	from, to := all.Items[1].PublishedAtMS, all.Items[3].PublishedAtMS
	p = ts.page(t, "orders", map[string]string{"direction": "forwards", "start": fmt.Sprint(from), "end_time_ms": fmt.Sprint(to)})
	var want []string // entries published in the same ms share a bound
	for _, it := range all.Items {
		if it.PublishedAtMS >= from && it.PublishedAtMS <= to {
			want = append(want, fmt.Sprint(it.Serial))
		}
	}
	if p.serials() != strings.Join(want, ",") || len(p.Items) < 3 {
		t.Fatalf("time bounds %d..%d: %s, want %v", from, to, p.serials(), want)
	}
	for _, bad := range []map[string]string{{"limit": "0"}, {"limit": "x"}, {"direction": "sideways"}, {"cursor": "!!"},
		{"cursor": "eyJ2ZXJzaW9uIjoyfQ"}, {"start_serial": "-1"}, {"start_serial": "5", "end_serial": "2"}} {
		requireStatus(t, ts.get(t, "/channels/orders/history", bad), 400)
	}
	// A cursor of one channel is refused on another.
	first := ts.page(t, "orders", map[string]string{"limit": "1"})
	requireStatus(t, ts.get(t, "/channels/other/history", map[string]string{"cursor": *first.NextCursor}), 400)

	st := ts.state(t, "orders")
	if st.Channel != "orders" || st.Stream.StreamID != stream || st.Stream.NextSerial < 6 || st.Stream.State.DurableState != "healthy" {
		t.Fatalf("state %+v", st)
	}

	// Purge.
	requireStatus(t, ts.post(t, "/channels/orders/history/purge", `{"confirm_channel":"orders","confirm_operation":"purge","mode":"before_serial","before_serial":3,"reason":"test"}`), 200)
	if p := ts.page(t, "orders", nil); p.serials() != "5,4,3" || !p.Continuity.TruncatedByRetention || p.Continuity.Complete {
		t.Fatalf("after purge %+v", p)
	}
	for _, bad := range []string{`{"confirm_channel":"x","confirm_operation":"purge","mode":"all","reason":"r"}`,
		`{"confirm_channel":"orders","confirm_operation":"reset","mode":"all","reason":"r"}`,
		`{"confirm_channel":"orders","confirm_operation":"purge","mode":"all","reason":""}`,
		`{"confirm_channel":"orders","confirm_operation":"purge","mode":"before_serial","reason":"r"}`,
		`{"confirm_channel":"orders","confirm_operation":"purge","mode":"some","reason":"r"}`, `nope`} {
		requireStatus(t, ts.post(t, "/channels/orders/history/purge", bad), 400)
	}
	// A cursor issued before a reset is refused after it.
	cur := *ts.page(t, "orders", map[string]string{"limit": "1"}).NextCursor

	// Reset: a new stream; the next publish starts it at serial 1.
	requireStatus(t, ts.post(t, "/channels/orders/history/reset", `{"confirm_channel":"orders","confirm_operation":"purge","reason":"r"}`), 400)
	r := ts.post(t, "/channels/orders/history/reset", `{"confirm_channel":"orders","confirm_operation":"reset","reason":"test","requested_by":"ops"}`)
	requireStatus(t, r, 200)
	var rs stateResp
	decodeBody(t, r, &rs)
	if rs.Stream.StreamID == "" || rs.Stream.StreamID == stream || rs.Stream.NextSerial != 1 {
		t.Fatalf("reset %s", r.body)
	}
	requireStatus(t, ts.get(t, "/channels/orders/history", map[string]string{"cursor": cur}), 409)
	r = ts.post(t, "/events", `{"name":"ev","channel":"orders","data":"6","message_id":"m-6"}`)
	requireStatus(t, r, 200)
	if !strings.Contains(r.body, `"message_serial":1,"history_serial":1`) {
		t.Fatalf("publish answer %s", r.body)
	}
	if f := v2.expect("ev"); *f.StreamID != rs.Stream.StreamID || *f.Serial != 1 {
		t.Fatalf("first publish after reset %s", f.raw)
	}
	ts.waitStored(t, "orders", 1)
}

// TestHistoryHTTPDisabled: history off for the app answers 422 with
// Sockudo's body, on every history route.
func TestHistoryHTTPDisabled(t *testing.T) {
	off := false
	apps := testApps()
	apps.apps[0].History.Enabled = &off
	ts := startServerStore(t, apps, withHistory(history.NewMemory(nil), nil), nil)
	for _, r := range []apiResponse{ts.get(t, "/channels/c/history", nil), ts.get(t, "/channels/c/history/state", nil),
		ts.post(t, "/channels/c/history/reset", `{}`), ts.post(t, "/channels/c/history/purge", `{}`)} {
		if r.status != 422 || r.body != `{"error":"Durable history is disabled by policy for channel 'c'","code":"feature_disabled","status":422}` {
			t.Fatalf("disabled: %d %s", r.status, r.body)
		}
	}
	// No store at all: the same.
	ts2 := startServer(t, nil)
	if r := ts2.get(t, "/channels/c/history", nil); r.status != 422 {
		t.Fatalf("no store: %d %s", r.status, r.body)
	}
	// Unsigned requests are refused like every API route.
	if r := ts.do(t, "GET", "/apps/1/channels/c/history", nil, "", app1, false); r.status != 401 {
		t.Fatalf("unsigned: %d %s", r.status, r.body)
	}
}

func TestHistoryRetentionMemory(t *testing.T) { historyRetention(t, history.NewMemory(nil)) }

func TestHistoryRetentionPostgres(t *testing.T) {
	historyRetention(t, pgStore(t, pgtest.Start(t)))
}

// historyRetention: the count bound keeps the newest entries; an app's
// policy overrides the global bound.
func historyRetention(t *testing.T, store engine.HistoryStore) {
	apps := testApps()
	apps.apps[0].History.Retention.MaxMessages = 3
	ts := startServerStore(t, apps, withHistory(store, func(h *engine.HistoryOptions) {
		h.Retention = engine.HistoryRetention{MaxMessages: 100, Window: time.Hour}
	}), nil)
	ts.publishN(t, "r", 1, 10)
	eventually(t, "ten written", func() bool { return ts.eng.NodeSnapshot().HistoryWrites == 10 })
	if p := ts.page(t, "r", nil); p.serials() != "10,9,8" || !p.Continuity.TruncatedByRetention {
		t.Fatalf("retained %+v", p)
	}
}

func TestHistoryRetentionSweepMemory(t *testing.T) { historyRetentionSweep(t, history.NewMemory(nil)) }

func TestHistoryRetentionSweepPostgres(t *testing.T) {
	historyRetentionSweep(t, pgStore(t, pgtest.Start(t)))
}

// historyRetentionSweep: a channel that is no longer written loses its
// entries once they pass the window, through the periodic sweep, and
// they are counted; its stream and serials go on.
func historyRetentionSweep(t *testing.T, store engine.HistoryStore) {
	apps := testApps()
	ts := startServerStore(t, apps, withHistory(store, func(h *engine.HistoryOptions) {
		h.Retention = engine.HistoryRetention{Window: 2 * time.Second}
		h.PurgeInterval, h.PurgeBatch = 50*time.Millisecond, 2
	}), nil)
	ts.publishN(t, "idle", 1, 5)
	ts.waitStored(t, "idle", 5)
	if p := ts.page(t, "idle", nil); p.serials() != "5,4,3,2,1" {
		t.Fatalf("before the window passed: %+v", p)
	}
	eventually(t, "the sweep to empty the idle channel", func() bool {
		return ts.page(t, "idle", nil).serials() == "" && ts.eng.NodeSnapshot().HistoryExpired == 5
	})
	// The stream goes on where it was: expiry is not a reset.
	ts.publishN(t, "idle", 6, 6)
	ts.waitStored(t, "idle", 1)
	if p := ts.page(t, "idle", nil); p.serials() != "6" {
		t.Fatalf("after the sweep: %+v", p)
	}
}

// TestHistoryStoreStoppedMidRun: with PostgreSQL stopped, publishes go on
// (with serials from the reserved block), the lost entries are counted,
// the state read answers 503, and once the database is back the stream
// is recorded as degraded there.
func TestHistoryStoreStoppedMidRun(t *testing.T) {
	db := pgtest.StartPrivate(t)
	ts := startServerWith(t, withHistory(pgStore(t, db), func(h *engine.HistoryOptions) {
		h.WriteTimeout = time.Second
	}), nil)
	v2 := ts.dialV2(t, "")
	v2.send(`{"event":"sockudo:subscribe","data":{"channel":"c"}}`)
	v2.expect("sockudo_internal:subscription_succeeded")
	ts.publishN(t, "c", 1, 3)
	ts.waitStored(t, "c", 3)
	for range 3 {
		v2.expect("ev")
	}
	db.Stop()
	ts.publishN(t, "c", 4, 13)
	for i := 4; i <= 13; i++ {
		if f := v2.expect("ev"); *f.Serial != uint64(i) {
			t.Fatalf("live while the store is down: %s", f.raw)
		}
	}
	eventually(t, "ten drops counted", func() bool {
		n := ts.eng.NodeSnapshot()
		return n.HistoryDropped == 10 && n.HistoryStoreErrors > 0 && n.HistoryWrites == 3
	})
	requireStatus(t, ts.get(t, "/channels/c/history/state", nil), 503)
	// A channel with no serials reserved yet: published without a
	// position, each one counted as dropped.
	r := ts.post(t, "/events", `{"name":"ev","channel":"fresh","data":"x","message_id":"m-fresh"}`)
	requireStatus(t, r, 200)
	if strings.Contains(r.body, "message_serial") {
		t.Fatalf("a serial without a store: %s", r.body)
	}
	ts.publishN(t, "fresh", 2, 3)
	eventually(t, "fresh drops counted", func() bool { return ts.eng.NodeSnapshot().HistoryDropped == 13 })
	if err := db.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stream recorded as degraded", func() bool {
		r := ts.get(t, "/channels/c/history/state", nil)
		return r.status == 200 && strings.Contains(r.body, `"durable_state":"degraded"`)
	})
	ts.publishN(t, "c", 14, 14)
	ts.waitStored(t, "c", 4)
	p := ts.page(t, "c", nil)
	if p.serials() != "14,3,2,1" || p.StreamState.DurableState != "degraded" || p.StreamState.RecoveryAllowed {
		t.Fatalf("after the outage %+v", p)
	}
}
