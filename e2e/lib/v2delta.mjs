// Delta compression as the official @sockudo/client does it
// (client-sdks/sockudo-js src/core/sockudo.ts and core/delta/*, summarised
// in shared/reference/sockudo-v2.md §12), with the decoders it ships:
// fossil-delta 2.0.0 applyDelta(base, delta) and @ably/vcdiff-decoder 1.0.6
// decode(delta, source).
//
//  - enable: sockudo:enable_delta_compression {algorithms:[…]} on
//    `connected` until the first sockudo:delta_compression_enabled, whose
//    `algorithm` becomes the default (the flag is never reset, so after a
//    reconnect it is not sent again);
//  - a full frame of a non-internal event with `__delta_seq` is stored as
//    the channel's base: the RAW text with `__delta_seq` / `__conflation_key`
//    removed by the client's regular expressions (never re-serialised); with
//    `__conflation_key` the channel switches to per-key caches (30 entries,
//    looked up by base_index, first match);
//  - a frame without `__delta_seq` changes no base;
//  - sockudo:delta: the base (or cached entry) is patched, the result is the
//    next base and is delivered as the frame it reconstructs; a missing base
//    sends sockudo:delta_sync_error {channel} and drops the channel's state;
//    a delta for a channel without state is ignored.

import * as fossil from 'fossil-delta';
import vcdiff from '@ably/vcdiff-decoder';

import { parseFrame } from './v2client.mjs';

const STRIP = [/,"__delta_seq":\d+/g, /"__delta_seq":\d+,/g, /,"__conflation_key":"[^"]*"/g, /"__conflation_key":"[^"]*",/g];
const CACHE_SIZE = 30;

const internal = (event) => /^(pusher|sockudo)(_internal)?:/.test(event);

/** The `delta` member of a subscribe, in the shape the client sends it. */
export function subscribeDelta(opt) {
  if (opt === undefined) return undefined;
  if (opt.enabled === false) return false;
  if (opt.algorithm === undefined) return opt.enabled === true ? true : opt;
  if (opt.enabled === undefined) return opt.algorithm;
  return opt;
}

export class DeltaDecoder {
  constructor(client, options) {
    this.client = client;
    this.options = options;
    this.confirmed = false;
    this.defaultAlgorithm = 'fossil';
    this.channels = new Map();
    this.stats = { deltas: 0, fulls: 0, resyncs: 0, ignored: 0, errors: [] };
  }

  /** What the client does on `connected`. */
  onConnected() {
    if (this.options.enabled === true && !this.confirmed) {
      this.client.send('sockudo:enable_delta_compression', { algorithms: ['fossil', 'xdelta3'] });
    }
  }

  /** Handles one frame after dedup: returns the frame to deliver, or null to swallow it. */
  onFrame(frame) {
    const event = frame.event;
    if (event === 'sockudo:delta_compression_enabled') {
      this.confirmed = true;
      if (typeof frame.data?.algorithm === 'string') this.defaultAlgorithm = frame.data.algorithm;
      return frame;
    }
    if (event === 'sockudo:delta_cache_sync') return null;
    if (event === 'sockudo:delta' && frame.channel) {
      if (!this.client.channels.has(frame.channel)) return null;
      return this.applyDelta(frame);
    }
    if (frame.channel && !internal(event) && frame.__delta_seq !== undefined) this.storeFull(frame);
    return frame;
  }

  storeFull(frame) {
    let text = frame.__text;
    for (const re of STRIP) text = text.replace(re, '');
    this.stats.fulls += 1;
    let st = this.channels.get(frame.channel);
    if (!st) {
      st = { conflation: false, base: null, caches: new Map() };
      this.channels.set(frame.channel, st);
    }
    const key = frame.__conflation_key;
    if (typeof key === 'string') st.conflation = true;
    if (st.conflation && typeof key === 'string') this.push(st, key, text, Number(frame.__delta_seq));
    else st.base = text;
  }

  push(st, key, text, seq) {
    const list = st.caches.get(key) ?? [];
    list.push({ text, seq });
    if (list.length > CACHE_SIZE) list.shift();
    st.caches.set(key, list);
  }

  applyDelta(frame) {
    const d = frame.data ?? {};
    const st = this.channels.get(frame.channel);
    if (!st) {
      this.stats.ignored += 1;
      return null;
    }
    const key = d.conflation_key ?? '';
    let base;
    if (st.conflation) base = (st.caches.get(key) ?? []).find((m) => m.seq === Number(d.base_index))?.text;
    else base = st.base;
    if (base == null) {
      this.stats.resyncs += 1;
      this.channels.delete(frame.channel);
      this.client.send('sockudo:delta_sync_error', { channel: frame.channel });
      return null;
    }
    const algorithm = d.algorithm ?? this.defaultAlgorithm ?? 'fossil';
    const delta = new Uint8Array(Buffer.from(d.delta, 'base64'));
    const source = new Uint8Array(Buffer.from(base, 'utf8'));
    let text;
    try {
      const out = algorithm === 'xdelta3' ? vcdiff.decode(delta, source) : fossil.applyDelta(source, delta);
      text = Buffer.from(out).toString('utf8');
    } catch (err) {
      this.stats.errors.push(`${algorithm}: ${err.message}`);
      return null;
    }
    if (st.conflation) this.push(st, key, text, Number(d.seq));
    else st.base = text;
    this.stats.deltas += 1;
    const rebuilt = parseFrame(text);
    Object.defineProperties(rebuilt, {
      __text: { value: text },
      __conn: { value: frame.__conn },
      __binary: { value: false },
      __at: { value: frame.__at },
      __fromDelta: { value: true },
    });
    return rebuilt;
  }
}
