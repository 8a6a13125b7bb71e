package pghistory_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
	"github.com/sockudo/sockudo-go/engine/history/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	os.Exit(code)
}

func open(t testing.TB, db *pgtest.DB, o pghistory.Options) *pghistory.Store {
	t.Helper()
	o.URL = db.URL
	s, err := pghistory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) engine.HistoryStore {
		return open(t, pgtest.Start(t), pghistory.Options{Now: c.Now})
	})
}

// TestPostgresTablePrefix: the tables carry history.postgres.table_prefix
// and a prefix that is not a plain identifier is refused.
func TestPostgresTablePrefix(t *testing.T) {
	db := pgtest.Start(t)
	s := open(t, db, pghistory.Options{TablePrefix: "custom_hist"})
	if _, _, err := s.Reserve(context.Background(), "a", "c", 3); err != nil {
		t.Fatal(err)
	}
	if n := db.QueryInt(t, `SELECT next_serial FROM custom_hist_streams WHERE app_id='a' AND channel='c'`); n != 4 {
		t.Fatalf("next_serial %d, want 4", n)
	}
	if _, err := pghistory.New(pghistory.Options{URL: db.URL, TablePrefix: "x; DROP"}); err == nil {
		t.Fatal("a prefix with SQL in it was accepted")
	}
}

// TestPostgresRetentionOncePerInterval: Append applies a channel's
// window at its first write and then at most once per RetainEvery, for
// all due channels of a batch at once; in between a channel may keep
// entries past its window. Count and byte bounds hold after every write.
func TestPostgresRetentionOncePerInterval(t *testing.T) {
	ctx := context.Background()
	c := &storetest.Clock{T: time.UnixMilli(1_750_000_000_000)}
	s := open(t, pgtest.Start(t), pghistory.Options{Now: c.Now, RetainEvery: time.Second})
	bounds := map[string]engine.HistoryRetention{
		"count":  {MaxMessages: 3},
		"bytes":  {MaxBytes: 25}, // payloads are 10 bytes: 2 fit
		"window": {Window: 500 * time.Millisecond},
		"none":   {},
	}
	ids := map[string]string{}
	next := map[string]uint64{}
	for ch := range bounds {
		id, first, err := s.Reserve(ctx, "app", ch, 1000)
		if err != nil {
			t.Fatal(err)
		}
		ids[ch], next[ch] = id, first
	}
	// appendEach writes n entries to every channel in one batch, one per
	// 100 ms of the clock.
	appendEach := func(n int) {
		t.Helper()
		var batch []engine.HistoryEntry
		for range n {
			c.T = c.T.Add(100 * time.Millisecond)
			for ch, r := range bounds {
				batch = append(batch, engine.HistoryEntry{App: "app", Channel: ch, StreamID: ids[ch], Serial: next[ch],
					PublishedAtMS: c.T.UnixMilli(), Payload: []byte(fmt.Sprintf(`{"n":%d}`, 1000+next[ch])), Retention: r})
				next[ch]++
			}
		}
		if err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	count := func(ch string) int64 {
		t.Helper()
		st, err := s.State(ctx, "app", ch)
		if err != nil {
			t.Fatal(err)
		}
		return st.RetainedMessages
	}
	expect := func(what string, want map[string]int64) {
		t.Helper()
		for ch, n := range want {
			if got := count(ch); got != n {
				t.Fatalf("%s: channel %s holds %d entries, want %d", what, ch, got, n)
			}
		}
	}
	appendEach(8) // entries at +0.1 … +0.8 s; the window keeps +0.3 … +0.8
	expect("first write trims", map[string]int64{"count": 3, "bytes": 2, "window": 6, "none": 8})
	appendEach(2) // 0.2 s after the trim
	expect("within the interval", map[string]int64{"count": 3, "bytes": 2, "window": 8, "none": 10})
	c.T = c.T.Add(time.Second)
	appendEach(1) // 1.1 s after the window was applied: due again
	expect("next due write", map[string]int64{"count": 3, "bytes": 2, "window": 1, "none": 11})
	p, err := s.Read(ctx, engine.HistoryQuery{App: "app", Channel: "count", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(len(p.Items), p.Items[0].Serial, p.Items[2].Serial); got != fmt.Sprint(3, next["count"]-3, next["count"]-1) {
		t.Fatalf("count-bounded channel keeps %s, want the newest 3", got)
	}
}
