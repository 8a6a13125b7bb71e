// Package pghistory is the PostgreSQL durable history store (history
// backend "postgres"), in Sockudo's tables <prefix>_streams and
// <prefix>_entries (sockudo-appstore.md §10). Serials are reserved with
// UPDATE … RETURNING on the stream row, so every node sharing the
// database draws from one sequence per channel.
package pghistory

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// Options configures a Store.
type Options struct {
	// URL is a postgres:// connection URL (database.postgres).
	URL string
	// TablePrefix is history.postgres.table_prefix ("" → sockudo_history).
	TablePrefix string
	// PoolMax caps open connections (0 → 10).
	PoolMax int
	// Now is the clock; nil → time.Now.
	Now func() time.Time
	// RetainEvery is how often Append applies a written channel's
	// retention window; 0 → 1 s. A channel may hold entries up to
	// RetainEvery past its window (the retention sweep covers channels
	// no longer written); count and byte bounds apply on every write.
	RetainEvery time.Duration
}

// Store is a HistoryStore in PostgreSQL.
type Store struct {
	pool    *pgxpool.Pool
	streams string // table names, quoted-safe (checked prefix)
	entries string
	now     func() time.Time

	// The write path's statements with the table names in.
	appendSQL, trimWindowSQL, trimCountSQL, trimBytesSQL string

	retainEvery time.Duration
	mu          sync.Mutex
	trimmedAt   map[chanKey]int64 // ms of the last trim by this store
	prunedAt    int64
}

var _ engine.HistoryStore = (*Store)(nil)

var prefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,40}$`)

// New opens a lazily connected pool. The tables are created by Migrate.
func New(o Options) (*Store, error) {
	if o.TablePrefix == "" {
		o.TablePrefix = "sockudo_history"
	}
	if !prefixRE.MatchString(o.TablePrefix) {
		return nil, fmt.Errorf("pghistory: table prefix %q: letters, digits and _ only", o.TablePrefix)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("pghistory: postgres settings: %w", err)
	}
	cfg.MaxConns = 10
	if o.PoolMax > 0 {
		cfg.MaxConns = int32(o.PoolMax)
	}
	// Connections kept open: the first publish of each channel waits for
	// a serial reservation (at most 500 ms), and a burst of new channels
	// at start-up must not pay a backend's start-up each (in the bench,
	// 100 channels at once timed some of those out).
	cfg.MinConns = min(cfg.MaxConns, 4)
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("pghistory: postgres pool: %w", err)
	}
	if o.RetainEvery <= 0 {
		o.RetainEvery = defaultRetainEvery
	}
	s := &Store{pool: pool, streams: o.TablePrefix + "_streams", entries: o.TablePrefix + "_entries", now: o.Now,
		retainEvery: o.RetainEvery, trimmedAt: make(map[chanKey]int64)}
	tables := strings.NewReplacer("STREAMS", s.streams, "ENTRIES", s.entries)
	s.appendSQL, s.trimWindowSQL = tables.Replace(appendSQL), tables.Replace(trimWindowSQL)
	s.trimCountSQL, s.trimBytesSQL = tables.Replace(trimCountSQL), tables.Replace(trimBytesSQL)
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Migrate creates the tables and indexes if they do not exist (Sockudo's
// columns, ops/migrations/postgresql/001_fresh_schema.sql).
func (s *Store) Migrate(ctx context.Context) error {
	ddl := strings.NewReplacer("STREAMS", s.streams, "ENTRIES", s.entries).Replace(`
CREATE TABLE IF NOT EXISTS STREAMS (
  app_id TEXT NOT NULL, channel TEXT NOT NULL, stream_id TEXT NOT NULL,
  next_serial BIGINT NOT NULL,
  durable_state TEXT NOT NULL DEFAULT 'healthy', durable_state_reason TEXT NULL,
  durable_state_node_id TEXT NULL, durable_state_changed_at_ms BIGINT NULL,
  retained_messages BIGINT NOT NULL DEFAULT 0, retained_bytes BIGINT NOT NULL DEFAULT 0,
  oldest_available_serial BIGINT NULL, newest_available_serial BIGINT NULL,
  oldest_available_published_at_ms BIGINT NULL, newest_available_published_at_ms BIGINT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (app_id, channel));
CREATE TABLE IF NOT EXISTS ENTRIES (
  app_id TEXT NOT NULL, channel TEXT NOT NULL, stream_id TEXT NOT NULL,
  serial BIGINT NOT NULL, published_at_ms BIGINT NOT NULL,
  message_id TEXT NULL, event_name TEXT NULL,
  operation_kind TEXT NOT NULL DEFAULT 'append',
  payload_bytes BYTEA NOT NULL, payload_size_bytes BIGINT NOT NULL,
  metadata JSONB NULL, tombstone BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, channel, stream_id, serial));
