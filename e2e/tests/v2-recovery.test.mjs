// 19. Connection recovery as the official V2 client does it (lib/v2client.mjs):
//     the socket dies without a close frame, messages are published
//     meanwhile, the client reconnects, re-sends sockudo:subscribe for every
//     channel and then sockudo:resume with its stored positions. Every
//     assertion about duplicates counts the RAW frames of all connections,
//     so the client's message_id dedup cannot hide a duplicate the server sent.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { backend, closeAll } from '../lib/clients.mjs';
import { connectV2, closeV2Clients, v2Config, v2Data, signedPost } from '../lib/v2client.mjs';
import { waitFor, unique } from '../lib/util.mjs';

const MAIN = '100';
const TTL_SECONDS = 1;
const WINDOW = 5; // max_buffer_size of the short-lived server

const { start } = useServers({
  cleanup: async () => {
    await closeV2Clients();
    await closeAll();
  },
});

/** Each message_id among the client's raw broadcast frames on `channels`, with how often the server sent it. */
function rawIdCounts(client, channels) {
  const counts = new Map();
  for (const f of client.rawFrames((f) => channels.includes(f.channel) && !f.event.startsWith('sockudo'))) {
    counts.set(f.message_id, (counts.get(f.message_id) ?? 0) + 1);
  }
  return counts;
}

function assertNoRawDuplicates(client, channels) {
  const twice = [...rawIdCounts(client, channels)].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'the server sent these message ids more than once');
  assert.equal(client.duplicatesDropped, 0, 'the client dedup had nothing to drop');
}

/** Broadcast frames (not protocol frames) delivered on `channel` over connection `conn`. */
function deliveredOn(client, channel, conn) {
  return client.events(channel).filter((f) => f.__conn === conn && !f.event.startsWith('sockudo'));
}

/** Drops the socket abruptly and waits until the client noticed. */
async function dropHeld(client) {
  const conn = client.conn;
  client.drop({ hold: true });
  await waitFor(() => conn.closeInfo, 5000, 'the client notices its dead socket');
  assert.equal(conn.closeInfo.code, 1006, 'no close frame: abnormal closure');
  return conn.index;
}

/** Lets the client reconnect; resolves with the new connection's resume_success data. */
async function reconnectAndResume(client, after) {
  client.release();
  await client.waitConnected(10_000, after);
  const ok = await client.waitFrame(
    (f) => f.event === 'sockudo:resume_success' && f.__conn === client.conn.index,
    10_000,
    'sockudo:resume_success',
  );
  return v2Data(ok);
}

