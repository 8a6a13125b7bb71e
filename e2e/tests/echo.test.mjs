// 12. laravel-echo 2 (ESM) with the pusher broadcaster over pusher-js.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Echo from 'laravel-echo';

import { useServer } from '../lib/suite.mjs';
import { PusherJS, pusherJsOptions, backend } from '../lib/clients.mjs';
import { waitFor, unique, withTimeout } from '../lib/util.mjs';

const MAIN = '100';
const MASTER_KEY = randomBytes(32).toString('base64');
let server;
let sdk;
const echos = new Set();

useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN, { encryptionMasterKeyBase64: MASTER_KEY });
}, { cleanup: closeEchos });

function closeEchos() {
  for (const e of echos) e.disconnect();
  echos.clear();
}

/** An Echo instance for `user` (presence member), authorizing through the Node SDK. */
async function makeEcho(user) {
  const app = server.app(MAIN);
  const echo = new Echo({
    broadcaster: 'pusher',
    Pusher: PusherJS,
    key: app.key,
    ...pusherJsOptions(server),
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        try {
          if (channelName.startsWith('presence-')) {
            cb(null, sdk.authorizeChannel(socketId, channelName, { user_id: user.id, user_info: user }));
          } else {
            cb(null, sdk.authorizeChannel(socketId, channelName));
          }
        } catch (err) {
          cb(err, null);
        }
      },
    },
  });
  echos.add(echo);
  await waitFor(() => echo.connectionStatus() === 'connected', 5000, 'echo connected');
  return echo;
}

/**
 * Resolves once Echo's channel reports subscribed. Echo's subscribed()
 * binds to the next subscription_succeeded only, so a channel that got
 * there first (two channels made before the first await, on a loaded
 * machine) resolves at once instead of never.
 */
function subscribed(echoChannel) {
  const wait = new Promise((resolve, reject) => {
    if (echoChannel.subscription.subscribed) {
      resolve();
      return;
    }
    echoChannel.subscribed(resolve);
    echoChannel.error((e) => reject(new Error(`Echo channel error ${JSON.stringify(e)}`)));
  });
  return withTimeout(wait, 5000, `subscribed to ${echoChannel.name}`);
}

describe('laravel-echo', () => {
  it('channel().listen(".evt") receives an HTTP event (leading dot = no namespace)', async () => {
    const echo = await makeEcho({ id: 'e1' });
    const name = unique('orders-');
    const got = [];
    const ch = echo.channel(name).listen('.OrderShipped', (e) => got.push(e));
    await subscribed(ch);
    await sdk.trigger(name, 'OrderShipped', { order: 7 });
    await waitFor(() => got.length === 1, 5000, 'Echo listen');
    assert.deepEqual(got[0], { order: 7 });
  });

  it('channel().listen("Name") uses the App\\Events namespace', async () => {
    const echo = await makeEcho({ id: 'e1' });
    const name = unique('orders-');
    const got = [];
    const ch = echo.channel(name).listen('OrderShipped', (e) => got.push(e));
    await subscribed(ch);
    await sdk.trigger(name, 'App\\Events\\OrderShipped', { order: 8 });
    await waitFor(() => got.length === 1, 5000, 'namespaced event');
    assert.deepEqual(got[0], { order: 8 });
  });

  it('private().listen() receives on private-{name}', async () => {
    const echo = await makeEcho({ id: 'e1' });
    const name = unique('user.');
    const got = [];
    const ch = echo.private(name).listen('.Updated', (e) => got.push(e));
    await subscribed(ch);
    await sdk.trigger(`private-${name}`, 'Updated', { ok: true });
    await waitFor(() => got.length === 1, 5000, 'private listen');
    assert.deepEqual(got[0], { ok: true });
  });

  it('join(): here, joining, leaving', async () => {
    const room = unique('room.');
    const alice = await makeEcho({ id: 'alice', name: 'Alice' });
    const here = [];
    const joining = [];
    const leaving = [];
    const chA = alice
      .join(room)
      .here((users) => here.push(users))
      .joining((u) => joining.push(u))
      .leaving((u) => leaving.push(u));
    await waitFor(() => here.length === 1, 5000, 'here()');
    assert.deepEqual(here[0], [{ id: 'alice', name: 'Alice' }]);
    void chA;

    const bob = await makeEcho({ id: 'bob', name: 'Bob' });
    const bobHere = [];
    bob.join(room).here((users) => bobHere.push(users));
    await waitFor(() => bobHere.length === 1, 5000, 'bob here()');
    assert.deepEqual(
      [...bobHere[0]].sort((x, y) => x.id.localeCompare(y.id)),
      [
        { id: 'alice', name: 'Alice' },
        { id: 'bob', name: 'Bob' },
      ],
    );
    await waitFor(() => joining.length === 1, 5000, 'joining()');
    assert.deepEqual(joining[0], { id: 'bob', name: 'Bob' });

    bob.leave(room);
    await waitFor(() => leaving.length === 1, 5000, 'leaving()');
    assert.deepEqual(leaving[0], { id: 'bob', name: 'Bob' });
  });

  it('private().whisper() reaches listenForWhisper() on the other client only', async () => {
    const name = unique('chat.');
    const a = await makeEcho({ id: 'a' });
    const b = await makeEcho({ id: 'b' });
    const gotA = [];
    const gotB = [];
    const chA = a.private(name).listenForWhisper('typing', (e) => gotA.push(e));
    const chB = b.private(name).listenForWhisper('typing', (e) => gotB.push(e));
    await subscribed(chA);
    await subscribed(chB);
    chA.whisper('typing', { name: 'a' });
    await waitFor(() => gotB.length === 1, 5000, 'whisper received');
    assert.deepEqual(gotB[0], { name: 'a' });
    // barrier: b whispers back; a receives that, never its own
    chB.whisper('typing', { name: 'b' });
    await waitFor(() => gotA.length === 1, 5000, 'whisper back');
    assert.deepEqual(gotA, [{ name: 'b' }]);
  });

  it('encryptedPrivate().listen() decrypts events triggered with the master key', async () => {
    const echo = await makeEcho({ id: 'e1' });
    const name = unique('vault.');
    const got = [];
    const ch = echo.encryptedPrivate(name).listen('.Sealed', (e) => got.push(e));
    await subscribed(ch);
    await sdk.trigger(`private-encrypted-${name}`, 'Sealed', { secret: 'inside' });
    await waitFor(() => got.length === 1, 5000, 'encrypted listen');
    assert.deepEqual(got[0], { secret: 'inside' });
  });
});
