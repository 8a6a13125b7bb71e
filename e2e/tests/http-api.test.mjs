// 11. HTTP API through the Node SDK: channels, channel info, users, trigger with info, batch, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect, PusherServer } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

const json = async (promise) => (await promise).json();

/** Resolves with the RequestError of a rejected SDK call (fails if it succeeds). */
async function rejection(promise) {
  try {
    const res = await promise;
    const body = await res.text().catch(() => '');
    assert.fail(`expected an error status, got ${res.status} ${body}`);
  } catch (err) {
    if (err.code === 'ERR_ASSERTION') throw err;
    return err;
  }
}

function assertErrorBody(err, status) {
  assert.equal(err.status, status, `status (body ${err.body})`);
  let body;
  try {
    body = JSON.parse(err.body);
  } catch {
    assert.fail(`error body is not JSON: ${err.body}`);
  }
  assert.equal(typeof body.error, 'string', `error message in ${err.body}`);
  assert.equal(body.code, status, `code in ${err.body}`);
}

/** A public channel with n subscribers and a presence channel with the given users (one connection each). */
async function occupy(n, users) {
  const pub = unique('http-pub-');
  const pres = unique('presence-http-');
  for (let i = 0; i < n; i += 1) await subscribe(await connect(server, MAIN), pub);
  for (const id of users) await subscribe(await connect(server, MAIN, { user: { id, user_info: { id } } }), pres);
  return { pub, pres };
}

