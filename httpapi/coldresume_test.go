package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/recovery"
)

// movableClock is a clock tests push forward.
type movableClock struct{ off atomic.Int64 }

func (c *movableClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *movableClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// resume sends sockudo:resume for one channel and collects the frames up
// to resume_success.
func (v *v2Client) resume(channel, stream string, serial uint64) (events, failed []v2Frame, ok v2Frame) {
	v.t.Helper()
	inner, _ := json.Marshal(fmt.Sprintf(`{"channel_positions":{%q:{"stream_id":%q,"serial":%d}}}`, channel, stream, serial))
	v.send(`{"event":"sockudo:resume","data":` + string(inner) + `}`)
	for {
		f := v.next()
		switch f.Event {
		case "sockudo:resume_success":
			return events, failed, f
		case "sockudo:resume_failed":
			failed = append(failed, f)
		default:
			events = append(events, f)
		}
	}
}

// TestColdRecoveryAfterHotTTL: once the hot buffer has expired a
// client's missed messages, durable history replays exactly them
// (source "cold"); live delivery goes on after, once.
func TestColdRecoveryAfterHotTTL(t *testing.T) {
	clock := &movableClock{}
	ts := startServerWith(t, func(o *engine.Options) {
		withHistory(history.NewMemory(nil), nil)(o)
		o.V2.Recovery = recovery.New(recovery.Options{TTL: time.Minute, Now: clock.now})
	}, nil)
	a := ts.dialV2(t, "")
	a.send(`{"event":"sockudo:subscribe","data":{"channel":"feed"}}`)
	a.expect("sockudo_internal:subscription_succeeded")
	ts.publishN(t, "feed", 1, 2)
	var stream string
	for range 2 {
		stream = *a.expect("ev").StreamID
	}
	_ = a.c.Close()
	ts.publishN(t, "feed", 3, 7)
	clock.advance(10 * time.Minute)
	b := ts.dialV2(t, "")
	b.send(`{"event":"sockudo:subscribe","data":{"channel":"feed"}}`)
	b.expect("sockudo_internal:subscription_succeeded")
	events, failed, ok := b.resume("feed", stream, 2)
	if len(failed) != 0 || serialsOf(events) != "3,4,5,6,7" || events[0].Event != "ev" {
		t.Fatalf("cold replay %s, failed %d", serialsOf(events), len(failed))
	}
	if !strings.Contains(ok.raw, `\"source\":\"cold\",\"replayed\":5`) || !strings.Contains(ok.raw, `\"serial\":7`) {
		t.Fatalf("resume_success %s", ok.raw)
	}
	ts.publishN(t, "feed", 8, 8)
	if f := b.expect("ev"); *f.Serial != 8 {
		t.Fatalf("live after cold resume %s", f.raw)
	}
	// A stream the store does not know: stream_reset.
	_, failed, _ = b.resume("feed", "not-the-stream", 2)
	if len(failed) != 1 || !strings.Contains(failed[0].raw, `durable_stream_id_mismatch`) || !strings.Contains(failed[0].raw, `stream_reset`) {
		t.Fatalf("unknown stream %v", failed)
	}
	// Purged below the position: position_expired.
	requireStatus(t, ts.post(t, "/channels/feed/history/purge", `{"confirm_channel":"feed","confirm_operation":"purge","mode":"before_serial","before_serial":5,"reason":"t"}`), 200)
	_, failed, _ = b.resume("feed", stream, 2)
	if len(failed) != 1 || !strings.Contains(failed[0].raw, `retained_history_floor_is_ahead_of_requested_serial`) {
		t.Fatalf("purged %v", failed)
	}
	if n := ts.eng.NodeSnapshot(); n.Resumes[0] != 1 || n.Replayed != 5 {
		t.Fatalf("metrics %v %d", n.Resumes, n.Replayed)
	}
}

// TestColdRecoveryStoreDown: with PostgreSQL stopped and writes lost,
// a resume the hot buffer cannot serve answers persistence_unavailable.
func TestColdRecoveryStoreDown(t *testing.T) {
	db := pgtest.StartPrivate(t)
	ts := startServerWith(t, withHistory(pgStore(t, db), func(h *engine.HistoryOptions) { h.WriteTimeout = time.Second }), nil)
	a := ts.dialV2(t, "")
	a.send(`{"event":"sockudo:subscribe","data":{"channel":"c"}}`)
	a.expect("sockudo_internal:subscription_succeeded")
	ts.publishN(t, "c", 1, 1)
	stream := *a.expect("ev").StreamID
	ts.waitStored(t, "c", 1)
	db.Stop()
	ts.publishN(t, "c", 2, 4)
	eventually(t, "drops counted", func() bool { return ts.eng.NodeSnapshot().HistoryDropped == 3 })
	_, failed, _ := a.resume("c", "other-stream", 1) // the hot buffer cannot serve it
	if len(failed) != 1 || !strings.Contains(failed[0].raw, `persistence_unavailable`) || !strings.Contains(failed[0].raw, `history_stream_degraded`) {
		t.Fatalf("store down: %v (stream %s)", failed, stream)
	}
}

// TestHistoryRestartContinuesSerials: a node shut down cleanly gives its
// unused serials back, so the next node on the same store continues the
// channel's sequence without a gap, and a client of the first node
// resumes on the second from durable history.
func TestHistoryRestartContinuesSerials(t *testing.T) {
	store := pgStore(t, pgtest.Start(t))
	ts1 := startServerWith(t, withHistory(store, nil), nil)
	a := ts1.dialV2(t, "")
	a.send(`{"event":"sockudo:subscribe","data":{"channel":"r"}}`)
	a.expect("sockudo_internal:subscription_succeeded")
	ts1.publishN(t, "r", 1, 3)
	var stream string
	for range 2 {
		stream = *a.expect("ev").StreamID
	}
	ts1.waitStored(t, "r", 3)
	if err := ts1.eng.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts2 := startServerWith(t, withHistory(store, nil), nil)
	b := ts2.dialV2(t, "")
	b.send(`{"event":"sockudo:subscribe","data":{"channel":"r"}}`)
	if f := b.expect("sockudo_internal:subscription_succeeded"); *f.Serial != 3 || *f.StreamID != stream {
		t.Fatalf("position after restart %s", f.raw)
	}
	ts2.publishN(t, "r", 4, 4)
	if f := b.expect("ev"); *f.Serial != 4 || *f.StreamID != stream {
		t.Fatalf("first serial after restart %s", f.raw)
	}
	events, failed, ok := b.resume("r", stream, 2) // as the client of the stopped node would
	if len(failed) != 0 || serialsOf(events) != "3" || !strings.Contains(ok.raw, `\"source\":\"cold\"`) {
		t.Fatalf("resume across the restart: %s %v %s", serialsOf(events), failed, ok.raw)
	}
}

// TestHistoryIdleStreamsForgotten: a channel's sequencer is forgotten
// after the idle time, its unused serials given back; the next publish
// continues the sequence from the store.
func TestHistoryIdleStreamsForgotten(t *testing.T) {
	ts := startServerWith(t, withHistory(history.NewMemory(nil), func(h *engine.HistoryOptions) {
		h.IdleStreams = 50 * time.Millisecond
	}), nil)
	ts.publishN(t, "idle", 1, 3)
	ts.waitStored(t, "idle", 3)
	eventually(t, "sequencer forgotten", func() bool { return ts.eng.NodeSnapshot().HistoryStreams == 0 })
	v := ts.dialV2(t, "")
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"idle"}}`)
	if f := v.expect("sockudo_internal:subscription_succeeded"); *f.Serial != 3 {
		t.Fatalf("position after the sweep %s", f.raw)
	}
	ts.publishN(t, "idle", 4, 4)
	if f := v.expect("ev"); *f.Serial != 4 {
		t.Fatalf("serial after the sweep %s", f.raw)
	}
}
