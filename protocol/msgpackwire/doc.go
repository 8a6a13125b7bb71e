// Package msgpackwire is the MessagePack wire format of Sockudo protocol V2
// (format=msgpack, sockudo-v2.md §13.1): a frame is a 15-element array in
// PusherMessage field order, nil for absent fields, with data as a tagged
// [kind, value] pair. It transcodes between that layout and the JSON
// frames the engine builds and reads, so the engine stays a JSON engine
// and this package is the only one that knows the layout. It may import
// github.com/vmihailenco/msgpack/v5 besides protocol and the standard
// library (see .ci/depcheck.sh).
package msgpackwire
