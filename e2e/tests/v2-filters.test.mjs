// 20. Protocol V2 subscription filters (sockudo-v2.md §7), subscribed as
//     the official @sockudo/client sends them (lib/v2client.mjs): a bare
//     tag tree as `tags_filter`, a compound `filter` {events, tags,
//     expression} when events or an expression is set. Publishes carry
//     `tags` through the signed HTTP API; client events carry objects.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { useServers } from '../lib/suite.mjs';
import { loadFixture } from '../lib/server.mjs';
import { backend, closeAll } from '../lib/clients.mjs';
import { connectV2, closeV2Clients, v2Config, v2Data, signedPost } from '../lib/v2client.mjs';
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
  server = await start(v2Config(loadFixture));
  sdk = backend(server, MAIN);
});

async function publish(channel, name, tags, data = '{}') {
  const res = await signedPost(sdk, '/events', { name, channels: [channel], data, tags });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/**
 * The events a client received on `channel` before the `done` event on
 * its unfiltered `sync` channel, published last: the server delivers one
 * connection's frames in publish order, so anything not seen by then was
 * not sent.
 */
async function eventsBeforeSync(client, channel, sync) {
  await waitFor(() => client.events(sync, 'done').length > 0, 5000, () => `done on ${sync}`);
  return client.events(channel).map((f) => f.event).filter((e) => !e.startsWith('sockudo_internal:'));
}

/** The last sockudo:error a client received. */
async function lastError(client, after) {
  await waitFor(() => client.delivered.filter((f) => f.event === 'sockudo:error').length > after, 5000, 'sockudo:error');
  const errs = client.delivered.filter((f) => f.event === 'sockudo:error');
  return v2Data(errs[errs.length - 1]);
}

describe('V2 subscription filters', () => {
  it('tag trees, events and JMESPath, in the shapes the official client sends, select what each subscriber gets', async () => {
    const ch = unique('v2-filter-');
    const sync = unique('v2-sync-');
    const subs = [
      [{ filter: { key: 'region', cmp: 'eq', val: 'eu' } }, ['order.created', 'order.updated']],
      [{ filter: { key: 'region', cmp: 'in', vals: ['us', 'ap'] } }, ['order.paid']],
      [{ filter: { op: 'not', nodes: [{ key: 'region', cmp: 'ex' }] } }, ['ping']],
      [{ filter: { key: 'amount', cmp: 'gte', val: 100 } }, ['order.updated', 'order.paid']],
      [{ events: ['order.updated', 'ping'] }, ['order.updated', 'ping']],
      [{ events: ['order.created', 'order.updated'], filter: { key: 'region', cmp: 'eq', val: 'eu' } }, ['order.created', 'order.updated']],
      [{ expression: "tags.region == 'us' || event == 'ping'" }, ['order.paid', 'ping']],
      [{ expression: { language: 'jmespath', source: "starts_with(event, 'order.') && tags.amount == '250'" } }, ['order.paid']],
      [{}, ['order.created', 'order.updated', 'order.paid', 'ping']],
    ];
    const clients = [];
    for (const [options] of subs) {
      const c = await connectV2(server, MAIN);
      await c.subscribed(ch, options);
      await c.subscribed(sync);
      clients.push(c);
    }
    // What went on the wire is what the official client sends.
    const sent = (c) => JSON.parse(JSON.stringify(c.sent.find((f) => f.event === 'sockudo:subscribe' && f.data.channel === ch).data));
    assert.deepEqual(sent(clients[0]).tags_filter, { key: 'region', cmp: 'eq', val: 'eu' });
    assert.equal(sent(clients[0]).filter, undefined);
    assert.deepEqual(sent(clients[5]).filter, { events: ['order.created', 'order.updated'], tags: { key: 'region', cmp: 'eq', val: 'eu' } });
    assert.equal(sent(clients[5]).tags_filter, undefined);

    await publish(ch, 'order.created', { region: 'eu', amount: '20' });
    await publish(ch, 'order.updated', { region: 'eu', amount: '120' });
    await publish(ch, 'order.paid', { region: 'us', amount: '250' });
    await publish(ch, 'ping', {});
    await publish(sync, 'done', {});
    for (let i = 0; i < subs.length; i++) {
      assert.deepEqual(await eventsBeforeSync(clients[i], ch, sync), subs[i][1], JSON.stringify(subs[i][0]));
    }
    // Tags reach V2 subscribers (tag_filtering section present: enable_tags defaults to true).
    assert.deepEqual(clients[0].events(ch, 'order.created')[0].tags, { amount: '20', region: 'eu' });
  });

  it('an expression reads the object a client event carries', async () => {
    const ch = `private-${unique('v2-filter-ce-')}`;
    const authorize = (socketId, channel) => sdk.authorizeChannel(socketId, channel);
    const sender = await connectV2(server, MAIN, { authorize, echoMessages: false });
    await sender.subscribed(ch);
    const big = await connectV2(server, MAIN, { authorize });
    await big.subscribed(ch, { expression: 'data.total >= `100`' });
    sender.trigger(ch, 'client-order', { total: 40 });
    sender.trigger(ch, 'client-order', { total: 400 });
    sender.trigger(ch, 'client-done', { total: 1000 });
    await waitFor(() => big.events(ch, 'client-done').length === 1, 5000, 'client-done');
    const got = big.events(ch).filter((f) => f.event.startsWith('client-'));
    assert.deepEqual(got.map((f) => JSON.parse(f.data).total), [400, 1000]);
  });

  it('an invalid filter answers sockudo:error 4000 and creates no subscription', async () => {
    const ch = unique('v2-filter-bad-');
    const sync = unique('v2-sync-');
    const c = await connectV2(server, MAIN);
    await c.subscribed(sync);
    const bad = [
      [{ filter: { key: 'region', cmp: 'like', val: 'e' } }, /^Invalid message format: Invalid tags filter: unknown comparison operator: like$/],
      [{ events: Array.from({ length: 51 }, (_, i) => `e${i}`) }, /^Invalid message format: /],
      [{ expression: 'a ==' }, /^Invalid message format: Invalid subscription filter: invalid JMESPath expression/],
      [{ filter: { op: 'and', nodes: [] } }, /^Invalid message format: Invalid tags filter/],
    ];
    for (let i = 0; i < bad.length; i++) {
      c.channels.delete(ch);
      c.subscribe(ch, bad[i][0]);
      const err = await lastError(c, i);
      assert.equal(err.code, 4000);
      assert.match(err.message, bad[i][1]);
      assert.equal(c.channels.get(ch).subscribed, false);
    }
    await publish(ch, 'e0', {});
    await publish(sync, 'done', {});
    assert.deepEqual(await eventsBeforeSync(c, ch, sync), []);
  });
});
