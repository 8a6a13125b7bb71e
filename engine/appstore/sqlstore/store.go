// Package sqlstore is the engine.AppStore over Sockudo's `applications`
// table in PostgreSQL or MySQL/MariaDB, with Sockudo's schema, so an
// existing Sockudo database and its operator dashboard work unchanged.
//
// Unlike Sockudo it
//   - caches every app it looked up and re-reads all of them in one query
//     per refresh interval, so a connect costs no query in the steady state
//     and a row edited behind its back (dashboard, plain SQL) is noticed
//     within the interval: Options.OnChange is called for each app whose
//     row changed or disappeared;
//   - caches unknown keys for a short time, bounded in count, and makes
//     concurrent lookups of one key share one query, so a flood of bogus
//     keys costs a handful of queries;
//   - keeps serving cached apps (stale) while the database is down,
//     answers lookups it cannot serve with an error (never
//     engine.ErrAppNotFound) within the query timeout, and recovers by
//     itself;
//   - starts with the config file's apps when the database is down at
//     start-up, and retries in the background.
//
// MySQL compares keys case-insensitively (Sockudo's ascii_general_ci
// collation); the store compares the returned key byte for byte, so keys
// are exact on both databases.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// Defaults of the Options durations and bounds.
const (
	DefaultTable           = "applications"
	DefaultRefreshInterval = 10 * time.Second
	DefaultQueryTimeout    = time.Second
	DefaultNegativeTTL     = 5 * time.Second
	DefaultNegativeMax     = 10000
)

// ErrUnavailable is returned (wrapped) by lookups the store cannot answer
// because the database is unreachable. It is not engine.ErrAppNotFound:
// the app may exist.
var ErrUnavailable = errors.New("sqlstore: app database unavailable")

// errNoProbe answers a key missing from the key index once the probe
// budget is spent: unknown, without a query.
var errNoProbe = fmt.Errorf("%w (not in the table's key index)", engine.ErrAppNotFound)

// Observer receives the store's counts (expose implements it). Calls are
// made on the connect path: they must be cheap and never block.
type Observer interface {
	// AppStoreLookup counts one lookup by result: "hit" (cache),
	// "negative_hit" (unknown, answered without a query), "miss" (queried, found),
	// "not_found" (queried or refused unseen, unknown), "error" (could not
	// answer).
	AppStoreLookup(result string)
	// AppStoreError counts one failed database operation.
	AppStoreError()
}

// InlineApp is an app of the config file, written into the table at
// start-up when its id is absent (Options.RegisterInline).
type InlineApp struct {
	// App is the parsed app; its fields fill the flat columns.
	App *engine.App
	// Policy is the app as Sockudo's policy JSON object (the policy
	// column), so the row reads back as the file's app.
	Policy []byte
	// Webhooks is the webhooks JSON array ("[]" or nil when none).
	Webhooks []byte
}

// Options configures a Store.
type Options struct {
	// Driver is "pgsql" or "mysql".
	Driver string
	// Conn locates the database.
	Conn Conn
	// Table is the table name ("" = DefaultTable).
	Table string
	// Parse turns one app JSON object (policy or flat form) into an app,
	// validating it. Required.
	Parse func([]byte) (*engine.App, error)
	// OnChange is called, outside the store's locks, for each cached app
	// whose row changed (app) or disappeared (app nil). May be nil.
	OnChange func(id string, app *engine.App)
	// OnLoad is called when an app is cached for the first time (per-app
	// metrics series are created then). May be nil.
	OnLoad func(app *engine.App)
	// Inline are the config file's apps: written into the table when
	// RegisterInline is set and their id is absent, and served while the
	// database is unreachable at start-up.
	Inline []InlineApp
	// RegisterInline writes Inline apps into the table (never over a row
	// with the same id).
	RegisterInline bool
	// NoCache makes every lookup query the database (Sockudo's
	// app_manager.cache.enabled = false). Apps looked up are still kept
	// for change detection and for outages.
	NoCache bool
	// RefreshInterval is how often cached apps are re-read (0 =
	// DefaultRefreshInterval).
	RefreshInterval time.Duration
	// QueryTimeout bounds one lookup query (0 = DefaultQueryTimeout).
	QueryTimeout time.Duration
	// NegativeTTL is how long an unknown key is remembered (0 =
	// DefaultNegativeTTL, negative = not at all).
	NegativeTTL time.Duration
	// NegativeMax bounds the unknown keys remembered (0 =
	// DefaultNegativeMax).
	NegativeMax int
	// Notify installs a trigger and listens for its notifications
	// (PostgreSQL only), so changes apply within a second.
	Notify bool
	// StartTimeout bounds the connection attempt in New before the store
	// starts degraded (0 = 5 s).
	StartTimeout time.Duration
	// Logger receives outages, recoveries and bad rows (nil = discard).
	Logger *slog.Logger
	// Observer receives counts (nil = none).
	Observer Observer
}

