package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// retryInterval is how often an unreachable database is tried again.
const retryInterval = time.Second

// refreshChunk bounds the ids of one refresh query.
const refreshChunk = 500

// init pings, creates the table (and missing JSON columns) and registers
// the inline apps.
func (s *Store) init(ctx context.Context) error {
	if err := s.db.ping(ctx); err != nil {
		return err
	}
	if err := s.ensureTable(ctx); err != nil {
		return err
	}
	if s.opts.RegisterInline {
		s.registerInline(ctx)
	}
	if s.opts.Notify && !s.triggered {
		// Without the trigger the re-read still notices every change, a
		// little later: not a reason to refuse service.
		if err := s.installTrigger(ctx); err != nil {
			s.log.Warn("app store: change notification trigger not installed; changes apply at each re-read", "table", s.opts.Table, "err", err)
		}
		s.triggered = true
	}
	if err := s.loadIndex(ctx); err != nil {
		return err
	}
	s.ready.Store(true)
	s.markUp()
	return nil
}

func (s *Store) ensureTable(ctx context.Context) error {
	have, err := s.db.strings(ctx, s.sql.columns, s.opts.Table)
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", s.opts.Table, err)
	}
	if len(have) == 0 {
		// Only when missing: a user allowed to read the table but not to
		// create tables must still be served.
		if _, err := s.db.exec(ctx, s.sql.create); err != nil {
			return fmt.Errorf("create table %s: %w", s.opts.Table, err)
		}
		s.log.Info("app store: table created", "table", s.opts.Table)
		return nil
	}
	for _, c := range jsonColumns {
		if slices.Contains(have, c) {
			continue
		}
		if _, err := s.db.exec(ctx, s.sql.addColumn(c)); err != nil && !errDuplicateColumn(err) {
			return fmt.Errorf("add column %s.%s: %w", s.opts.Table, c, err)
		}
		s.log.Info("app store: added missing column", "table", s.opts.Table, "column", c)
	}
	return nil
}

// registerInline inserts each inline app whose id is absent. A row with
// the same id is the operator's and is left alone (Sockudo overwrites it).
// A failed insert is logged, as in Sockudo, and does not stop the store.
func (s *Store) registerInline(ctx context.Context) {
	for _, in := range s.opts.Inline {
		n, err := s.db.exec(ctx, s.sql.insert, inlineArgs(in)...)
		if err != nil {
			s.log.Error("app store: inline app not written to the table", "id", in.App.ID, "table", s.opts.Table, "err", err)
			continue
		}
		if n > 0 {
			s.log.Info("app store: inline app written to the table", "id", in.App.ID, "table", s.opts.Table)
			continue
		}
		s.log.Info("app store: inline app not written: a row with its id or key exists and is kept", "id", in.App.ID, "table", s.opts.Table)
	}
}

func inlineArgs(in InlineApp) []any {
	a := in.App
	num := func(n int) any {
		if n == 0 {
			return nil
		}
		return n
	}
	origins := "null"
	if len(a.AllowedOrigins) > 0 {
		b := []byte{'['}
		for i, o := range a.AllowedOrigins {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, o)
		}
		origins = string(append(b, ']'))
	}
	js := func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		return string(b)
	}
	return []any{
		a.ID, a.Key, a.Secret, a.Enabled,
		a.MaxConnections, a.EnableClientMessages,
		num(a.MaxBackendEventsPerSecond), a.MaxClientEventsPerSecond,
		num(a.MaxReadRequestsPerSecond), num(a.MaxPresenceMembersPerChannel),
		num(a.MaxPresenceMemberSizeKB), num(a.MaxChannelNameLength),
		num(a.MaxEventChannelsAtOnce), num(a.MaxEventNameLength),
		num(a.MaxEventPayloadKB), num(a.MaxEventBatchSize),
		a.EnableUserAuthentication, a.EnableWatchlistEvents,
		js(in.Policy), js(in.Webhooks), js([]byte(origins)),
	}
}

// run is the background loop: retry while unreachable, refresh while up.
func (s *Store) run() {
	defer close(s.done)
	stopListen := s.listen()
	defer stopListen()
	t := time.NewTimer(s.interval())
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.wake:
		}
		s.tick()
		t.Reset(s.interval())
	}
}

// interval is the wait before the next tick: short while the database is
// unreachable, the refresh interval otherwise.
func (s *Store) interval() time.Duration {
	if !s.up.Load() || !s.ready.Load() {
		return retryInterval
	}
	return s.opts.RefreshInterval
}

