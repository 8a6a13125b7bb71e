// 10. Subscription count (enable_subscription_count): pusher:subscription_count and channel.subscriptionCount.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect, framesOf } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const COUNTED = '106'; // enable_subscription_count: true
const MAIN = '100'; // enable_subscription_count: false
let server;
useServer('config.json', (s) => {
  server = s;
});

describe('subscription count', () => {
  it('subscribers get pusher:subscription_count on each change and channel.subscriptionCount follows', async () => {
    const name = unique('counted-');
    const a = await connect(server, COUNTED);
    const chA = a.subscribe(name);
    const countsA = collect(chA, 'pusher:subscription_count');
    await subscribe(a, name);
    await waitFor(() => chA.subscriptionCount === 1, 5000, () => `count 1 on a (events ${JSON.stringify(countsA)})`);

    const b = await connect(server, COUNTED);
    const chB = b.subscribe(name);
    const countsB = collect(chB, 'pusher:subscription_count');
    await subscribe(b, name);
    await waitFor(() => chA.subscriptionCount === 2 && chB.subscriptionCount === 2, 5000, () => `count 2 on both (a ${JSON.stringify(countsA)}, b ${JSON.stringify(countsB)})`);
    assert.deepEqual(countsA.at(-1).data, { subscription_count: 2 });

    const c = await connect(server, COUNTED);
    await subscribe(c, name);
    await waitFor(() => chA.subscriptionCount === 3, 5000, 'count 3');

    c.disconnect();
    b.unsubscribe(name);
    await waitFor(() => chA.subscriptionCount === 1, 5000, () => `count back to 1 (a ${JSON.stringify(countsA)})`);
    assert.deepEqual(countsA.at(-1).data, { subscription_count: 1 });

    // wire form: data is a JSON string {"subscription_count":N} on the channel
    const frame = framesOf(a, 'pusher_internal:subscription_count', name).at(-1);
    assert.deepEqual(frame.data, { subscription_count: 1 });
  });

  it('not sent when the app does not enable it', async () => {
    const name = unique('uncounted-');
    const sdk = backend(server, MAIN);
    const a = await connect(server, MAIN);
    const chA = await subscribe(a, name);
    const b = await connect(server, MAIN);
    await subscribe(b, name);
    const got = collect(chA, 'barrier');
    await sdk.trigger(name, 'barrier', {});
    await waitFor(() => got.length === 1, 5000, 'barrier');
    assert.equal(framesOf(a, 'pusher_internal:subscription_count').length, 0);
  });

  it('not sent on presence channels', async () => {
    const name = unique('presence-counted-');
    const sdk = backend(server, COUNTED);
    const a = await connect(server, COUNTED, { user: { id: 'p1' } });
    const chA = await subscribe(a, name);
    const b = await connect(server, COUNTED, { user: { id: 'p2' } });
    await subscribe(b, name);
    const got = collect(chA, 'barrier');
    await sdk.trigger(name, 'barrier', {});
    await waitFor(() => got.length === 1, 5000, 'barrier');
    assert.equal(framesOf(a, 'pusher_internal:subscription_count').length, 0);
  });
});
