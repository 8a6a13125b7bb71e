// 9. Watchlist events (enable_watchlist_events): online/offline of watched users.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, framesOf, subscribe, backend } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100'; // enable_watchlist_events: true
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

/** Connects, binds watchlist collectors, signs in; resolves once signed in. */
async function watcher(user) {
  const c = await connect(server, MAIN, { user });
  c.online = [];
  c.offline = [];
  c.user.watchlist.bind('online', (e) => c.online.push(e));
  c.user.watchlist.bind('offline', (e) => c.offline.push(e));
  c.signin();
  await waitFor(() => c.user.user_data?.id === user.id, 5000, `signin of ${user.id}`);
  return c;
}

const ids = (events) => events.flatMap((e) => e.user_ids);

describe('watchlist', () => {
  it('A watches B: B signs in → online; B disconnects → offline', async () => {
    const bob = unique('bob-');
    const alice = await watcher({ id: unique('alice-'), watchlist: [bob] });
    assert.ok(!ids(alice.online).includes(bob), 'bob is not online yet');

    const b = await watcher({ id: bob });
    await waitFor(() => ids(alice.online).includes(bob), 5000, () => `online event for bob (got ${JSON.stringify(alice.online)})`);
    const onlineEvent = alice.online.find((e) => e.user_ids.includes(bob));
    assert.equal(onlineEvent.name, 'online');

    const offlineBefore = ids(alice.offline).filter((x) => x === bob).length;
    b.disconnect();
    await waitFor(
      () => ids(alice.offline).filter((x) => x === bob).length > offlineBefore,
      5000,
      () => `offline event for bob (got ${JSON.stringify(alice.offline)})`,
    );
    // the frame shape pusher-js reads: no channel, data.events[{name, user_ids}]
    const frame = framesOf(alice, 'pusher_internal:watchlist_events').at(-1);
    assert.equal(frame.channel, undefined);
    assert.ok(Array.isArray(frame.data.events));
  });

  it('a watched user already online is reported online right after signin', async () => {
    const carol = unique('carol-');
    await watcher({ id: carol });
    const alice = await watcher({ id: unique('alice-'), watchlist: [carol] });
    await waitFor(() => ids(alice.online).includes(carol), 5000, () => `initial online for carol (got ${JSON.stringify(alice.online)})`);
  });

  it('online once for a user on two connections; offline only when the last one leaves', async () => {
    const bob = unique('bob-');
    const sentinelId = unique('sentinel-');
    const probe = unique('probe-');
    const alice = await watcher({ id: unique('alice-'), watchlist: [bob, sentinelId] });
    const b1 = await watcher({ id: bob });
    await waitFor(() => ids(alice.online).includes(bob), 5000, 'online for bob');
    const b2 = await watcher({ id: bob });
    // the initial status after alice's signin may already list bob as offline: count from here
    const offlineMark = alice.offline.length;
    const offlineBob = () => ids(alice.offline.slice(offlineMark)).filter((x) => x === bob).length;
    await subscribe(b1, probe);
    await subscribe(b2, probe);

    b1.disconnect();
    // the server has processed b1's disconnect once the probe channel drops to one subscriber
    await waitFor(async () => {
      const res = await sdk.get({ path: `/channels/${probe}`, params: { info: 'subscription_count' } });
      return (await res.json()).subscription_count === 1;
    }, 5000, 'probe channel down to 1 subscriber');
    // barrier on alice's connection: the sentinel coming online
    await watcher({ id: sentinelId });
    await waitFor(() => ids(alice.online).includes(sentinelId), 5000, 'sentinel online (barrier)');
    assert.equal(ids(alice.online).filter((x) => x === bob).length, 1, 'one online event for bob');
    assert.equal(offlineBob(), 0, 'no offline while bob has a connection');

    b2.disconnect();
    await waitFor(() => offlineBob() === 1, 5000, 'offline when the last bob connection leaves');
  });

  it('more than 100 watched ids: signin succeeds and pusher:error 4302', async () => {
    const watchlist = Array.from({ length: 101 }, (_, i) => `w${i}-${unique('')}`);
    const c = await watcher({ id: unique('greedy-'), watchlist });
    await waitFor(
      () => framesOf(c, 'pusher:error').some((f) => f.data?.code === 4302),
      5000,
      () => `pusher:error 4302 (frames ${JSON.stringify(c.rec.frames.map((f) => f.event))})`,
    );
    assert.equal(c.connection.state, 'connected');
  });
});
