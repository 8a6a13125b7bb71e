// Real third-party clients pointed at the server under test:
//  - pusher-js 8 (the Node build, with encryption bundled),
//  - pusher 5 (the official Node server SDK) as the backend that signs
//    channel authorizations and user authentications and calls the HTTP API,
//  - a raw `ws` client for negative tests pusher-js cannot produce.
// Every client made here is tracked; closeAll() (call it in afterEach)
// disconnects them all.

import { createRequire } from 'node:module';
import WebSocket from 'ws';

import { waitFor, withTimeout, DEFAULT_TIMEOUT_MS } from './util.mjs';

const require = createRequire(import.meta.url);
/** pusher-js (Node build) — the client class. */
export const PusherJS = require('pusher-js');
/** pusher (pusher-http-node) — the server SDK class. */
export const PusherServer = require('pusher');

export const PROTOCOL_QUERY = 'protocol=7&client=js&version=8.6.0&flash=false';
export const SOCKET_ID_RE = /^\d+\.\d+$/;

const open = new Set();

/** Disconnects every client created since the last call. */
export async function closeAll() {
  const all = [...open];
  open.clear();
  for (const c of all) {
    try {
      await c.__close();
    } catch {
      /* best effort */
    }
  }
}

/** The Node SDK configured for app `appId` of `server`. */
export function backend(server, appId, extra = {}) {
  const app = server.app(appId);
  return new PusherServer({
    appId: String(app.id),
    key: app.key,
    secret: app.secret,
    host: '127.0.0.1',
    port: String(server.port),
    useTLS: false,
    ...extra,
  });
}

/** The Pusher code carried by a pusher-js connection `error` event, if any. */
export function errorCode(e) {
  if (!e) return undefined;
  return e.data?.code ?? e.error?.data?.code ?? e.error?.code ?? e.code;
}

/** pusher-js options that point at the local server (reference §4.1). */
export function pusherJsOptions(server, extra = {}) {
  return {
    cluster: 'mt1',
    wsHost: '127.0.0.1',
    wsPort: server.port,
    httpHost: '127.0.0.1',
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...extra,
  };
}

/**
 * A pusher-js client for app `appId`.
 * opts:
 *   user:      {id, user_info?, watchlist?} used for signin and as the default presence member
 *   presence:  {user_id, user_info} presence channel_data (defaults from user)
 *   channelAuth({socketId, channelName}, sdk) -> auth data (override, e.g. a bad signature)
 *   userAuth({socketId}, sdk) -> auth data (override)
 *   key:       app key to use (default: the app's)
 *   sdk:       the backend used for signing (default: backend(server, appId))
 *   connect:   false to not wait for `connected`
 *   any other key goes to pusher-js.
 * The client gets `rec` = {states, errors, frames, attempts} recorded from its connection.
 */
export async function connect(server, appId, opts = {}) {
  const { user, presence, channelAuth, userAuth, key, sdk: givenSdk, connect: waitConnect = true, ...pusherOpts } = opts;
  const app = server.app(appId);
  const sdk = givenSdk ?? backend(server, appId);
  const client = new PusherJS(key ?? app.key, {
    ...pusherJsOptions(server),
    channelAuthorization: {
      customHandler: (params, cb) => {
        try {
          if (channelAuth) return cb(null, channelAuth(params, sdk));
          if (params.channelName.startsWith('presence-')) {
            const member = presence ?? { user_id: user?.id ?? `anon-${params.socketId}`, user_info: user?.user_info ?? {} };
            return cb(null, sdk.authorizeChannel(params.socketId, params.channelName, member));
          }
          return cb(null, sdk.authorizeChannel(params.socketId, params.channelName));
        } catch (err) {
          return cb(err, null);
        }
      },
    },
    userAuthentication: {
      customHandler: (params, cb) => {
        try {
          if (userAuth) return cb(null, userAuth(params, sdk));
          if (!user) throw new Error('this test client has no user');
          return cb(null, sdk.authenticateUser(params.socketId, user));
        } catch (err) {
          return cb(err, null);
        }
      },
    },
    ...pusherOpts,
  });
  record(client);
  client.sdk = sdk;
  client.__close = async () => {
    client.disconnect();
  };
  open.add(client);
  if (waitConnect) await waitState(client, 'connected');
  return client;
}

function record(client) {
  const rec = { states: [], errors: [], frames: [], attempts: 0 };
  client.rec = rec;
  client.connection.bind('state_change', ({ previous, current }) => {
    rec.states.push({ previous, current, at: Date.now() });
    if (current === 'connecting') rec.attempts += 1;
  });
  client.connection.bind('error', (e) => rec.errors.push({ error: e, code: errorCode(e), at: Date.now() }));
  client.connection.bind('message', (m) => rec.frames.push({ ...m, at: Date.now() }));
  // A client created with connect() starts in 'connecting' before we bind.
  if (client.connection.state === 'connecting') rec.attempts += 1;
}

/** Waits until the client's connection state is one of `states`. */
export async function waitState(client, states, timeout = DEFAULT_TIMEOUT_MS) {
  const want = Array.isArray(states) ? states : [states];
  await waitFor(
    () => want.includes(client.connection.state),
    timeout,
    () =>
      `connection state ${want.join('|')} (now ${client.connection.state}; errors ${JSON.stringify(
        client.rec?.errors.map((e) => e.error),
      )})`,
  );
}

