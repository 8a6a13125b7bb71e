// Package storetest is the contract every engine.HistoryStore meets,
// run by each backend's tests against a real store.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// Clock is a settable clock for the stores' Now option.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// Run runs the contract. open returns an empty store whose clock is c.
func Run(t *testing.T, open func(t *testing.T, c *Clock) engine.HistoryStore) {
	t.Run("ReservePagesBounds", func(t *testing.T) { reservePages(t, open) })
	t.Run("Retention", func(t *testing.T) { retention(t, open) })
	t.Run("ResetPurgeDegraded", func(t *testing.T) { resetPurge(t, open) })
	t.Run("Expire", func(t *testing.T) { expire(t, open) })
}

var ctx = context.Background()

func newClock() *Clock { return &Clock{T: time.UnixMilli(1_750_000_000_000)} }

// fill appends n messages to channel, one per second of the clock.
func fill(t *testing.T, s engine.HistoryStore, c *Clock, channel string, n int, r engine.HistoryRetention) string {
	t.Helper()
	id, first, err := s.Reserve(ctx, "app", channel, n)
	if err != nil {
		t.Fatal(err)
	}
	var batch []engine.HistoryEntry
	for i := range n {
		c.T = c.T.Add(time.Second)
		batch = append(batch, engine.HistoryEntry{App: "app", Channel: channel, StreamID: id, Serial: first + uint64(i),
			PublishedAtMS: c.T.UnixMilli(), MessageID: fmt.Sprint("m", first+uint64(i)), EventName: "ev",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, 1000+first+uint64(i))), Retention: r})
	}
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	return id
}

func serials(p engine.HistoryPage) []uint64 {
	var out []uint64
	for _, e := range p.Items {
		out = append(out, e.Serial)
	}
	return out
}

func want(t *testing.T, what string, got []uint64, exp ...uint64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("%s: serials %v, want %v", what, got, exp)
	}
}

func u(v uint64) *uint64 { return &v }

func reservePages(t *testing.T, open func(*testing.T, *Clock) engine.HistoryStore) {
	c := newClock()
	s := open(t, c)
	id := fill(t, s, c, "ch", 10, engine.HistoryRetention{})
	id2, first, err := s.Reserve(ctx, "app", "ch", 5)
	if err != nil || id2 != id || first != 11 {
		t.Fatalf("second reservation: %q %d %v, want %q 11", id2, first, err, id)
	}
	// Giving back the unused end of the block: the next reservation
	// continues from it; not once another block followed.
	if err := s.Release(ctx, "app", "ch", id, 13, 16); err != nil {
		t.Fatal(err)
	}
	if _, first, _ := s.Reserve(ctx, "app", "ch", 3); first != 13 {
		t.Fatalf("after release: first %d, want 13", first)
	}
	_ = s.Release(ctx, "app", "ch", id, 11, 13) // a block was reserved after it: no effect
	if _, first, _ := s.Reserve(ctx, "app", "ch", 1); first != 16 {
		t.Fatalf("stale release moved next_serial: first %d, want 16", first)
	}
	p, err := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 4, NewestFirst: true})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "newest first", serials(p), 10, 9, 8, 7)
	if !p.HasMore || p.State.StreamID != id || p.State.NextSerial != 17 || p.State.RetainedMessages != 10 || p.State.OldestSerial != 1 || p.State.NewestSerial != 10 {
		t.Fatalf("page state %+v has_more %v", p.State, p.HasMore)
	}
	if string(p.Items[0].Payload) != `{"n":1010}` || p.Items[0].MessageID != "m10" || p.Items[0].EventName != "ev" {
		t.Fatalf("entry %+v", p.Items[0])
	}
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 4, NewestFirst: true, After: 7, StreamID: id})
	want(t, "cursor", serials(p), 6, 5, 4, 3)
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 100, StartSerial: u(3), EndSerial: u(5)})
	want(t, "serial bounds", serials(p), 3, 4, 5)
	if p.HasMore {
		t.Fatal("has_more on the last page")
	}
	from, to := p.Items[0].PublishedAtMS, p.Items[2].PublishedAtMS
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 100, StartTimeMS: &from, EndTimeMS: &to})
	want(t, "time bounds", serials(p), 3, 4, 5)
	if _, err := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 1, StreamID: "other"}); err != engine.ErrHistoryStreamChanged {
		t.Fatalf("stale stream: %v", err)
	}
	if st, err := s.State(ctx, "app", "none"); err != nil || st.StreamID != "" {
		t.Fatalf("unknown channel: %+v %v", st, err)
	}
}

