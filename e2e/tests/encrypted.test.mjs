// 5. End-to-end encrypted channels (private-encrypted-): the server relays ciphertext verbatim.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { useServer } from '../lib/suite.mjs';
import { connect, raw, backend, subscribe, subscribeError, collect } from '../lib/clients.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const MASTER_KEY = randomBytes(32).toString('base64');
let server;
let sdk;
useServer('config.json', (s) => {
  server = s;
  sdk = backend(s, MAIN, { encryptionMasterKeyBase64: MASTER_KEY });
});

describe('encrypted channels', () => {
  it('trigger with encryptionMasterKeyBase64, pusher-js decrypts', async () => {
    const c = await connect(server, MAIN, { sdk });
    const name = unique('private-encrypted-');
    const ch = await subscribe(c, name);
    const got = collect(ch, 'secret-evt');
    const payload = { msg: 'top secret', n: [1, 2, 3] };
    await sdk.trigger(name, 'secret-evt', payload);
    await waitFor(() => got.length === 1, 5000, 'decrypted event');
    assert.deepEqual(got[0].data, payload);
  });

  it('the server relays the ciphertext envelope verbatim', async () => {
    const r = raw(server, { appId: MAIN });
    await r.ready();
    const name = unique('private-encrypted-');
    await r.subscribed(name, { auth: sdk.authorizeChannel(r.socketId, name).auth });
    await sdk.trigger(name, 'secret-evt', { hidden: 'yes' });
    const f = await r.waitFrame((x) => x.event === 'secret-evt');
    assert.equal(typeof f.data, 'string');
    const envelope = JSON.parse(f.data);
    assert.deepEqual(Object.keys(envelope).sort(), ['ciphertext', 'nonce']);
    assert.ok(!f.data.includes('hidden'), 'plaintext never on the wire');
  });

  it('bad signature on an encrypted channel: subscription_error 401', async () => {
    const c = await connect(server, MAIN, {
      sdk,
      channelAuth: ({ channelName }, s) => s.authorizeChannel('1.1', channelName),
    });
    const err = await subscribeError(c, unique('private-encrypted-'));
    assert.equal(err.status, 401);
    assert.equal(c.connection.state, 'connected');
  });
});