/** Frames of `event` (optionally on `channel`) this client has received. */
export function framesOf(client, event, channel) {
  return client.rec.frames.filter((f) => f.event === event && (channel === undefined || f.channel === channel));
}

/**
 * Subscribes and resolves with the channel on pusher:subscription_succeeded;
 * rejects with the error data on pusher:subscription_error.
 */
export function subscribe(client, name, timeout = DEFAULT_TIMEOUT_MS) {
  const channel = client.subscribe(name);
  if (channel.subscribed) return Promise.resolve(channel);
  const p = new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_succeeded', () => resolve(channel));
    channel.bind('pusher:subscription_error', (err) => {
      const e = new Error(`subscription_error on ${name}: ${JSON.stringify(err)}`);
      e.data = err;
      reject(e);
    });
  });
  return withTimeout(p, timeout, `subscription_succeeded on ${name}`);
}

/** Subscribes expecting a failure; resolves with the pusher:subscription_error data. */
export function subscribeError(client, name, timeout = DEFAULT_TIMEOUT_MS) {
  const channel = client.subscribe(name);
  const p = new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_error', (err) => resolve(err));
    channel.bind('pusher:subscription_succeeded', () =>
      reject(new Error(`expected pusher:subscription_error on ${name}, got subscription_succeeded`)),
    );
  });
  return withTimeout(p, timeout, `pusher:subscription_error on ${name}`);
}

/** Records every `event` on a channel (or user facade) as {data, metadata}. */
export function collect(emitter, event) {
  const got = [];
  emitter.bind(event, (data, metadata) => got.push({ data, metadata }));
  return got;
}

// ---------------------------------------------------------------------------
// Raw WebSocket client

/**
 * A raw `ws` connection. path defaults to /app/{key}?{PROTOCOL_QUERY}.
 * answerPings: reply pusher:pong to every pusher:ping (as pusher-js does).
 * Returned object: frames (parsed JSON, or {raw} when not JSON), closed
 * (promise of {code, reason}), send(obj|string), waitFrame(pred), ready().
 */
export function raw(server, { key, appId, path, query = PROTOCOL_QUERY, wsOptions = {}, answerPings = false } = {}) {
  const appKey = key ?? (appId !== undefined ? server.app(appId).key : undefined);
  const url = `${server.wsUrl}${path ?? `/app/${appKey}${query ? `?${query}` : ''}`}`;
  const ws = new WebSocket(url, { handshakeTimeout: 5000, ...wsOptions });
  const client = {
    ws,
    url,
    frames: [],
    pings: 0,
    closeInfo: null,
    upgradeError: null,
  };
  client.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      client.closeInfo = { code, reason: reason.toString(), at: Date.now() };
      resolve(client.closeInfo);
    });
  });
  ws.on('error', (err) => {
    // e.g. "Unexpected server response: 503" when the upgrade is refused over HTTP.
    client.upgradeError = err;
    const m = /Unexpected server response: (\d+)/.exec(err.message);
    if (m) client.upgradeStatus = Number(m[1]);
  });
  ws.on('ping', () => {
    client.pings += 1;
  });
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = { raw: text };
    }
    frame.__at = Date.now();
    frame.__binary = isBinary;
    frame.__text = text;
    client.frames.push(frame);
    if (answerPings && frame.event === 'pusher:ping') ws.send(JSON.stringify({ event: 'pusher:pong', data: {} }));
  });
  client.send = (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  client.waitFrame = (pred, timeout = DEFAULT_TIMEOUT_MS, what = 'frame') => {
    const test = typeof pred === 'string' ? (f) => f.event === pred : pred;
    return waitFor(
      () => client.frames.find(test),
      timeout,
      () => `${what} on raw client (frames: ${JSON.stringify(client.frames.map((f) => f.__text))}, close: ${JSON.stringify(client.closeInfo)})`,
    );
  };
  /** Waits for pusher:connection_established; returns its parsed data. */
  client.ready = async (timeout = DEFAULT_TIMEOUT_MS) => {
    const f = await client.waitFrame('pusher:connection_established', timeout, 'pusher:connection_established');
    client.established = typeof f.data === 'string' ? JSON.parse(f.data) : f.data;
    client.socketId = client.established.socket_id;
    return client.established;
  };
  client.subscribe = (channel, extra = {}) => client.send({ event: 'pusher:subscribe', data: { auth: '', channel, ...extra } });
  /** Subscribes and waits for subscription_succeeded (or throws with what came instead). */
  client.subscribed = async (channel, extra = {}, timeout = DEFAULT_TIMEOUT_MS) => {
    client.subscribe(channel, extra);
    return client.waitFrame(
      (f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'),
      timeout,
      `subscription result for ${channel}`,
    ).then((f) => {
      if (f.event !== 'pusher_internal:subscription_succeeded') throw new Error(`subscribe ${channel} failed: ${f.__text}`);
      return f;
    });
  };
  client.isOpen = () => ws.readyState === WebSocket.OPEN;
  client.__close = async () => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
      try {
        ws.terminate();
      } catch {
        /* ignore */
      }
    }
  };
  open.add(client);
  return client;
}

/** Parses a frame's data the way pusher-js does (string -> JSON when possible). */
export function dataOf(frame) {
  if (typeof frame?.data !== 'string') return frame?.data;
  try {
    return JSON.parse(frame.data);
  } catch {
    return frame.data;
  }
}