// Store is the SQL app store. Safe for concurrent use.
type Store struct {
	opts Options
	d    dialect
	sql  statements
	db   backend
	log  *slog.Logger
	obs  Observer

	cache  *appCache
	neg    *negCache
	flight flight
	index  atomic.Pointer[keyIndex] // nil until first loaded
	probes bucket

	up    atomic.Bool // the last database operation succeeded
	ready atomic.Bool // table ensured and inline apps registered
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	downMu    sync.Mutex
	downSince time.Time

	triggered bool     // the notify trigger was tried (run goroutine, or New before it)
	bad       sync.Map // id → row JSON that failed to parse, logged once
}

// New connects (waiting at most StartTimeout), creates the table when
// missing and registers inline apps. A database that cannot be reached is
// not an error: the store starts degraded, serving Options.Inline, logs
// it and keeps retrying. Errors are for settings that can never work.
func New(opts Options) (*Store, error) {
	s, err := build(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	err = s.init(ctx)
	cancel()
	if err != nil {
		s.markDown("database unreachable at start-up: serving the config file's apps until it answers", err)
		for _, in := range s.opts.Inline {
			s.cache.put(&entry{app: in.App})
		}
	}
	go s.run()
	return s, nil
}

func build(opts Options) (*Store, error) {
	if opts.Parse == nil {
		return nil, errors.New("sqlstore: Options.Parse is required")
	}
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if err := validTable(opts.Table); err != nil {
		return nil, err
	}
	setDefault(&opts.RefreshInterval, DefaultRefreshInterval)
	setDefault(&opts.QueryTimeout, DefaultQueryTimeout)
	setDefault(&opts.NegativeTTL, DefaultNegativeTTL)
	setDefault(&opts.StartTimeout, 5*time.Second)
	if opts.NegativeMax == 0 {
		opts.NegativeMax = DefaultNegativeMax
	}
	s := &Store{
		opts: opts, log: opts.Logger, obs: opts.Observer,
		cache: newAppCache(), neg: newNegCache(opts.NegativeTTL, opts.NegativeMax),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	var err error
	switch opts.Driver {
	case "pgsql":
		s.d = postgres
		s.db, err = newPG(opts.Conn, opts.QueryTimeout)
	case "mysql":
		if opts.Notify {
			return nil, errors.New("sqlstore: change notification is PostgreSQL only")
		}
		s.d = mysql
		s.db, err = newMySQL(opts.Conn, opts.QueryTimeout, s.log)
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (pgsql or mysql)", opts.Driver)
	}
	if err != nil {
		return nil, err
	}
	s.sql = s.d.statements(opts.Table)
	return s, nil
}

func setDefault(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}

type nopObserver struct{}

func (nopObserver) AppStoreLookup(string) {}
func (nopObserver) AppStoreError()        {}

// AppByKey returns the app with the public key key.
func (s *Store) AppByKey(key string) (*engine.App, error) {
	// The steady state, kept small enough to inline into the caller's
	// loop: one pointer load and one map lookup.
	if a := s.cache.snap.Load().apps[key]; a != nil && !s.opts.NoCache {
		s.obs.AppStoreLookup("hit")
		return a, nil
	}
	return s.slowByKey(key)
}

func (s *Store) slowByKey(key string) (*engine.App, error) {
	e := s.cache.byKey(key)
	if e != nil && !s.opts.NoCache {
		s.obs.AppStoreLookup("hit")
		return e.app, nil
	}
	return s.lookup("k", key, e)
}

// AppByID returns the app with id.
func (s *Store) AppByID(id string) (*engine.App, error) {
	if e := s.cache.snap.Load().byID[id]; e != nil && !s.opts.NoCache {
		s.obs.AppStoreLookup("hit")
		return e.app, nil
	}
	e := s.cache.byID(id)
	if e != nil && !s.opts.NoCache {
		s.obs.AppStoreLookup("hit")
		return e.app, nil
	}
	return s.lookup("i", id, e)
}

// lookup answers a cache miss (or, with NoCache, every lookup): by "k"ey
// or "i"d. stale is the cached entry, served when the database fails.
func (s *Store) lookup(by, v string, stale *entry) (*engine.App, error) {
	if !validIdent(v) {
		// Longer than the column or with bytes it cannot hold: no row can
		// match, so the database is not asked.
		s.obs.AppStoreLookup("not_found")
		return nil, engine.ErrAppNotFound
	}
	nk := by + v
	if s.neg.has(nk) {
		s.obs.AppStoreLookup("negative_hit")
		return nil, engine.ErrAppNotFound
	}
	if !s.up.Load() || !s.ready.Load() {
		return s.unavailable(stale, nil)
	}
	queried := false
	app, err := s.flight.do(nk, func() (*engine.App, error) {
		// Inside the flight: concurrent lookups of one key spend one probe.
		if x := s.index.Load(); x != nil && !x.has(by, v) && !s.probes.take() {
			return nil, errNoProbe
		}
		queried = true
		return s.fetch(by, v)
	})
	switch {
	case err == nil:
		s.obs.AppStoreLookup("miss")
		return app, nil
	case errors.Is(err, errNoProbe) || errors.Is(err, engine.ErrAppNotFound) && !queried:
		s.obs.AppStoreLookup("negative_hit")
		return nil, engine.ErrAppNotFound
	case errors.Is(err, engine.ErrAppNotFound):
		s.obs.AppStoreLookup("not_found")
		return nil, err
	case errors.Is(err, ErrUnavailable):
		return s.unavailable(stale, err)
	default: // a row that does not parse: the app exists but cannot be served
		s.obs.AppStoreLookup("error")
		return nil, err
	}
}

func (s *Store) unavailable(stale *entry, err error) (*engine.App, error) {
	if stale != nil {
		s.obs.AppStoreLookup("hit")
		return stale.app, nil
	}
	s.obs.AppStoreLookup("error")
	if err == nil {
		err = ErrUnavailable
	}
	return nil, err
}

// fetch queries one app and caches it (or its absence).
func (s *Store) fetch(by, v string) (*engine.App, error) {
	q := s.sql.byKey
	if by == "i" {
		q = s.sql.byID
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.QueryTimeout)
	rows, err := s.db.query(ctx, q, v)
	if err != nil && ctx.Err() == nil {
		// Pooled connections the server closed (a database restart)
		// fail; fresh ones may not. Within the same timeout.
		s.db.reset()
		rows, err = s.db.query(ctx, q, v)
	}
	cancel()
	if err != nil {
		s.markDown("app lookup failed", err)
		s.poke()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for i := range rows {
		r := &rows[i]
		// MySQL's ascii_general_ci matches `ABC` for `abc`: only an exact
		// match counts.
		if by == "k" && r[colKey].s != v || by == "i" && r[colID].s != v {
			continue
		}
		e, err := s.parse(r)
		if err != nil {
			return nil, err
		}
		old := s.cache.byID(e.app.ID)
		s.cache.put(e)
		s.addToIndex(e.app.ID, e.app.Key) // found by a probe: no more probes for it
		switch {
		case old == nil:
			if s.opts.OnLoad != nil {
				s.opts.OnLoad(e.app)
			}
		case !sameApp(old.app, e.app):
			// Read anew (no cache, or its key changed): the open
			// connections follow, as after a refresh.
			s.changed(e.app.ID, e.app)
		}
		return e.app, nil
	}
	s.neg.add(by + v)
	return nil, engine.ErrAppNotFound
}

// parse turns a row into a cache entry; a bad row is logged and reported.
func (s *Store) parse(r *row) (*entry, error) {
	js, err := r.appJSON()
	var app *engine.App
	if err == nil {
		app, err = s.opts.Parse(js)
	}
	if err == nil && (app.ID != r[colID].s || app.Key != r[colKey].s) {
		err = errors.New("parsed id or key differs from the row's")
	}
	if err != nil {
		s.log.Error("app store: invalid row in the applications table: the app cannot be served until it is fixed",
			"table", s.opts.Table, "id", r[colID].s, "err", err)
		return nil, fmt.Errorf("sqlstore: app %q: invalid row: %w", r[colID].s, err)
	}
	return &entry{app: app, src: string(js)}, nil
}

// validIdent reports whether v can be an id or key of the table: 1 to 255
// printable ASCII bytes (MySQL's columns are ascii; PostgreSQL's reject
// NUL and invalid UTF-8).
func validIdent(v string) bool {
	if len(v) == 0 || len(v) > 255 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// StoreState reports OK while the database answers, DEGRADED while it does
// not but apps are served from the cache (or the config file), DOWN when
// nothing can be served.
func (s *Store) StoreState() engine.StoreState {
	switch {
	case s.up.Load() && s.ready.Load():
		return engine.StoreOK
	case s.cache.len() > 0:
		return engine.StoreDegraded
	default:
		return engine.StoreDown
	}
}

// Len is the number of cached apps.
func (s *Store) Len() int { return s.cache.len() }

// Close stops the background work and closes the pool.
func (s *Store) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.db.close()
	})
}

// markDown records a failed database operation; the first after a
// success is logged.
func (s *Store) markDown(msg string, err error) {
	s.obs.AppStoreError()
	if s.up.Swap(false) || s.downSinceZero() {
		s.downMu.Lock()
		s.downSince = time.Now()
		s.downMu.Unlock()
		s.log.Error("app store: "+msg, "driver", s.d.name, "err", err)
	}
}

// poke has the background loop run now (a lookup found the database
// down: retrying starts at once, not at the next refresh).
func (s *Store) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Store) downSinceZero() bool {
	s.downMu.Lock()
	defer s.downMu.Unlock()
	return s.downSince.IsZero()
}

func (s *Store) markUp() {
	if !s.up.Swap(true) {
		s.downMu.Lock()
		since := s.downSince
		s.downSince = time.Time{}
		s.downMu.Unlock()
		if !since.IsZero() {
			s.log.Info("app store: database reachable again", "driver", s.d.name, "down_for", time.Since(since).Round(time.Millisecond))
		}
	}
}

// sameApp reports whether two parsed apps hold the same settings.
func sameApp(a, b *engine.App) bool { return reflect.DeepEqual(a, b) }
