package engine

import (
	"context"
	"fmt"
)

// HistoryEnabled reports whether durable history is on for app (its
// policy, else history.enabled, and a store configured).
func (e *Engine) HistoryEnabled(app *App) bool { return e.historyOn(app) }

// HistoryMaxPageSize is history.max_page_size.
func (e *Engine) HistoryMaxPageSize() int {
	if n := e.opts.V2.History.MaxPageSize; n > 0 {
		return n
	}
	return 100
}

// ReadHistory reads a page of a channel's history. The state it reports
// is degraded when this node lost writes the store has not heard of yet.
func (e *Engine) ReadHistory(ctx context.Context, app *App, q HistoryQuery) (HistoryPage, error) {
	if !e.historyOn(app) {
		return HistoryPage{}, ErrHistoryDisabled
	}
	q.App = app.ID
	if q.Limit <= 0 || q.Limit > e.HistoryMaxPageSize() {
		q.Limit = e.HistoryMaxPageSize()
	}
	page, err := e.opts.V2.History.Store.Read(ctx, q)
	if err != nil {
		if err != ErrHistoryStreamChanged {
			e.stats.historyStoreErrors.Add(1)
			err = fmt.Errorf("history read: %w", err)
		}
		return page, err
	}
	e.stats.historyReads.Add(1)
	e.overlayDegraded(app, q.Channel, &page.State)
	return page, nil
}

// HistoryState returns a channel's stream state.
func (e *Engine) HistoryState(ctx context.Context, app *App, channel string) (HistoryState, error) {
	if !e.historyOn(app) {
		return HistoryState{}, ErrHistoryDisabled
	}
	st, err := e.opts.V2.History.Store.State(ctx, app.ID, channel)
	if err != nil {
		e.stats.historyStoreErrors.Add(1)
		return st, fmt.Errorf("history state: %w", err)
	}
	e.overlayDegraded(app, channel, &st)
	return st, nil
}

func (e *Engine) overlayDegraded(app *App, channel string, st *HistoryState) {
	s, ok := e.history.seqs.Load(chanKey{e.runtimeFor(app), channel})
	if !ok {
		return
	}
	s.mu.Lock()
	if s.degraded && !st.Degraded {
		st.Degraded, st.Reason = true, s.degradedBy
	}
	s.mu.Unlock()
}

// ResetHistory starts a channel's history over with a new stream id;
// this node forgets its reserved serials and its degraded mark, and
// tells the other nodes to (the channel's owner, which may be another
// node, would otherwise go on stamping the old stream). Publishes racing
// the reset may still carry the old stream (the store drops their
// entries).
func (e *Engine) ResetHistory(ctx context.Context, app *App, channel, reason string) (HistoryState, error) {
	if !e.historyOn(app) {
		return HistoryState{}, ErrHistoryDisabled
	}
	key := chanKey{e.runtimeFor(app), channel}
	s := e.lockSeq(key)
	defer s.mu.Unlock()
	st, err := e.opts.V2.History.Store.Reset(ctx, app.ID, channel, reason)
	if err != nil {
		e.stats.historyStoreErrors.Add(1)
		return st, fmt.Errorf("history reset: %w", err)
	}
	s.forget()
	e.cluster.publish(&busMsg{T: msgHistReset, App: app.ID, Channel: channel})
	return st, nil
}

// forgetHistory forgets what this node knew of channel's stream after
// another node reset it; the next publish or attach reads the store.
func (e *Engine) forgetHistory(key chanKey) {
	if e.history == nil {
		return
	}
	if s, ok := e.history.seqs.Load(key); ok {
		s.mu.Lock()
		s.forget()
		s.mu.Unlock()
	}
}

// forget drops the stream, its reserved serials and its degraded mark
// (a reset); s.mu held.
func (s *seqStream) forget() {
	s.gen++
	s.stream, s.next, s.end, s.pend = "", 0, 0, block{}
	s.retryAt, s.degraded, s.degradedBy = 0, false, ""
	s.primed, s.head, s.follows = false, 0, false
	s.gapped, s.gapEnd = false, 0
	s.stored.Store(0)
}

// PurgeHistory deletes a channel's entries (all, or before a serial or
// time) and reports how many went.
func (e *Engine) PurgeHistory(ctx context.Context, app *App, channel string, p HistoryPurge) (int64, error) {
	if !e.historyOn(app) {
		return 0, ErrHistoryDisabled
	}
	n, err := e.opts.V2.History.Store.Purge(ctx, app.ID, channel, p)
	if err != nil {
		e.stats.historyStoreErrors.Add(1)
		return 0, fmt.Errorf("history purge: %w", err)
	}
	return n, nil
}
