package engine

import (
	"fmt"
	"testing"

	"github.com/sockudo/sockudo-go/engine/recovery"
)

// The official client re-sends a private or presence channel's subscribe
// only after its HTTP authorization, so its resume usually arrives first.
// What is published between the resume and that subscribe must reach the
// client too, once, after subscription_succeeded and before later ones.
func TestV2ResumeBeforeSubscribeDeliversWhatFollows(t *testing.T) {
	app := testApp()
	app.RecoveryMaxBufferSize = 4
	e, _ := recoveryEngine(t, recovery.Options{}, Options{}, app)
	a := connectV2(t, e, "")
	a.subscribeV2("room")
	a.subscribeV2("busy")
	publish(t, e, "room", "ev", "1", "")
	stream := *a.expectV2("ev").StreamID
	publish(t, e, "busy", "ev", "1", "")
	busy := *a.expectV2("ev").StreamID
	a.c.Gone(nil) // abrupt drop
	publish(t, e, "room", "ev", "2", "")
	publish(t, e, "busy", "ev", "2", "")

	b := connectV2(t, e, "")
	data := `"{\"channel_positions\":{\"room\":{\"stream_id\":\"` + stream + `\",\"serial\":1},\"busy\":{\"stream_id\":\"` + busy + `\",\"serial\":1}}}"`
	events, failed, _ := b.resumeFrames(data)
	if len(events) != 2 || len(failed) != 0 {
		t.Fatalf("resume before subscribe: %d replayed, %d failed", len(events), len(failed))
	}
	// Published after the resume, before the subscribes arrive.
	for i := 3; i <= 4; i++ {
		publish(t, e, "room", "ev", fmt.Sprint(i), "")
	}
	for i := 3; i <= 7; i++ { // more than the window of 4 since the resume
		publish(t, e, "busy", "ev", fmt.Sprint(i), "")
	}

	ok := b.subscribeV2("room")
	if *ok.StreamID != stream || *ok.Serial != 4 {
		t.Fatalf("subscription_succeeded: %s", ok.Raw)
	}
	for i := 3; i <= 4; i++ {
		m := b.expectV2("ev")
		if m.Channel != "room" || *m.Serial != uint64(i) || m.dataString(t) != fmt.Sprint(i) {
			t.Fatalf("after subscribe, want room serial %d: %s", i, m.Raw)
		}
	}
	publish(t, e, "room", "ev", "5", "")
	if m := b.expectV2("ev"); *m.Serial != 5 {
		t.Fatalf("live after the catch-up: %s", m.Raw)
	}

	// Too much for the window: the client learns it with a resume_failed.
	if ok := b.subscribeV2("busy"); *ok.Serial != 7 {
		t.Fatalf("busy subscription_succeeded: %s", ok.Raw)
	}
	m := b.expectV2("sockudo:resume_failed")
	if d := failureOf(t, m); d["code"] != "position_expired" || d["reason"] != "recovery_window_exceeded" || m.Channel != "busy" {
		t.Fatalf("busy: %s", m.Raw)
	}
	b.quiet()
	if n := e.NodeSnapshot(); n.Resumes[0] != 2 || n.Replayed != 4 {
		t.Fatalf("metrics: resumes %v, replayed %d", n.Resumes, n.Replayed)
	}
}
