// 3. Private channels: valid authorization, bad signatures, the connection survives failures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, backend, subscribe, subscribeError, collect, dataOf } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

/** A well-formed auth string whose signature is wrong. */
function tampered(auth) {
  const [key, sig] = auth.split(':');
  const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
  return `${key}:${flipped}`;
}

async function assertStillUsable(client, socketId) {
  assert.equal(client.connection.state, 'connected');
  assert.equal(client.connection.socket_id, socketId, 'same connection (no reconnect)');
  const ch = await subscribe(client, unique('public-after-error-'));
  assert.ok(ch.subscribed);
}

describe('private channels', () => {
  it('valid authorization: subscribe and receive an HTTP event', async () => {
    const c = await connect(server, MAIN);
    const name = unique('private-');
    const ch = await subscribe(c, name);
    const got = collect(ch, 'evt');
    await sdk.trigger(name, 'evt', { secret: true });
    await waitFor(() => got.length === 1, 5000, 'private event');
    assert.deepEqual(got[0].data, { secret: true });
  });

  it('bad signature: pusher:subscription_error {type AuthError, status 401}, connection stays connected', async () => {
    const c = await connect(server, MAIN, {
      channelAuth: ({ socketId, channelName }, s) => ({ auth: tampered(s.authorizeChannel(socketId, channelName).auth) }),
    });
    const socketId = c.connection.socket_id;
    const name = unique('private-');
    const err = await subscribeError(c, name);
    assert.equal(err.status, 401, `status in ${JSON.stringify(err)}`);
    assert.equal(err.type, 'AuthError');
    assert.equal(typeof err.error, 'string');
    await assertStillUsable(c, socketId);
  });

  it('signature made for another socket_id or with another app key is rejected with 401', async () => {
    const otherSocket = await connect(server, MAIN, {
      channelAuth: ({ channelName }, s) => s.authorizeChannel('1234.5678', channelName),
    });
    const e1 = await subscribeError(otherSocket, unique('private-'));
    assert.equal(e1.status, 401);

    const wrongKey = await connect(server, MAIN, {
      channelAuth: ({ socketId, channelName }, s) => ({
        auth: `not-the-key:${s.authorizeChannel(socketId, channelName).auth.split(':')[1]}`,
      }),
    });
    const e2 = await subscribeError(wrongKey, unique('private-'));
    assert.equal(e2.status, 401);
  });

  it('raw: private subscribe without auth gets pusher:subscription_error with channel; other frames still work', async () => {
    const r = raw(server, { appId: MAIN });
    await r.ready();
    const name = unique('private-');
    r.subscribe(name);
    const f = await r.waitFrame((x) => x.event === 'pusher:subscription_error');
    assert.equal(f.channel, name);
    assert.equal(dataOf(f).status, 401);
    assert.equal(dataOf(f).type, 'AuthError');
    r.send({ event: 'pusher:ping', data: {} });
    await r.waitFrame('pusher:pong');
    assert.ok(r.isOpen());
  });

  it('re-subscribing an already joined channel is re-acknowledged', async () => {
    const r = raw(server, { appId: MAIN });
    await r.ready();
    const name = unique('private-');
    const auth = sdk.authorizeChannel(r.socketId, name).auth;
    await r.subscribed(name, { auth });
    r.subscribe(name, { auth });
    await waitFor(
      () => r.frames.filter((x) => x.event === 'pusher_internal:subscription_succeeded' && x.channel === name).length === 2,
      5000,
      () => `second subscription_succeeded (frames ${JSON.stringify(r.frames.map((x) => x.__text))})`,
    );
  });
});
