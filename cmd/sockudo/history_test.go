package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/engine/history"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
)

func TestHistoryOptionsFromConfig(t *testing.T) {
	cfg := configs.Default()
	o, closeFn, err := historyOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil || o.Store != nil || o.Enabled || !o.RewindEnabled || o.MaxPageSize != 100 || o.Retention.Window != 24*time.Hour {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	closeFn()
	cfg.History.Enabled, cfg.History.Backend, cfg.History.MaxMessagesPerChannel = true, "memory", 7
	o, _, _ = historyOptions(cfg, slog.New(slog.DiscardHandler))
	if _, ok := o.Store.(*history.Memory); !ok || o.Retention.MaxMessages != 7 {
		t.Fatalf("memory: %+v", o)
	}
	// postgres is opened lazily: no server needed to build it.
	cfg.History.Backend = "postgres"
	cfg.Database.Postgres.Port = 1
	o, closeFn, err = historyOptions(cfg, slog.New(slog.DiscardHandler))
	if _, ok := o.Store.(*pghistory.Store); !ok || err != nil {
		t.Fatalf("postgres: %+v %v", o, err)
	}
	closeFn()
	on, no := true, false
	cfg.History.Enabled = false
	cfg.AppManager.Array.Apps = []configs.App{{ID: "1", Key: "k", Secret: "s", Enabled: true,
		History: configs.AppHistory{Enabled: &on, RewindEnabled: &no, MaxBytesPerChannel: 9, RetentionWindowSeconds: 60}}}
	if !historyWanted(cfg) {
		t.Fatal("an app with history on does not open the store")
	}
	a := engineApps(cfg)[0]
	if *a.History.Enabled != true || *a.History.RewindEnabled || a.History.Retention.MaxBytes != 9 || a.History.Retention.Window != time.Minute {
		t.Fatalf("app policy: %+v", a.History)
	}
}