describe('recovery after an abrupt drop (hot buffer)', () => {
  let server;
  let sdk;
  // private/presence channels authorize asynchronously, like the client's HTTP auth
  const slowAuth = (socketId, ch) =>
    new Promise((resolve) => {
      const member = ch.startsWith('presence-') ? { user_id: `u-${socketId}`, user_info: {} } : undefined;
      setTimeout(() => resolve(sdk.authorizeChannel(socketId, ch, member)), 20);
    });
  before(async () => {
    server = await start(v2Config(loadFixture, { max_buffer_size: 100, buffer_ttl_seconds: 120 }));
    sdk = backend(server, MAIN);
  });

  it('several channels: exactly the N missed messages, in order, once each; then live messages continue', async () => {
    const c = await connectV2(server, MAIN, { authorize: slowAuth });
    const channels = [unique('v2-rec-a-'), unique('v2-rec-b-'), unique('v2-rec-c-'), unique('private-v2-rec-'), unique('presence-v2-rec-')];
    for (const ch of channels) await c.subscribed(ch);

    // some live traffic first, so every channel has a non-zero position
    for (const ch of channels) await sdk.trigger(ch, 'live', { before: true });
    await waitFor(() => channels.every((ch) => c.positions.get(ch)?.serial === 1), 5000, 'positions at serial 1');
    const before = new Map([...c.positions].map(([ch, p]) => [ch, { ...p }]));

    const first = await dropHeld(c);

    // N missed per channel, interleaved, through single publishes and batches
    const N = 12;
    for (let i = 1; i <= N; i++) {
      if (i % 3 === 0) {
        const batch = channels.map((ch) => ({ channel: ch, name: 'missed', data: JSON.stringify({ i }) }));
        const res = await signedPost(sdk, '/batch_events', { batch });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      } else {
        await sdk.trigger(channels, 'missed', { i });
      }
    }

    const resumed = await reconnectAndResume(c, first);
    const conn = c.conn.index;

    // what the client sent on the new connection: subscribes for the public
    // channels, then the resume (a JSON string) with the positions it held
    const sent = c.sent.filter((f) => f.__conn === conn);
    const resumeAt = sent.findIndex((f) => f.event === 'sockudo:resume');
    assert.ok(resumeAt >= 0, JSON.stringify(sent));
    assert.deepEqual(
      sent.slice(0, resumeAt).map((f) => f.data.channel),
      channels.filter((ch) => !/^(private|presence)-/.test(ch)),
    );
    assert.equal(typeof sent[resumeAt].data, 'string');
    assert.deepEqual(JSON.parse(sent[resumeAt].data), { channel_positions: Object.fromEntries(before) });

    assert.deepEqual(resumed.failed, []);
    assert.deepEqual(resumed.recovered.map((r) => r.channel).sort(), [...channels].sort());
    for (const r of resumed.recovered) {
      assert.equal(r.source, 'hot');
      assert.equal(r.replayed, N);
      assert.equal(r.position.stream_id, before.get(r.channel).stream_id);
      assert.equal(r.position.serial, N + 1);
    }

    for (const ch of channels) {
      await c.subscribed(ch); // private and presence as well, after their auth
      const got = deliveredOn(c, ch, conn);
      assert.deepEqual(got.map((f) => v2Data(f).i), Array.from({ length: N }, (_, k) => k + 1), `${ch}: the N missed, in order`);
      assert.deepEqual(got.map((f) => f.serial), Array.from({ length: N }, (_, k) => k + 2));
      assert.ok(got.every((f) => f.event === 'missed' && f.stream_id === before.get(ch).stream_id));
      assert.equal(c.positions.get(ch).serial, N + 1);
    }

    // live messages continue on the new connection, with the next serials
    await sdk.trigger(channels, 'live', { after: true });
    await waitFor(
      () => channels.every((ch) => deliveredOn(c, ch, conn).some((f) => f.event === 'live')),
      5000,
      'live messages after the resume',
    );
    for (const ch of channels) {
      const live = deliveredOn(c, ch, conn).filter((f) => f.event === 'live');
      assert.equal(live.length, 1);
      assert.equal(live[0].serial, N + 2);
    }
    assertNoRawDuplicates(c, channels);
    assert.equal(c.connections, 2);
  });

  it('a private channel whose subscribe comes after the resume (slow auth) misses nothing published in between', async () => {
    let releaseAuth = () => {};
    let holdAuth = false;
    const c = await connectV2(server, MAIN, {
      authorize: async (socketId, ch) => {
        if (holdAuth) await new Promise((resolve) => (releaseAuth = resolve));
        return sdk.authorizeChannel(socketId, ch);
      },
    });
    const ch = unique('private-v2-slow-');
    await c.subscribed(ch);
    await sdk.trigger(ch, 'evt', { n: 1 });
    await waitFor(() => c.positions.get(ch)?.serial === 1, 5000, 'position 1');

    const first = await dropHeld(c);
    await sdk.trigger(ch, 'evt', { n: 2 });
    await sdk.trigger(ch, 'evt', { n: 3 });
    holdAuth = true; // the re-subscribe waits for its authorization
    const resumed = await reconnectAndResume(c, first);
    assert.equal(resumed.recovered[0].replayed, 2);
    // published after the resume, before the subscribe arrives
    await sdk.trigger(ch, 'evt', { n: 4 });
    await sdk.trigger(ch, 'evt', { n: 5 });
    assert.equal(c.channels.get(ch).subscribed, false);
    releaseAuth();
    await c.subscribed(ch);
    await sdk.trigger(ch, 'evt', { n: 6 });
    await waitFor(() => deliveredOn(c, ch, c.conn.index).some((f) => v2Data(f).n === 6), 5000, 'the live one');
    const got = deliveredOn(c, ch, c.conn.index);
    assert.deepEqual(got.map((f) => v2Data(f).n), [2, 3, 4, 5, 6]);
    assert.deepEqual(got.map((f) => f.serial), [2, 3, 4, 5, 6]);
    assertNoRawDuplicates(c, [ch]);
  });

  it('client events another V2 client sent meanwhile are replayed too', async () => {
    const c = await connectV2(server, MAIN, { authorize: slowAuth });
    const other = await connectV2(server, MAIN, { authorize: slowAuth });
    const ch = unique('private-v2-client-');
    await c.subscribed(ch);
    await other.subscribed(ch);
    other.trigger(ch, 'client-msg', { n: 1 });
    await waitFor(() => c.positions.get(ch)?.serial === 1, 5000, 'the first client event');
    const first = await dropHeld(c);
    for (let n = 2; n <= 4; n++) other.trigger(ch, 'client-msg', { n });
    // the sender gets its own (V2 echo), which tells us the server has them
    await waitFor(() => other.events(ch, 'client-msg').length === 4, 5000, 'echo of all four');
    const resumed = await reconnectAndResume(c, first);
    assert.equal(resumed.recovered[0].replayed, 3);
    const got = deliveredOn(c, ch, c.conn.index);
    assert.deepEqual(got.map((f) => v2Data(f).n), [2, 3, 4]);
    assert.deepEqual(got.map((f) => f.serial), [2, 3, 4]);
    assertNoRawDuplicates(c, [ch]);
  });

  it('publishing never stops: every message arrives exactly once across the drop and the resume', async () => {
    const c = await connectV2(server, MAIN);
    const channels = [unique('v2-busy-a-'), unique('v2-busy-b-')];
    for (const ch of channels) await c.subscribed(ch);

    let seq = 0;
    let stop = false;
    const publisher = (async () => {
      while (!stop) {
        seq += 1;
        await sdk.trigger(channels, 'tick', { seq });
      }
    })();
    await waitFor(() => channels.every((ch) => c.events(ch, 'tick').length >= 5), 5000, 'traffic before the drop');

    const first = await dropHeld(c);
    await waitFor(() => seq >= 40, 10_000, 'publishes while disconnected');
    await reconnectAndResume(c, first);
    const resumedAt = seq;
    await waitFor(() => seq >= resumedAt + 20, 10_000, 'publishes after the resume');
    stop = true;
    await publisher;
    const last = seq;

    for (const ch of channels) {
      await waitFor(() => c.events(ch, 'tick').length >= last, 10_000, () => `${ch}: all ${last} ticks (got ${c.events(ch, 'tick').length})`);
      const got = c.events(ch, 'tick').map((f) => v2Data(f).seq);
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: last }, (_, k) => k + 1), `${ch}: each tick once`);
      // serial n is tick n (fresh channels, every publish to both)
      assert.ok(c.events(ch, 'tick').every((f) => f.serial === v2Data(f).seq));
      // on the new connection, the ones published before the re-subscribe
      // (serial ≤ its subscription_succeeded serial) came in serial order
      const conn = c.conn.index;
      const attach = c.events(ch, 'sockudo_internal:subscription_succeeded').find((f) => f.__conn === conn).serial;
      const missed = deliveredOn(c, ch, conn).map((f) => f.serial).filter((s) => s <= attach);
      assert.ok(missed.length > 0, 'something was missed');
      assert.deepEqual(missed, [...missed].sort((x, y) => x - y));
    }
    assertNoRawDuplicates(c, channels);
  });

  it('many clients drop at once while several publishers keep going: each gets every message once', async () => {
    const CLIENTS = 40;
    const CHANNELS = Array.from({ length: 8 }, () => unique('v2-many-'));
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) {
      const c = await connectV2(server, MAIN);
      c.mine = [CHANNELS[i % 8], CHANNELS[(i + 3) % 8], CHANNELS[(i + 5) % 8]];
      for (const ch of c.mine) c.subscribe(ch);
      clients.push(c);
    }
    await waitFor(() => clients.every((c) => c.mine.every((ch) => c.channels.get(ch).subscribed)), 10_000, 'all subscribed');

    const published = new Map(CHANNELS.map((ch) => [ch, 0]));
    let stop = false;
    const publisher = async (k) => {
      for (let n = 0; !stop; n++) {
        const ch = CHANNELS[(n * 3 + k) % CHANNELS.length];
        const seq = published.get(ch) + 1;
        published.set(ch, seq);
        await sdk.trigger(ch, 'm', { seq });
      }
    };
    const total = () => [...published.values()].reduce((a, b) => a + b, 0);
    const publishers = [0, 1, 2, 3].map(publisher);
    await waitFor(() => total() >= 100, 10_000, 'traffic before the drop');

    const before = clients.map((c) => c.conn);
    for (const c of clients) c.drop({ hold: true });
    await waitFor(() => before.every((conn) => conn.closeInfo), 10_000, 'every client noticed');
    const atDrop = total();
    await waitFor(() => total() >= atDrop + 200, 10_000, 'publishes while everyone is away');
    for (const c of clients) c.release();
    await waitFor(
      () => clients.every((c, i) => c.conn && c.conn !== before[i] && c.delivered.some((f) => f.event === 'sockudo:resume_success' && f.__conn === c.conn.index)),
      20_000,
      'every client resumed',
    );
    const atResume = total();
    await waitFor(() => total() >= atResume + 100, 10_000, 'publishes after the resume');
    stop = true;
    await Promise.all(publishers);

    for (const c of clients) {
      for (const ch of c.mine) {
        const want = published.get(ch);
        await waitFor(() => c.events(ch, 'm').length >= want, 10_000, () => `${ch}: ${want} messages (got ${c.events(ch, 'm').length})`);
        const seqs = c.events(ch, 'm').map((f) => v2Data(f).seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, Array.from({ length: want }, (_, k) => k + 1), `${ch}: every message once`);
      }
      const resumed = v2Data(c.delivered.find((f) => f.event === 'sockudo:resume_success' && f.__conn === c.conn.index));
      assert.deepEqual(resumed.failed, []);
      assertNoRawDuplicates(c, c.mine);
    }
  });

  it('an ephemeral message published meanwhile is not replayed; the others are, with contiguous serials', async () => {
    const c = await connectV2(server, MAIN);
    const ch = unique('v2-eph-rec-');
    await c.subscribed(ch);
    const first = await dropHeld(c);
    await sdk.trigger(ch, 'evt', { n: 1 });
    const eph = await signedPost(sdk, '/events', { name: 'evt', channels: [ch], data: '{"n":2}', extras: { ephemeral: true } });
    assert.equal(eph.status, 200);
    await sdk.trigger(ch, 'evt', { n: 3 });
    const resumed = await reconnectAndResume(c, first);
    assert.equal(resumed.recovered[0].replayed, 2);
    const got = deliveredOn(c, ch, c.conn.index);
    assert.deepEqual(got.map((f) => v2Data(f).n), [1, 3]);
    assert.deepEqual(got.map((f) => f.serial), [1, 2]);
  });

  it('a resume with no missed messages recovers with replayed 0 and position null', async () => {
    const c = await connectV2(server, MAIN);
    const ch = unique('v2-quiet-');
    await c.subscribed(ch);
    await sdk.trigger(ch, 'evt', {});
    await waitFor(() => c.positions.get(ch)?.serial === 1, 5000, 'position 1');
    const first = await dropHeld(c);
    const resumed = await reconnectAndResume(c, first);
    assert.deepEqual(resumed, { recovered: [{ channel: ch, source: 'hot', replayed: 0, position: null }], failed: [] });
    assert.equal(c.positions.get(ch).serial, 1); // from the new subscription_succeeded
  });
});

