package engine

import (
	"context"
	"time"
)

// Defaults of the retention sweep (Sockudo's history.purge_* keys).
const (
	defaultPurgeInterval   = 5 * time.Minute
	defaultPurgeBatch      = 1000
	defaultMaxPurgePerTick = 100_000
)

// purgeInterval is how often the retention sweep runs.
func (h *HistoryOptions) purgeInterval() time.Duration {
	if h.PurgeInterval > 0 {
		return h.PurgeInterval
	}
	return defaultPurgeInterval
}

// expireHistory is one tick of the retention sweep. Append applies a
// channel's window only when the channel is written, so without it a
// channel that stops being published keeps its entries (and its history
// API keeps answering with them) long past the window. Each app this node
// has served since it started is swept with its own window, in batches of
// PurgeBatch, at most MaxPurgePerTick entries per tick so one tick cannot
// hold the store for long; what is left goes at the next tick. Apps no
// node has served since a restart are swept once one does.
func (e *Engine) expireHistory() {
	h := &e.opts.V2.History
	batch := h.PurgeBatch
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	budget := int64(h.MaxPurgePerTick)
	if budget <= 0 {
		budget = defaultMaxPurgePerTick
	}
	e.apps.Range(func(_, v any) bool {
		app := e.appOf(v.(*appRuntime))
		if app == nil || !e.historyOn(app) {
			return true
		}
		w := e.retentionFor(app).Window
		if w <= 0 {
			return true
		}
		budget -= e.expireApp(app.ID, time.Now().Add(-w).UnixMilli(), batch, budget)
		return budget > 0
	})
}

// expireApp deletes app's entries published before cutMS, batch by
// batch, up to budget; it returns how many went.
func (e *Engine) expireApp(app string, cutMS int64, batch int, budget int64) int64 {
	var total int64
	for total < budget {
		ctx, cancel := context.WithTimeout(context.Background(), e.historyTimeout())
		n, err := e.opts.V2.History.Store.Expire(ctx, app, cutMS, int(min(int64(batch), budget-total)))
		cancel()
		if err != nil {
			e.stats.historyStoreErrors.Add(1)
			if n, ok := e.expireLog.Due(time.Now()); ok {
				e.log.Warn("history: retention sweep failed; expired entries stay until the next tick", "app", app, "err", err, "occurrences", n)
			}
			return total
		}
		total += n
		e.stats.historyExpired.Add(uint64(n))
		if n < int64(batch) {
			return total
		}
	}
	return total
}
