// A small Sockudo Protocol V2 client on `ws`, written here from
// shared/reference/sockudo-v2.md §1–§8 and §14 and from reading the
// official @sockudo/client (client-sdks/sockudo-js in sockudo/sockudo),
// whose wire behaviour it reproduces:
//
//  - URL  /app/{key}?protocol=2&client=js&version=…&flash=false[&echo_messages=false]
//  - handshake: the first frame must be sockudo:connection_established whose
//    data (a JSON string) has activity_timeout; a sockudo:error instead is
//    mapped to a close action as the client maps close codes;
//  - on every `connected`: re-send sockudo:subscribe for every channel (public
//    ones at once, private/presence after their authorization, which may be
//    asynchronous like the client's HTTP auth), THEN, when recovery is on and
//    positions are known, one sockudo:resume whose data is a JSON *string*
//    {"channel_positions":{ch:{stream_id,serial,last_message_id}}};
//  - every frame with a message_id is checked against an LRU of the last
//    1000 ids and dropped when already seen (before anything else);
//  - every frame with channel + serial (number or decimal string) becomes the
//    channel's recovery position {stream_id, serial, last_message_id};
//  - resume_success: each recovered entry with a position replaces the
//    channel's position (failed[] is ignored, as the client ignores it);
//  - resume_failed: `channel` is read from INSIDE data; the position is
//    dropped and channel.subscribe() runs, which does nothing for a channel
//    that is already subscribed (as in the official client);
//  - heartbeats: sockudo:ping {} after min(own activity timeout, server's)
//    of silence, reconnect when nothing arrives within the pong timeout;
//    a server sockudo:ping is answered with sockudo:pong {};
//  - close → channels marked unsubscribed, reconnect after the client's
//    delay (0 for the first attempt) unless the close code refuses.
//
// For tests it also records every raw frame of every connection (before
// dedup) so a test can prove what the SERVER sent, and can drop its TCP
// socket abruptly (no close frame) and hold the reconnect.

import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

import { waitFor, DEFAULT_TIMEOUT_MS } from './util.mjs';
import { DeltaDecoder, subscribeDelta } from './v2delta.mjs';

/** The version string sent as `version=` (the official client's at the reference commit). */
export const V2_CLIENT_VERSION = '2.2.0';

const open = new Set();

/** Closes every V2 client created since the last call (use as afterEach cleanup). */
export async function closeV2Clients() {
  const all = [...open];
  open.clear();
  for (const c of all) c.disconnect();
}

/**
 * Bounded set of recently seen message ids: the oldest id is forgotten
 * once `capacity` ids are held, so memory stays flat on long sessions.
 */
export class RecentIds {
  constructor(capacity = 1000) {
    this.capacity = capacity;
    this.ids = new Set();
    this.order = [];
  }

  /** True when id was seen; otherwise remembers it and returns false. */
  seen(id) {
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length > this.capacity) this.ids.delete(this.order.shift());
    return false;
  }
}

// Serials are u64 on the wire; JSON.parse would round ones above 2^53.
// Quote such literals (any key containing "serial") before parsing.
const BIG_SERIAL = /("[\w-]*serial[\w-]*"\s*:\s*)(\d{16,})/g;

/** JSON.parse that keeps serials beyond Number.MAX_SAFE_INTEGER as decimal strings. */
export function parseFrame(text) {
  const safe = text.includes('serial')
    ? text.replace(BIG_SERIAL, (m, key, digits) => (Number.isSafeInteger(Number(digits)) ? m : `${key}"${digits}"`))
    : text;
  return JSON.parse(safe);
}

/** A frame's data parsed when it is a JSON string (as the client does), else as is. */
export function v2Data(frame) {
  if (typeof frame?.data !== 'string') return frame?.data;
  try {
    return parseFrame(frame.data);
  } catch {
    return frame.data;
  }
}

const isSerial = (v) => typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));