describe('recovery that cannot be served (buffer_ttl_seconds 1, max_buffer_size 5)', () => {
  let server;
  let sdk;
  before(async () => {
    server = await start(v2Config(loadFixture, { max_buffer_size: WINDOW, buffer_ttl_seconds: TTL_SECONDS }));
    sdk = backend(server, MAIN);
  });

  /** The resume_failed frame for `channel` on the client's current connection, its data parsed. */
  async function resumeFailed(c, channel) {
    const f = await c.waitFrame(
      (f) => f.event === 'sockudo:resume_failed' && f.channel === channel && f.__conn === c.conn.index,
      5000,
      `resume_failed for ${channel}`,
    );
    assert.equal(typeof f.data, 'string');
    return { frame: f, data: JSON.parse(f.data) };
  }

  it('after the TTL: resume_failed position_expired with channel inside data; the client drops the position and stays subscribed', async () => {
    const c = await connectV2(server, MAIN);
    const ch = unique('v2-ttl-');
    const idle = unique('v2-ttl-idle-');
    await c.subscribed(ch);
    await c.subscribed(idle);
    await sdk.trigger(ch, 'evt', { n: 1 });
    await waitFor(() => c.positions.get(ch)?.serial === 1, 5000, 'position 1');
    const streamId = c.positions.get(ch).stream_id;

    const first = await dropHeld(c);
    await sdk.trigger(ch, 'evt', { n: 2 });
    await sdk.trigger(ch, 'evt', { n: 3 });
    const published = Date.now();
    // the condition here is time itself: wait until the missed ones are older than the TTL
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 800 - (Date.now() - published)));

    const resumed = await reconnectAndResume(c, first);
    const conn = c.conn.index;
    const { frame, data } = await resumeFailed(c, ch);
    assert.match(frame.message_id, /^[0-9a-f-]{36}$/);
    assert.equal(data.channel, ch); // where the official client reads it
    assert.equal(data.code, 'position_expired');
    assert.equal(data.reason, 'hot_replay_expired_and_durable_history_disabled');
    assert.equal(data.expected_stream_id, streamId);
    assert.equal(data.current_stream_id, streamId);
    assert.equal(data.newest_available_serial, 3);
    assert.deepEqual(resumed.failed, [data]);
    // the idle channel had nothing to miss: recovered with nothing to replay
    assert.deepEqual(resumed.recovered, [{ channel: idle, source: 'hot', replayed: 0, position: null }]);
    // resume_failed came after the resume_success? no: before it
    const order = c.frames.filter((f) => f.__conn === conn).map((f) => f.event);
    assert.ok(order.indexOf('sockudo:resume_failed') < order.indexOf('sockudo:resume_success'), order.join());

    // the official client: forget the position; channel.subscribe() is a no-op
    // because the re-sent subscribe already succeeded on this connection
    assert.equal(c.positions.has(ch), false);
    assert.equal(c.channels.get(ch).subscribed, true);
    assert.equal(c.sent.filter((f) => f.__conn === conn && f.event === 'sockudo:subscribe' && f.data.channel === ch).length, 1);
    assert.equal(deliveredOn(c, ch, conn).length, 0, 'nothing replayed');

    // live messages continue and set a new position
    await sdk.trigger(ch, 'evt', { n: 4 });
    const [live] = await waitFor(() => deliveredOn(c, ch, conn).length === 1 && deliveredOn(c, ch, conn), 5000, 'live after resume_failed');
    assert.equal(live.serial, 4);
    assert.deepEqual(c.positions.get(ch), { stream_id: streamId, serial: 4, last_message_id: live.message_id });

    // and the next drop resumes from there
    const second = await dropHeld(c);
    await sdk.trigger(ch, 'evt', { n: 5 });
    const again = await reconnectAndResume(c, second);
    assert.equal(again.recovered.find((r) => r.channel === ch)?.replayed, 1);
    assert.deepEqual(deliveredOn(c, ch, c.conn.index).map((f) => v2Data(f).n), [5]);
    assertNoRawDuplicates(c, [ch, idle]);
  });

  it('exactly max_buffer_size missed is recovered; one more: resume_failed position_expired / recovery_window_exceeded', async () => {
    const c = await connectV2(server, MAIN);
    const ch = unique('v2-window-');
    await c.subscribed(ch);
    const before = await dropHeld(c);
    for (let i = 1; i <= WINDOW; i++) await sdk.trigger(ch, 'evt', { i });
    const full = await reconnectAndResume(c, before);
    assert.equal(full.recovered[0]?.replayed, WINDOW, JSON.stringify(full));
    assert.equal(deliveredOn(c, ch, c.conn.index).length, WINDOW);

    const first = await dropHeld(c);
    for (let i = 1; i <= WINDOW + 1; i++) await sdk.trigger(ch, 'evt', { i });
    const resumed = await reconnectAndResume(c, first);
    const { data } = await resumeFailed(c, ch);
    assert.equal(data.code, 'position_expired');
    assert.equal(data.reason, 'recovery_window_exceeded');
    assert.deepEqual(resumed.failed, [data]);
    assert.equal(deliveredOn(c, ch, c.conn.index).length, 0);
  });
});

