// 4. Presence channels: members, member_added/removed, one user on several connections,
//    string user ids, member limit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, backend, subscribe, subscribeError, collect, framesOf } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const LIMITED = '104'; // max_presence_members_per_channel: 2
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

const member = (id, name) => ({ user: { id, user_info: { name } } });

function membersOf(channel) {
  const out = {};
  channel.members.each((m) => {
    out[m.id] = m.info;
  });
  return out;
}

async function subscriptionCount(name) {
  const res = await sdk.get({ path: `/channels/${name}`, params: { info: 'subscription_count' } });
  return (await res.json()).subscription_count;
}

/** Triggers an HTTP event and waits until `channel` got it: every frame sent to it before has arrived. */
async function barrier(channel, name) {
  const got = collect(channel, 'barrier');
  const before = got.length;
  await sdk.trigger(name, 'barrier', { t: Date.now() });
  await waitFor(() => got.length > before, 5000, `barrier event on ${name}`);
}

describe('presence channels', () => {
  it('here/members, member_added and member_removed between two clients', async () => {
    const name = unique('presence-room-');
    const alice = await connect(server, MAIN, member('alice', 'Alice'));
    const chA = await subscribe(alice, name);
    assert.equal(chA.members.count, 1);
    assert.equal(chA.members.me.id, 'alice');
    assert.deepEqual(chA.members.me.info, { name: 'Alice' });
    const added = collect(chA, 'pusher:member_added');
    const removed = collect(chA, 'pusher:member_removed');

    const bob = await connect(server, MAIN, member('bob', 'Bob'));
    const chB = await subscribe(bob, name);
    assert.equal(chB.members.count, 2);
    assert.deepEqual(membersOf(chB), { alice: { name: 'Alice' }, bob: { name: 'Bob' } });

    // the raw subscription_succeeded payload carries ids, hash and count
    const [succ] = framesOf(bob, 'pusher_internal:subscription_succeeded', name);
    assert.deepEqual([...succ.data.presence.ids].sort(), ['alice', 'bob']);
    assert.equal(succ.data.presence.count, 2);
    assert.deepEqual(succ.data.presence.hash, { alice: { name: 'Alice' }, bob: { name: 'Bob' } });

    await waitFor(() => added.length === 1, 5000, 'member_added for bob');
    assert.equal(added[0].data.id, 'bob');
    assert.deepEqual(added[0].data.info, { name: 'Bob' });
    assert.equal(chA.members.count, 2);

    bob.disconnect();
    await waitFor(() => removed.length === 1, 5000, 'member_removed for bob');
    assert.equal(removed[0].data.id, 'bob');
    assert.equal(chA.members.count, 1);
  });

  it('unsubscribe (not only disconnect) removes the member', async () => {
    const name = unique('presence-room-');
    const alice = await connect(server, MAIN, member('alice', 'Alice'));
    const chA = await subscribe(alice, name);
    const removed = collect(chA, 'pusher:member_removed');
    const bob = await connect(server, MAIN, member('bob', 'Bob'));
    await subscribe(bob, name);
    await waitFor(() => chA.members.count === 2, 5000, 'bob counted');
    bob.unsubscribe(name);
    await waitFor(() => removed.length === 1, 5000, 'member_removed after unsubscribe');
    assert.equal(bob.connection.state, 'connected');
  });

  it('same user on two connections: one member_added, count 1 for that user, member_removed only when the last leaves', async () => {
    const name = unique('presence-room-');
    const alice = await connect(server, MAIN, member('alice', 'Alice'));
    const chA = await subscribe(alice, name);
    const added = collect(chA, 'pusher:member_added');
    const removed = collect(chA, 'pusher:member_removed');

    const bob1 = await connect(server, MAIN, member('bob', 'Bob'));
    await subscribe(bob1, name);
    const bob2 = await connect(server, MAIN, member('bob', 'Bob'));
    const chB2 = await subscribe(bob2, name);
    assert.equal(chB2.members.count, 2, 'count is distinct users');
    const [succ] = framesOf(bob2, 'pusher_internal:subscription_succeeded', name);
    assert.equal(succ.data.presence.count, 2);
    assert.deepEqual([...succ.data.presence.ids].sort(), ['alice', 'bob']);

    await barrier(chA, name);
    assert.equal(added.length, 1, `exactly one member_added: ${JSON.stringify(added)}`);
    assert.equal(chA.members.count, 2);

    const users = await (await sdk.get({ path: `/channels/${name}/users` })).json();
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['alice', 'bob']);

    bob1.disconnect();
    await waitFor(async () => (await subscriptionCount(name)) === 2, 5000, 'server saw bob1 leave (subscription_count 2)');
    await barrier(chA, name);
    assert.equal(removed.length, 0, 'no member_removed while bob still has a connection');
    assert.equal(chA.members.get('bob')?.id, 'bob');

    bob2.disconnect();
    await waitFor(() => removed.length === 1, 5000, 'member_removed when the last bob leaves');
    assert.equal(removed[0].data.id, 'bob');
    await barrier(chA, name);
    assert.equal(removed.length, 1);
    assert.equal(chA.members.count, 1);
  });

  it('a numeric user_id from the auth endpoint arrives as a string', async () => {
    const name = unique('presence-room-');
    const alice = await connect(server, MAIN, member('alice', 'Alice'));
    await subscribe(alice, name);
    const num = await connect(server, MAIN, { presence: { user_id: 42, user_info: { n: 1 } } });
    await subscribe(num, name);

    const [succ] = framesOf(num, 'pusher_internal:subscription_succeeded', name);
    assert.ok(succ.data.presence.ids.includes('42'), `ids as strings: ${JSON.stringify(succ.data.presence.ids)}`);
    assert.ok(!succ.data.presence.ids.includes(42));
    assert.deepEqual(succ.data.presence.hash['42'], { n: 1 });

    const addedFrame = await waitFor(() => framesOf(alice, 'pusher_internal:member_added', name)[0], 5000, 'member_added frame');
    assert.equal(addedFrame.data.user_id, '42', `member_added user_id ${JSON.stringify(addedFrame.data)}`);

    const users = await (await sdk.get({ path: `/channels/${name}/users` })).json();
    assert.ok(users.users.some((u) => u.id === '42'), `REST ids as strings: ${JSON.stringify(users)}`);

    num.disconnect();
    const removedFrame = await waitFor(() => framesOf(alice, 'pusher_internal:member_removed', name)[0], 5000, 'member_removed frame');
    assert.equal(removedFrame.data.user_id, '42');
  });

  it('presence member limit: the third distinct user gets subscription_error LimitReached', async () => {
    const name = unique('presence-limited-');
    const a = await connect(server, LIMITED, member('u1', 'One'));
    await subscribe(a, name);
    const b = await connect(server, LIMITED, member('u2', 'Two'));
    await subscribe(b, name);
    const c = await connect(server, LIMITED, member('u3', 'Three'));
    const socketId = c.connection.socket_id;
    const err = await subscribeError(c, name);
    assert.equal(err.type, 'LimitReached', JSON.stringify(err));
    assert.equal(c.connection.state, 'connected');
    assert.equal(c.connection.socket_id, socketId);
    const users = await (await backend(server, LIMITED).get({ path: `/channels/${name}/users` })).json();
    assert.equal(users.users.length, 2);
  });
});
