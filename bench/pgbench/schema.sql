-- Tables shaped as engine/history/pghistory creates them (st = <prefix>_streams, en = <prefix>_entries),
-- 100 streams: the setup of the history-write comparison in bench/RESULTS.md.
CREATE TABLE st (app_id TEXT NOT NULL, channel TEXT NOT NULL, stream_id TEXT NOT NULL, next_serial BIGINT NOT NULL,
  durable_state TEXT NOT NULL DEFAULT 'healthy', updated_at_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (app_id, channel));
CREATE TABLE en (app_id TEXT NOT NULL, channel TEXT NOT NULL, stream_id TEXT NOT NULL, serial BIGINT NOT NULL, published_at_ms BIGINT NOT NULL,
  message_id TEXT NULL, event_name TEXT NULL, operation_kind TEXT NOT NULL DEFAULT 'append', payload_bytes BYTEA NOT NULL,
  payload_size_bytes BIGINT NOT NULL, metadata JSONB NULL, tombstone BOOLEAN NOT NULL DEFAULT FALSE, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, channel, stream_id, serial));
CREATE INDEX en_serial_idx ON en (app_id, channel, serial DESC);
CREATE INDEX en_time_idx ON en (app_id, channel, published_at_ms DESC, serial DESC);
INSERT INTO st (app_id, channel, stream_id, next_serial) SELECT 'bench', 'bench-'||g, '0b7e5a4e-1111-4222-8333-944455556666', 1 FROM generate_series(0,99) g;
