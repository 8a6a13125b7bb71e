package main

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
)

// historyOptions maps the history section onto the engine's options and
// opens the store when any app can have history. The PostgreSQL tables
// are created at start; a database that is down then is retried in the
// background (its writes fail meanwhile, counted, as in any outage)
// rather than keeping the server from starting. close releases the
// store after the engine has stopped.
func historyOptions(cfg configs.Config, log *slog.Logger) (o engine.HistoryOptions, closeFn func(), err error) {
	h := cfg.History
	o = engine.HistoryOptions{
		Enabled: h.Enabled, RewindEnabled: h.RewindEnabled, MaxPageSize: h.MaxPageSize,
		Retention: engine.HistoryRetention{Window: h.RetentionWindowSeconds.Duration(),
			MaxMessages: int64(h.MaxMessagesPerChannel), MaxBytes: int64(h.MaxBytesPerChannel)},
		WriterShards: h.WriterShards, QueueCapacity: h.WriterQueueCapacity, BatchSize: h.WriterBatchSize,
		BatchWait:     batchWait(h.WriterBatchWaitMs),
		WriteTimeout:  h.Postgres.WriteTimeoutMs.Duration(),
		PurgeInterval: h.PurgeIntervalSeconds.Duration(), PurgeBatch: h.PurgeBatchSize, MaxPurgePerTick: h.MaxPurgePerTick,
	}
	closeFn = func() {}
	if !historyWanted(cfg) {
		return o, closeFn, nil
	}
	if !h.IsPostgres() {
		o.Store = history.NewMemory(nil)
		return o, closeFn, nil
	}
	s, err := pghistory.New(pghistory.Options{URL: postgresURL(cfg.Database.Postgres), TablePrefix: h.Postgres.TablePrefix,
		PoolMax: cfg.Database.Postgres.ConnectionPoolSize})
	if err != nil {
		return o, closeFn, err
	}
	stop := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = s.Migrate(ctx)
	cancel()
	if err != nil {
		log.Error("history: cannot create the PostgreSQL tables; retrying in the background (history writes fail meanwhile)", "err", err)
		go migrateHistory(s, log, stop)
	}
	o.Store = s
	return o, func() { close(stop); s.Close() }, nil
}

// historyWanted: history is on globally or for some configured app.
// (Apps from a database can only narrow the global switch here.)
func historyWanted(cfg configs.Config) bool {
	if cfg.History.Enabled {
		return true
	}
	for _, a := range cfg.Apps() {
		if a.History.Enabled != nil && *a.History.Enabled {
			return true
		}
	}
	return false
}

func migrateHistory(s *pghistory.Store, log *slog.Logger, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Second):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Migrate(ctx)
		cancel()
		if err == nil {
			log.Info("history: PostgreSQL tables ready")
			return
		}
		log.Error("history: cannot create the PostgreSQL tables; retrying", "err", err)
	}
}

// postgresURL writes database.postgres as a connection URL.
func postgresURL(d configs.DatabaseSQL) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(d.Host, strconv.Itoa(d.Port)), Path: "/" + d.Database}
	if d.Password != "" {
		u.User = url.UserPassword(d.Username, d.Password)
	} else {
		u.User = url.User(d.Username)
	}
	return u.String()
}

// batchWait maps history.writer_batch_wait_ms onto the engine, where 0
// means its default and a negative wait none.
func batchWait(ms configs.Millis) time.Duration {
	if ms == 0 {
		return -1
	}
	return ms.Duration()
}
