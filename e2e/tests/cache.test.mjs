// 6. Cache channels: pusher:cache_miss when empty, replay of the last HTTP event after subscribing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, backend, subscribe, subscribeError, collect } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

describe('cache channels', () => {
  it('cache- channel with nothing cached: pusher:cache_miss after subscription_succeeded', async () => {
    const c = await connect(server, MAIN);
    const name = unique('cache-');
    const ch = c.subscribe(name);
    const misses = collect(ch, 'pusher:cache_miss');
    await subscribe(c, name);
    await waitFor(() => misses.length === 1, 5000, 'pusher:cache_miss');
    const order = c.rec.frames.filter((f) => f.channel === name).map((f) => f.event);
    assert.deepEqual(order, ['pusher_internal:subscription_succeeded', 'pusher:cache_miss']);
  });

  it('after a trigger, a new subscriber gets the last event right after subscribing', async () => {
    const name = unique('cache-');
    await sdk.trigger(name, 'price', { v: 1 });
    await sdk.trigger(name, 'price', { v: 2 });
    const c = await connect(server, MAIN);
    const ch = c.subscribe(name);
    const got = collect(ch, 'price');
    const misses = collect(ch, 'pusher:cache_miss');
    await subscribe(c, name);
    await waitFor(() => got.length === 1, 5000, 'replayed cached event');
    assert.deepEqual(got[0].data, { v: 2 }, 'the last event is replayed');
    const order = c.rec.frames.filter((f) => f.channel === name).map((f) => f.event);
    assert.deepEqual(order, ['pusher_internal:subscription_succeeded', 'price']);
    assert.equal(misses.length, 0);
  });

  it('the cached data string is replayed byte for byte (raw client)', async () => {
    const name = unique('cache-');
    const text = '{ "spaced" : true }';
    await sdk.trigger(name, 'evt', text);
    const r = raw(server, { appId: MAIN });
    await r.ready();
    await r.subscribed(name);
    const f = await r.waitFrame((x) => x.event === 'evt');
    assert.equal(f.channel, name);
    assert.equal(f.data, text);
  });

  it('private-cache- channel keeps private auth: replay with a valid signature, 401 with a bad one', async () => {
    const name = unique('private-cache-');
    await sdk.trigger(name, 'evt', { ok: 1 });
    const good = await connect(server, MAIN);
    const ch = good.subscribe(name);
    const got = collect(ch, 'evt');
    await subscribe(good, name);
    await waitFor(() => got.length === 1, 5000, 'replayed private-cache event');

    const bad = await connect(server, MAIN, {
      channelAuth: ({ channelName }, s) => s.authorizeChannel('1.2', channelName),
    });
    const badCh = bad.subscribe(name);
    const leaked = collect(badCh, 'evt');
    const err = await subscribeError(bad, name);
    assert.equal(err.status, 401);
    assert.equal(leaked.length, 0, 'no cached event for an unauthorized subscriber');
  });

  it('presence-cache- channel keeps presence semantics', async () => {
    const name = unique('presence-cache-');
    const a = await connect(server, MAIN, { user: { id: 'pc1', user_info: {} } });
    const chA = a.subscribe(name);
    const misses = collect(chA, 'pusher:cache_miss');
    await subscribe(a, name);
    assert.equal(chA.members.count, 1);
    assert.equal(chA.members.me.id, 'pc1');
    await waitFor(() => misses.length === 1, 5000, 'cache_miss on presence-cache');
  });
});
