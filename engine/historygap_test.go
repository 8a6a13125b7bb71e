package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
)

// retryNow lets e's next publish on channel reserve at once, instead of
// after the second a failed reservation waits.
func retryNow(e *Engine, channel string) {
	s := e.lockSeq(chanKey{e.runtimeFor(testAppFrom(e)), channel})
	s.retryAt = 0
	s.mu.Unlock()
}

// expectGapFailure resumes from stream/serial on a fresh subscriber of e
// and asserts the channel fails with persistence_unavailable and nothing
// is replayed.
func expectGapFailure(t *testing.T, e *Engine, stream string, serial uint64) {
	t.Helper()
	c := connectV2(t, e, "")
	c.subscribeV2("room")
	events, failed, ok := c.resumeFrames(resumeData("room", stream, serial))
	if len(events) != 0 || len(failed) != 1 {
		t.Fatalf("resume from %d across an unstamped message: %d replayed, %d failed: %s", serial, len(events), len(failed), ok.Raw)
	}
	if f := failureOf(t, failed[0]); f["code"] != "persistence_unavailable" || f["reason"] != ReasonHistoryDegraded {
		t.Fatalf("resume from %d across an unstamped message: %v", serial, f)
	}
	c.quiet()
}

// expectResumed resumes from stream/serial on a fresh subscriber of e and
// asserts the serials replayed.
func expectResumed(t *testing.T, e *Engine, stream string, serial uint64, want ...uint64) {
	t.Helper()
	c := connectV2(t, e, "")
	c.subscribeV2("room")
	events, failed, ok := c.resumeFrames(resumeData("room", stream, serial))
	if len(failed) != 0 || len(events) != len(want) {
		t.Fatalf("resume from %d after the gap: %d replayed, %d failed: %s", serial, len(events), len(failed), ok.Raw)
	}
	for i, m := range events {
		if *m.StreamID != stream || *m.Serial != want[i] {
			t.Fatalf("resume from %d, replay %d: %s", serial, i, m.Raw)
		}
	}
	c.quiet()
}

// TestHistoryGapFailsHotResume: with the store down a message goes out
// without a serial; a client that was away then and resumes from a
// position before it gets resume_failed persistence_unavailable from
// the hot tier (which still holds serials 1 and 2, contiguous around the
// hole) instead of resume_success; a position at or after the first
// serial assigned after the hole resumes as usual.
func TestHistoryGapFailsHotResume(t *testing.T) {
	store := newSharedStore()
	e := newEngine(t, Options{V2: V2Options{Recovery: recovery.New(recovery.Options{}),
		History: HistoryOptions{Store: store, Enabled: true, WriteTimeout: time.Second, ReserveBlock: 1}}})
	watch := connectV2(t, e, "")
	watch.subscribeV2("room")
	publish(t, e, "room", "ev", "1", "")
	stream, _ := recvN(t, watch, "ev", 1, 1)
	store.down.Store(true)
	publish(t, e, "room", "ev", "lost", "")
	if m := watch.expectV2("ev"); m.Serial != nil || m.StreamID != nil {
		t.Fatalf("with the store down: %s", m.Raw)
	}
	store.down.Store(false)
	retryNow(e, "room")
	publish(t, e, "room", "ev", "2", "")
	recvN(t, watch, "ev", 2, 1)
	for _, from := range []uint64{0, 1} {
		expectGapFailure(t, e, stream, from)
	}
	expectResumed(t, e, stream, 2)
	publish(t, e, "room", "ev", "3", "")
	recvN(t, watch, "ev", 3, 1)
	expectResumed(t, e, stream, 2, 3)
	watch.quiet()
}

// TestClusterHistoryGapFailsHotResumeEverywhere: the owner's unstamped
// message reaches the other node in order with its stamped ones, so a
// hot resume across it fails on either node; one after it succeeds.
func TestClusterHistoryGapFailsHotResumeEverywhere(t *testing.T) {
	store, owner, other, co, cr, stream := roomAfterOneStoreDown(t, nil)
	publish(t, other, "room", "ev", "lost", "")
	for _, c := range []*client{co, cr} {
		if m := c.expectV2("ev"); m.Serial != nil {
			t.Fatalf("with the store down: %s", m.Raw)
		}
	}
	store.down.Store(false)
	retryNow(owner, "room")
	publish(t, other, "room", "ev", "2", "")
	recvN(t, co, "ev", 2, 1)
	recvN(t, cr, "ev", 2, 1)
	for i, e := range []*Engine{owner, other} {
		t.Run(fmt.Sprint([]string{"owner", "other"}[i]), func(t *testing.T) {
			expectGapFailure(t, e, stream, 1)
			expectResumed(t, e, stream, 2)
		})
	}
	co.quiet()
	cr.quiet()
}
