// Package protobufwire is the Protobuf wire format of Sockudo protocol V2
// (format=protobuf, sockudo-v2.md §13.2): proto3 wire encoding of
// Sockudo's PusherMessage with its field numbers, written and read field
// by field with google.golang.org/protobuf/encoding/protowire (no
// generated code). It transcodes between that layout and the JSON frames
// the engine builds and reads. It may import google.golang.org/protobuf
// besides protocol and the standard library (see .ci/depcheck.sh).
package protobufwire
