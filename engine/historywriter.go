package engine

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// historyWriter stores history entries off the publish path: one bounded
// queue and goroutine per shard (a channel always hashes to the same
// shard, so its entries are written in serial order), each writing
// batches of what has queued up, waiting up to BatchWait for a batch to
// fill: the store's cost is mostly per write, not per entry, and nothing
// waits for the write. A full queue or a failed write drops
// the entries: counted, logged, and the channel's stream is marked
// degraded so recovery from it answers persistence_unavailable.
type historyWriter struct {
	e       *Engine
	seed    maphash.Seed
	queues  []chan queuedEntry
	batch   int
	wait    time.Duration    // for a batch to fill
	degrade chan degradeMark // streams to mark degraded in the store
	quit    chan struct{}
	wg      sync.WaitGroup
}

// defaultBatchWait is HistoryOptions.BatchWait's default: long enough
// for a shard to gather a few dozen entries at a few thousand publishes
// a second, short against the history API's and rewind's use.
const defaultBatchWait = 10 * time.Millisecond

type degradeMark struct {
	key    chanKey
	reason string
}

type queuedEntry struct {
	key chanKey
	seq *seqStream
	HistoryEntry
}

func newHistoryWriter(e *Engine) *historyWriter {
	h := &e.opts.V2.History
	shards, capacity, batch := h.WriterShards, h.QueueCapacity, h.BatchSize
	if shards <= 0 {
		shards = 4
	}
	if capacity <= 0 {
		capacity = 16384
	}
	if batch <= 0 {
		batch = 256
	}
	wait := h.BatchWait
	if wait == 0 {
		wait = defaultBatchWait
	}
	w := &historyWriter{e: e, seed: maphash.MakeSeed(), batch: batch, wait: max(wait, 0),
		degrade: make(chan degradeMark, 1024), quit: make(chan struct{})}
	for range shards {
		q := make(chan queuedEntry, capacity)
		w.queues = append(w.queues, q)
		w.wg.Add(1)
		go w.run(q)
	}
	w.wg.Add(1)
	go w.runDegrade()
	return w
}

// enqueue queues an entry without blocking; s.mu is held.
func (w *historyWriter) enqueue(key chanKey, s *seqStream, ent HistoryEntry) {
	q := w.queues[maphash.String(w.seed, key.app.id+"\x00"+key.name)%uint64(len(w.queues))]
	select {
	case q <- queuedEntry{key: key, seq: s, HistoryEntry: ent}:
	default:
		w.e.stats.historyDropped.Add(1)
		w.e.historyDegraded(key, s, ReasonWriterQueueFull, nil)
	}
}

// markDegraded asks for the stream to be marked in the store; a full
// request queue only loses the store's copy of the mark (this node
// still knows).
func (w *historyWriter) markDegraded(key chanKey, reason string) {
	select {
	case w.degrade <- degradeMark{key, reason}:
	default:
	}
}

func (w *historyWriter) run(q chan queuedEntry) {
	defer w.wg.Done()
	batch := make([]queuedEntry, 0, w.batch)
	entries := make([]HistoryEntry, 0, w.batch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.quit:
			w.drain(q, batch[:0], entries[:0])
			return
		case ent := <-q:
			batch = append(batch[:0], ent)
		}
		batch = w.fill(q, batch, timer)
		entries, _ = w.write(batch, entries[:0])
	}
}

// fill adds to batch what is queued, then what arrives within w.wait,
// until the batch is full; shutdown cuts the wait short.
func (w *historyWriter) fill(q chan queuedEntry, batch []queuedEntry, timer *time.Timer) []queuedEntry {
	if w.wait <= 0 {
		return w.takeQueued(q, batch)
	}
	timer.Reset(w.wait)
	defer timer.Stop()
	for len(batch) < w.batch {
		select {
		case ent := <-q:
			batch = append(batch, ent)
		case <-timer.C:
			return batch
		case <-w.quit:
			// Take what is already queued too: select picks at random
			// between a closed quit and a ready queue, and shutdown
			// should not split one batch's worth into several writes.
			return w.takeQueued(q, batch)
		}
	}
	return batch
}

// takeQueued adds to batch what is queued, without waiting, until it is
// full.
func (w *historyWriter) takeQueued(q chan queuedEntry, batch []queuedEntry) []queuedEntry {
	for len(batch) < w.batch {
		select {
		case ent := <-q:
			batch = append(batch, ent)
		default:
			return batch
		}
	}
	return batch
}

// drain writes what is queued at shutdown; after a failed write the
// rest is dropped (counted), so a store that is down does not hold the
// shutdown for a timeout per batch.
func (w *historyWriter) drain(q chan queuedEntry, batch []queuedEntry, entries []HistoryEntry) {
	failed := false
	for {
		select {
		case ent := <-q:
			if failed {
				w.e.stats.historyDropped.Add(1)
				continue
			}
			batch = append(batch, ent)
			if len(batch) == w.batch {
				var ok bool
				entries, ok = w.write(batch, entries[:0])
				failed = !ok
				batch = batch[:0]
			}
		default:
			if len(batch) > 0 {
				w.write(batch, entries[:0])
			}
			return
		}
	}
}

// write stores one batch and reports whether it was stored.
func (w *historyWriter) write(batch []queuedEntry, entries []HistoryEntry) ([]HistoryEntry, bool) {
	for i := range batch {
		entries = append(entries, batch[i].HistoryEntry)
	}
	e := w.e
	ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
	err := e.opts.V2.History.Store.Append(ctx, entries)
	cancel()
	if err == nil {
		e.stats.historyWrites.Add(uint64(len(entries)))
		e.stats.historyBatches.Add(1)
		for i := range batch {
			if s := batch[i].seq; s.stored.Load() < batch[i].Serial {
				s.stored.Store(batch[i].Serial)
			}
		}
	} else {
		e.stats.historyStoreErrors.Add(1)
		e.stats.historyDropped.Add(uint64(len(entries)))
		var last *seqStream
		for i := range batch {
			if s := batch[i].seq; s != last {
				last = s
				s.mu.Lock()
				e.historyDegraded(batch[i].key, s, ReasonWriteFailed, err)
				s.mu.Unlock()
			}
		}
	}
	clear(entries) // do not pin payloads until the next batch
	clear(batch)
	return entries, err == nil
}

// runDegrade records degraded streams in the store, retrying while it is
// down so the mark survives this node.
func (w *historyWriter) runDegrade() {
	defer w.wg.Done()
	for {
		select {
		case <-w.quit:
			return
		case m := <-w.degrade:
			for {
				ctx, cancel := context.WithTimeout(context.Background(), w.e.historyTimeout())
				err := w.e.opts.V2.History.Store.SetDegraded(ctx, m.key.app.id, m.key.name, m.reason)
				cancel()
				if err == nil {
					break
				}
				select {
				case <-w.quit:
					return
				case <-time.After(time.Second):
				}
			}
		}
	}
}

// stop writes what is queued and stops the goroutines.
func (w *historyWriter) stop() {
	close(w.quit)
	w.wg.Wait()
}
