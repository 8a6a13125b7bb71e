package configs

import (
	"fmt"
	"slices"
)

// History is the `history` section: durable channel history (rewind,
// the cold tier of recovery, the history API). Sockudo's keys and
// defaults.
type History struct {
	// Enabled turns history on for every app (apps may override).
	Enabled bool `json:"enabled"`
	// RewindEnabled lets V2 subscribers ask for `rewind`.
	RewindEnabled bool `json:"rewind_enabled"`
	// Backend is `postgres` (also `postgresql`, `pgsql`) or `memory`.
	Backend string `json:"backend"`
	// RetentionWindowSeconds drops entries older than this.
	RetentionWindowSeconds Seconds `json:"retention_window_seconds"`
	// MaxPageSize caps HTTP and WebSocket pages and rewinds.
	MaxPageSize int `json:"max_page_size"`
	// MaxMessagesPerChannel and MaxBytesPerChannel bound a channel's
	// entries (0 = no bound).
	MaxMessagesPerChannel int `json:"max_messages_per_channel"`
	MaxBytesPerChannel    int `json:"max_bytes_per_channel"`
	// WriterShards is the number of writer goroutines (channels hash to
	// one, keeping their order).
	WriterShards int `json:"writer_shards"`
	// WriterQueueCapacity is the entries waiting per writer shard; a full
	// queue drops (counted) rather than block a publish.
	WriterQueueCapacity int `json:"writer_queue_capacity"`
	// WriterBatchSize is the most entries one store write carries (this
	// server's key).
	WriterBatchSize int `json:"writer_batch_size"`
	// WriterBatchWaitMs is how long a writer shard waits for its batch to
	// fill (this server's key; 0 = write what is queued at once).
	WriterBatchWaitMs Millis `json:"writer_batch_wait_ms"`
	// PurgeIntervalSeconds is how often the retention sweep deletes
	// entries past the window of channels no longer written.
	PurgeIntervalSeconds Seconds `json:"purge_interval_seconds"`
	// PurgeBatchSize is the entries one sweep statement deletes;
	// MaxPurgePerTick the most one sweep deletes.
	PurgeBatchSize  int `json:"purge_batch_size"`
	MaxPurgePerTick int `json:"max_purge_per_tick"`
	// Postgres holds the PostgreSQL backend's settings; the connection is
	// database.postgres.
	Postgres HistoryPostgres `json:"postgres"`
}

// HistoryPostgres is `history.postgres`.
type HistoryPostgres struct {
	// TablePrefix names the tables <prefix>_streams and <prefix>_entries.
	TablePrefix string `json:"table_prefix"`
	// WriteTimeoutMs bounds one store write.
	WriteTimeoutMs Millis `json:"write_timeout_ms"`
}

// The other backends do not exist here.
func (History) unusedKeys() []string {
	return []string{"mysql", "dynamodb", "surrealdb", "scylladb"}
}

// AppHistory is an app's `history` policy; nil / 0 fields inherit.
type AppHistory struct {
	Enabled                *bool   `json:"enabled"`
	RewindEnabled          *bool   `json:"rewind_enabled"`
	RetentionWindowSeconds Seconds `json:"retention_window_seconds"`
	MaxMessagesPerChannel  int     `json:"max_messages_per_channel"`
	MaxBytesPerChannel     int     `json:"max_bytes_per_channel"`
}

// HistoryBackends lists the accepted history.backend values.
func HistoryBackends() []string { return []string{"postgres", "postgresql", "pgsql", "memory"} }

// IsPostgres reports whether the backend is PostgreSQL.
func (h *History) IsPostgres() bool { return h.Backend != "memory" }

func defaultHistory(c *Config) {
	c.History = History{
		RewindEnabled: true, Backend: "postgres", RetentionWindowSeconds: 86400, MaxPageSize: 100,
		WriterShards: 4, WriterQueueCapacity: 16384, WriterBatchSize: 256, WriterBatchWaitMs: 10,
		PurgeIntervalSeconds: 300, PurgeBatchSize: 1000, MaxPurgePerTick: 100_000,
		Postgres: HistoryPostgres{TablePrefix: "sockudo_history", WriteTimeoutMs: 5000},
	}
}

