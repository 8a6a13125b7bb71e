// 13. Server-initiated liveness (activity_timeout: 1, pong_timeout: 2) and the
//     user_authentication_timeout (2 s) of an app with enable_user_authentication.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, subscribe, waitState } from '../lib/clients.mjs';
import { holds, waitFor, withTimeout, unique } from '../lib/util.mjs';

const MAIN = '100';
const AUTH_REQUIRED = '107'; // enable_user_authentication: true
let server;
let activity;
let pong;
let authTimeout;
useServer('config-timeouts.json', (s) => {
  server = s;
  activity = s.config.activity_timeout * 1000;
  pong = s.config.pong_timeout * 1000;
  authTimeout = s.config.user_authentication_timeout * 1000;
});

describe('server-initiated ping', () => {
  it('pusher-js adopts activity_timeout 1 and stays connected (it answers pings)', async () => {
    const c = await connect(server, MAIN);
    // pusher-js takes min(its own 120 s, the server's activity_timeout)
    assert.equal(c.connection.activityTimeout, activity);
    const socketId = c.connection.socket_id;
    await holds(
      () => c.connection.state === 'connected' && c.connection.socket_id === socketId,
      activity + pong + 2000,
      () => `pusher-js stays on one connection (state ${c.connection.state}, errors ${JSON.stringify(c.rec.errors.map((e) => e.error))})`,
    );
    assert.equal(c.rec.attempts, 1);
  });

  it('a raw client that never answers gets pusher:ping, then close 4201 after activity_timeout + pong_timeout', async () => {
    // autoPong off: not even WebSocket-level pongs are sent back
    const r = raw(server, { appId: MAIN, wsOptions: { autoPong: false } });
    await r.ready();
    const start = r.frames[0].__at;
    const ping = await r.waitFrame('pusher:ping', activity + 3000, 'a server pusher:ping');
    assert.ok(ping.__at - start >= activity - 250, `ping after ~activity_timeout (${ping.__at - start} ms)`);
    const close = await withTimeout(r.closed, activity + pong + 5000, 'close after pong_timeout');
    assert.equal(close.code, 4201, `close code (reason ${close.reason})`);
    const elapsed = close.at - start;
    assert.ok(elapsed >= activity + pong - 500, `closed too early: ${elapsed} ms`);
    assert.ok(elapsed <= activity + pong + 3000, `closed too late: ${elapsed} ms`);
  });

  it('a raw client that answers pusher:ping with pusher:pong stays open', async () => {
    const r = raw(server, { appId: MAIN, answerPings: true });
    await r.ready();
    await holds(() => r.isOpen(), activity + pong + 2000, () => `connection stays open (close ${JSON.stringify(r.closeInfo)})`);
    assert.ok(r.frames.some((f) => f.event === 'pusher:ping'), 'the server did ping');
  });
});

describe('user_authentication_timeout', () => {
  it('a connection that neither signs in nor joins a private channel is closed with 4009', async () => {
    const r = raw(server, { appId: AUTH_REQUIRED, answerPings: true });
    await r.ready();
    const start = r.frames[0].__at;
    const close = await withTimeout(r.closed, authTimeout + 4000, 'auth-timeout close');
    assert.equal(close.code, 4009, `close code (reason ${close.reason})`);
    assert.ok(close.at - start >= authTimeout - 500, `closed too early: ${close.at - start} ms`);
  });

  it('a pusher-js client that signs in stays connected', async () => {
    const c = await connect(server, AUTH_REQUIRED, { user: { id: unique('u-') } });
    c.signin();
    await waitFor(() => c.user.user_data, 5000, 'signin');
    const socketId = c.connection.socket_id;
    await holds(() => c.connection.state === 'connected' && c.connection.socket_id === socketId, authTimeout + 1500, 'signed-in client stays');
  });

  it('a pusher-js client that joins a private channel stays connected', async () => {
    const c = await connect(server, AUTH_REQUIRED);
    await subscribe(c, unique('private-'));
    const socketId = c.connection.socket_id;
    await holds(() => c.connection.state === 'connected' && c.connection.socket_id === socketId, authTimeout + 1500, 'authorized client stays');
  });

  it('pusher-js that does nothing is closed with 4009 and stays disconnected', async () => {
    const c = await connect(server, AUTH_REQUIRED);
    await waitState(c, 'disconnected', authTimeout + 4000);
    assert.ok(c.rec.errors.some((e) => e.code === 4009), JSON.stringify(c.rec.errors.map((e) => e.error)));
  });
});
