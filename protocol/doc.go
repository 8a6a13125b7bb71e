// Package protocol is the Pusher Channels protocol v7 wire format as real
// clients (pusher-js 8, the official server SDKs) speak it, and the RFC 6455
// framing underneath it.
//
// It uses the standard library only, holds no state, and is safe for
// concurrent use. Usage:
//
//  1. Classify and validate channel names with ParseChannel and ValidChannelName.
//  2. Decode client frames with DecodeClientMessage, then the event-specific
//     payloads with DecodeSubscribe, DecodeSignin, DecodePresenceMember,
//     DecodeUserData.
//  3. Encode server frames with the Append* functions: each appends to dst
//     and returns it, allocating nothing when dst has room.
//  4. Verify channel, user and HTTP API signatures with VerifyChannelAuth,
//     VerifyUserAuth and VerifyRequest.
//  5. Read client WebSocket frames incrementally with FrameReader and write
//     server frames with AppendFrame.
package protocol
