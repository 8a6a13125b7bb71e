// 15. Webhooks (issue 4, reference §2.4): a local receiver checks every POST with the Node
//     SDK's webhook().isValid(), the headers, every event type, the 3 s vacate/remove
//     delay and its cancellation, batching and retries after 500s.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { loadFixture, appFrom } from '../lib/server.mjs';
import { useServers } from '../lib/suite.mjs';
import { connect, backend, subscribe, collect } from '../lib/clients.mjs';
import { waitFor, holds, unique } from '../lib/util.mjs';

const MAIN = '100'; // enable_client_messages: true
const VACATE_DELAY_MS = 3000; // the server holds channel_vacated and member_removed this long
let server;
let sdk;
let hooks;
const { start, onStop } = useServers();

before(async () => {
  hooks = await webhookReceiver();
  onStop(() => hooks.close());
  const config = loadFixture('config.json');
  config.webhooks = { batching: { enabled: true, duration: 50 } };
  appFrom(config, MAIN).webhooks = [{ url: `${hooks.url}/hook`, headers: { 'X-Custom': 'yes' } }];
  server = await start(config);
  sdk = backend(server, MAIN);
});

/**
 * A local HTTP receiver: records every request as {at, method, path, headers,
 * rawBody, body, status}; answers 200 unless a rule from failNext() applies.
 */
