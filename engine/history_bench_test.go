package engine_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
)

type oneApp struct{ a *engine.App }

func (o oneApp) AppByKey(string) (*engine.App, error) { return o.a, nil }
func (o oneApp) AppByID(string) (*engine.App, error)  { return o.a, nil }

// BenchmarkHistoryPostgresStore publishes b.N messages over 100 channels
// with PostgreSQL history on and waits until every one is stored:
// stored-msgs/s is the writer's throughput into a real database (issue
// target ≥ 20,000/s); ns/op is the publish call, which never waits for
// the store. The queues are large enough that nothing is dropped, and
// retention runs as configured by default (a 24 h window).
func BenchmarkHistoryPostgresStore(b *testing.B) {
	db := pgtest.Start(b)
	store, err := pghistory.New(pghistory.Options{URL: db.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	app := &engine.App{ID: "1", Key: "k", Secret: "s", Enabled: true}
	e, err := engine.New(engine.Options{Apps: oneApp{app}, Shards: 2,
		V2: engine.V2Options{History: engine.HistoryOptions{Store: store, Enabled: true, ReserveBlock: 1024,
			Retention: engine.HistoryRetention{Window: 24 * time.Hour}, QueueCapacity: 1 << 16}}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background()) //nolint:errcheck
	channels := make([][]string, 100)
	for i := range channels {
		channels[i] = []string{fmt.Sprint("bench-", i)}
	}
	data := `{"order":12345,"status":"shipped","note":"a typical small payload of about one hundred bytes"}`
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := e.Publish(ctx, app, &engine.Event{Name: "ev", Data: data, Channels: channels[i%len(channels)]}); err != nil {
			b.Fatal(err)
		}
	}
	for {
		n := e.NodeSnapshot()
		if n.HistoryWrites+n.HistoryDropped >= uint64(b.N) {
			if n.HistoryDropped > 0 {
				b.Logf("%d of %d entries dropped (writer queue full)", n.HistoryDropped, b.N)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(e.NodeSnapshot().HistoryWrites)/el.Seconds(), "stored-msgs/s")
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	os.Exit(code)
}

// BenchmarkPublishHistory compares the cost of one HTTP-style publish
// to one channel (no subscribers) with history off, on in memory and on
// in PostgreSQL, with the default writer queues: the publish path only
// takes a serial and queues the entry; dropped/op is the share the
// writer could not keep up with at this (unthrottled) rate.
func BenchmarkPublishHistory(b *testing.B) {
	db := pgtest.Start(b)
	pg, err := pghistory.New(pghistory.Options{URL: db.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	if err := pg.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store engine.HistoryStore
		block int
	}{{"off", nil, 0}, {"memory", history.NewMemory(nil), 0}, {"postgres", pg, 0}, {"postgres-block1024", pg, 1024}} {
		blk := tc.block
		b.Run(tc.name, func(b *testing.B) {
			app := &engine.App{ID: "1", Key: "k", Secret: "s", Enabled: true}
			e, err := engine.New(engine.Options{Apps: oneApp{app}, Shards: 2,
				V2: engine.V2Options{History: engine.HistoryOptions{Store: tc.store, Enabled: true, ReserveBlock: blk}}})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background()) //nolint:errcheck
			ev := &engine.Event{Name: "ev", Data: `{"n":1}`, Channels: []string{"c"}}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_ = e.Publish(ctx, app, ev)
			}
			b.StopTimer()
			// Entries the writer could not keep up with are dropped
			// (counted), never waited for: report what share.
			b.ReportMetric(float64(e.NodeSnapshot().HistoryDropped)/float64(b.N), "dropped/op")
		})
	}
}
