package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/history"
)

// TestHistoryWriterWaitsForFullerBatches: entries published within the
// writer's BatchWait of the first go to the store in one write, and
// shutdown does not wait out the rest of a long wait yet stores what
// was queued.
func TestHistoryWriterWaitsForFullerBatches(t *testing.T) {
	app := &engine.App{ID: "1", Key: "k", Secret: "s", Enabled: true}
	store := history.NewMemory(nil)
	e, err := engine.New(engine.Options{Apps: oneApp{app}, Shards: 1,
		V2: engine.V2Options{History: engine.HistoryOptions{Store: store, Enabled: true, WriterShards: 1, BatchWait: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 20 {
		if err := e.Publish(ctx, app, &engine.Event{Name: "ev", Data: `{}`, Channels: []string{"c"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.NodeSnapshot(); n.HistoryBatches != 0 || n.HistoryWrites != 0 {
		t.Fatalf("the writer wrote %d entries in %d batches before its wait ended", n.HistoryWrites, n.HistoryBatches)
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %v: it waited for the batch to fill", took)
	}
	if n := e.NodeSnapshot(); n.HistoryBatches != 1 || n.HistoryWrites != 20 || n.HistoryDropped != 0 {
		t.Fatalf("after shutdown: %d entries in %d batches, %d dropped; want 20 in 1, 0", n.HistoryWrites, n.HistoryBatches, n.HistoryDropped)
	}
	if st, _ := store.State(ctx, "1", "c"); st.RetainedMessages != 20 {
		t.Fatalf("store holds %d entries, want 20", st.RetainedMessages)
	}
}

// TestHistoryWriterBatchFullWritesAtOnce: a batch that fills does not
// wait for BatchWait.
func TestHistoryWriterBatchFullWritesAtOnce(t *testing.T) {
	app := &engine.App{ID: "1", Key: "k", Secret: "s", Enabled: true}
	e, err := engine.New(engine.Options{Apps: oneApp{app}, Shards: 1,
		V2: engine.V2Options{History: engine.HistoryOptions{Store: history.NewMemory(nil), Enabled: true,
			WriterShards: 1, BatchSize: 5, BatchWait: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background()) //nolint:errcheck
	for range 10 {
		if err := e.Publish(context.Background(), app, &engine.Event{Name: "ev", Data: `{}`, Channels: []string{"c"}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for n := e.NodeSnapshot(); n.HistoryWrites != 10 || n.HistoryBatches != 2; n = e.NodeSnapshot() {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries in %d batches, want 10 in 2 full batches without waiting", n.HistoryWrites, n.HistoryBatches)
		}
		time.Sleep(time.Millisecond)
	}
}
