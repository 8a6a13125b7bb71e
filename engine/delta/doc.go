// Package delta is Sockudo V2 delta compression: per-channel bases, the
// full-versus-delta decision, the frames the official JS client decodes,
// and the "fossil" (github.com/centrifugal/fdelta) and "xdelta3"
// (protocol/vcdiff) algorithms.
//
// Shape: the expensive part lives once per channel, the per-subscriber part
// is a tiny record.
//
//   - Channel (one per app channel that has delta subscribers) keeps, per
//     conflation key, the last few messages as bases with their sequence
//     numbers. Its sequence counter is shared by every subscriber, so one
//     publish has one full frame and one `__delta_seq` for everyone.
//   - Channel.Publish takes the serialised V2 frame once per publish and
//     returns a Publication holding the full frame with `__delta_seq`
//     (and `__conflation_key`) spliced before the final `}`, exactly where
//     the client's regular expressions strip them, so the client's base is
//     byte-identical to the bytes diffed here.
//   - Publication.For(sub) picks, per subscriber, the full frame or the
//     delta frame against the base that subscriber holds. Deltas are
//     encoded once per (base, algorithm) group and shared, never per
//     subscriber; For may run on several workers at once.
//   - Sub (one per delta subscription) records which base it holds: a
//     sequence number and a delta count, per conflation key. Reset forgets
//     them (sockudo:delta_sync_error, unsubscribe), so the next frame is
//     full.
//
// How the engine calls it:
//
//   - Config: decode the `delta_compression` section onto DefaultConfig(),
//     then Validate. Per app, NewChannelSettings over its
//     `channel_delta_compression` map.
//   - sockudo:enable_delta_compression: mark the socket enabled, reply
//     sockudo:delta_compression_enabled with ConfigAlgorithm(cfg.Algorithm).
//   - Subscribe: ParseSubSetting(delta field); settings.Lookup(channel) and
//     cfg.ChannelOptions give the channel's Options, default algorithm and
//     switch; Allowed decides; the socket's Budget.Acquire bounds
//     max_channel_states_per_socket; Pick gives the subscription's
//     algorithm. The subscription embeds a zero Sub.
//   - First delta subscriber of a channel: NewChannel(name, opts).
//   - Publish (not for `delta:false` publishes, which go plain to all):
//     p := ch.Publish(Message{Event, Frame, Trailer}, now) once; subscribers
//     without deltas get Frame; each delta subscriber gets
//     p.For(&sub, algo) in its worker, only for frames actually written.
//   - sockudo:delta_sync_error, unsubscribe, a frame For returned that was
//     then not delivered: sub.Reset(); unsubscribe and socket close also
//     Budget.Release().
//   - Every MaxStateAge: ch.Sweep(now); drop the Channel with its last
//     subscriber.
//
// Base keying (a deliberate difference from Sockudo's server): Sockudo keys
// bases per event name (plus conflation value), while the official JS
// client keeps one base per channel, or one cache per conflation value.
// This package keys bases exactly as the client does, so channels carrying
// several event names decode instead of looping on resyncs. When a
// conflation key path is configured every delta-path frame carries
// `__conflation_key` (empty when the path finds nothing), so the client
// stays in its per-key mode for the whole channel.
//
// Deltas only line up with the JSON wire format and must never be used on
// internal events: Publish bypasses sockudo:/pusher: (and _internal)
// events, frames that already contain the marker fields, and conflation
// values the client's regular expression cannot strip (containing `"`).
package delta
