// Package vcdiff encodes and decodes RFC 3284 VCDIFF deltas: the "xdelta3"
// algorithm of Sockudo's delta compression, as the official JS client
// (@ably/vcdiff-decoder) reads it.
//
// The encoder writes plain RFC 3284: no secondary compression, no custom
// code table, no application header and no xdelta3 Adler-32 checksum. No
// maintained Go library fits: the Go VCDIFF packages found are decoders
// only, unmaintained, or bindings to the C xdelta3 library (cgo), so the
// encoder is written here. It emits one window whose source segment is the
// whole base, COPY instructions against that base found by a hash of
// 4-byte blocks, ADD for new bytes and RUN for repeated ones, with the
// default code table and its address cache.
//
// The decoder is written independently of the encoder, from RFC 3284
// sections 4 to 7, and serves as the encoder's test oracle. It reads every
// window form (VCD_SOURCE, VCD_TARGET, none), the whole default code table
// including the double instructions, and the xdelta3 extensions it can
// check (an application header is skipped, an Adler-32 checksum verified);
// secondary compression and custom code tables are refused with an error.
//
// The package uses the standard library only and holds no state.
package vcdiff
