// 20. Delta compression as the official V2 client negotiates and decodes it
//     (lib/v2delta.mjs: fossil-delta 2.0.0 and @ably/vcdiff-decoder 1.0.6,
//     the client's own decoders). Every reconstructed payload is compared
//     with what the backend published.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { backend, closeAll } from '../lib/clients.mjs';
import { connectV2, closeV2Clients, v2Config, v2Data } from '../lib/v2client.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';

let server;
let sdk;
const { start } = useServers({
  cleanup: async () => {
    await closeV2Clients();
    await closeAll();
  },
});
before(async () => {
  const config = v2Config(loadFixture);
  const main = config.app_manager.array.apps.find((a) => String(a.id) === MAIN);
  main.channel_delta_compression = { 'cq-*': { enabled: true, algorithm: 'Fossil', conflation_key: 'symbol' } };
  server = await start(config);
  sdk = backend(server, MAIN);
});

/** Ticker payloads: 20 fields, two numeric ones change per message. */
function ticker(symbol, seed) {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x;
  };
  const q = { symbol, venue: 'BINANCE', ccy: 'USD', state: 'open' };
  for (let i = 4; i < 20; i++) q[`f${i}`] = (rnd() % 10_000_000) / 100;
  return () => {
    const a = 4 + (rnd() % 16);
    const b = 4 + ((a - 4 + 1 + (rnd() % 15)) % 16);
    q[`f${a}`] = (rnd() % 10_000_000) / 100;
    q[`f${b}`] = (rnd() % 10_000_000) / 100;
    return { ...q };
  };
}

/** Application-level broadcasts on channel (deltas reconstructed), not protocol frames. */
const appEvents = (c, channel) => c.events(channel).filter((f) => !f.event.startsWith('sockudo'));

async function expectPayloads(c, channel, sent) {
  await waitFor(
    () => appEvents(c, channel).length >= sent.length,
    10_000,
    () => `${sent.length} messages on ${channel}, got ${appEvents(c, channel).length} (errors ${JSON.stringify(c.delta.stats.errors)})`,
  );
  const got = appEvents(c, channel);
  assert.equal(got.length, sent.length);
  got.forEach((f, i) => {
    assert.equal(f.event, sent[i].event, `message ${i} event`);
    assert.deepEqual(v2Data(f), sent[i].data, `message ${i} payload`);
  });
  return got;
}

const rawDeltas = (c, channel) => c.rawFrames((f) => f.event === 'sockudo:delta' && f.channel === channel);

