// 14. Graceful shutdown: SIGTERM closes every socket with 4200, pusher-js retries at once, exit code 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { connect, raw, subscribe, waitState, collect, backend } from '../lib/clients.mjs';
import { waitFor, withTimeout, unique } from '../lib/util.mjs';

const MAIN = '100';
const { start: startServer } = useServers();

describe('graceful shutdown', () => {
  it('SIGTERM: sockets closed with 4200, pusher-js reconnects at once, exit code 0', async () => {
    const server = await startServer('config.json');
    const c = await connect(server, MAIN);
    await subscribe(c, unique('public-'));
    const r = raw(server, { appId: MAIN });
    await r.ready();

    const exit = server.stop();
    const close = await withTimeout(r.closed, 10000, 'raw client closed by shutdown');
    assert.equal(close.code, 4200, `raw close code (reason ${close.reason})`);

    const closedAt = await waitFor(
      () => c.rec.errors.find((e) => e.code === 4200)?.at,
      10000,
      () => `pusher-js sees 4200 (errors ${JSON.stringify(c.rec.errors.map((e) => e.error))})`,
    );
    const retry = await waitFor(
      () => c.rec.states.find((s) => s.current === 'connecting' && s.at >= closedAt),
      5000,
      'pusher-js goes back to connecting',
    );
    // 4200–4299 → immediate retry; any other close would wait ~1 s
    assert.ok(retry.at - closedAt < 500, `reconnect attempt ${retry.at - closedAt} ms after the 4200 close`);

    const info = await withTimeout(exit, 20000, 'process exit');
    assert.equal(info.signal, null, `exited by signal ${info.signal}`);
    assert.equal(info.code, 0, `exit code (output:\n${server.output()})`);
  });

  it('pusher-js comes back by itself when a server is started again on the same port', async () => {
    const first = await startServer('config.json');
    const c = await connect(first, MAIN);
    const name = unique('public-');
    await subscribe(c, name);
    const oldSocket = c.connection.socket_id;
    const info = await first.stop();
    assert.equal(info.code, 0);

    const second = await startServer('config.json', { port: first.port });
    await waitState(c, 'connected', 15000);
    assert.notEqual(c.connection.socket_id, oldSocket, 'a new connection');
    // pusher-js re-subscribes its channels on the new server
    const ch = c.channel(name);
    const got = collect(ch, 'evt');
    await waitFor(async () => {
      const res = await backend(second, MAIN).get({ path: `/channels/${name}` });
      return (await res.json()).occupied === true;
    }, 5000, 'channel re-subscribed on the new server');
    await backend(second, MAIN).trigger(name, 'evt', { back: true });
    await waitFor(() => got.length === 1, 5000, 'event after the restart');
  });
});
