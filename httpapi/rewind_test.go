package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/history"
)

type rewindComplete struct {
	Historical int  `json:"historical_count"`
	Live       int  `json:"live_count"`
	Complete   bool `json:"complete"`
	Retention  bool `json:"truncated_by_retention"`
	Limit      bool `json:"truncated_by_limit"`
}

// subscribeRewind subscribes with rewind and returns the success frame,
// the historical frames and rewind_complete.
func (v *v2Client) subscribeRewind(channel, rewind string) (v2Frame, []v2Frame, rewindComplete) {
	v.t.Helper()
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"` + channel + `","rewind":` + rewind + `}}`)
	ok := v.expect("sockudo_internal:subscription_succeeded")
	var hist []v2Frame
	for {
		f := v.next()
		if f.Event == "sockudo:rewind_complete" {
			var rc rewindComplete
			if err := json.Unmarshal(f.Data, &rc); err != nil || f.Channel != channel || f.MessageID == nil {
				v.t.Fatalf("rewind_complete %s: %v", f.raw, err)
			}
			return ok, hist, rc
		}
		hist = append(hist, f)
	}
}

func serialsOf(fs []v2Frame) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprint(*f.Serial))
	}
	return strings.Join(s, ",")
}

// TestHistoryRewind: rewind by count and by seconds sends the stored
// frames oldest first after subscription_succeeded (which carries
// attach_serial), then rewind_complete; the 4300 errors of §9.
func TestHistoryRewind(t *testing.T) {
	ts := startServerWith(t, withHistory(history.NewMemory(nil), nil), nil)
	ts.publishN(t, "news", 1, 5)
	v := ts.dialV2(t, "")
	ok, hist, rc := v.subscribeRewind("news", "3")
	var d struct {
		AttachSerial *uint64 `json:"attach_serial"`
	}
	var ds string
	_ = json.Unmarshal(ok.Data, &ds)
	if json.Unmarshal([]byte(ds), &d) != nil || d.AttachSerial == nil || *d.AttachSerial != 5 || ok.Serial == nil || *ok.Serial != 5 {
		t.Fatalf("subscription_succeeded %s", ok.raw)
	}
	if serialsOf(hist) != "3,4,5" || *hist[0].StreamID != *ok.StreamID || hist[0].Event != "ev" {
		t.Fatalf("rewind 3: %s", serialsOf(hist))
	}
	if rc != (rewindComplete{Historical: 3, Complete: true}) {
		t.Fatalf("rewind_complete %+v", rc)
	}
	ts.publishN(t, "news", 6, 6)
	if f := v.expect("ev"); *f.Serial != 6 {
		t.Fatalf("live after rewind %s", f.raw)
	}
	// Subscribing again is only re-acknowledged, at the current position.
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"news","rewind":2}}`)
	if f := v.expect("sockudo_internal:subscription_succeeded"); !strings.Contains(f.raw, `attach_serial\":6`) || *f.Serial != 6 {
		t.Fatalf("repeated subscribe %s", f.raw)
	}
	v2 := ts.dialV2(t, "")
	if _, hist, rc := v2.subscribeRewind("news", `{"seconds":3600}`); serialsOf(hist) != "1,2,3,4,5,6" || rc.Historical != 6 {
		t.Fatalf("rewind seconds: %s %+v", serialsOf(hist), rc)
	}
	v3 := ts.dialV2(t, "")
	if _, hist, rc := v3.subscribeRewind("news", `{"count":500}`); len(hist) != 6 || !rc.Limit || rc.Complete {
		t.Fatalf("rewind beyond max_page_size: %d %+v", len(hist), rc)
	}
	// Errors.
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"x","rewind":0}}`)
	if f := v.expect("sockudo:error"); !strings.Contains(string(f.Data), "Invalid rewind option in subscription data") {
		t.Fatalf("rewind 0: %s", f.raw)
	}
	v1 := ts.dial(t)
	v1.send(map[string]any{"event": "pusher:subscribe", "data": map[string]any{"channel": "x", "rewind": 2}})
	if f := v1.expect("pusher:error"); !strings.Contains(f.str(), "4300") || !strings.Contains(f.str(), "only supported on protocol V2") {
		t.Fatalf("V1 rewind: %s", f.str())
	}
	no := false
	apps := testApps()
	apps.apps[0].History.RewindEnabled = &no
	ts2 := startServerStore(t, apps, withHistory(history.NewMemory(nil), nil), nil)
	w := ts2.dialV2(t, "")
	w.send(`{"event":"sockudo:subscribe","data":{"channel":"x","rewind":2}}`)
	if f := w.expect("sockudo:error"); !strings.Contains(string(f.Data), `Channel rewind is disabled by policy for channel 'x'`) || !strings.Contains(string(f.Data), "4300") {
		t.Fatalf("policy: %s", f.raw)
	}
	if n := ts.eng.NodeSnapshot(); n.Rewinds != 3 {
		t.Fatalf("rewinds counted %d", n.Rewinds)
	}
}

// TestHistoryRewindWhilePublishing: messages published while a rewinding
// subscription attaches reach it exactly once and in order, across the
// history, the attach gate and live delivery.
func TestHistoryRewindWhilePublishing(t *testing.T) {
	ts := startServerWith(t, withHistory(history.NewMemory(nil), nil), nil)
	app, _ := testApps().AppByID("1")
	const total = 400
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			if i == 50 {
				close(started)
			}
			_ = ts.eng.Publish(context.Background(), app, &engine.Event{Name: "ev", Data: fmt.Sprint(i), Channels: []string{"busy"}})
		}
	}()
	<-started
	v := ts.dialV2(t, "")
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"busy","rewind":{"count":30}}}`)
	v.expect("sockudo_internal:subscription_succeeded")
	var last uint64
	completes := 0
	first := true
	for last < total {
		f := v.next()
		if f.Event == "sockudo:rewind_complete" {
			completes++
			continue
		}
		if f.Serial == nil {
			t.Fatalf("frame %s", f.raw)
		}
		if !first && *f.Serial != last+1 {
			t.Fatalf("serial %d after %d", *f.Serial, last)
		}
		first, last = false, *f.Serial
	}
	<-done
	if completes != 1 {
		if f := v.next(); f.Event != "sockudo:rewind_complete" || completes != 0 {
			t.Fatalf("rewind_complete seen %d times, then %s", completes, f.raw)
		}
	}
}