CREATE INDEX IF NOT EXISTS ENTRIES_serial_idx ON ENTRIES (app_id, channel, serial DESC);
CREATE INDEX IF NOT EXISTS ENTRIES_time_idx ON ENTRIES (app_id, channel, published_at_ms DESC, serial DESC);`)
	if _, err := s.pool.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("pghistory: create tables: %w", err)
	}
	return nil
}

// Reserve implements engine.HistoryStore: one statement creates the
// stream or advances next_serial under its row lock.
func (s *Store) Reserve(ctx context.Context, app, channel string, n int) (string, uint64, error) {
	n = max(n, 1)
	var id string
	var next int64
	err := s.pool.QueryRow(ctx, `INSERT INTO `+s.streams+` AS t (app_id, channel, stream_id, next_serial, updated_at_ms)
VALUES ($1, $2, $3, 1 + $4::bigint, $5)
ON CONFLICT (app_id, channel) DO UPDATE SET next_serial = t.next_serial + $4::bigint, updated_at_ms = $5
RETURNING stream_id, next_serial`, app, channel, protocol.NewMessageID(), n, s.now().UnixMilli()).Scan(&id, &next)
	if err != nil {
		return "", 0, fmt.Errorf("pghistory: reserve serials: %w", err)
	}
	return id, uint64(next) - uint64(n), nil
}

// Release implements engine.HistoryStore.
func (s *Store) Release(ctx context.Context, app, channel, streamID string, next, end uint64) error {
	if next >= end {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE `+s.streams+` SET next_serial=$5 WHERE app_id=$1 AND channel=$2 AND stream_id=$3 AND next_serial=$4`,
		app, channel, streamID, int64(end), int64(next))
	if err != nil {
		return fmt.Errorf("pghistory: release serials: %w", err)
	}
	return nil
}

