// 16. Two nodes over a real NATS server (issue 5): pusher-js clients on different nodes
//     see each other's presence, HTTP events, client events and user events; the HTTP API
//     answers cluster-wide; a node killed with SIGKILL has its members removed.
//     Needs `nats-server` (Debian package nats-server): skipped without it unless CI=true.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { loadFixture } from '../lib/server.mjs';
import { NATS_BIN, NO_NATS, startNats } from '../lib/nats.mjs';
import { useServers } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect, framesOf } from '../lib/clients.mjs';
import { waitFor, holds, unique, withTimeout } from '../lib/util.mjs';

const MAIN = '100'; // enable_client_messages: true
const NODE_TIMEOUT_MS = 1000;

const CI = process.env.CI === 'true';
const NO_DRIVER = 'adapter.driver nats not available in this build';

let node1;
let node2;
let driverMissing = null; // set when the server refuses adapter.driver nats at start-up
const { start, onStop } = useServers();

function clusterConfig(natsUrl) {
  const config = loadFixture('config.json');
  config.adapter = { driver: 'nats', nats: { servers: [natsUrl] } };
  config.cluster_health = { heartbeat_interval_ms: 200, node_timeout_ms: NODE_TIMEOUT_MS, cleanup_interval_ms: 100 };
  return config;
}

/** Whether a start-up failure is the server refusing the nats adapter driver (and nothing else). */
function refusesNatsDriver(err) {
  const text = String(err?.message ?? err);
  if (!/exited early/.test(text)) return false;
  // e.g. `adapter.driver: "nats" is not supported` or `adapter.driver: must be one of local, redis, got "nats"`
  return text
    .split('\n')
    .some((line) => /adapter\.driver\b/.test(line) && /nats/i.test(line) && /not (supported|available|implemented|built)|unsupported|unknown|must be one of/i.test(line));
}

/** Starts NATS and the two nodes, and waits until they share events. */
async function startCluster() {
  if (!NATS_BIN) {
    // Only reached under CI (the suite is skipped otherwise): fail loudly.
    throw new Error(NO_NATS);
  }
  const nats = await startNats();
  onStop(nats.stop);
  const config = clusterConfig(nats.url);
  try {
    node1 = await start(config);
  } catch (err) {
    if (refusesNatsDriver(err)) {
      const said = String(err.message).split('\n').find((line) => /adapter\.driver\b/.test(line));
      driverMissing = `${NO_DRIVER} (the server said: ${said.trim()})`;
      return;
    }
    throw err;
  }
  node2 = await start(config);
  // The nodes found each other over NATS: an HTTP publish on node 1 reaches a client of node 2.
  const probe = await connect(node2, MAIN);
  const name = unique('probe-');
  const ch = await subscribe(probe, name);
  const got = collect(ch, 'probe');
  const sdk1 = backend(node1, MAIN);
  await waitFor(
    async () => {
      await sdk1.trigger(name, 'probe', {});
      return got.length > 0;
    },
    10_000,
    () => `an event published on node 1 to reach a client of node 2 over NATS\n--- node 1 ---\n${node1.output()}\n--- node 2 ---\n${node2.output()}`,
  );
  probe.disconnect();
}

/** Skips the test when the build has no nats adapter; true when it did. */
function skipped(t) {
  if (driverMissing) {
    t.skip(driverMissing);
    return true;
  }
  return false;
}

const member = (id) => ({ user: { id, user_info: { name: id.toUpperCase() } } });

function membersOf(channel) {
  const out = {};
  channel.members.each((m) => {
    out[m.id] = m.info;
  });
  return out;
}

/** Polls GET /channels/{name} on `node` until user_count and subscription_count are as given; returns the answer. */
async function waitCounts(node, name, users, subs) {
  const label = node === node1 ? 'node 1' : 'node 2';
  let info;
  await waitFor(
    async () => {
      const res = await backend(node, MAIN).get({ path: `/channels/${name}`, params: { info: 'user_count,subscription_count' } });
      info = await res.json();
      return info.user_count === users && info.subscription_count === subs;
    },
    5000,
    () => `GET /channels/${name} on ${label}: user_count ${users}, subscription_count ${subs} (got ${JSON.stringify(info)})`,
  );
  return info;
}

/** HTTP-triggers a barrier on `sdk` and waits for `channel` to see it. */
async function barrier(sdk, channel, name) {
  const got = collect(channel, 'barrier');
  await sdk.trigger(name, 'barrier', {});
  await waitFor(() => got.length >= 1, 5000, `barrier on ${name}`);
}