/** What the client does after a close code (the official client's table). */
export function closeAction(code) {
  if (code < 4000) return code >= 1002 && code <= 1004 ? 'backoff' : null;
  if (code === 4000) return 'tls_only';
  if (code < 4100) return 'refused';
  if (code < 4200) return 'backoff';
  if (code < 4300) return 'retry';
  return 'refused';
}

/** One subscription as the client keeps it across connections. */
class V2Channel {
  constructor(client, name, options = {}) {
    this.client = client;
    this.name = name;
    this.options = options;
    this.subscribed = false;
    this.pending = false;
  }

  /** Sends sockudo:subscribe unless already subscribed (authorizing first). */
  subscribe() {
    if (this.subscribed) return;
    this.pending = true;
    const conn = this.client.conn;
    const send = (auth) => {
      if (this.client.conn !== conn || !this.pending) return; // connection changed meanwhile
      const data = { auth: auth?.auth ?? '', channel_data: auth?.channel_data, channel: this.name };
      // Filters as the official client sends them (channel.ts subscribe):
      // a compound `filter` when events or an expression is set (the tag
      // tree inside as `tags`), else a bare tree as `tags_filter`.
      const { filter, events, expression } = this.options;
      if (events || expression) data.filter = { events, tags: filter, expression };
      else if (filter) data.tags_filter = filter;
      if (this.options.rewind !== undefined) data.rewind = this.options.rewind;
      if (this.options.delta !== undefined) data.delta = subscribeDelta(this.options.delta);
      this.client.send('sockudo:subscribe', data);
    };
    if (!/^(private-|presence-)/.test(this.name)) return send({ auth: '' });
    Promise.resolve()
      .then(() => this.client.opts.authorize(this.client.socketId, this.name))
      .then(send, (err) => this.client.emit('auth_error', { channel: this.name, error: err }));
  }
}

/**
 * A V2 client. opts:
 *   key (required), connectionRecovery (true), echoMessages (undefined = not sent),
 *   deduplication (true), dedupCapacity (1000),
 *   activityTimeoutMs (120000), pongTimeoutMs (30000),
 *   reconnectDelay(attempt, action) -> ms (default: retry 1000, else min(attempt², 10) s),
 *   authorize(socketId, channel) -> {auth, channel_data?} | Promise (private/presence),
 *   query: extra query string appended to the URL,
 *   heartbeat / answerPings (true): test switches to silence the client,
 *   deltaCompression: {enabled} as the official client's option (lib/v2delta.mjs);
 *   subscribe(name, {delta}) takes the client's per-channel delta option.
 * Events: 'state' (state), 'connected' (socketId), 'message' (frame after dedup),
 *   'resume_success' / 'resume_failed' (parsed data), 'error' (sockudo:error data).
 */
export class V2Client extends EventEmitter {
  constructor(wsBase, opts) {
    super();
    this.wsBase = wsBase;
    this.opts = {
      connectionRecovery: true,
      deduplication: true,
      heartbeat: true,
      answerPings: true,
      dedupCapacity: 1000,
      activityTimeoutMs: 120_000,
      pongTimeoutMs: 30_000,
      reconnectDelay: (attempt, action) => (action === 'retry' ? 1000 : Math.min(attempt * attempt, 10) * 1000),
      authorize: () => {
        throw new Error('this V2 client has no authorize()');
      },
      ...opts,
    };
    this.on('error', () => {}); // errors are recorded, never thrown from the emitter
    this.state = 'initialized';
    this.channels = new Map();
    this.positions = new Map();
    this.dedup = this.opts.deduplication ? new RecentIds(this.opts.dedupCapacity) : null;
    this.frames = []; // every frame received, all connections, before dedup
    this.delivered = []; // frames that passed dedup (what an application would see)
    this.sent = []; // every frame sent
    this.errors = [];
    this.duplicatesDropped = 0;
    this.connections = 0;
    this.attempts = 0;
    this.held = false;
    this.delta = this.opts.deltaCompression !== undefined ? new DeltaDecoder(this, this.opts.deltaCompression ?? {}) : null;
    this.conn = null;
    this.socketId = null;
    open.add(this);
  }

