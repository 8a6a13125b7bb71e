// 18. Protocol V2 on the wire, seen through the V2 client written here
//     (lib/v2client.mjs, the official @sockudo/client's wire behaviour):
//     handshake, prefixes, message_id rules, sockudo:ping/pong, errors,
//     publishes with V2 fields, and V1 clients on the same channels.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { backend, closeAll, connect, raw, subscribe, collect } from '../lib/clients.mjs';
import { connectV2, closeV2Clients, v2Config, v2Data, signedPost } from '../lib/v2client.mjs';
import { holds, waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const NO_RECOVERY = '110';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const V2_ONLY_FIELDS = ['message_id', 'stream_id', 'serial', 'tags', 'extras', 'idempotency_key'];

let server;
let sdk;
const { start } = useServers({
  cleanup: async () => {
    await closeV2Clients();
    await closeAll();
  },
});
before(async () => {
  server = await start(v2Config(loadFixture));
  sdk = backend(server, MAIN);
});

/** Events on `channel` named `event` the client delivered, waiting for `n`. */
async function received(client, channel, event, n) {
  await waitFor(
    () => client.events(channel, event).length >= n,
    5000,
    () => `${n} × ${event} on ${channel} (frames ${JSON.stringify(client.frames.map((f) => f.__text))})`,
  );
  return client.events(channel, event);
}

describe('V2 handshake and framing', () => {
  it('the official client URL gets sockudo:connection_established: data a JSON string, a UUID-v4 message_id', async () => {
    const c = await connectV2(server, MAIN);
    assert.match(c.url(), /\?protocol=2&client=js&version=[\d.]+&flash=false$/);
    const hs = c.frames[0];
    assert.equal(hs.event, 'sockudo:connection_established');
    assert.equal(typeof hs.data, 'string');
    const data = JSON.parse(hs.data);
    assert.match(data.socket_id, /^\d+\.\d+$/);
    assert.equal(data.activity_timeout, 120);
    assert.match(hs.message_id, UUID_V4);
    assert.equal(c.socketId, data.socket_id);
  });

  it('subscribe: sockudo_internal:subscription_succeeded with message_id, stream_id and serial 0 for a new channel', async () => {
    const c = await connectV2(server, MAIN);
    const name = unique('v2-sub-');
    await c.subscribed(name);
    const [ok] = c.events(name, 'sockudo_internal:subscription_succeeded');
    assert.equal(ok.data, '{}');
    assert.match(ok.message_id, UUID_V4);
    assert.match(ok.stream_id, UUID_V4);
    assert.equal(ok.serial, 0);
    // what the official client stores as the channel's recovery position
    assert.deepEqual(c.positions.get(name), { stream_id: ok.stream_id, serial: 0, last_message_id: ok.message_id });
  });

  it('pusher:subscribe is accepted on V2 and answered with the sockudo_internal: prefix', async () => {
    const c = await connectV2(server, MAIN);
    const name = unique('v2-prefix-');
    c.send('pusher:subscribe', { auth: '', channel: name });
    const ok = await c.waitFrame((f) => f.channel === name, 5000, 'subscribe answer');
    assert.equal(ok.event, 'sockudo_internal:subscription_succeeded');
    for (const f of c.frames) assert.doesNotMatch(f.event, /^pusher/, f.__text);
  });

  it('sockudo:ping and pusher:ping are answered with exactly {"event":"sockudo:pong"}: no data, no message_id', async () => {
    const c = await connectV2(server, MAIN);
    c.send('sockudo:ping', {});
    c.send('pusher:ping', {});
    await waitFor(() => c.frames.filter((f) => f.event === 'sockudo:pong').length === 2, 5000, 'two sockudo:pong');
    for (const pong of c.frames.filter((f) => f.event === 'sockudo:pong')) assert.equal(pong.__text, '{"event":"sockudo:pong"}');
  });

  it('errors are sockudo:error with data {code, message} and a message_id, and leave the socket open', async () => {
    const c = await connectV2(server, MAIN);
    c.send('sockudo:subscribe', { auth: '', channel: 'bad channel!' });
    const err = await c.waitFrame('sockudo:error', 5000, 'sockudo:error');
    assert.equal(typeof err.data, 'object');
    assert.equal(err.data.code, 4300);
    assert.equal(typeof err.data.message, 'string');
    assert.equal(err.channel, undefined);
    assert.match(err.message_id, UUID_V4);
    // still open and answering
    c.send('sockudo:ping', {});
    await c.waitFrame('sockudo:pong', 5000, 'pong after the error');
    assert.equal(c.connections, 1);
  });

  it('every direct frame carries its own message_id', async () => {
    const c = await connectV2(server, MAIN);
    const a = unique('v2-ids-');
    const b = unique('v2-ids-');
    await c.subscribed(a);
    await c.subscribed(b);
    c.send('sockudo:subscribe', { auth: '', channel: 'bad channel!' });
    await c.waitFrame('sockudo:error');
    const ids = c.frames.filter((f) => f.event !== 'sockudo:pong').map((f) => f.message_id);
    assert.equal(ids.length, 4);
    for (const id of ids) assert.match(id, UUID_V4);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('V2 broadcasts', () => {
  it('Node SDK publishes arrive with data as a string, a message_id each, one stream_id and serials 1, 2, 3', async () => {
    const c = await connectV2(server, MAIN);
    const name = unique('v2-sdk-');
    await c.subscribed(name);
    const streamId = c.events(name)[0].stream_id;
    for (let i = 1; i <= 3; i++) await sdk.trigger(name, 'evt', { i });
    const got = await received(c, name, 'evt', 3);
    assert.deepEqual(got.map((f) => f.serial), [1, 2, 3]);
    assert.deepEqual(got.map((f) => v2Data(f).i), [1, 2, 3]);
    for (const f of got) {
      assert.equal(typeof f.data, 'string');
      assert.equal(f.stream_id, streamId);
      assert.match(f.message_id, UUID_V4);
      assert.deepEqual(Object.keys(f), ['event', 'channel', 'data', 'message_id', 'stream_id', 'serial']);
    }
    assert.equal(new Set(got.map((f) => f.message_id)).size, 3);
    assert.equal(c.positions.get(name).serial, 3);
  });

  it('a signed publish with V2 fields: tags, extras and message_id reach V2; the answer has acknowledgement_id and message_serial', async () => {
    const c = await connectV2(server, MAIN);
    const name = unique('v2-fields-');
    await c.subscribed(name);
    const res = await signedPost(sdk, '/events', {
      name: 'order.updated',
      channels: [name],
      data: JSON.stringify({ id: 'ord_1' }),
      tags: { region: 'eu' },
      extras: { headers: { tenant: 'acme', n: 1, ok: true } },
      message_id: 'publisher-id-1',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.channels[name], { acknowledgement_id: 'publisher-id-1', message_serial: 1 });
    const [f] = await received(c, name, 'order.updated', 1);
    assert.equal(f.message_id, 'publisher-id-1');
    assert.equal(f.serial, 1);
    assert.deepEqual(f.tags, { region: 'eu' });
    assert.deepEqual(f.extras, { headers: { tenant: 'acme', n: 1, ok: true } });
    assert.equal(f.data, '{"id":"ord_1"}');
  });

  it('bad V2 fields answer 400', async () => {
    const name = unique('v2-bad-');
    const res = await signedPost(sdk, '/events', { name: 'e', channels: [name], data: '{}', tags: { region: 1 } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
  });

  it('an ephemeral message has no message_id, stream_id or serial; the next one continues the sequence', async () => {
    const c = await connectV2(server, MAIN);
    const name = unique('v2-eph-');
    await c.subscribed(name);
    await sdk.trigger(name, 'evt', { n: 1 });
    assert.equal((await signedPost(sdk, '/events', { name: 'evt', channels: [name], data: '{"n":2}', extras: { ephemeral: true } })).status, 200);
    await sdk.trigger(name, 'evt', { n: 3 });
    const got = await received(c, name, 'evt', 3);
    assert.deepEqual(got.map((f) => v2Data(f).n), [1, 2, 3]);
    assert.deepEqual(got.map((f) => f.serial), [1, undefined, 2]);
    assert.equal(got[1].message_id, undefined);
    assert.equal(got[1].stream_id, undefined);
    assert.deepEqual(got[1].extras, { ephemeral: true });
  });

  it('an app with recovery off: no stream_id/serial anywhere, a message_id only when the publisher gives one', async () => {
    const c = await connectV2(server, NO_RECOVERY);
    const nsdk = backend(server, NO_RECOVERY);
    const name = unique('v2-norec-');
    await c.subscribed(name);
    const [ok] = c.events(name);
    assert.match(ok.message_id, UUID_V4); // a direct frame
    assert.equal(ok.stream_id, undefined);
    assert.equal(ok.serial, undefined);
    await nsdk.trigger(name, 'evt', { n: 1 });
    assert.equal((await signedPost(nsdk, '/events', { name: 'evt', channels: [name], data: '{"n":2}', message_id: 'mine' })).status, 200);
    const got = await received(c, name, 'evt', 2);
    assert.equal(got[0].message_id, undefined);
    assert.equal(got[1].message_id, 'mine');
    for (const f of got) assert.equal(f.serial, undefined);
    assert.equal(c.positions.size, 0);
  });

  it('client events: a V2 sender gets its own by default, not with echo_messages=false; a V1 sender never does', async () => {
    const echo = await connectV2(server, MAIN);
    const quiet = await connectV2(server, MAIN, { echoMessages: false });
    assert.match(quiet.url(), /&echo_messages=false$/);
    const v1 = await connect(server, MAIN);
    const name = unique('private-v2-echo-');
    const authorize = (socketId, ch) => sdk.authorizeChannel(socketId, ch);
    echo.opts.authorize = authorize;
    quiet.opts.authorize = authorize;
    await echo.subscribed(name);
    await quiet.subscribed(name);
    const v1ch = await subscribe(v1, name);
    const v1got = collect(v1ch, 'client-x');
    echo.trigger(name, 'client-x', { from: 'echo' });
    quiet.trigger(name, 'client-x', { from: 'quiet' });
    v1ch.trigger('client-x', { from: 'v1' });
    await waitFor(() => echo.events(name, 'client-x').length === 3, 5000, 'echo client gets all three');
    await waitFor(() => quiet.events(name, 'client-x').length === 2, 5000, 'quiet client gets the other two');
    await waitFor(() => v1got.length === 2, 5000, 'V1 gets the two V2 events');
    await holds(() => quiet.events(name, 'client-x').length === 2 && v1got.length === 2, 300, 'no echo to quiet or V1');
    assert.deepEqual(quiet.events(name, 'client-x').map((f) => v2Data(f).from).sort(), ['echo', 'v1']);
    assert.deepEqual(v1got.map((g) => g.data.from).sort(), ['echo', 'quiet']);
  });
});

describe('V1 and V2 on one channel', () => {
  it('pusher-js and a raw V1 socket see Pusher frames without any V2 field; the V2 client sees them all', async () => {
    const v2 = await connectV2(server, MAIN);
    const pjs = await connect(server, MAIN);
    const wire = []; // pusher-js's own socket, before its parser drops unknown fields
    pjs.connection.connection.transport.bind('message', (ev) => wire.push(ev.data));
    const v1 = raw(server, { appId: MAIN });
    await v1.ready();
    const name = unique('v2-mixed-');
    await v2.subscribed(name);
    const ch = await subscribe(pjs, name);
    const pjsGot = collect(ch, 'evt');
    await v1.subscribed(name);

    await sdk.trigger(name, 'evt', { n: 1 });
    const res = await signedPost(sdk, '/events', {
      name: 'evt',
      channels: [name],
      data: '{"n":2}',
      tags: { t: 'x' },
      extras: { headers: { h: 'y' } },
      message_id: 'mixed-2',
      idempotency_key: 'k-mixed-2',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));

    const v2got = await received(v2, name, 'evt', 2);
    assert.deepEqual(v2got.map((f) => f.serial), [1, 2]);
    assert.equal(v2got[1].message_id, 'mixed-2');
    assert.equal(v2got[1].idempotency_key, undefined); // internal, never delivered
    await waitFor(() => pjsGot.length === 2, 5000, 'pusher-js gets both');
    assert.deepEqual(pjsGot.map((g) => g.data), [{ n: 1 }, { n: 2 }]);
    await waitFor(() => v1.frames.filter((f) => f.event === 'evt').length === 2, 5000, 'raw V1 gets both');

    const v1Texts = v1.frames.filter((f) => f.event === 'evt').map((f) => f.__text);
    assert.deepEqual(v1Texts, [
      JSON.stringify({ event: 'evt', channel: name, data: '{"n":1}' }),
      JSON.stringify({ event: 'evt', channel: name, data: '{"n":2}' }),
    ]);
    const pjsTexts = wire.filter((t) => JSON.parse(t).channel === name);
    assert.ok(pjsTexts.length >= 3, `pusher-js wire frames: ${JSON.stringify(wire)}`);
    for (const text of pjsTexts) {
      const f = JSON.parse(text);
      assert.match(f.event, /^(pusher_internal:subscription_succeeded|evt)$/);
      for (const k of V2_ONLY_FIELDS) assert.equal(k in f, false, `${k} in a V1 frame: ${text}`);
    }
    for (const f of v1.frames) for (const k of V2_ONLY_FIELDS) assert.equal(k in f, false, `${k} in a V1 frame: ${f.__text}`);
    for (const t of wire) assert.doesNotMatch(JSON.parse(t).event, /^sockudo/);
  });
});

describe('V2 heartbeats (activity_timeout 1 s, pong_timeout 2 s)', () => {
  let quick;
  before(async () => {
    quick = await start(v2Config(loadFixture, {}, 'config-timeouts.json'));
  });

  it('the client adopts the server activity_timeout, sends sockudo:ping on silence and stays on one connection', async () => {
    const c = await connectV2(quick, MAIN);
    await holds(() => c.state === 'connected' && c.connections === 1, 4000, () => `one connection (${JSON.stringify(c.errors)})`);
    assert.ok(c.sent.filter((f) => f.event === 'sockudo:ping').length >= 2, JSON.stringify(c.sent));
    const pongs = c.frames.filter((f) => f.event === 'sockudo:pong');
    assert.ok(pongs.length >= 2);
    for (const p of pongs) assert.equal(p.__text, '{"event":"sockudo:pong"}');
  });

  it('a silent client gets sockudo:ping (no message_id), is closed with 4201 when it does not answer, and reconnects', async () => {
    // no client-side activity check, no sockudo:pong, no WebSocket pong on the first connection
    const c = await connectV2(quick, MAIN, { heartbeat: false, answerPings: false, reconnectDelay: () => 0 });
    const first = c.conn;
    first.ws.removeAllListeners('ping');
    await waitFor(() => first.closeInfo, 10_000, 'the server closes the silent connection');
    assert.equal(first.closeInfo.code, 4201);
    const pings = c.frames.filter((f) => f.event === 'sockudo:ping' && f.__conn === first.index);
    assert.ok(pings.length >= 1, 'a sockudo:ping came first');
    for (const p of pings) assert.equal(p.message_id, undefined);
    assert.equal(c.sent.filter((f) => f.event === 'sockudo:pong').length, 0);
    await c.waitConnected(10_000, first.index);
  });
});