describe('cluster over NATS (two nodes)', { skip: !NATS_BIN && !CI ? NO_NATS : false }, () => {
  before(startCluster);

  it('presence across nodes: here, member_added, HTTP counts on either node, member_removed on disconnect', async (t) => {
    if (skipped(t)) return;
    const name = unique('presence-x-');
    const a = await connect(node1, MAIN, member('alice'));
    const chA = await subscribe(a, name);
    const added = collect(chA, 'pusher:member_added');
    const removed = collect(chA, 'pusher:member_removed');

    const b = await connect(node2, MAIN, member('bob'));
    const chB = await subscribe(b, name);
    // B (node 2) sees A (node 1) in its member list: `here`
    assert.deepEqual(membersOf(chB), { alice: { name: 'ALICE' }, bob: { name: 'BOB' } }, 'members seen by bob on node 2');
    assert.equal(chB.members.count, 2);
    const [succ] = framesOf(b, 'pusher_internal:subscription_succeeded', name);
    assert.equal(succ.data.presence.count, 2);

    await waitFor(() => added.length === 1, 5000, 'member_added for bob on node 1');
    assert.equal(added[0].data.id, 'bob');
    assert.deepEqual(added[0].data.info, { name: 'BOB' });
    assert.equal(chA.members.count, 2);

    for (const node of [node1, node2]) {
      const info = await waitCounts(node, name, 2, 2);
      assert.equal(info.occupied, true);
    }

    b.disconnect();
    await waitFor(() => removed.length === 1, 5000, 'member_removed for bob on node 1');
    assert.equal(removed[0].data.id, 'bob');
    assert.equal(chA.members.count, 1);
    await waitCounts(node2, name, 1, 1);
  });

  it('HTTP trigger on node 1 reaches clients on node 2; socket_id excludes a node-2 connection', async (t) => {
    if (skipped(t)) return;
    const name = unique('public-x-');
    const sdk1 = backend(node1, MAIN);
    const a = await connect(node1, MAIN);
    const b = await connect(node2, MAIN);
    const c = await connect(node2, MAIN);
    const gotA = collect(await subscribe(a, name), 'evt');
    const chB = await subscribe(b, name);
    const gotB = collect(chB, 'evt');
    const gotC = collect(await subscribe(c, name), 'evt');

    const payload = { n: 1, text: 'héllo' };
    await sdk1.trigger(name, 'evt', payload);
    await waitFor(() => gotB.length === 1 && gotC.length === 1 && gotA.length === 1, 5000, 'the event on both nodes');
    assert.deepEqual(gotB[0].data, payload);

    await sdk1.trigger(name, 'evt', { n: 2 }, { socket_id: b.connection.socket_id });
    await waitFor(() => gotC.length === 2 && gotA.length === 2, 5000, 'the second event on c (node 2) and a (node 1)');
    // everything sent to b before the barrier has arrived: the excluded event never came
    await barrier(sdk1, chB, name);
    assert.deepEqual(gotB.map((e) => e.data), [payload], 'b (excluded by socket_id, on node 2) got only the first event');
  });

  it('a client event from A (node 1) reaches B (node 2) with user_id; not echoed to A', async (t) => {
    if (skipped(t)) return;
    const name = unique('presence-chat-');
    const a = await connect(node1, MAIN, member('ann'));
    const b = await connect(node2, MAIN, member('ben'));
    const chA = await subscribe(a, name);
    const chB = await subscribe(b, name);
    await waitFor(() => chA.members.count === 2 && chB.members.count === 2, 5000, 'both members on both nodes');
    const gotA = collect(chA, 'client-typing');
    const gotB = collect(chB, 'client-typing');
    assert.equal(chA.trigger('client-typing', { t: 1 }), true);
    await waitFor(() => gotB.length === 1, 5000, 'b (node 2) gets the client event');
    assert.deepEqual(gotB[0].data, { t: 1 });
    assert.equal(gotB[0].metadata?.user_id, 'ann');
    await barrier(backend(node1, MAIN), chA, name);
    assert.equal(gotA.length, 0, 'no echo to the sender');
  });

  it('sendToUser via node 2 reaches a user signed in on node 1', async (t) => {
    if (skipped(t)) return;
    const id = unique('user-');
    const c = await connect(node1, MAIN, { user: { id, user_info: {} } });
    c.signin();
    await waitFor(
      () => framesOf(c, 'pusher_internal:subscription_succeeded', `#server-to-user-${id}`).length === 1,
      5000,
      () => `signin and #server-to-user-${id} on node 1 (frames ${JSON.stringify(c.rec.frames.map((f) => f.event))})`,
    );
    const got = collect(c.user, 'notify');
    await backend(node2, MAIN).sendToUser(id, 'notify', { hello: 'from node 2' });
    await waitFor(() => got.length === 1, 5000, 'the user event on node 1');
    assert.deepEqual(got[0].data, { hello: 'from node 2' });
  });

  // Last: it kills node 2.
  it('node 2 killed with SIGKILL: A on node 1 gets member_removed for B within a few seconds', async (t) => {
    if (skipped(t)) return;
    const name = unique('presence-crash-');
    const a = await connect(node1, MAIN, member('amy'));
    const chA = await subscribe(a, name);
    const removed = collect(chA, 'pusher:member_removed');
    const b = await connect(node2, MAIN, member('bea'));
    await subscribe(b, name);
    await waitFor(() => chA.members.count === 2, 5000, 'bea (node 2) is a member on node 1');

    node2.child.kill('SIGKILL');
    await withTimeout(node2.exited, 5000, 'node 2 exit after SIGKILL');
    await waitFor(() => removed.length === 1, NODE_TIMEOUT_MS + 5000, () => `member_removed for bea on node 1 after node 2 died (members ${JSON.stringify(membersOf(chA))})`);
    assert.equal(removed[0].data.id, 'bea');
    assert.equal(chA.members.count, 1);
    await waitCounts(node1, name, 1, 1);
    // exactly once
    await holds(() => removed.length === 1, 300, 'one member_removed');
  });
});
