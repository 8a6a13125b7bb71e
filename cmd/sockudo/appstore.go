package main

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/sqlstore"
)

// maxRefresh is the longest a cached app goes unchecked while the
// database answers, whatever app_manager.cache.ttl says (Sockudo's 300 s
// default, or 0 = never, would keep a rotated secret or a deleted app
// alive for minutes or forever).
const maxRefresh = 10 * time.Second

// sqlApps is a node's SQL app store and the engine its changes go to; the
// engine is built after the store, so changes before attach are dropped
// (no connection can exist yet).
type sqlApps struct {
	store *sqlstore.Store
	eng   atomic.Pointer[engine.Engine]
}

// openAppStore returns the app store app_manager.driver names: file (the
// config file's apps) for memory, else the SQL store over Sockudo's
// applications table, kept in n.sql.
func (n *node) openAppStore(file engine.AppStore) (engine.AppStore, error) {
	db, key, ok := n.cfg.SQLDatabase()
	if !ok {
		return file, nil
	}
	inline, err := inlineApps(n.cfg)
	if err != nil {
		return nil, err
	}
	min, max := n.cfg.Pool(db)
	cfg := n.cfg
	s := &sqlApps{}
	opts := sqlstore.Options{
		Driver: n.cfg.AppManager.Driver,
		Conn: sqlstore.Conn{
			Host: db.Host, Port: db.Port, Username: db.Username, Password: db.Password,
			Database: db.Database, PoolMin: min, PoolMax: max,
		},
		Table:           db.TableName,
		Parse:           func(js []byte) (*engine.App, error) { return parseApp(js, cfg) },
		OnChange:        s.changed,
		Inline:          inline,
		RegisterInline:  n.cfg.AppManager.RegisterInlineApps,
		NoCache:         !n.cfg.AppManager.Cache.Enabled,
		RefreshInterval: refreshInterval(n.cfg.AppManager.Cache.TTL),
		Notify:          db.NotifyChanges,
		Logger:          n.log,
	}
	if n.metrics != nil {
		opts.Observer = n.metrics
		opts.OnLoad = func(a *engine.App) { n.metrics.AddApp(a.ID) }
	}
	if s.store, err = sqlstore.New(opts); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	n.sql = s
	n.log.Info("apps are read from the database", "driver", opts.Driver, "host", db.Host, "port", db.Port,
		"database", db.Database, "table", db.TableName, "refresh", opts.RefreshInterval, "state", s.store.StoreState())
	return s.store, nil
}

// refreshInterval is min(ttl, maxRefresh); 0 means maxRefresh.
func refreshInterval(ttl configs.Seconds) time.Duration {
	if d := ttl.Duration(); d > 0 && d < maxRefresh {
		return d
	}
	return maxRefresh
}

// attach sends later changes to e. Nil-safe (memory driver).
func (s *sqlApps) attach(e *engine.Engine) {
	if s != nil {
		s.eng.Store(e)
	}
}

// close stops the store. Nil-safe.
func (s *sqlApps) close() {
	if s != nil {
		s.store.Close()
	}
}

// changed applies a row change to open connections: new secret and
// limits at once, 4003 for a disabled app, 4001 for a deleted one.
func (s *sqlApps) changed(id string, app *engine.App) {
	e := s.eng.Load()
	switch {
	case e == nil:
	case app == nil:
		e.AppRemoved(id)
	default:
		e.AppChanged(app)
	}
}

// inlineApps renders the config file's apps (and the SOCKUDO_DEFAULT_APP_*
// app) for the table: the flat columns come from the app, the policy
// column holds the whole app in Sockudo's policy form, so the row reads
// back as the file's app, our own keys included.
func inlineApps(cfg configs.Config) ([]sqlstore.InlineApp, error) {
	var out []sqlstore.InlineApp
	for _, a := range cfg.Apps() {
		policy, err := json.Marshal(policyOf(a))
		if err != nil {
			return nil, fmt.Errorf("app %s: %w", a.ID, err)
		}
		hooks := []byte("[]")
		if len(a.Webhooks) > 0 {
			if hooks, err = json.Marshal(a.Webhooks); err != nil {
				return nil, fmt.Errorf("app %s: webhooks: %w", a.ID, err)
			}
		}
		out = append(out, sqlstore.InlineApp{App: engineApp(a), Policy: policy, Webhooks: hooks})
	}
	return out, nil
}

// policyOf is a's policy object as Sockudo's policy column holds it, plus
// this server's per-app keys (Sockudo ignores unknown policy keys).
func policyOf(a configs.App) map[string]any {
	origins := a.AllowedOrigins
	if origins == nil {
		origins = []string{}
	}
	hooks := a.Webhooks
	if hooks == nil {
		hooks = []configs.Webhook{}
	}
	return map[string]any{
		"limits": map[string]any{
			"max_connections":                  a.MaxConnections,
			"max_client_events_per_second":     a.MaxClientEventsPerSecond,
			"max_backend_events_per_second":    a.MaxBackendEventsPerSecond,
			"max_read_requests_per_second":     a.MaxReadRequestsPerSecond,
			"max_presence_members_per_channel": a.MaxPresenceMembersPerChannel,
			"max_presence_member_size_in_kb":   a.MaxPresenceMemberSizeInKB,
			"max_channel_name_length":          a.MaxChannelNameLength,
			"max_event_channels_at_once":       a.MaxEventChannelsAtOnce,
			"max_event_name_length":            a.MaxEventNameLength,
			"max_event_payload_in_kb":          a.MaxEventPayloadInKB,
			"max_event_batch_size":             a.MaxEventBatchSize,
			"max_subscriptions_per_connection": a.MaxSubscriptionsPerConnection,
			"decay_seconds":                    a.DecaySeconds,
			"terminate_on_limit":               a.TerminateOnLimit,
		},
		"features": map[string]any{
			"enable_client_messages":     a.EnableClientMessages,
			"enable_user_authentication": a.EnableUserAuthentication,
			"enable_watchlist_events":    a.EnableWatchlistEvents,
			"enable_subscription_count":  a.EnableSubscriptionCount,
		},
		"channels": map[string]any{"allowed_origins": origins},
		"webhooks": hooks,
	}
}
