// 19. Protocol V2 binary wire formats (format=msgpack, format=protobuf),
//     decoded with the libraries the official @sockudo/client uses
//     (@msgpack/msgpack with useBigInt64, protobufjs/light with Sockudo's
//     field numbers) and read the way it reads them: MessagePack frames
//     positionally with [kind, payload] pairs unwrapped, Protobuf uint64 as
//     strings, and string data JSON-parsed when it parses.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { decode, encode } from '@msgpack/msgpack';
import protobuf from 'protobufjs/light.js';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { backend, closeAll } from '../lib/clients.mjs';
import { v2Config } from '../lib/v2client.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const FIELDS = ['event', 'channel', 'data', 'name', 'user_id', 'tags', 'sequence', 'conflation_key',
  'message_id', 'stream_id', 'serial', 'idempotency_key', 'extras', '__delta_seq', '__conflation_key'];

// Sockudo's PusherMessage (sockudo-v2.md §13.2), as the client declares it.
const { Field, MapField, OneOf, Root, Type } = protobuf;
const Data = new Type('Data')
  .add(new OneOf('kind', ['stringValue', 'structured', 'jsonValue', 'binaryValue']))
  .add(new Field('stringValue', 1, 'string'))
  .add(new Field('jsonValue', 3, 'string'))
  .add(new Field('binaryValue', 4, 'bytes'));
const Message = new Type('Message')
  .add(new Field('event', 1, 'string'))
  .add(new Field('channel', 2, 'string'))
  .add(new Field('data', 3, 'Data'))
  .add(new MapField('tags', 6, 'string', 'string'))
  .add(new Field('messageId', 9, 'string'))
  .add(new Field('streamId', 10, 'string'))
  .add(new Field('serial', 11, 'uint64'));
new Root().define('e2e').add(Data).add(Message);

function unwrap(v) {
  if (Array.isArray(v) && v.length === 2 && ['string', 'json', 'bool', 'binary', 'number'].includes(v[0])) return v[1];
  return v;
}

function parseData(d) {
  if (typeof d !== 'string') return d;
  try {
    return JSON.parse(d);
  } catch {
    return d;
  }
}

const codecs = {
  msgpack: {
    decode(buf) {
      const a = decode(buf, { useBigInt64: true });
      assert.ok(Array.isArray(a) && a.length === 15, `a 15-element array, got ${JSON.stringify(a)}`);
      const f = {};
      FIELDS.forEach((k, i) => {
        if (a[i] !== null && a[i] !== undefined) f[k] = unwrap(a[i]);
      });
      f.rawData = a[2];
      return f;
    },
    encode(event, channel, data) {
      const d = data === undefined ? null : typeof data === 'string' ? ['string', data] : ['json', JSON.stringify(data)];
      return encode([event, channel ?? null, d, ...Array(12).fill(null)]);
    },
  },
  protobuf: {
    decode(buf) {
      const m = Message.toObject(Message.decode(buf), { longs: String, defaults: false });
      const f = { event: m.event, channel: m.channel, message_id: m.messageId, stream_id: m.streamId, serial: m.serial };
      f.data = m.data?.stringValue ?? m.data?.jsonValue;
      f.rawData = m.data;
      return f;
    },
    encode(event, channel, data) {
      const p = { event, channel };
      if (data !== undefined) p.data = typeof data === 'string' ? { stringValue: data } : { jsonValue: JSON.stringify(data) };
      return Message.encode(p).finish();
    },
  },
};

function connectFormat(server, format) {
  const key = server.app(MAIN).key;
  const ws = new WebSocket(`${server.wsUrl}/app/${key}?protocol=2&client=js&version=2.2.0&flash=false&format=${format}`);
  const c = { ws, frames: [], format, codec: codecs[format] };
  ws.on('message', (data, isBinary) => {
    c.frames.push(isBinary ? c.codec.decode(new Uint8Array(data)) : { text: data.toString() });
  });
  c.send = (event, channel, data) => ws.send(c.codec.encode(event, channel, data));
  c.next = async (event) => {
    await waitFor(() => c.frames.some((f) => f.event === event), 5000, () => `${format}: ${event} in ${JSON.stringify(c.frames)}`);
    return c.frames.find((f) => f.event === event);
  };
  return c;
}

