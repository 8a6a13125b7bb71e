// 8. User authentication: signin, server-to-user events, terminate_connections, bad signin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { useServer } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect, framesOf, waitState } from '../lib/clients.mjs';
import { waitFor, holds, unique } from '../lib/util.mjs';

const MAIN = '100';
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN);
});

async function signedIn(user, extra = {}) {
  const c = await connect(server, MAIN, { user, ...extra });
  c.signin();
  await waitFor(() => c.user.user_data?.id === user.id, 5000, () => `signin of ${user.id} (frames ${JSON.stringify(c.rec.frames.map((f) => f.event))})`);
  return c;
}

/** Waits until the server has #server-to-user-{id} subscribed (pusher-js sends it after signin_success). */
async function waitServerToUser(c, id) {
  await waitFor(
    () => framesOf(c, 'pusher_internal:subscription_succeeded', `#server-to-user-${id}`).length === 1,
    5000,
    `subscription_succeeded for #server-to-user-${id}`,
  );
}

describe('user authentication', () => {
  it('signin: pusher:signin_success echoes user_data; #server-to-user channel is accepted', async () => {
    const id = unique('user-');
    const c = await signedIn({ id, user_info: { name: 'Signed In' } });
    const [ok] = framesOf(c, 'pusher:signin_success');
    const userData = JSON.parse(ok.data.user_data);
    assert.equal(userData.id, id);
    assert.deepEqual(userData.user_info, { name: 'Signed In' });
    await waitServerToUser(c, id);
  });

  it('sendToUser reaches every connection of that user (client.user.bind) and nobody else', async () => {
    const id = unique('user-');
    const c1 = await signedIn({ id });
    const c2 = await signedIn({ id });
    const otherId = unique('other-');
    const other = await signedIn({ id: otherId });
    await waitServerToUser(other, otherId);
    await waitServerToUser(c1, id);
    await waitServerToUser(c2, id);
    const got1 = collect(c1.user, 'notify');
    const got2 = collect(c2.user, 'notify');
    const gotOther = collect(other.user, 'notify');
    await sdk.sendToUser(id, 'notify', { hello: id });
    await waitFor(() => got1.length === 1 && got2.length === 1, 5000, 'both connections of the user get it');
    assert.deepEqual(got1[0].data, { hello: id });
    assert.deepEqual(got2[0].data, { hello: id });
    const barrier = collect(other.user, 'barrier');
    await sdk.sendToUser(otherId, 'barrier', {});
    await waitFor(() => barrier.length === 1, 5000, 'barrier to the other user');
    assert.equal(gotOther.length, 0);
  });

  it('a client cannot subscribe to another user\'s #server-to-user channel', async () => {
    const id = unique('user-');
    const victim = await signedIn({ id });
    await waitServerToUser(victim, id);
    const attackerId = unique('attacker-');
    const attacker = await signedIn({ id: attackerId });
    await waitServerToUser(attacker, attackerId);
    attacker.send_event('pusher:subscribe', { auth: '', channel: `#server-to-user-${id}` });
    await waitFor(
      () => attacker.rec.frames.some((f) => f.event === 'pusher:subscription_error' || f.event === 'pusher:error'),
      5000,
      'an error for subscribing to someone else\'s server-to-user channel',
    );
    assert.equal(framesOf(attacker, 'pusher_internal:subscription_succeeded', `#server-to-user-${id}`).length, 0);
    const stolen = collect(attacker.user, 'secret');
    const got = collect(victim.user, 'secret');
    await sdk.sendToUser(id, 'secret', {});
    await waitFor(() => got.length === 1, 5000, 'victim gets its event');
    // barrier on the attacker's own user channel: anything misrouted would have arrived first
    const own = collect(attacker.user, 'own');
    await sdk.sendToUser(attackerId, 'own', {});
    await waitFor(() => own.length === 1, 5000, 'attacker gets its own event');
    assert.equal(framesOf(attacker, 'secret').length, 0);
    assert.equal(stolen.length, 0);
  });

  it('terminateUserConnections closes that user\'s connections with 4009; they stay disconnected', async () => {
    const id = unique('user-');
    const c1 = await signedIn({ id });
    const c2 = await signedIn({ id });
    const bystander = await signedIn({ id: unique('bystander-') });
    await waitServerToUser(c1, id);
    await waitServerToUser(c2, id);
    const res = await sdk.terminateUserConnections(id);
    assert.equal(res.status, 200);
    for (const c of [c1, c2]) {
      await waitState(c, 'disconnected');
      assert.ok(c.rec.errors.some((e) => e.code === 4009), `4009 seen: ${JSON.stringify(c.rec.errors.map((e) => e.error))}`);
    }
    await holds(
      () => c1.connection.state === 'disconnected' && c2.connection.state === 'disconnected' && c1.rec.attempts === 1 && c2.rec.attempts === 1,
      2000,
      'terminated clients stay disconnected',
    );
    assert.equal(bystander.connection.state, 'connected');
  });

  it('bad signin signature: pusher:error 4009 and close 4009, no reconnect', async () => {
    const c = await connect(server, MAIN, {
      user: { id: 'mallory' },
      userAuth: ({ socketId }, s) => {
        const good = s.authenticateUser(socketId, { id: 'mallory' });
        return { ...good, auth: good.auth.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')) };
      },
    });
    c.signin();
    await waitState(c, 'disconnected');
    assert.ok(c.rec.errors.some((e) => e.code === 4009), JSON.stringify(c.rec.errors.map((e) => e.error)));
    assert.equal(framesOf(c, 'pusher:signin_success').length, 0);
    await holds(() => c.connection.state === 'disconnected' && c.rec.attempts === 1, 2000, 'stays disconnected');
  });

  it('signin whose user_data has no id: 4009', async () => {
    const c = await connect(server, MAIN, {
      userAuth: ({ socketId }, s) => {
        const userData = JSON.stringify({ user_info: { name: 'nobody' } });
        // sign by hand: the SDK refuses user data without an id
        const { auth } = s.authenticateUser(socketId, { id: 'x' });
        const key = auth.split(':')[0];
        const sig = s.config.token.sign(`${socketId}::user::${userData}`);
        return { auth: `${key}:${sig}`, user_data: userData };
      },
    });
    c.signin();
    await waitState(c, 'disconnected');
    assert.ok(c.rec.errors.some((e) => e.code === 4009), JSON.stringify(c.rec.errors.map((e) => e.error)));
  });

  it('presence without channel_data takes the member from the signed-in user', async () => {
    const id = unique('user-');
    const name = unique('presence-signed-');
    const c = await signedIn(
      { id, user_info: { from: 'signin' } },
      { channelAuth: ({ socketId, channelName }, s) => s.authorizeChannel(socketId, channelName) },
    );
    const ch = await subscribe(c, name);
    assert.equal(ch.members.me?.id, id);
    assert.deepEqual(ch.members.me?.info, { from: 'signin' });
    const users = await (await sdk.get({ path: `/channels/${name}/users` })).json();
    assert.deepEqual(users.users, [{ id }]);
  });
});