// Read implements engine.HistoryStore.
func (s *Store) Read(ctx context.Context, q engine.HistoryQuery) (engine.HistoryPage, error) {
	var page engine.HistoryPage
	st, err := s.State(ctx, q.App, q.Channel)
	if err != nil {
		return page, err
	}
	page.State = st
	if q.StreamID != "" && q.StreamID != st.StreamID {
		return page, engine.ErrHistoryStreamChanged
	}
	if st.StreamID == "" {
		return page, nil
	}
	where := []string{"app_id=$1", "channel=$2", "stream_id=$3"}
	args := []any{q.App, q.Channel, st.StreamID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.StartSerial != nil {
		add("serial >= $%d", int64(*q.StartSerial))
	}
	if q.EndSerial != nil {
		add("serial <= $%d", int64(min(*q.EndSerial, 1<<62)))
	}
	if q.StartTimeMS != nil {
		add("published_at_ms >= $%d", *q.StartTimeMS)
	}
	if q.EndTimeMS != nil {
		add("published_at_ms <= $%d", *q.EndTimeMS)
	}
	order := "ASC"
	if q.NewestFirst {
		order = "DESC"
	}
	if q.After != 0 {
		if q.NewestFirst {
			add("serial < $%d", int64(q.After))
		} else {
			add("serial > $%d", int64(q.After))
		}
	}
	args = append(args, q.Limit+1)
	rows, err := s.pool.Query(ctx, `SELECT serial, published_at_ms, coalesce(message_id, ''), coalesce(event_name, ''), payload_bytes
FROM `+s.entries+` WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY serial %s LIMIT $%d`, order, len(args)), args...)
	if err != nil {
		return page, fmt.Errorf("pghistory: read: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e := engine.HistoryEntry{App: q.App, Channel: q.Channel, StreamID: st.StreamID}
		var serial int64
		if err := rows.Scan(&serial, &e.PublishedAtMS, &e.MessageID, &e.EventName, &e.Payload); err != nil {
			return page, fmt.Errorf("pghistory: read: %w", err)
		}
		e.Serial = uint64(serial)
		if len(page.Items) == q.Limit {
			page.HasMore = true
			continue
		}
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("pghistory: read: %w", err)
	}
	return page, nil
}

// State implements engine.HistoryStore; the retained figures are
// computed from the entries (one index range scan).
func (s *Store) State(ctx context.Context, app, channel string) (engine.HistoryState, error) {
	var st engine.HistoryState
	var next int64
	var durable string
	var reason *string
	var changed *int64
	err := s.pool.QueryRow(ctx, `SELECT stream_id, next_serial, durable_state, durable_state_reason, durable_state_changed_at_ms
FROM `+s.streams+` WHERE app_id=$1 AND channel=$2`, app, channel).Scan(&st.StreamID, &next, &durable, &reason, &changed)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("pghistory: state: %w", err)
	}
	st.NextSerial, st.Degraded = uint64(next), durable == "degraded"
	if reason != nil {
		st.Reason = *reason
	}
	if changed != nil {
		st.ChangedAtMS = *changed
	}
	var oldest, newest, oldestAt, newestAt *int64
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(payload_size_bytes), 0)::bigint, min(serial), max(serial), min(published_at_ms), max(published_at_ms)
FROM `+s.entries+` WHERE app_id=$1 AND channel=$2 AND stream_id=$3`, app, channel, st.StreamID).Scan(
		&st.RetainedMessages, &st.RetainedBytes, &oldest, &newest, &oldestAt, &newestAt)
	if err != nil {
		return st, fmt.Errorf("pghistory: state: %w", err)
	}
	if oldest != nil {
		st.OldestSerial, st.NewestSerial, st.OldestAtMS, st.NewestAtMS = uint64(*oldest), uint64(*newest), *oldestAt, *newestAt
	}
	return st, nil
}

// SetDegraded implements engine.HistoryStore.
func (s *Store) SetDegraded(ctx context.Context, app, channel, reason string) error {
	now := s.now().UnixMilli()
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.streams+` AS t (app_id, channel, stream_id, next_serial, durable_state, durable_state_reason, durable_state_changed_at_ms, updated_at_ms)
VALUES ($1, $2, $3, 1, 'degraded', $4, $5, $5)
ON CONFLICT (app_id, channel) DO UPDATE SET durable_state='degraded', durable_state_reason=$4, durable_state_changed_at_ms=$5, updated_at_ms=$5
WHERE t.durable_state <> 'degraded'`, app, channel, protocol.NewMessageID(), reason, now)
	if err != nil {
		return fmt.Errorf("pghistory: mark degraded: %w", err)
	}
	return nil
}

// Reset implements engine.HistoryStore.
func (s *Store) Reset(ctx context.Context, app, channel, reason string) (engine.HistoryState, error) {
	now := s.now().UnixMilli()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return engine.HistoryState{}, fmt.Errorf("pghistory: reset: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	id := protocol.NewMessageID()
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.streams+` AS t (app_id, channel, stream_id, next_serial, durable_state, durable_state_reason, durable_state_changed_at_ms, updated_at_ms)
VALUES ($1, $2, $3, 1, 'healthy', $4, $5, $5)
ON CONFLICT (app_id, channel) DO UPDATE SET stream_id=$3, next_serial=1, durable_state='healthy', durable_state_reason=$4,
durable_state_changed_at_ms=$5, updated_at_ms=$5`, app, channel, id, reason, now); err != nil {
		return engine.HistoryState{}, fmt.Errorf("pghistory: reset: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+s.entries+` WHERE app_id=$1 AND channel=$2`, app, channel); err != nil {
		return engine.HistoryState{}, fmt.Errorf("pghistory: reset: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return engine.HistoryState{}, fmt.Errorf("pghistory: reset: %w", err)
	}
	return engine.HistoryState{StreamID: id, NextSerial: 1, Reason: reason, ChangedAtMS: now}, nil
}

// Purge implements engine.HistoryStore.
func (s *Store) Purge(ctx context.Context, app, channel string, p engine.HistoryPurge) (int64, error) {
	q := `DELETE FROM ` + s.entries + ` WHERE app_id=$1 AND channel=$2`
	args := []any{app, channel}
	switch {
	case p.All:
	case p.BeforeSerial > 0:
		q += ` AND serial < $3`
		args = append(args, int64(min(p.BeforeSerial, 1<<62)))
	case p.BeforeTimeMS > 0:
		q += ` AND published_at_ms < $3`
		args = append(args, p.BeforeTimeMS)
	default:
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("pghistory: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Expire implements engine.HistoryStore. The batch is chosen through
// the (app_id, channel, published_at_ms) index and deleted by row
// address, so one call stays bounded however much has expired.
func (s *Store) Expire(ctx context.Context, app string, beforeMS int64, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.entries+` WHERE ctid IN (
SELECT ctid FROM `+s.entries+` WHERE app_id=$1 AND published_at_ms < $2 LIMIT $3)`, app, beforeMS, limit)
	if err != nil {
		return 0, fmt.Errorf("pghistory: expire: %w", err)
	}
	return tag.RowsAffected(), nil
}
