// Apps that exist only in Sockudo's applications table (PostgreSQL): real
// pusher-js and the Node server SDK against a server started with
// app_manager.driver pgsql, the row written with psql the way Sockudo's
// dashboard writes it.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { connect, subscribe, waitState, backend } from '../lib/clients.mjs';
import { waitFor } from '../lib/util.mjs';
import { postgresBin, startPostgres } from '../lib/postgres.mjs';

const APP = { id: 'db-only', key: 'db-only-key', secret: 'db-only-secret' };

const bin = postgresBin();
if (!bin && process.env.CI === 'true') {
  throw new Error('postgres not found (/usr/lib/postgresql/*/bin): install the Debian package postgresql');
}

describe('apps in PostgreSQL', { skip: !bin && 'postgres not found: install the Debian package postgresql' }, () => {
  const suite = useServers();
  let pg;
  let server;

  before(async () => {
    pg = await startPostgres(bin);
    suite.onStop(() => pg.stop());
    const config = loadFixture('config.json');
    config.app_manager = { driver: 'pgsql', cache: { enabled: true, ttl: 1 }, array: { apps: [] } };
    config.database = { ...config.database, postgres: { host: '127.0.0.1', port: pg.port, username: pg.user, database: pg.database } };
    server = await suite.start(config);
    // The app exists only in the table: the harness learns it here.
    server.app = (id) => {
      assert.equal(id, APP.id);
      return APP;
    };
    const policy = JSON.stringify({
      limits: { max_connections: 100, max_client_events_per_second: 1000, max_backend_events_per_second: 1000, max_read_requests_per_second: 100 },
      features: { enable_client_messages: true, enable_user_authentication: false, enable_watchlist_events: false },
      channels: { allowed_origins: ['*'] },
      webhooks: [],
    });
    await pg.psql(`INSERT INTO applications (id, "key", secret, max_connections, enable_client_messages, enabled,
      max_backend_events_per_second, max_client_events_per_second, max_read_requests_per_second,
      policy, webhooks, allowed_origins, channel_delta_compression, idempotency, connection_recovery)
      VALUES ('${APP.id}', '${APP.key}', '${APP.secret}', 100, true, true, 1000, 1000, 100,
      '${policy}'::text::jsonb, '[]', '["*"]', 'null', 'null', 'null')`);
  });

  it('pusher-js connects, subscribes to a private channel and receives what the Node SDK publishes', async () => {
    const client = await connect(server, APP.id);
    const channel = await subscribe(client, 'private-orders');
    const got = new Promise((resolve) => channel.bind('created', resolve));
    const sdk = backend(server, APP.id);
    const res = await sdk.trigger('private-orders', 'created', { id: 7 });
    assert.equal(res.status, 200);
    assert.deepEqual(await got, { id: 7 });
    const channels = await (await sdk.get({ path: '/channels' })).json();
    assert.ok('private-orders' in channels.channels, JSON.stringify(channels));
  });

  it('a rotated secret applies to the next subscription; a deleted row closes the connection with 4001', async () => {
    let signer = backend(server, APP.id);
    const client = await connect(server, APP.id, { channelAuth: (p) => signer.authorizeChannel(p.socketId, p.channelName) });
    await pg.psql(`UPDATE applications SET secret = 'rotated', updated_at = now() WHERE id = '${APP.id}'`);
    const rotated = { ...APP, secret: 'rotated' };
    server.app = () => rotated;
    const sdk = backend(server, APP.id);
    signer = sdk;
    await waitFor(async () => {
      try {
        await subscribe(client, `private-r-${Date.now()}`, 1000);
        return true;
      } catch {
        return false;
      }
    }, 10_000, 'a subscription signed with the rotated secret');
    assert.equal((await sdk.trigger('private-x', 'e', {})).status, 200);

    await pg.psql(`DELETE FROM applications WHERE id = '${APP.id}'`);
    await waitState(client, ['disconnected', 'failed', 'unavailable'], 10_000);
    assert.ok(client.rec.errors.some((e) => e.code === 4001), JSON.stringify(client.rec.errors.map((e) => e.error)));
  });
});
