-- pgbench script: one history store write as pghistory.Append does it today, 20 entries over 6 channels:
-- BEGIN, CREATE TEMP TABLE IF NOT EXISTS, fill it (COPY in the server; INSERT here), INSERT … SELECT … JOIN
-- streams ON CONFLICT DO NOTHING, one retention DELETE per channel, COMMIT.
\set base random(1, 2000000000)
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS hist_in (app_id TEXT, channel TEXT, stream_id TEXT, serial BIGINT, published_at_ms BIGINT, message_id TEXT, event_name TEXT, payload_bytes BYTEA, payload_size_bytes BIGINT) ON COMMIT DELETE ROWS;
INSERT INTO hist_in SELECT 'bench', 'bench-'||(g%6 + 6*(:base%16)), '0b7e5a4e-1111-4222-8333-944455556666', :base::bigint*100+g, 1764700000000, 'a5c2c1d8-1111-4222-8333-'||g, 'bench-event', convert_to(repeat('x',200),'UTF8'), 200 FROM generate_series(1,20) g;
INSERT INTO en (app_id, channel, stream_id, serial, published_at_ms, message_id, event_name, payload_bytes, payload_size_bytes) SELECT i.app_id, i.channel, i.stream_id, i.serial, i.published_at_ms, i.message_id, i.event_name, i.payload_bytes, i.payload_size_bytes FROM hist_in i JOIN st t ON t.app_id = i.app_id AND t.channel = i.channel AND t.stream_id = i.stream_id ON CONFLICT DO NOTHING;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(0 + 6*(:base%16)) AND published_at_ms < 1764600000000;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(1 + 6*(:base%16)) AND published_at_ms < 1764600000000;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(2 + 6*(:base%16)) AND published_at_ms < 1764600000000;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(3 + 6*(:base%16)) AND published_at_ms < 1764600000000;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(4 + 6*(:base%16)) AND published_at_ms < 1764600000000;
DELETE FROM en WHERE app_id='bench' AND channel='bench-'||(5 + 6*(:base%16)) AND published_at_ms < 1764600000000;
COMMIT;