function webhookReceiver() {
  const requests = [];
  const rules = [];
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const rule = rules.find((r) => r.left > 0 && r.match(rawBody));
      const status = rule ? 500 : 200;
      if (rule) rule.left -= 1;
      requests.push({ at: Date.now(), method: req.method, path: req.url, headers: req.headers, rawBody, body, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{}' : '{"error":"try again"}');
    });
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${srv.address().port}`,
        requests,
        /** The next `times` requests whose raw body satisfies match get 500. */
        failNext(match, times) {
          rules.push({ match, left: times });
        },
        /** Every delivered event as {ev, req}, in arrival order. */
        events() {
          return requests.flatMap((req) => (req.body?.events ?? []).map((ev) => ({ ev, req })));
        },
        close: () =>
          new Promise((done) => {
            srv.closeAllConnections?.();
            srv.close(() => done());
          }),
      });
    });
  });
}

/** Events named `name` on `channel` received so far (each {ev, req}). */
function hooksOf(name, channel) {
  return hooks.events().filter(({ ev }) => ev.name === name && ev.channel === channel);
}

/** Waits until `count` (default 1) `name` events for `channel` arrived; returns them. */
async function waitHook(name, channel, { count = 1, timeout = 5000 } = {}) {
  return waitFor(
    () => {
      const got = hooksOf(name, channel);
      return got.length >= count ? got : null;
    },
    timeout,
    () => `${count} ${name} webhook(s) for ${channel} (received: ${JSON.stringify(hooks.events().map(({ ev }) => ev))})`,
  );
}

/** Asserts a request is a webhook the Node SDK accepts, with our key and custom header. */
function assertValidRequest(req) {
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/hook');
  assert.equal(req.headers['content-type'], 'application/json', 'Content-Type exactly application/json');
  assert.equal(req.headers['x-pusher-key'], server.app(MAIN).key);
  assert.match(req.headers['x-pusher-signature'] ?? '', /^[0-9a-f]{64}$/, 'lowercase hex HMAC-SHA256');
  assert.equal(req.headers['x-custom'], 'yes', 'configured custom header');
  const hook = sdk.webhook({ headers: req.headers, rawBody: req.rawBody });
  assert.equal(hook.isValid(), true, `Node SDK webhook().isValid() for body ${req.rawBody}`);
  assert.equal(typeof req.body.time_ms, 'number');
  assert.ok(Math.abs(req.body.time_ms - req.at) < 10_000, `time_ms ${req.body.time_ms} near now ${req.at}`);
  assert.ok(Array.isArray(req.body.events) && req.body.events.length >= 1);
  return hook;
}

describe('webhooks', () => {
  it('pusher-js subscribe: channel_occupied, signed (Node SDK isValid), X-Pusher-Key and custom header', async () => {
    const name = unique('public-hook-');
    const c = await connect(server, MAIN);
    await subscribe(c, name);
    const [{ ev, req }] = await waitHook('channel_occupied', name);
    assert.deepEqual(ev, { name: 'channel_occupied', channel: name });
    const hook = assertValidRequest(req);
    assert.ok(hook.getEvents().some((e) => e.name === 'channel_occupied' && e.channel === name));
    // a tampered body is refused by the SDK: the check above is meaningful
    assert.equal(sdk.webhook({ headers: req.headers, rawBody: `${req.rawBody} ` }).isValid(), false);
  });

  it('presence join: member_added with a string user_id (numeric ids stringified), batched with channel_occupied', async () => {
    const name = unique('presence-hook-');
    const c = await connect(server, MAIN, { presence: { user_id: 4242, user_info: { n: 1 } } });
    await subscribe(c, name);
    const [added] = await waitHook('member_added', name);
    assert.deepEqual(added.ev, { name: 'member_added', channel: name, user_id: '4242' });
    assertValidRequest(added.req);
    const [occupied] = await waitHook('channel_occupied', name);
    // both come from one subscribe, well inside the 50 ms batching window
    assert.equal(occupied.req, added.req, 'channel_occupied and member_added in one POST (batching)');

    const d = await connect(server, MAIN, { user: { id: 'dana', user_info: {} } });
    await subscribe(d, name);
    const got = await waitHook('member_added', name, { count: 2 });
    assert.deepEqual(got[1].ev, { name: 'member_added', channel: name, user_id: 'dana' });
    assert.equal(hooksOf('channel_occupied', name).length, 1, 'occupied once');
  });

  it('client event on a private channel: client_event with string data and socket_id, no user_id', async () => {
    const name = unique('private-hook-');
    const a = await connect(server, MAIN);
    const b = await connect(server, MAIN);
    const chA = await subscribe(a, name);
    const chB = await subscribe(b, name);
    const gotB = collect(chB, 'client-typing');
    const payload = { t: 1, text: 'hé "x"' };
    assert.equal(chA.trigger('client-typing', payload), true);
    await waitFor(() => gotB.length === 1, 5000, 'b gets the client event');
    const [{ ev, req }] = await waitHook('client_event', name);
    assertValidRequest(req);
    assert.equal(ev.event, 'client-typing');
    assert.equal(typeof ev.data, 'string', `data is a string (got ${JSON.stringify(ev.data)})`);
    assert.deepEqual(JSON.parse(ev.data), payload);
    assert.equal(ev.socket_id, a.connection.socket_id);
    assert.equal('user_id' in ev, false, `no user_id on a private channel (got ${JSON.stringify(ev)})`);
  });

  it('client event on a presence channel: client_event carries the sender user_id as a string', async () => {
    const name = unique('presence-hook-');
    const a = await connect(server, MAIN, { presence: { user_id: 77, user_info: {} } });
    const b = await connect(server, MAIN, { user: { id: 'ben', user_info: {} } });
    const chA = await subscribe(a, name);
    const chB = await subscribe(b, name);
    const gotB = collect(chB, 'client-moved');
    assert.equal(chA.trigger('client-moved', { x: 3 }), true);
    await waitFor(() => gotB.length === 1, 5000, 'b gets the client event');
    const [{ ev, req }] = await waitHook('client_event', name);
    assertValidRequest(req);
    assert.deepEqual(ev, {
      name: 'client_event',
      channel: name,
      event: 'client-moved',
      data: JSON.stringify({ x: 3 }),
      socket_id: a.connection.socket_id,
      user_id: '77',
    });
  });

  it('disconnect: channel_vacated and member_removed arrive about 3 s later', async () => {
    const name = unique('presence-hook-');
    const c = await connect(server, MAIN, { user: { id: 'leaver', user_info: {} } });
    await subscribe(c, name);
    await waitHook('member_added', name);
    const left = Date.now();
    c.disconnect();
    const [vacated] = await waitHook('channel_vacated', name, { timeout: VACATE_DELAY_MS + 4000 });
    const [removed] = await waitHook('member_removed', name, { timeout: 2000 });
    assert.deepEqual(vacated.ev, { name: 'channel_vacated', channel: name });
    assert.deepEqual(removed.ev, { name: 'member_removed', channel: name, user_id: 'leaver' });
    assertValidRequest(vacated.req);
    assertValidRequest(removed.req);
    for (const [what, at] of [['channel_vacated', vacated.req.at], ['member_removed', removed.req.at]]) {
      const after = at - left;
      assert.ok(after >= VACATE_DELAY_MS - 300 && after <= VACATE_DELAY_MS + 2500, `${what} ${after} ms after the disconnect`);
    }
  });

  it('disconnect and reconnect within 3 s: no channel_vacated/member_removed, no second occupied/member_added', async () => {
    const name = unique('presence-hook-');
    const user = { id: 'reloader', user_info: {} };
    const first = await connect(server, MAIN, { user });
    await subscribe(first, name);
    await waitHook('member_added', name);
    await waitHook('channel_occupied', name);
    const left = Date.now();
    first.disconnect();
    // the page reload: the same user comes back on a new connection at once
    const second = await connect(server, MAIN, { user });
    await subscribe(second, name);
    assert.ok(Date.now() - left < VACATE_DELAY_MS - 500, 'came back well within the delay');
    // observe past the 3 s delay (plus batching and delivery margin)
    const quiet = () =>
      hooksOf('channel_vacated', name).length === 0 &&
      hooksOf('member_removed', name).length === 0 &&
      hooksOf('channel_occupied', name).length === 1 &&
      hooksOf('member_added', name).length === 1;
    await holds(quiet, left + VACATE_DELAY_MS + 800 - Date.now(), () =>
      `no vacated/removed nor second occupied/added for ${name} (received: ${JSON.stringify(
        hooks.events().filter(({ ev }) => ev.channel === name).map(({ ev }) => ev),
      )})`,
    );
  });

  it('cache channel with an empty cache: cache_miss', async () => {
    const name = unique('cache-hook-');
    const c = await connect(server, MAIN);
    await subscribe(c, name);
    const [{ ev, req }] = await waitHook('cache_miss', name);
    assert.deepEqual(ev, { name: 'cache_miss', channel: name });
    assertValidRequest(req);
  });

  it('retries: 500 twice, then 200 — the same body arrives a third time (after ~1 s, then ~2 s)', async () => {
    const name = unique('public-retry-');
    hooks.failNext((body) => body.includes(`"${name}"`), 2);
    const c = await connect(server, MAIN);
    await subscribe(c, name);
    const attempts = () => hooks.requests.filter((r) => r.rawBody.includes(`"${name}"`));
    await waitFor(() => attempts().length >= 3, 8000, () => `3 deliveries of ${name} (got ${JSON.stringify(attempts().map((r) => ({ at: r.at, status: r.status })))})`);
    const [a1, a2, a3] = attempts();
    assert.deepEqual([a1.status, a2.status, a3.status], [500, 500, 200]);
    assert.equal(a2.rawBody, a1.rawBody, 'first retry carries the same body');
    assert.equal(a3.rawBody, a1.rawBody, 'second retry carries the same body');
    assert.equal(a3.headers['x-pusher-signature'], a1.headers['x-pusher-signature']);
    assertValidRequest(a3);
    const gap1 = a2.at - a1.at;
    const gap2 = a3.at - a2.at;
    // initial_backoff 1000 ms, doubling, ±20 % jitter
    assert.ok(gap1 >= 700 && gap1 <= 1600, `first retry ${gap1} ms after the first attempt (want ~1000)`);
    assert.ok(gap2 >= 1400 && gap2 <= 3000, `second retry ${gap2} ms after the first retry (want ~2000)`);
    // delivered once it succeeded: no fourth copy
    await holds(() => attempts().length === 3, 300, 'no delivery after the 200');
  });
});