  /** The URL the official client builds for protocol 2 over ws. */
  url() {
    let q = `protocol=2&client=js&version=${V2_CLIENT_VERSION}&flash=false`;
    if (this.opts.echoMessages === false) q += '&echo_messages=false';
    if (this.opts.query) q += `&${this.opts.query}`;
    return `${this.wsBase}/app/${this.opts.key}?${q}`;
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  /** Opens a connection (if none) and resolves once connected. */
  async connect(timeout = DEFAULT_TIMEOUT_MS) {
    this.closedByUser = false;
    if (!this.conn && !this.retryTimer) this.open();
    await this.waitConnected(timeout);
    return this;
  }

  open() {
    this.retryTimer = null;
    this.attempts += 1;
    this.setState(this.connections === 0 ? 'connecting' : 'reconnecting');
    const ws = new WebSocket(this.url(), { handshakeTimeout: 5000 });
    const conn = { ws, index: this.connections, handshaken: false, closeInfo: null };
    this.connections += 1;
    this.conn = conn;
    ws.on('message', (data, isBinary) => this.onRaw(conn, data.toString(), isBinary));
    ws.on('error', (err) => this.errors.push({ type: 'WebSocketError', error: err.message, conn: conn.index }));
    ws.on('close', (code, reason) => this.onClose(conn, code, reason.toString()));
  }

  onRaw(conn, text, isBinary) {
    if (this.conn !== conn) return;
    let frame;
    try {
      frame = parseFrame(text);
    } catch (err) {
      this.errors.push({ type: 'MessageParseError', error: err.message, data: text });
      return;
    }
    Object.defineProperties(frame, {
      __text: { value: text },
      __conn: { value: conn.index },
      __binary: { value: isBinary },
      __at: { value: Date.now() },
    });
    this.frames.push(frame);
    this.resetActivity();
    if (!conn.handshaken) return this.handshake(conn, frame);
    this.onFrame(frame);
  }

  handshake(conn, frame) {
    if (frame.event === 'sockudo:connection_established') {
      const data = v2Data(frame);
      if (!data?.activity_timeout) {
        this.errors.push({ type: 'HandshakeError', error: 'No activity timeout specified in handshake' });
        conn.ws.close();
        return;
      }
      conn.handshaken = true;
      this.socketId = data.socket_id;
      this.serverActivityMs = data.activity_timeout * 1000;
      this.attempts = 0;
      this.resetActivity();
      this.setState('connected');
      this.onConnected();
      return;
    }
    if (frame.event === 'sockudo:error') {
      const data = v2Data(frame) ?? {};
      this.errors.push({ type: 'SockudoError', data, conn: conn.index });
      conn.handshakeAction = closeAction(data.code);
      return;
    }
    this.errors.push({ type: 'HandshakeError', error: `Invalid handshake: ${frame.__text}` });
    conn.ws.close();
  }

  /** What the client does on every `connected`: resubscribe all, then resume. */
  onConnected() {
    for (const ch of this.channels.values()) ch.subscribe();
    if (this.opts.connectionRecovery && this.positions.size > 0) {
      const channel_positions = Object.fromEntries([...this.positions].map(([ch, p]) => [ch, { ...p }]));
      this.send('sockudo:resume', JSON.stringify({ channel_positions }));
    }
    this.delta?.onConnected();
    this.emit('connected', this.socketId);
  }

  onFrame(frame) {
    if (this.dedup && typeof frame.message_id === 'string' && this.dedup.seen(frame.message_id)) {
      this.duplicatesDropped += 1;
      return;
    }
    if (this.opts.connectionRecovery && frame.channel && isSerial(frame.serial)) {
      this.positions.set(frame.channel, { stream_id: frame.stream_id, serial: frame.serial, last_message_id: frame.message_id });
    }
    if (this.delta) {
      frame = this.delta.onFrame(frame);
      if (frame === null) return;
    }
    this.delivered.push(frame);
    const event = frame.event;
    switch (event) {
      case 'sockudo:ping':
        if (this.opts.answerPings) this.send('sockudo:pong', {});
        break;
      case 'sockudo:error':
        this.errors.push({ type: 'SockudoError', data: v2Data(frame), conn: frame.__conn });
        this.emit('error', v2Data(frame));
        break;
      case 'sockudo:resume_success': {
        const data = v2Data(frame) ?? {};
        for (const r of Array.isArray(data.recovered) ? data.recovered : []) {
          if (r?.channel && r.position && isSerial(r.position.serial)) {
            this.positions.set(r.channel, {
              stream_id: r.position.stream_id,
              serial: r.position.serial,
              last_message_id: r.position.last_message_id,
            });
          }
        }
        this.emit('resume_success', data);
        return;
      }
      case 'sockudo:resume_failed': {
        const data = v2Data(frame) ?? {};
        if (data.channel) {
          this.positions.delete(data.channel);
          this.channels.get(data.channel)?.subscribe();
        }
        this.emit('resume_failed', data);
        return;
      }
      case 'sockudo_internal:subscription_succeeded': {
        const ch = this.channels.get(frame.channel);
        if (ch) {
          ch.subscribed = true;
          ch.pending = false;
        }
        break;
      }
      default:
    }
    this.emit('message', frame);
  }

  onClose(conn, code, reason) {
    conn.closeInfo = { code, reason, at: Date.now() };
    if (this.conn !== conn) return;
    this.conn = null;
    this.stopActivity();
    for (const ch of this.channels.values()) {
      ch.subscribed = false;
      ch.pending = false;
    }
    if (this.closedByUser) {
      this.setState('disconnected');
      return;
    }
    const action = conn.handshakeAction ?? closeAction(code);
    if (action === 'refused') {
      this.setState('disconnected');
      return;
    }
    this.setState('unavailable');
    this.pendingAction = action;
    if (!this.held) this.scheduleReconnect();
  }

  scheduleReconnect() {
    const delay = this.opts.reconnectDelay(this.attempts, this.pendingAction);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  resetActivity() {
    this.stopActivity();
    if (!this.conn?.handshaken || !this.opts.heartbeat) return;
    const idle = Math.min(this.opts.activityTimeoutMs, this.serverActivityMs ?? Infinity);
    this.activityTimer = setTimeout(() => {
      this.send('sockudo:ping', {});
      this.activityTimer = setTimeout(() => this.conn?.ws.terminate(), this.opts.pongTimeoutMs);
    }, idle);
  }

  stopActivity() {
    clearTimeout(this.activityTimer);
    this.activityTimer = null;
  }

  /** Sends {event, data[, channel]} as the client does (data as given: object or string). */
  send(event, data, channel) {
    const frame = { event, data };
    if (channel) frame.channel = channel;
    const text = JSON.stringify(frame);
    this.sent.push({ ...frame, __conn: this.conn?.index, __text: text });
    if (this.conn?.ws.readyState !== WebSocket.OPEN) return false;
    this.conn.ws.send(text);
    return true;
  }

  /**
   * Adds a channel (kept across reconnects) and subscribes now when
   * connected. options as the official client's subscribe(): rewind,
   * filter (a tag tree: {key, cmp, val|vals} or {op, nodes}), events,
   * expression (a JMESPath source or {language:'jmespath', source}).
   */
  subscribe(name, options = {}) {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = new V2Channel(this, name, options);
      this.channels.set(name, ch);
    }
    if (this.state === 'connected' && !ch.pending) ch.subscribe();
    return ch;
  }

  /** Subscribes and waits for sockudo_internal:subscription_succeeded. */
  async subscribed(name, options = {}, timeout = DEFAULT_TIMEOUT_MS) {
    const ch = this.subscribe(name, options);
    await waitFor(() => ch.subscribed, timeout, () => `subscription_succeeded on ${name} (errors ${JSON.stringify(this.errors)})`);
    return ch;
  }

  /** A client event on a channel. */
  trigger(channel, event, data) {
    return this.send(event, data, channel);
  }

  /** Test hook: destroys the TCP socket, so the server gets no close frame. */
  drop({ hold = false } = {}) {
    this.held = hold;
    const sock = this.conn?.ws._socket;
    if (!sock) throw new Error('drop(): not connected');
    sock.destroy();
  }

  /** Test hook: lets a held reconnect go ahead. */
  release() {
    this.held = false;
    if (!this.conn && !this.retryTimer && this.state === 'unavailable') this.scheduleReconnect();
  }

  /** Closes for good (no reconnect). */
  disconnect() {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopActivity();
    open.delete(this);
    const conn = this.conn;
    if (conn && (conn.ws.readyState === WebSocket.OPEN || conn.ws.readyState === WebSocket.CONNECTING)) conn.ws.terminate();
    this.setState('disconnected');
  }

  /** Waits until connected on a connection newer than `after` (a connection index). */
  waitConnected(timeout = DEFAULT_TIMEOUT_MS, after = -1) {
    return waitFor(
      () => this.state === 'connected' && this.conn && this.conn.index > after,
      timeout,
      () => `V2 client connected (state ${this.state}, errors ${JSON.stringify(this.errors)})`,
    );
  }

  /** Waits for a delivered frame matching pred (an event name or a function). */
  waitFrame(pred, timeout = DEFAULT_TIMEOUT_MS, what = 'frame') {
    const test = typeof pred === 'string' ? (f) => f.event === pred : pred;
    return waitFor(
      () => this.delivered.find(test),
      timeout,
      () => `${what} (last frames: ${JSON.stringify(this.frames.slice(-30).map((f) => f.__text))})`,
    );
  }

  /** Delivered frames of `event` on `channel` (after dedup). */
  events(channel, event) {
    return this.delivered.filter((f) => f.channel === channel && (event === undefined || f.event === event));
  }

  /** Raw frames (before dedup, every connection) matching pred. */
  rawFrames(pred) {
    return this.frames.filter(pred);
  }
}

/** A V2 client for app `appId` of `server`; connects unless opts.connect === false. */
export async function connectV2(server, appId, opts = {}) {
  const { connect = true, ...rest } = opts;
  const client = new V2Client(server.wsUrl, { key: server.app(appId).key, ...rest });
  if (connect) await client.connect();
  return client;
}

/**
 * A config for V2 tests: the given fixture with connection_recovery on
 * (overrides merged in) and app "110" (key e2e-key-norecovery), a copy of
 * app 100 whose own connection_recovery.enabled is false; tag_filtering on
 * (section present, so tags are sent).
 */
export function v2Config(loadFixture, recovery = {}, fixture = 'config.json') {
  const config = loadFixture(fixture);
  config.connection_recovery = { enabled: true, ...recovery };
  // Tag filters applied; with the section present, tags are sent (enable_tags).
  config.tag_filtering = { enabled: true };
  const main = config.app_manager.array.apps.find((a) => String(a.id) === '100');
  config.app_manager.array.apps.push({
    ...main,
    id: '110',
    key: 'e2e-key-norecovery',
    secret: 'e2e-secret-norecovery',
    connection_recovery: { enabled: false },
  });
  return config;
}

/** POST /apps/{id}{path} signed by the Node SDK with a body the SDK cannot build itself; returns {status, body}. */
export async function signedPost(sdk, path, body) {
  try {
    const res = await sdk.post({ path, body });
    return { status: res.status, body: await res.json() };
  } catch (err) {
    // the SDK rejects non-2xx with a RequestError carrying status and body
    if (err.status === undefined) throw err;
    let parsed = err.body;
    try {
      parsed = JSON.parse(err.body);
    } catch {
      /* not JSON */
    }
    return { status: err.status, body: parsed };
  }
}