let server;
let sdk;
const { start } = useServers({ cleanup: closeAll });
before(async () => {
  server = await start(v2Config(loadFixture));
  sdk = backend(server, MAIN);
});

describe('V2 binary wire formats through the official client libraries', () => {
  for (const format of ['msgpack', 'protobuf']) {
    it(`${format}: handshake, subscribe, a publish with serial, an error that keeps the socket`, async () => {
      const c = connectFormat(server, format);
      try {
        const hs = await c.next('sockudo:connection_established');
        const d = parseData(hs.data);
        assert.equal(d.activity_timeout, 120);
        assert.match(d.socket_id, /^\d+\.\d+$/);
        assert.ok(hs.message_id);

        const name = unique('fmt-');
        c.send('sockudo:subscribe', undefined, { channel: name });
        const ok = await c.next('sockudo_internal:subscription_succeeded');
        assert.equal(ok.channel, name);

        await sdk.trigger(name, 'evt', { i: 1 });
        const ev = await c.next('evt');
        assert.deepEqual(parseData(ev.data), { i: 1 });
        assert.equal(String(ev.serial), '1');
        assert.ok(ev.stream_id && ev.message_id);

        c.ws.send(new Uint8Array([0xc1, 0xff]));
        const err = await c.next('sockudo:error');
        const e = parseData(err.data);
        assert.equal(e.code, 4000);
        assert.match(e.message, /^Invalid message format: /);
        c.send('sockudo:ping', undefined, {});
        await c.next('sockudo:pong');
        assert.ok(c.frames.every((f) => f.text === undefined), 'every frame binary');
      } finally {
        c.ws.close();
      }
    });
  }

  it('one publish reaches JSON, MessagePack and Protobuf subscribers, each in its own encoding', async () => {
    const name = unique('fmt3-');
    const mp = connectFormat(server, 'msgpack');
    const pb = connectFormat(server, 'protobuf');
    const js = new WebSocket(`${server.wsUrl}/app/${server.app(MAIN).key}?protocol=2&client=js&version=2.2.0&flash=false`);
    const jsFrames = [];
    js.on('message', (data, isBinary) => jsFrames.push({ isBinary, f: JSON.parse(data.toString()) }));
    try {
      await Promise.all([mp.next('sockudo:connection_established'), pb.next('sockudo:connection_established')]);
      await waitFor(() => jsFrames.length > 0, 5000, 'json handshake');
      mp.send('sockudo:subscribe', undefined, { channel: name });
      pb.send('sockudo:subscribe', undefined, { channel: name });
      js.send(JSON.stringify({ event: 'sockudo:subscribe', data: { channel: name } }));
      await Promise.all([mp.next('sockudo_internal:subscription_succeeded'), pb.next('sockudo_internal:subscription_succeeded')]);
      await waitFor(() => jsFrames.some((x) => x.f.event === 'sockudo_internal:subscription_succeeded'), 5000, 'json subscribed');
      await sdk.trigger(name, 'evt', { px: 42 });
      const [a, b] = await Promise.all([mp.next('evt'), pb.next('evt')]);
      await waitFor(() => jsFrames.some((x) => x.f.event === 'evt'), 5000, 'json evt');
      const j = jsFrames.find((x) => x.f.event === 'evt');
      assert.equal(j.isBinary, false);
      assert.deepEqual(a.rawData, ['string', j.f.data]);
      assert.deepEqual(b.rawData, { stringValue: j.f.data });
      for (const f of [a, b]) {
        assert.equal(f.message_id, j.f.message_id);
        assert.equal(String(f.serial), String(j.f.serial));
      }
    } finally {
      mp.ws.close();
      pb.ws.close();
      js.close();
    }
  });
});