// TestHistoryWebSocketChannelHistory: sockudo:channel_history answers a
// page; until_attach stops at the attach_serial of the subscription, so a
// client backfills exactly what preceded its live messages; the errors
// of §10.2.
func TestHistoryWebSocketChannelHistory(t *testing.T) {
	ts := startServerWith(t, withHistory(history.NewMemory(nil), nil), nil)
	ts.publishN(t, "h", 1, 3)
	v := ts.dialV2(t, "")
	v.send(`{"event":"sockudo:subscribe","data":{"channel":"h"}}`)
	v.expect("sockudo_internal:subscription_succeeded")
	ts.publishN(t, "h", 4, 5)
	v.expect("ev")
	v.expect("ev")
	eventually(t, "stored", func() bool { return ts.eng.NodeSnapshot().HistoryWrites == 5 })
	page := func(req string) pageResp {
		t.Helper()
		v.send(req)
		f := v.expect("sockudo:channel_history")
		var p pageResp
		if f.Channel != "h" || json.Unmarshal(f.Data, &p) != nil {
			t.Fatalf("channel_history %s", f.raw)
		}
		return p
	}
	p := page(`{"event":"sockudo:channel_history","data":{"channel":"h","until_attach":true}}`)
	if p.serials() != "3,2,1" {
		t.Fatalf("until_attach: %s", p.serials())
	}
	v.send(`{"event":"channel_history","data":"{\"channel\":\"h\",\"params\":{\"untilAttach\":true,\"direction\":\"oldest_first\"}}"}`)
	f := v.expect("sockudo:channel_history")
	if !strings.Contains(string(f.Data), `"until_attach":true,"attach_serial":3`) {
		t.Fatalf("bounds %s", f.Data)
	}
	p = page(`{"event":"pusher:channel_history","data":{"channel":"h","limit":2,"direction":"oldest_first"}}`)
	if p.serials() != "1,2" || p.NextCursor == nil {
		t.Fatalf("first page %+v", p)
	}
	p = page(`{"event":"sockudo:channel_history","data":{"channel":"h","limit":2,"cursor":"` + *p.NextCursor + `"}}`)
	if p.serials() != "3,4" {
		t.Fatalf("cursor page %s", p.serials())
	}
	v.send(`{"event":"sockudo:channel_history","data":{"channel":"other"}}`)
	if f := v.expect("sockudo:error"); !strings.Contains(string(f.Data), "4301") || !strings.Contains(string(f.Data), "is not subscribed to channel other") {
		t.Fatalf("not subscribed %s", f.raw)
	}
	v.send(`{"event":"sockudo:channel_history","data":{"channel":"h","limit":0}}`)
	if f := v.expect("sockudo:error"); !strings.Contains(string(f.Data), "4000") {
		t.Fatalf("limit 0 %s", f.raw)
	}
	v1 := ts.dial(t)
	v1.send(map[string]any{"event": "pusher:channel_history", "data": map[string]any{"channel": "h"}})
	if f := v1.expect("pusher:error"); !strings.Contains(f.str(), "only supported on protocol V2") {
		t.Fatalf("V1 %s", f.str())
	}
}