func (c *Config) historyEnvVars() []envVar {
	h := &c.History
	return []envVar{
		{"HISTORY_ENABLED", "history.enabled", setBool(&h.Enabled)},
		{"HISTORY_REWIND_ENABLED", "history.rewind_enabled", setBool(&h.RewindEnabled)},
		{"HISTORY_BACKEND", "history.backend", setString(&h.Backend)},
		{"HISTORY_RETENTION_WINDOW_SECONDS", "history.retention_window_seconds", setInt(&h.RetentionWindowSeconds)},
		{"HISTORY_MAX_PAGE_SIZE", "history.max_page_size", setInt(&h.MaxPageSize)},
		{"HISTORY_MAX_MESSAGES_PER_CHANNEL", "history.max_messages_per_channel", setInt(&h.MaxMessagesPerChannel)},
		{"HISTORY_MAX_BYTES_PER_CHANNEL", "history.max_bytes_per_channel", setInt(&h.MaxBytesPerChannel)},
		{"HISTORY_WRITER_SHARDS", "history.writer_shards", setInt(&h.WriterShards)},
		{"HISTORY_WRITER_QUEUE_CAPACITY", "history.writer_queue_capacity", setInt(&h.WriterQueueCapacity)},
		{"HISTORY_WRITER_BATCH_SIZE", "history.writer_batch_size", setInt(&h.WriterBatchSize)},
		{"HISTORY_WRITER_BATCH_WAIT_MS", "history.writer_batch_wait_ms", setInt(&h.WriterBatchWaitMs)},
		{"HISTORY_PURGE_INTERVAL_SECONDS", "history.purge_interval_seconds", setInt(&h.PurgeIntervalSeconds)},
		{"HISTORY_PURGE_BATCH_SIZE", "history.purge_batch_size", setInt(&h.PurgeBatchSize)},
		{"HISTORY_MAX_PURGE_PER_TICK", "history.max_purge_per_tick", setInt(&h.MaxPurgePerTick)},
		{"HISTORY_POSTGRES_TABLE_PREFIX", "history.postgres.table_prefix", setString(&h.Postgres.TablePrefix)},
		{"HISTORY_POSTGRES_WRITE_TIMEOUT_MS", "history.postgres.write_timeout_ms", setInt(&h.Postgres.WriteTimeoutMs)},
	}
}

func (c *Config) validateHistory(v *checker) {
	h := &c.History
	if !slices.Contains(HistoryBackends(), h.Backend) {
		v.add("history.backend", "must be one of %v, got %q (this server has no other history backends)", HistoryBackends(), h.Backend)
	}
	v.atLeast("history.max_page_size", h.MaxPageSize, 1)
	v.atLeast("history.retention_window_seconds", int(h.RetentionWindowSeconds), 0)
	v.atLeast("history.max_messages_per_channel", h.MaxMessagesPerChannel, 0)
	v.atLeast("history.max_bytes_per_channel", h.MaxBytesPerChannel, 0)
	v.atLeast("history.writer_shards", h.WriterShards, 1)
	v.atLeast("history.writer_queue_capacity", h.WriterQueueCapacity, 1)
	v.atLeast("history.writer_batch_size", h.WriterBatchSize, 1)
	v.atLeast("history.writer_batch_wait_ms", int(h.WriterBatchWaitMs), 0)
	v.atLeast("history.purge_interval_seconds", int(h.PurgeIntervalSeconds), 1)
	v.atLeast("history.purge_batch_size", h.PurgeBatchSize, 1)
	v.atLeast("history.max_purge_per_tick", h.MaxPurgePerTick, 1)
	v.atLeast("history.postgres.write_timeout_ms", int(h.Postgres.WriteTimeoutMs), 1)
	for i, a := range c.Apps() {
		p := fmt.Sprintf("app_manager.array.apps[%d].history", i)
		if a.History.RetentionWindowSeconds < 0 || a.History.MaxMessagesPerChannel < 0 || a.History.MaxBytesPerChannel < 0 {
			v.add(p, "retention bounds must be ≥ 0")
		}
	}
}
