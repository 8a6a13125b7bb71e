package configs

import (
	"strings"
	"testing"
)

func TestHistorySection(t *testing.T) {
	c, _ := mustParse(t, withApp(app1), nil)
	requireEqual(t, "defaults", c.History, History{RewindEnabled: true, Backend: "postgres", RetentionWindowSeconds: 86400,
		MaxPageSize: 100, WriterShards: 4, WriterQueueCapacity: 16384, WriterBatchSize: 256, WriterBatchWaitMs: 10,
		PurgeIntervalSeconds: 300, PurgeBatchSize: 1000, MaxPurgePerTick: 100_000,
		Postgres: HistoryPostgres{TablePrefix: "sockudo_history", WriteTimeoutMs: 5000}})
	file := withApp(`{"id":"1","key":"k1","secret":"s1","history":{"enabled":false,"max_messages_per_channel":7}},
		{"id":"2","key":"k2","secret":"s2","policy":{"history":{"enabled":true,"rewind_enabled":false,"retention_window_seconds":60,"max_bytes_per_channel":1000}}}`,
		`"history":{"enabled":true,"backend":"memory","max_page_size":50,"purge_interval_seconds":10,"postgres":{"table_prefix":"h"}}`)
	c, warnings := mustParse(t, file, envOf("HISTORY_MAX_MESSAGES_PER_CHANNEL", "500", "HISTORY_POSTGRES_WRITE_TIMEOUT_MS", "250",
		"HISTORY_MAX_PURGE_PER_TICK", "20"))
	if len(warnings) != 0 {
		t.Fatalf("warnings %v", warnings)
	}
	h := c.History
	if !h.Enabled || h.Backend != "memory" || h.MaxPageSize != 50 || h.MaxMessagesPerChannel != 500 || h.Postgres != (HistoryPostgres{TablePrefix: "h", WriteTimeoutMs: 250}) ||
		h.PurgeIntervalSeconds != 10 || h.PurgeBatchSize != 1000 || h.MaxPurgePerTick != 20 {
		t.Fatalf("history %+v", h)
	}
	a, b := c.Apps()[0].History, c.Apps()[1].History
	if a.Enabled == nil || *a.Enabled || a.MaxMessagesPerChannel != 7 {
		t.Fatalf("app 1 %+v", a)
	}
	if b.Enabled == nil || !*b.Enabled || b.RewindEnabled == nil || *b.RewindEnabled || b.RetentionWindowSeconds != 60 || b.MaxBytesPerChannel != 1000 {
		t.Fatalf("app 2 policy %+v", b)
	}
	_, _, err := parse([]byte(withApp(app1, `"history":{"purge_batch_size":0}`)), envOf())
	if err == nil || !strings.Contains(err.Error(), "history.purge_batch_size") {
		t.Fatalf("purge_batch_size 0: %v", err)
	}
	_, _, err = parse([]byte(withApp(app1, `"history":{"backend":"dynamodb"}`)), envOf())
	if err == nil || !strings.Contains(err.Error(), "history.backend") {
		t.Fatalf("backend dynamodb: %v", err)
	}
}