func (s *Store) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !s.ready.Load() {
		if err := s.init(ctx); err != nil {
			s.markDown("database unreachable or not usable (table, columns): retrying every second", err)
			return
		}
	}
	if !s.up.Load() {
		if err := s.db.ping(ctx); err != nil {
			s.markDown("database still unreachable", err)
			s.db.reset() // the next try starts from fresh connections
			return
		}
	}
	if err := s.refresh(ctx); err != nil {
		s.markDown("refresh of cached apps failed", err)
		s.db.reset()
		return
	}
	s.markUp()
}

// refresh re-reads every cached app, in chunks of ids, and applies what
// changed: a changed row replaces the cached app and is reported through
// OnChange, a missing row removes it (OnChange with nil).
func (s *Store) refresh(ctx context.Context) error {
	if err := s.loadIndex(ctx); err != nil {
		return err
	}
	s.cache.settle()
	cached := s.cache.entries()
	for len(cached) > 0 {
		chunk := cached[:min(len(cached), refreshChunk)]
		cached = cached[len(chunk):]
		if err := s.refreshChunk(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) refreshChunk(ctx context.Context, chunk []*entry) error {
	ids := make([]string, len(chunk))
	for i, e := range chunk {
		ids[i] = e.app.ID
	}
	var rows []row
	var err error
	if s.d.name == "pgsql" {
		rows, err = s.db.query(ctx, s.sql.byIDs(1), ids)
	} else {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err = s.db.query(ctx, s.sql.byIDs(len(ids)), args...)
	}
	if err != nil {
		return err
	}
	found := make(map[string]*row, len(rows))
	for i := range rows {
		found[rows[i][colID].s] = &rows[i]
	}
	for _, e := range chunk {
		s.apply(e, found[e.app.ID])
	}
	return nil
}

// apply brings one cached entry in line with its row (nil = deleted).
func (s *Store) apply(old *entry, r *row) {
	id := old.app.ID
	if r == nil {
		s.cache.remove(id)
		s.log.Info("app store: app removed from the table", "id", id)
		s.changed(id, nil)
		return
	}
	js, err := r.appJSON()
	if err == nil && string(js) == old.src {
		return
	}
	if err == nil {
		if bad, _ := s.bad.Load(id); bad == string(js) {
			return // this bad version was logged already
		}
	}
	e, err := s.parse(r)
	if err != nil {
		if js != nil {
			s.bad.Store(id, string(js))
		}
		return // logged; the last good version keeps being served
	}
	s.bad.Delete(id)
	s.cache.put(e)
	s.neg.del("k" + e.app.Key)
	if sameApp(old.app, e.app) {
		return
	}
	s.log.Info("app store: app changed in the table", "id", id)
	s.changed(id, e.app)
}

func (s *Store) changed(id string, app *engine.App) {
	if s.opts.OnChange != nil {
		s.opts.OnChange(id, app)
	}
}

// reload re-reads one id at once (a notification named it). An id not
// cached only clears the negative cache, so a new app is found at once.
func (s *Store) reload(ctx context.Context, id string) error {
	s.neg.del("i" + id)
	rows, err := s.db.query(ctx, s.sql.byID, id)
	if err != nil {
		return err
	}
	var r *row
	for i := range rows {
		if rows[i][colID].s == id {
			r = &rows[i]
		}
	}
	if r != nil {
		s.neg.del("k" + r[colKey].s)
		s.addToIndex(r[colID].s, r[colKey].s)
	}
	if old := s.cache.byID(id); old != nil {
		s.apply(old, r)
	}
	return nil
}

var errNotifyUnsupported = errors.New("sqlstore: notifications need PostgreSQL")

// addToIndex records a row a notification announced, so its app is found
// before the next refresh.
func (s *Store) addToIndex(id, key string) {
	old := s.index.Load()
	if old == nil || old.has("i", id) && old.has("k", key) {
		return
	}
	x := &keyIndex{keys: make(map[string]struct{}, len(old.keys)+1), ids: make(map[string]struct{}, len(old.ids)+1)}
	for k := range old.keys {
		x.keys[k] = struct{}{}
	}
	for k := range old.ids {
		x.ids[k] = struct{}{}
	}
	x.keys[key], x.ids[id] = struct{}{}, struct{}{}
	s.index.Store(x)
}