describe('HTTP API', () => {
  it('GET /channels lists occupied channels; filter_by_prefix; info=user_count on presence-', async () => {
    const { pub, pres } = await occupy(2, ['u1', 'u2', 'u2']);
    const all = await json(sdk.get({ path: '/channels' }));
    assert.ok(all.channels[pub], `${pub} listed: ${JSON.stringify(all)}`);
    assert.ok(all.channels[pres], `${pres} listed`);
    assert.equal(typeof all.channels[pub], 'object');

    const presenceOnly = await json(sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
    assert.equal(presenceOnly.channels[pub], undefined, 'filtered out');
    assert.deepEqual(presenceOnly.channels[pres], { user_count: 2 }, JSON.stringify(presenceOnly));
    for (const name of Object.keys(presenceOnly.channels)) assert.ok(name.startsWith('presence-'));

    const err = await rejection(sdk.get({ path: '/channels', params: { info: 'user_count' } }));
    assertErrorBody(err, 400);
  });

  it('GET /channels/{name} with info=subscription_count; unoccupied is {occupied:false}', async () => {
    const { pub, pres } = await occupy(3, ['a', 'b', 'b']);
    const info = await json(sdk.get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } }));
    assert.deepEqual(info, { occupied: true, subscription_count: 3 });

    const pinfo = await json(sdk.get({ path: `/channels/${pres}`, params: { info: 'user_count,subscription_count' } }));
    assert.deepEqual(pinfo, { occupied: true, user_count: 2, subscription_count: 3 });

    const empty = await json(sdk.get({ path: `/channels/${unique('nobody-')}` }));
    assert.deepEqual(empty, { occupied: false });

    const err = await rejection(sdk.get({ path: `/channels/${pub}`, params: { info: 'user_count' } }));
    assertErrorBody(err, 400);
  });

  it('GET /channels/presence-x/users lists distinct users; 400 on a non-presence channel', async () => {
    const { pub, pres } = await occupy(1, ['7', 'eight', 'eight']);
    const users = await json(sdk.get({ path: `/channels/${pres}/users` }));
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['7', 'eight']);
    const err = await rejection(sdk.get({ path: `/channels/${pub}/users` }));
    assertErrorBody(err, 400);
  });

  it('trigger with info returns counts; without info returns {}', async () => {
    const { pub, pres } = await occupy(2, ['x', 'y']);
    const plain = await json(sdk.trigger(pub, 'evt', { a: 1 }));
    assert.deepEqual(plain, {});
    const withInfo = await json(sdk.trigger(pub, 'evt', { a: 1 }, { info: 'subscription_count' }));
    assert.deepEqual(withInfo, { channels: { [pub]: { subscription_count: 2 } } });
    const presInfo = await json(sdk.trigger(pres, 'evt', { a: 1 }, { info: 'user_count' }));
    assert.deepEqual(presInfo, { channels: { [pres]: { user_count: 2 } } });
  });

  it('trigger to several channels at once', async () => {
    const c = await connect(server, MAIN);
    const names = [unique('multi-'), unique('multi-'), unique('multi-')];
    const got = [];
    for (const n of names) got.push(collect(await subscribe(c, n), 'evt'));
    await sdk.trigger(names, 'evt', { multi: true });
    await waitFor(() => got.every((g) => g.length === 1), 5000, 'event on every channel');
  });

  it('triggerBatch delivers every event; info gives per-event counts', async () => {
    const c = await connect(server, MAIN);
    const a = unique('batch-');
    const b = unique('batch-');
    const gotA = collect(await subscribe(c, a), 'one');
    const gotB = collect(await subscribe(c, b), 'two');
    const res = await json(
      sdk.triggerBatch([
        { channel: a, name: 'one', data: { n: 1 } },
        { channel: b, name: 'two', data: 'text' },
      ]),
    );
    assert.equal(typeof res, 'object');
    await waitFor(() => gotA.length === 1 && gotB.length === 1, 5000, 'both batch events');
    assert.deepEqual(gotA[0].data, { n: 1 });
    assert.equal(gotB[0].data, 'text');

    const withInfo = await json(
      sdk.triggerBatch([
        { channel: a, name: 'one', data: {}, info: 'subscription_count' },
        { channel: b, name: 'two', data: {} },
      ]),
    );
    assert.deepEqual(withInfo, { batch: [{ subscription_count: 1 }, {}] });
  });

  it('400 for an invalid channel name (post, since trigger validates names client-side)', async () => {
    const err = await rejection(sdk.post({ path: '/events', body: { name: 'evt', data: '{}', channels: ['bad channel!'] } }));
    assertErrorBody(err, 400);
  });

  it('400 for more than 100 channels and for a batch of more than 10', async () => {
    const channels = Array.from({ length: 101 }, (_, i) => `c${i}`);
    assertErrorBody(await rejection(sdk.post({ path: '/events', body: { name: 'evt', data: '{}', channels } })), 400);
    const batch = Array.from({ length: 11 }, (_, i) => ({ channel: `c${i}`, name: 'evt', data: '{}' }));
    assertErrorBody(await rejection(sdk.post({ path: '/batch_events', body: { batch } })), 400);
  });

  it('413 for data over 10 KB (trigger does not check size, post is used)', async () => {
    const data = JSON.stringify({ big: 'x'.repeat(11 * 1024) });
    const err = await rejection(sdk.post({ path: '/events', body: { name: 'evt', data, channels: ['big'] } }));
    assertErrorBody(err, 413);
    // exactly at the limit is fine
    const ok = await sdk.post({ path: '/events', body: { name: 'evt', data: 'y'.repeat(10 * 1024), channels: ['big'] } });
    assert.equal(ok.status, 200);
  });

  it('401 for a wrong secret, 401 for no auth at all', async () => {
    const app = server.app(MAIN);
    const wrong = new PusherServer({ appId: app.id, key: app.key, secret: 'not-the-secret', host: '127.0.0.1', port: String(server.port), useTLS: false });
    assertErrorBody(await rejection(wrong.trigger('x', 'evt', {})), 401);
    assertErrorBody(await rejection(wrong.get({ path: '/channels' })), 401);
    const res = await fetch(`${server.httpUrl}/apps/${app.id}/channels`);
    assert.equal(res.status, 401);
  });

  it('404 for an unknown app id and for an unknown route', async () => {
    const app = server.app(MAIN);
    const ghost = new PusherServer({ appId: '999999', key: app.key, secret: app.secret, host: '127.0.0.1', port: String(server.port), useTLS: false });
    assertErrorBody(await rejection(ghost.trigger('x', 'evt', {})), 404);
    const res = await fetch(`${server.httpUrl}/no/such/route`);
    assert.equal(res.status, 404);
  });

  it('health endpoints answer', async () => {
    for (const path of ['/up', `/up/${MAIN}`, '/live', '/ready']) {
      const res = await fetch(`${server.httpUrl}${path}`);
      assert.equal(res.status, 200, `${path} → ${res.status}`);
    }
  });
});