func retention(t *testing.T, open func(*testing.T, *Clock) engine.HistoryStore) {
	c := newClock()
	s := open(t, c)
	fill(t, s, c, "count", 10, engine.HistoryRetention{MaxMessages: 4})
	p, _ := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "count", Limit: 100})
	want(t, "by count", serials(p), 7, 8, 9, 10)
	// every payload is 10 bytes
	fill(t, s, c, "bytes", 10, engine.HistoryRetention{MaxBytes: 35})
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "bytes", Limit: 100})
	want(t, "by bytes", serials(p), 8, 9, 10)
	if p.State.RetainedBytes != 30 {
		t.Fatalf("retained bytes %d", p.State.RetainedBytes)
	}
	fill(t, s, c, "window", 10, engine.HistoryRetention{Window: 3500 * time.Millisecond})
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "window", Limit: 100})
	want(t, "by window", serials(p), 7, 8, 9, 10)
}

// expire: the sweep's call deletes only the app's entries older than the
// cut, at most limit per call, oldest first in every channel.
func expire(t *testing.T, open func(*testing.T, *Clock) engine.HistoryStore) {
	c := newClock()
	s := open(t, c)
	fill(t, s, c, "a", 5, engine.HistoryRetention{})
	fill(t, s, c, "b", 5, engine.HistoryRetention{})
	id, _, err := s.Reserve(ctx, "other", "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, []engine.HistoryEntry{{App: "other", Channel: "a", StreamID: id, Serial: 1,
		PublishedAtMS: c.T.Add(-time.Hour).UnixMilli(), Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	// a's entries are at clock+1..5 s, b's at +6..10 s: cut after b's 2nd.
	cut := c.T.Add(-2 * time.Second).UnixMilli()
	var total int64
	for {
		n, err := s.Expire(ctx, "app", cut, 3)
		if err != nil {
			t.Fatal(err)
		}
		if n > 3 {
			t.Fatalf("Expire deleted %d entries with a limit of 3", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 7 {
		t.Fatalf("expired %d entries, want 7 (all 5 of a, 2 of b)", total)
	}
	p, _ := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "a", Limit: 100})
	want(t, "a after expiry", serials(p))
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "b", Limit: 100})
	want(t, "b after expiry", serials(p), 3, 4, 5)
	if p.State.NextSerial != 6 {
		t.Fatalf("expiry moved b's next serial to %d", p.State.NextSerial)
	}
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "other", Channel: "a", Limit: 100})
	want(t, "another app's old entry", serials(p), 1)
}

func resetPurge(t *testing.T, open func(*testing.T, *Clock) engine.HistoryStore) {
	c := newClock()
	s := open(t, c)
	id := fill(t, s, c, "ch", 10, engine.HistoryRetention{})
	if n, err := s.Purge(ctx, "app", "ch", engine.HistoryPurge{BeforeSerial: 4}); err != nil || n != 3 {
		t.Fatalf("purge before serial: %d %v", n, err)
	}
	p, _ := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 100})
	at := p.Items[2].PublishedAtMS // serial 6
	if n, err := s.Purge(ctx, "app", "ch", engine.HistoryPurge{BeforeTimeMS: at}); err != nil || n != 2 {
		t.Fatalf("purge before time: %d %v", n, err)
	}
	p, _ = s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "ch", Limit: 100})
	want(t, "after purges", serials(p), 6, 7, 8, 9, 10)
	if p.State.StreamID != id || p.State.NextSerial != 11 {
		t.Fatalf("purge changed the stream: %+v", p.State)
	}
	if err := s.SetDegraded(ctx, "app", "ch", "history_writer_queue_full"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(ctx, "app", "ch"); !st.Degraded || st.Reason != "history_writer_queue_full" {
		t.Fatalf("degraded state %+v", st)
	}
	st, err := s.Reset(ctx, "app", "ch", "operator")
	if err != nil || st.StreamID == "" || st.StreamID == id || st.NextSerial != 1 {
		t.Fatalf("reset: %+v %v", st, err)
	}
	// a late write of the old stream is dropped
	if err := s.Append(ctx, []engine.HistoryEntry{{App: "app", Channel: "ch", StreamID: id, Serial: 11, Payload: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.State(ctx, "app", "ch")
	if st.Degraded || st.RetainedMessages != 0 {
		t.Fatalf("after reset %+v", st)
	}
	if _, first, _ := s.Reserve(ctx, "app", "ch", 1); first != 1 {
		t.Fatalf("first serial after reset %d", first)
	}
	if n, err := s.Purge(ctx, "app", "ch", engine.HistoryPurge{All: true}); err != nil || n != 0 {
		t.Fatalf("purge all: %d %v", n, err)
	}
}
