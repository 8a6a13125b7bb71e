// 1. Connecting: handshake, refusals (4001, 4003, 4004, 4007), ping/pong and bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, waitState, SOCKET_ID_RE, dataOf } from '../lib/clients.mjs';
import { waitFor, holds } from '../lib/util.mjs';

const MAIN = '100';
const DISABLED = '101';
const QUOTA = '102'; // max_connections: 2

/** Asserts a raw connection was refused with pusher:error {code} then close {code}. */
async function assertRefused(client, code) {
  const close = await client.closed;
  const errFrame = client.frames.find((f) => f.event === 'pusher:error');
  assert.ok(errFrame, `expected a pusher:error frame before the close, got frames ${JSON.stringify(client.frames.map((f) => f.__text))} and close ${JSON.stringify(close)}`);
  const data = dataOf(errFrame);
  assert.equal(data.code, code, `pusher:error code (frame ${errFrame.__text})`);
  assert.equal(typeof data.message, 'string');
  assert.equal(close.code, code, `close code (reason ${JSON.stringify(close.reason)})`);
  assert.equal(
    client.frames.some((f) => f.event === 'pusher:connection_established'),
    false,
    'a refused connection must not get connection_established',
  );
}

/** Asserts a pusher-js client ended refused with `code` and does not reconnect. */
async function assertPusherJsRefused(client, code) {
  await waitState(client, ['disconnected', 'failed']);
  assert.ok(
    client.rec.errors.some((e) => e.code === code),
    `pusher-js error events should carry code ${code}: ${JSON.stringify(client.rec.errors.map((e) => e.error))}`,
  );
  // pusher-js retries after 1 s for a recoverable code; watch for 2.5 s.
  await holds(
    () => ['disconnected', 'failed'].includes(client.connection.state) && client.rec.attempts === 1,
    2500,
    () => `no reconnect (state ${client.connection.state}, attempts ${client.rec.attempts})`,
  );
}

let server;
let startupOutput;
useServer('config.json', (s) => {
  server = s;
  startupOutput = s.output();
});

describe('connect', () => {
  it('pusher-js connects and gets a socket_id like 123.456', async () => {
    const a = await connect(server, MAIN);
    const b = await connect(server, MAIN);
    assert.match(a.connection.socket_id, SOCKET_ID_RE);
    assert.match(b.connection.socket_id, SOCKET_ID_RE);
    assert.notEqual(a.connection.socket_id, b.connection.socket_id, 'socket ids are unique');
  });

  it('connection_established is the first frame, data a JSON string with socket_id and activity_timeout', async () => {
    const c = raw(server, { appId: MAIN });
    await c.ready();
    const first = c.frames[0];
    assert.equal(first.event, 'pusher:connection_established');
    assert.equal(typeof first.data, 'string', 'data is double-encoded (a JSON string)');
    const data = JSON.parse(first.data);
    assert.match(data.socket_id, SOCKET_ID_RE);
    assert.equal(data.activity_timeout, 120, 'activity_timeout from the config');
  });

  it('a missing protocol parameter is accepted', async () => {
    const c = raw(server, { appId: MAIN, query: '' });
    const est = await c.ready();
    assert.match(est.socket_id, SOCKET_ID_RE);
  });

  it('unknown app key: raw client gets pusher:error 4001 then close 4001', async () => {
    await assertRefused(raw(server, { key: 'no-such-key' }), 4001);
  });

  it('unknown app key: pusher-js ends disconnected with 4001 and never reconnects', async () => {
    const c = await connect(server, MAIN, { key: 'no-such-key', connect: false });
    await assertPusherJsRefused(c, 4001);
  });

  it('disabled app: 4003 (raw and pusher-js)', async () => {
    await assertRefused(raw(server, { appId: DISABLED }), 4003);
    const c = await connect(server, DISABLED, { connect: false });
    await assertPusherJsRefused(c, 4003);
  });

  it('app over max_connections: 4004, and a slot frees when a client leaves', async () => {
    const a = await connect(server, QUOTA);
    const b = await connect(server, QUOTA);
    await assertRefused(raw(server, { appId: QUOTA }), 4004);
    const c = await connect(server, QUOTA, { connect: false });
    await assertPusherJsRefused(c, 4004);
    assert.equal(a.connection.state, 'connected');
    assert.equal(b.connection.state, 'connected');

    b.disconnect();
    // The server frees the slot asynchronously: retry until a new connection is accepted.
    await waitFor(
      async () => {
        const r = raw(server, { appId: QUOTA });
        const outcome = await Promise.race([r.ready().then(() => 'ok'), r.closed.then(() => 'closed')]);
        await r.__close();
        return outcome === 'ok';
      },
      5000,
      'a connection to the quota app after one client left',
    );
  });

  it('unsupported protocol (?protocol=99): 4007', async () => {
    await assertRefused(raw(server, { appId: MAIN, query: 'protocol=99&client=js&version=8.6.0' }), 4007);
  });

  it('pusher:ping is answered with pusher:pong', async () => {
    const c = raw(server, { appId: MAIN });
    await c.ready();
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFrame('pusher:pong');
  });

  it('invalid JSON and unknown events get pusher:error and the connection stays open', async () => {
    const c = raw(server, { appId: MAIN });
    await c.ready();
    c.send('{not json');
    await c.waitFrame('pusher:error', 5000, 'pusher:error after invalid JSON');
    c.send({ event: 'no-such-event', data: {} });
    await c.waitFrame(
      (f) => f.event === 'pusher:error' && dataOf(f)?.code === 4000 && f !== c.frames.find((g) => g.event === 'pusher:error'),
      5000,
      'pusher:error 4000 naming the unknown event',
    );
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFrame('pusher:pong');
    assert.ok(c.isOpen(), 'still open');
    // and the server still serves other connections
    const other = raw(server, { appId: MAIN });
    await other.ready();
  });

  it('a binary frame gets an error or a clean close; the server keeps serving', async () => {
    const c = raw(server, { appId: MAIN });
    await c.ready();
    c.ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
    await waitFor(
      () => c.frames.some((f) => f.event === 'pusher:error') || c.closeInfo,
      5000,
      'pusher:error or close after a binary frame',
    );
    if (c.closeInfo) assert.ok(c.closeInfo.code >= 1000, `close code ${c.closeInfo.code}`);
    const other = raw(server, { appId: MAIN });
    await other.ready();
  });

  it('start-up prints exactly one line', () => {
    const lines = startupOutput.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `start-up output:\n${startupOutput}`);
  });
});