describe('delta compression', () => {
  it('socket-wide (enable_delta_compression after subscribing, as the client does): several event names, every payload reconstructed', async () => {
    const c = await connectV2(server, MAIN, { deltaCompression: { enabled: true } });
    const ch = unique('v2-delta-');
    await c.subscribed(ch);
    await waitFor(() => c.delta.confirmed, 5000, 'sockudo:delta_compression_enabled');
    const next = ticker('BTC', 1);
    const sent = [];
    for (let i = 0; i < 40; i++) {
      const m = { event: i % 3 === 0 ? 'trade' : 'quote', data: next() };
      sent.push(m);
      await sdk.trigger(ch, m.event, m.data);
    }
    const got = await expectPayloads(c, ch, sent);
    const deltas = rawDeltas(c, ch);
    assert.ok(deltas.length >= 30, `${deltas.length} delta frames`);
    assert.deepEqual(c.delta.stats, { deltas: deltas.length, fulls: 40 - deltas.length, resyncs: 0, ignored: 0, errors: [] });
    // delta frames carry the position of the message they encode
    for (const d of deltas) {
      const m = got.find((f) => f.message_id === d.message_id);
      assert.ok(m && m.__fromDelta, `delta ${d.__text} reconstructs a delivered message`);
      assert.equal(d.serial, m.serial);
      assert.equal(d.stream_id, m.stream_id);
    }
    assert.equal(c.positions.get(ch).serial, 40);
  });

  it('per subscription with xdelta3 (VCDIFF), without enabling the socket', async () => {
    const c = await connectV2(server, MAIN, { deltaCompression: {} });
    const ch = unique('v2-delta-x-');
    await c.subscribed(ch, { delta: { algorithm: 'xdelta3' } });
    assert.equal(c.sent.find((f) => f.event === 'sockudo:subscribe').data.delta, 'xdelta3');
    const next = ticker('ETH', 2);
    const sent = [];
    for (let i = 0; i < 25; i++) {
      sent.push({ event: 'quote', data: next() });
      await sdk.trigger(ch, 'quote', sent[i].data);
    }
    await expectPayloads(c, ch, sent);
    const deltas = rawDeltas(c, ch);
    assert.ok(deltas.length >= 15, `${deltas.length} delta frames`);
    assert.ok(deltas.every((d) => d.data.algorithm === 'xdelta3'));
    assert.deepEqual(c.delta.stats.errors, []);
  });

  it('conflation keys from the app setting: per-symbol bases, every payload reconstructed', async () => {
    const c = await connectV2(server, MAIN, { deltaCompression: { enabled: true } });
    const ch = unique('cq-');
    await c.subscribed(ch);
    await waitFor(() => c.delta.confirmed, 5000, 'sockudo:delta_compression_enabled');
    const gens = { BTC: ticker('BTC', 3), ETH: ticker('ETH', 4), SOL: ticker('SOL', 5) };
    const symbols = Object.keys(gens);
    const sent = [];
    for (let i = 0; i < 45; i++) {
      const s = symbols[(i * 7) % 3];
      sent.push({ event: 'quote', data: gens[s]() });
      await sdk.trigger(ch, 'quote', sent[i].data);
    }
    await expectPayloads(c, ch, sent);
    const deltas = rawDeltas(c, ch);
    assert.ok(deltas.length >= 30, `${deltas.length} delta frames`);
    assert.deepEqual(new Set(deltas.map((d) => d.data.conflation_key)), new Set(symbols));
    assert.equal(c.delta.stats.resyncs, 0);
  });

  it('deltas, an abrupt drop and a resume: no duplicate, nothing missed, deltas again after the replay', async () => {
    const c = await connectV2(server, MAIN, { deltaCompression: { enabled: true } });
    const ch = unique('v2-delta-rec-');
    // the client sends enable_delta_compression only once per instance, so
    // the subscription asks too, to get deltas on the new socket
    await c.subscribed(ch, { delta: { enabled: true } });
    const next = ticker('SOL', 6);
    const sent = [];
    const pub = async (n) => {
      for (let i = 0; i < n; i++) {
        const m = { event: 'quote', data: next() };
        sent.push(m);
        await sdk.trigger(ch, m.event, m.data);
      }
    };
    await pub(12);
    await expectPayloads(c, ch, sent);
    const first = c.conn.index;
    c.drop({ hold: true });
    await waitFor(() => c.conn === null, 5000, 'the client notices its dead socket');
    await pub(8); // missed
    c.release();
    await c.waitConnected(10_000, first);
    await c.waitFrame((f) => f.event === 'sockudo:resume_success' && f.__conn !== first, 10_000, 'resume_success');
    await pub(15);
    const got = await expectPayloads(c, ch, sent);
    assert.deepEqual(got.map((f) => f.serial), Array.from({ length: sent.length }, (_, k) => k + 1), 'every serial once, in order');
    const ids = c.rawFrames((f) => f.channel === ch && f.message_id && f.event !== 'sockudo_internal:subscription_succeeded').map((f) => f.message_id);
    assert.equal(new Set(ids).size, ids.length, 'the server sent no message twice');
    assert.equal(c.duplicatesDropped, 0);
    const after = rawDeltas(c, ch).filter((d) => d.__conn !== first);
    assert.ok(rawDeltas(c, ch).some((d) => d.__conn === first), 'deltas before the drop');
    assert.ok(after.length >= 8, `${after.length} deltas after the resume`);
    assert.deepEqual(c.delta.stats.errors, []);
  });
});
