package httpapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/engine/filter/jmes"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/recovery"
)

// withFilters turns history and tag filtering on, with tag emission as
// given.
func withFilters(clock *movableClock, stripTags bool) func(*engine.Options) {
	return func(o *engine.Options) {
		withHistory(history.NewMemory(nil), nil)(o)
		if clock != nil {
			o.V2.Recovery = recovery.New(recovery.Options{TTL: time.Minute, Now: clock.now})
		}
		fc := filter.DefaultConfig()
		fc.TagFiltering, fc.Expressions = true, jmes.Compiler{}
		o.V2.Filters, o.V2.StripTags = fc, stripTags
	}
}

// publishRegions publishes event ev<i> to ch with tag region regions[i-from].
func (ts *testServer) publishRegions(t *testing.T, ch string, from int, regions ...string) {
	t.Helper()
	for i, r := range regions {
		requireStatus(t, ts.post(t, "/events", fmt.Sprintf(`{"name":"ev%d","channel":%q,"data":"%d","tags":{"region":%q}}`, from+i, ch, from+i, r)), 200)
	}
}

func eventsOf(fs []v2Frame) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Event)
	}
	return strings.Join(s, " ")
}

// TestFilteredRewind: a rewind sends only the stored messages the
// subscription's filter accepts (counted so in rewind_complete), without
// tags when tag emission is off; live delivery after it is filtered too.
func TestFilteredRewind(t *testing.T) {
	for _, strip := range []bool{true, false} {
		ts := startServerWith(t, withFilters(nil, strip), nil)
		ts.publishRegions(t, "feed", 1, "eu", "us", "eu", "ap", "eu", "us")
		ts.waitStored(t, "feed", 6)
		v := ts.dialV2(t, "")
		ok, hist, rc := v.subscribeRewind("feed", `10,"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`)
		if ok.Event != "sockudo_internal:subscription_succeeded" || eventsOf(hist) != "ev1 ev3 ev5" || rc.Historical != 3 {
			t.Fatalf("strip=%v: filtered rewind %q %+v", strip, eventsOf(hist), rc)
		}
		for _, f := range hist {
			if strip == (len(f.Tags) > 0) {
				t.Fatalf("strip=%v: rewound frame %s", strip, f.raw)
			}
		}
		// An expression filter over the same history.
		w := ts.dialV2(t, "")
		_, hist, _ = w.subscribeRewind("feed", `10,"filter":{"expression":"tags.region != 'eu' && serial > `+"`2`"+`"}`)
		if eventsOf(hist) != "ev4 ev6" {
			t.Fatalf("expression rewind %q", eventsOf(hist))
		}
		ts.publishRegions(t, "feed", 7, "us", "eu")
		if f := v.expect("ev8"); strip == (len(f.Tags) > 0) {
			t.Fatalf("live after rewind %s", f.raw)
		}
	}
}

// TestFilteredColdResume: a cold (durable history) resume of a filtered
// subscription replays only the matching missed messages; the
// resume_success position still reaches the channel's head.
func TestFilteredColdResume(t *testing.T) {
	clock := &movableClock{}
	ts := startServerWith(t, withFilters(clock, true), nil)
	const sub = `{"event":"sockudo:subscribe","data":{"channel":"feed","tags_filter":{"key":"region","cmp":"in","vals":["eu","ap"]}}}`
	a := ts.dialV2(t, "")
	a.send(sub)
	a.expect("sockudo_internal:subscription_succeeded")
	ts.publishRegions(t, "feed", 1, "eu", "us", "ap")
	a.expect("ev1")
	last := a.expect("ev3")
	if len(last.Tags) != 0 {
		t.Fatalf("tags emitted while off: %s", last.raw)
	}
	_ = a.c.Close()
	ts.publishRegions(t, "feed", 4, "us", "eu", "us", "ap", "us")
	clock.advance(10 * time.Minute)
	b := ts.dialV2(t, "")
	b.send(sub)
	b.expect("sockudo_internal:subscription_succeeded")
	events, failed, ok := b.resume("feed", *last.StreamID, *last.Serial)
	if len(failed) != 0 || eventsOf(events) != "ev5 ev7" || !strings.Contains(ok.raw, `\"source\":\"cold\"`) {
		t.Fatalf("filtered cold replay %q, failed %v, %s", eventsOf(events), failed, ok.raw)
	}
	for _, f := range events {
		if len(f.Tags) != 0 {
			t.Fatalf("replayed frame with tags while emission is off: %s", f.raw)
		}
	}
	ts.publishRegions(t, "feed", 9, "us", "ap")
	if f := b.expect("ev10"); *f.Serial != 10 {
		t.Fatalf("live after filtered cold resume %s", f.raw)
	}
}

// TestFilteredRewindReadsOn: a selective filter's rewind reads past the
// first page of history (up to 16 pages' worth of rows, as Sockudo) to
// find its count of matching messages, by count and by time.
func TestFilteredRewindReadsOn(t *testing.T) {
	regions := make([]string, 20)
	for i := range regions {
		regions[i] = "us"
	}
	regions[0], regions[4], regions[11] = "eu", "eu", "eu" // ev1, ev5, ev12
	const eu = `"tags_filter":{"key":"region","cmp":"eq","val":"eu"}`
	ts := startServerWith(t, withFilters(nil, false), nil)
	ts.publishRegions(t, "feed", 1, regions...)
	ts.waitStored(t, "feed", 20)
	v := ts.dialV2(t, "")
	if _, hist, rc := v.subscribeRewind("feed", `2,`+eu); eventsOf(hist) != "ev5 ev12" || rc != (rewindComplete{Historical: 2, Complete: true}) {
		t.Fatalf("count 2: %q %+v", eventsOf(hist), rc)
	}
	w := ts.dialV2(t, "")
	if _, hist, rc := w.subscribeRewind("feed", `5,`+eu); eventsOf(hist) != "ev1 ev5 ev12" || rc != (rewindComplete{Historical: 3, Complete: true}) {
		t.Fatalf("count 5, 3 matching: %q %+v", eventsOf(hist), rc)
	}

	small := startServerWith(t, func(o *engine.Options) {
		withFilters(nil, false)(o)
		o.V2.History.MaxPageSize = 2
	}, nil)
	small.publishRegions(t, "feed", 1, regions...)
	small.waitStored(t, "feed", 20)
	x := small.dialV2(t, "")
	if _, hist, rc := x.subscribeRewind("feed", `{"seconds":3600},`+eu); eventsOf(hist) != "ev1 ev5" || !rc.Limit || rc.Historical != 2 {
		t.Fatalf("seconds, page size 2: %q %+v", eventsOf(hist), rc)
	}
	y := small.dialV2(t, "")
	if _, hist, rc := y.subscribeRewind("feed", `5,`+eu); eventsOf(hist) != "ev5 ev12" || !rc.Limit {
		t.Fatalf("count 5 over page size 2: %q %+v", eventsOf(hist), rc)
	}
}