describe('recovery across a server restart', () => {
  it('the restarted server knows no stream: resume_failed stream_reset, and the client continues on the new stream', async () => {
    const config = v2Config(loadFixture);
    let server = await start(config);
    const sdk = () => backend(server, MAIN);
    const c = await connectV2(server, MAIN);
    const ch = unique('v2-restart-');
    await c.subscribed(ch);
    await sdk().trigger(ch, 'evt', { n: 1 });
    await waitFor(() => c.positions.get(ch)?.serial === 1, 5000, 'position 1');
    const oldStream = c.positions.get(ch).stream_id;

    const first = c.conn.index;
    c.held = true;
    await server.stop();
    await waitFor(() => c.state === 'unavailable', 5000, 'the client notices');
    server = await start(config, { port: server.port });
    const resumed = await reconnectAndResume(c, first);
    const f = await c.waitFrame((f) => f.event === 'sockudo:resume_failed' && f.__conn === c.conn.index, 5000, 'resume_failed');
    const data = JSON.parse(f.data);
    assert.equal(data.channel, ch);
    assert.equal(data.code, 'stream_reset');
    assert.equal(data.reason, 'stream_id_mismatch');
    assert.equal(data.expected_stream_id, oldStream);
    assert.deepEqual(resumed.failed, [data]);

    await sdk().trigger(ch, 'evt', { n: 2 });
    const live = await c.waitFrame((f) => f.event === 'evt' && f.__conn === c.conn.index, 5000, 'live on the new stream');
    assert.notEqual(live.stream_id, oldStream);
    assert.equal(live.serial, 1);
    assert.equal(c.positions.get(ch).stream_id, live.stream_id);
  });
});
