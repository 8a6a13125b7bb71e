// 7. Client events: private and presence relays, no echo, metadata.user_id, rejections, rate limit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect, framesOf } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const NO_CLIENT_EVENTS = '103';
const RATE_LIMITED = '105'; // max_client_events_per_second: 5
let server;
useServer('config.json', (s) => {
  server = s;
});

/** Two clients subscribed to `name`, with event collectors. */
async function pair(appId, name, event) {
  const a = await connect(server, appId, { user: { id: 'ann', user_info: { n: 'Ann' } } });
  const b = await connect(server, appId, { user: { id: 'ben', user_info: { n: 'Ben' } } });
  const chA = await subscribe(a, name);
  const chB = await subscribe(b, name);
  return { a, b, chA, chB, gotA: collect(chA, event), gotB: collect(chB, event) };
}

/** HTTP-trigger a barrier and wait for `channel` to see it. */
async function barrier(appId, channel, name) {
  const got = collect(channel, 'barrier');
  await backend(server, appId).trigger(name, 'barrier', {});
  await waitFor(() => got.length >= 1, 5000, 'barrier');
}

describe('client events', () => {
  it('private channel: delivered to the other subscriber, never echoed to the sender', async () => {
    const name = unique('private-chat-');
    const { a, chA, gotA, gotB } = await pair(MAIN, name, 'client-typing');
    assert.equal(chA.trigger('client-typing', { t: 1 }), true);
    await waitFor(() => gotB.length === 1, 5000, 'b gets the client event');
    assert.deepEqual(gotB[0].data, { t: 1 });
    await barrier(MAIN, chA, name);
    assert.equal(gotA.length, 0, 'not echoed to the sender');
    assert.equal(framesOf(a, 'client-typing').length, 0);
  });

  it('presence channel: delivered with metadata.user_id of the sender, no echo', async () => {
    const name = unique('presence-chat-');
    const { chA, chB, gotA, gotB } = await pair(MAIN, name, 'client-msg');
    chB.trigger('client-msg', { text: 'hi' });
    await waitFor(() => gotA.length === 1, 5000, 'a gets the client event');
    assert.deepEqual(gotA[0].data, { text: 'hi' });
    assert.equal(gotA[0].metadata.user_id, 'ben');
    await barrier(MAIN, chB, name);
    assert.equal(gotB.length, 0, 'not echoed');
  });

  it('rejected on a public channel with pusher:error; nobody receives it', async () => {
    const name = unique('public-chat-');
    const { a, chA, gotB } = await pair(MAIN, name, 'client-nope');
    const before = a.rec.errors.length;
    chA.trigger('client-nope', { x: 1 });
    await waitFor(() => framesOf(a, 'pusher:error').length >= 1, 5000, 'pusher:error for a client event on a public channel');
    assert.equal(a.rec.errors.length > before, true);
    await barrier(MAIN, chA, name);
    assert.equal(gotB.length, 0);
    assert.equal(a.connection.state, 'connected');
  });

  it('rate limit: over max_client_events_per_second → pusher:error 4301, connection stays open', async () => {
    const name = unique('private-burst-');
    const { a, chA, gotB } = await pair(RATE_LIMITED, name, 'client-burst');
    const socketId = a.connection.socket_id;
    for (let i = 0; i < 30; i += 1) chA.trigger('client-burst', { i });
    const errFrame = await waitFor(
      () => framesOf(a, 'pusher:error').find((f) => f.data?.code === 4301),
      5000,
      () => `pusher:error 4301 (errors so far ${JSON.stringify(framesOf(a, 'pusher:error'))})`,
    );
    assert.equal(errFrame.data.code, 4301);
    assert.equal(errFrame.channel, name, 'the 4301 error names the channel');
    await barrier(RATE_LIMITED, chA, name);
    assert.ok(gotB.length >= 1, 'some events got through');
    assert.ok(gotB.length < 30, `the limit dropped some events (delivered ${gotB.length})`);
    assert.ok(gotB.length <= 10, `at most 2 windows' worth delivered (delivered ${gotB.length})`);
    assert.equal(a.connection.state, 'connected');
    assert.equal(a.connection.socket_id, socketId, 'not disconnected');
    // still usable after the rate-limit error: after the window, events flow again
    await waitFor(
      async () => {
        const n = gotB.length;
        chA.trigger('client-burst', { again: true });
        await barrier(RATE_LIMITED, chA, name);
        return gotB.length > n;
      },
      5000,
      'client events flow again after the window',
    );
  });

  it('app with client messages disabled: pusher:error, not delivered', async () => {
    const name = unique('private-quiet-');
    const { a, chA, gotB } = await pair(NO_CLIENT_EVENTS, name, 'client-hello');
    chA.trigger('client-hello', { x: 1 });
    await waitFor(() => framesOf(a, 'pusher:error').length >= 1, 5000, 'pusher:error for disabled client events');
    await barrier(NO_CLIENT_EVENTS, chA, name);
    assert.equal(gotB.length, 0);
    assert.equal(a.connection.state, 'connected');
  });

  it('client event on a channel the sender is not subscribed to is not delivered', async () => {
    const name = unique('private-other-');
    const b = await connect(server, MAIN);
    const chB = await subscribe(b, name);
    const gotB = collect(chB, 'client-sneak');
    const a = await connect(server, MAIN);
    a.send_event('client-sneak', { x: 1 }, name);
    a.send_event('pusher:ping', {});
    await waitFor(() => framesOf(a, 'pusher:pong').length >= 1, 5000, 'pong after the sneaky event');
    await barrier(MAIN, chB, name);
    assert.equal(gotB.length, 0);
  });
});
