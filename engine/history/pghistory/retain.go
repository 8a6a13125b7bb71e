package pghistory

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sockudo/sockudo-go/engine"
)

// defaultRetainEvery is how often a written channel's window is applied.
// A 24 h window cannot expire anything between two writes a few ms
// apart, so deleting by time on every write cost a statement per channel
// per write for nothing; once a second keeps a channel at most a second
// past its window. Count and byte bounds stay exact: reads and the
// stream state count on them, so they are applied on every write that
// carries them (in the same round trip as the insert).
const defaultRetainEvery = time.Second

// chanKey names a channel of an app.
type chanKey struct{ app, channel string }

// The trims, one statement per kind for every due channel of a batch.
// Each joins the channels' arrays to their entries through the indexes on
// (app_id, channel, …); a channel absent from the table costs one index
// probe.
const (
	trimWindowSQL = `DELETE FROM ENTRIES e USING unnest($1::text[], $2::text[], $3::bigint[]) AS d(app_id, channel, cut)
WHERE e.app_id = d.app_id AND e.channel = d.channel AND e.published_at_ms < d.cut`
	trimCountSQL = `DELETE FROM ENTRIES e USING (
SELECT d.app_id, d.channel, c.serial FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(app_id, channel, keep)
CROSS JOIN LATERAL (SELECT serial FROM ENTRIES WHERE app_id = d.app_id AND channel = d.channel ORDER BY serial DESC OFFSET d.keep LIMIT 1) c) x
WHERE e.app_id = x.app_id AND e.channel = x.channel AND e.serial <= x.serial`
	trimBytesSQL = `DELETE FROM ENTRIES e USING (
SELECT d.app_id, d.channel, c.serial FROM unnest($1::text[], $2::text[], $3::bigint[]) AS d(app_id, channel, keep)
CROSS JOIN LATERAL (SELECT max(w.serial) AS serial FROM (
  SELECT serial, sum(payload_size_bytes) OVER (ORDER BY serial DESC) AS total FROM ENTRIES WHERE app_id = d.app_id AND channel = d.channel) w
  WHERE w.total > d.keep) c) x
WHERE e.app_id = x.app_id AND e.channel = x.channel AND e.serial <= x.serial`
)

// trimList is one kind of trim: parallel arrays of channels and their
// bound (a cut-off time or how much to keep).
type trimList struct {
	apps, channels []string
	bound          []int64
}

func (l *trimList) add(k chanKey, v int64) {
	l.apps, l.channels, l.bound = append(l.apps, k.app), append(l.channels, k.channel), append(l.bound, v)
}

func (l *trimList) queue(b *pgx.Batch, sql string) {
	if len(l.apps) > 0 {
		b.Queue(sql, l.apps, l.channels, l.bound)
	}
}

// dueTrims are the channels of one batch whose retention is due; keys
// are those whose window is.
type dueTrims struct {
	nowMS                int64
	keys                 []chanKey
	window, count, bytes trimList
}

func (d *dueTrims) empty() bool {
	return len(d.window.apps)+len(d.count.apps)+len(d.bytes.apps) == 0
}

func (d *dueTrims) queue(b *pgx.Batch, s *Store) {
	d.window.queue(b, s.trimWindowSQL)
	d.count.queue(b, s.trimCountSQL)
	d.bytes.queue(b, s.trimBytesSQL)
}

// retentionDue picks the batch's channels with a count or byte bound,
// and those with a window that this store has not applied for
// RetainEvery, each with the retention of its last entry. A channel this
// store has not trimmed yet is due, so a channel's first write always
// leaves it within its window.
func (s *Store) retentionDue(entries []engine.HistoryEntry) dueTrims {
	now := s.now()
	d := dueTrims{nowMS: now.UnixMilli()}
	last := make(map[chanKey]engine.HistoryRetention)
	for i := range entries {
		if r := entries[i].Retention; r != (engine.HistoryRetention{}) {
			last[chanKey{entries[i].App, entries[i].Channel}] = r
		}
	}
	if len(last) == 0 {
		return d
	}
	s.mu.Lock()
	for k, r := range last {
		if r.MaxMessages > 0 {
			d.count.add(k, r.MaxMessages)
		}
		if r.MaxBytes > 0 {
			d.bytes.add(k, r.MaxBytes)
		}
		if r.Window <= 0 {
			continue
		}
		if t, ok := s.trimmedAt[k]; ok && d.nowMS-t < s.retainEvery.Milliseconds() {
			continue
		}
		d.keys = append(d.keys, k)
		d.window.add(k, now.Add(-r.Window).UnixMilli())
	}
	s.mu.Unlock()
	return d
}

// retained records a successful window trim. The record of channels not written
// for RetainEvery is dropped (they are due again anyway), so it holds
// only the channels written in the last interval.
func (s *Store) retained(d dueTrims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	every := s.retainEvery.Milliseconds()
	if d.nowMS-s.prunedAt >= every {
		for k, t := range s.trimmedAt {
			if d.nowMS-t >= every {
				delete(s.trimmedAt, k)
			}
		}
		s.prunedAt = d.nowMS
	}
	for _, k := range d.keys {
		s.trimmedAt[k] = d.nowMS
	}
}
