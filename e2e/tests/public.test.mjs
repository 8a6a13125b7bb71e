// 2. Public channels: subscribe, HTTP trigger through the Node SDK, exact data, socket_id exclusion.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, backend, subscribe, collect, framesOf } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

describe('public channels', () => {
  it('subscribe gets subscription_succeeded; object data arrives intact', async () => {
    const c = await connect(server, MAIN);
    const name = unique('public-');
    const ch = await subscribe(c, name);
    const got = collect(ch, 'order-shipped');
    const payload = { id: 42, items: ['a', 'b'], nested: { ok: true, n: null }, text: 'héllo "quoted" \\ \u2603' };
    const res = await sdk.trigger(name, 'order-shipped', payload);
    assert.equal(res.status, 200);
    await waitFor(() => got.length === 1, 5000, 'the triggered event');
    assert.deepEqual(got[0].data, payload);
  });

  it('string data arrives as the same string; JSON text is relayed byte for byte', async () => {
    const c = await connect(server, MAIN);
    const name = unique('public-');
    const ch = await subscribe(c, name);
    const got = collect(ch, 'text');
    await sdk.trigger(name, 'text', 'just a plain string');
    await waitFor(() => got.length === 1, 5000, 'the string event');
    assert.equal(got[0].data, 'just a plain string');

    // A raw client sees the HTTP data string exactly as published (never re-encoded).
    const r = raw(server, { appId: MAIN });
    await r.ready();
    await r.subscribed(name);
    const odd = '{ "b" : 2,  "a":[1, 2 ,3], "u":"\\u00e9" }';
    await sdk.trigger(name, 'verbatim', odd);
    const f = await r.waitFrame((x) => x.event === 'verbatim');
    assert.equal(f.channel, name);
    assert.equal(f.data, odd, 'data string relayed byte for byte');
  });

  it('socket_id excludes that connection only', async () => {
    const a = await connect(server, MAIN);
    const b = await connect(server, MAIN);
    const name = unique('public-');
    const chA = await subscribe(a, name);
    const chB = await subscribe(b, name);
    const gotA = collect(chA, 'evt');
    const gotB = collect(chB, 'evt');
    await sdk.trigger(name, 'evt', { n: 1 }, { socket_id: a.connection.socket_id });
    await waitFor(() => gotB.length === 1, 5000, 'b gets the event');
    // A second, unexcluded event is a barrier: once a has it, the first would have arrived before.
    await sdk.trigger(name, 'evt', { n: 2 });
    await waitFor(() => gotA.length >= 1 && gotB.length === 2, 5000, 'both get the second event');
    assert.deepEqual(
      gotA.map((g) => g.data),
      [{ n: 2 }],
      'the excluded socket never got the first event',
    );
  });

  it('after unsubscribe no more events arrive', async () => {
    const a = await connect(server, MAIN);
    const b = await connect(server, MAIN);
    const name = unique('public-');
    const barrier = unique('public-barrier-');
    await subscribe(a, name);
    const chBarrier = await subscribe(a, barrier);
    const chB = await subscribe(b, name);
    const gotBarrier = collect(chBarrier, 'evt');
    const gotB = collect(chB, 'evt');
    a.unsubscribe(name);
    // wait until the server has processed the unsubscribe (occupancy drops to 1)
    await waitFor(async () => {
      const res = await sdk.get({ path: `/channels/${name}`, params: { info: 'subscription_count' } });
      return (await res.json()).subscription_count === 1;
    }, 5000, 'subscription_count 1 after unsubscribe');
    await sdk.trigger(name, 'evt', { n: 1 });
    await sdk.trigger(barrier, 'evt', { n: 2 });
    await waitFor(() => gotB.length === 1 && gotBarrier.length === 1, 5000, 'b gets the event, a the barrier');
    assert.equal(framesOf(a, 'evt', name).length, 0, 'no frame for the unsubscribed channel');
  });
});
