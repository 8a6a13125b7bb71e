package pghistory

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sockudo/sockudo-go/engine"
)

// appendSQL stores a batch in one statement: the entries travel as one
// array per column, so a write is a single round trip whatever its size,
// with no temporary table to create, fill and truncate per commit. The
// join with the streams table drops the entries of a stream that was
// reset meanwhile; ON CONFLICT drops a retried write's duplicates.
const appendSQL = `INSERT INTO ENTRIES (app_id, channel, stream_id, serial, published_at_ms, message_id, event_name, payload_bytes, payload_size_bytes)
SELECT i.app_id, i.channel, i.stream_id, i.serial, i.at, NULLIF(i.mid, ''), NULLIF(i.ev, ''), coalesce(i.p, ''::bytea), octet_length(coalesce(i.p, ''::bytea))
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bytea[]) AS i(app_id, channel, stream_id, serial, at, mid, ev, p)
JOIN STREAMS t ON t.app_id = i.app_id AND t.channel = i.channel AND t.stream_id = i.stream_id
ON CONFLICT DO NOTHING`

// Append implements engine.HistoryStore. The entries go in with one
// INSERT; the channels whose retention is due (see retain.go) are trimmed
// by statements sent in the same pipelined batch, which PostgreSQL runs
// as one implicit transaction: still one round trip, and a failed trim
// fails the write rather than leaving it half done.
func (s *Store) Append(ctx context.Context, entries []engine.HistoryEntry) error {
	if len(entries) == 0 {
		return nil
	}
	args := appendArgs(entries)
	due := s.retentionDue(entries)
	if due.empty() {
		if _, err := s.pool.Exec(ctx, s.appendSQL, args...); err != nil {
			return fmt.Errorf("pghistory: append: %w", err)
		}
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(s.appendSQL, args...)
	due.queue(b, s)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pghistory: append with retention: %w", err)
	}
	s.retained(due)
	return nil
}

// appendArgs lays the entries out as appendSQL's column arrays.
func appendArgs(entries []engine.HistoryEntry) []any {
	n := len(entries)
	apps, channels, streams := make([]string, n), make([]string, n), make([]string, n)
	serials, at := make([]int64, n), make([]int64, n)
	ids, events := make([]string, n), make([]string, n)
	payloads := make([][]byte, n)
	for i := range entries {
		e := &entries[i]
		apps[i], channels[i], streams[i] = e.App, e.Channel, e.StreamID
		serials[i], at[i] = int64(e.Serial), e.PublishedAtMS
		ids[i], events[i], payloads[i] = e.MessageID, e.EventName, e.Payload
	}
	return []any{apps, channels, streams, serials, at, ids, events, payloads}
}
