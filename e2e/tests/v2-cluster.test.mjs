// 22. Protocol V2 streams across two nodes over a real NATS server (issue 12 item 9):
//     publishes on both nodes form one stream with contiguous serials everywhere, and a
//     client (lib/v2client.mjs, as the official client reconnects and resumes) dropped on
//     node 1 reconnects to node 2 and gets exactly what it missed, in order, once.
//     Needs `nats-server` (Debian package nats-server): skipped without it unless CI=true.
//     Run twice: with recovery only, and with durable history in a real PostgreSQL (the
//     channel's owner takes the store's serials; needs the Debian package postgresql).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { loadFixture } from '../lib/server.mjs';
import { NATS_BIN, NO_NATS, startNats } from '../lib/nats.mjs';
import { postgresBin, startPostgres } from '../lib/postgres.mjs';
import { useServers } from '../lib/suite.mjs';
import { backend, closeAll } from '../lib/clients.mjs';
import { connectV2, closeV2Clients, v2Config, v2Data } from '../lib/v2client.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const CI = process.env.CI === 'true';
const HEARTBEAT_MS = 200;
const PG_BIN = postgresBin();
if (!PG_BIN && CI) {
  throw new Error('postgres not found (/usr/lib/postgresql/*/bin): install the Debian package postgresql');
}

const { start, onStop } = useServers({
  cleanup: async () => {
    await closeV2Clients();
    await closeAll();
  },
});

/** Broadcast frames (not protocol frames) the client received on `channel`, raw (before dedup). */
function broadcasts(client, channel, conn) {
  return client.rawFrames((f) => f.channel === channel && !f.event.startsWith('sockudo') && (conn === undefined || f.__conn === conn));
}

for (const history of [false, true]) {
  const skip = !NATS_BIN && !CI ? NO_NATS : history && !PG_BIN ? 'postgres not found: install the Debian package postgresql' : false;
  describe(`V2 streams across nodes (NATS${history ? ', durable history in PostgreSQL' : ''})`, { skip }, () => {
    let node1;
    let node2;
    let sdk1;
    let sdk2;

    before(async () => {
      const nats = await startNats();
      onStop(nats.stop);
      const config = v2Config(loadFixture);
      config.adapter = { driver: 'nats', nats: { servers: [nats.url] } };
      config.cluster_health = { heartbeat_interval_ms: HEARTBEAT_MS, node_timeout_ms: 1000, cleanup_interval_ms: 100 };
      if (history) {
        const pg = await startPostgres(PG_BIN);
        onStop(pg.stop);
        config.history = { enabled: true, backend: 'postgres', postgres: { table_prefix: 'e2e_cluster' } };
        config.database = { ...config.database, postgres: { host: '127.0.0.1', port: pg.port, username: pg.user, database: pg.database } };
      }
      node1 = await start(config);
      node2 = await start(config);
      sdk1 = backend(node1, MAIN);
      sdk2 = backend(node2, MAIN);
      // Settled: publishes from both nodes reach a client as one stream with
      // contiguous serials, and keep doing so for several heartbeats (a node
      // that settles later would take over some channels and start new streams).
      const probe = await connectV2(node1, MAIN);
      const ch = unique('v2-cluster-probe-');
      await probe.subscribed(ch);
      let since = 0;
      let round = 0;
      await waitFor(
        async () => {
          round += 1;
          await sdk1.trigger(ch, 'probe', { round, from: 1 });
          await sdk2.trigger(ch, 'probe', { round, from: 2 });
          await waitFor(() => broadcasts(probe, ch).filter((f) => v2Data(f).round === round).length === 2, 5000, 'both probes');
          const [a, b] = broadcasts(probe, ch).slice(-2);
          const prev = broadcasts(probe, ch).slice(-3, -2)[0];
          const one = a.stream_id === b.stream_id && b.serial === a.serial + 1 && (!prev || (prev.stream_id === a.stream_id && a.serial === prev.serial + 1));
          if (!one) since = 0;
          else if (!since) since = Date.now();
          return since && Date.now() - since >= 5 * HEARTBEAT_MS;
        },
        15_000,
        () => `the nodes to agree on the probe channel's sequencer\n--- node 1 ---\n${node1.output()}\n--- node 2 ---\n${node2.output()}`,
      );
      probe.disconnect();
    });

    it('publishes from both nodes are one stream; a client dropped on node 1 resumes on node 2 with exactly what it missed', async () => {
      const ch = unique('v2-cluster-');
      const c = await connectV2(node1, MAIN);
      const observer = await connectV2(node2, MAIN);
      await c.subscribed(ch);
      await observer.subscribed(ch);

      await sdk1.trigger(ch, 'evt', { i: 1 });
      await sdk2.trigger(ch, 'evt', { i: 2 });
      await waitFor(() => c.positions.get(ch)?.serial === 2, 5000, 'position 2 on node 1');
      const stream = c.positions.get(ch).stream_id;

      const conn = c.conn;
      c.drop({ hold: true });
      await waitFor(() => conn.closeInfo, 5000, 'the client notices its dead socket');

      const N = 10;
      for (let i = 3; i < 3 + N; i++) await (i % 2 ? sdk1 : sdk2).trigger(ch, 'evt', { i });
      await waitFor(() => broadcasts(observer, ch).length === N + 2, 5000, 'node 2 delivered every message');

      // the observer on node 2 saw one stream, serials 1..N+2, each once,
      // with the message ids the client saw on node 1
      const seen = broadcasts(observer, ch);
      assert.deepEqual(seen.map((f) => f.serial), Array.from({ length: N + 2 }, (_, k) => k + 1));
      assert.ok(seen.every((f) => f.stream_id === stream), 'one stream on both nodes');
      assert.deepEqual(
        broadcasts(c, ch).map((f) => f.message_id),
        seen.slice(0, 2).map((f) => f.message_id),
      );

      // reconnect to the other node, as a load balancer would send it
      c.wsBase = node2.wsUrl;
      c.release();
      await c.waitConnected(10_000, conn.index);
      const ok = await c.waitFrame((f) => f.event === 'sockudo:resume_success' && f.__conn === c.conn.index, 10_000, 'sockudo:resume_success');
      const resumed = v2Data(ok);
      assert.deepEqual(resumed.failed, []);
      assert.equal(resumed.recovered.length, 1);
      assert.equal(resumed.recovered[0].replayed, N);
      assert.equal(resumed.recovered[0].position.stream_id, stream);
      assert.equal(resumed.recovered[0].position.serial, N + 2);

      const replayed = broadcasts(c, ch, c.conn.index);
      assert.deepEqual(replayed.map((f) => f.serial), Array.from({ length: N }, (_, k) => k + 3));
      assert.deepEqual(replayed.map((f) => f.message_id), seen.slice(2).map((f) => f.message_id));

      await sdk1.trigger(ch, 'evt', { i: 'live' });
      await waitFor(() => broadcasts(c, ch, c.conn.index).length === N + 1, 5000, 'the live message');
      const live = broadcasts(c, ch, c.conn.index).at(-1);
      assert.equal(live.serial, N + 3);
      assert.equal(v2Data(live).i, 'live');
      const ids = broadcasts(c, ch).map((f) => f.message_id);
      assert.equal(new Set(ids).size, ids.length, 'no message sent twice');
      assert.equal(c.duplicatesDropped, 0);
    });
  });
}
