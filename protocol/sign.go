package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// SignChannel returns the hex HMAC-SHA256 for a channel subscription:
// over "socket_id:channel", or "socket_id:channel:channel_data" when
// channelData is not empty (presence).
func SignChannel(secret, socketID, channel, channelData string) string {
	sum := channelSum(secret, socketID, channel, channelData)
	return hex.EncodeToString(sum[:])
}

// VerifyChannelAuth checks auth = "<key>:<hex>" against key and the
// signature of SignChannel, in constant time. It allocates nothing unless
// the signed string is longer than 1 KiB.
func VerifyChannelAuth(key, secret, auth, socketID, channel, channelData string) bool {
	return verifyAuth(key, auth, channelSum(secret, socketID, channel, channelData))
}

func channelSum(secret, socketID, channel, channelData string) [sha256.Size]byte {
	if channelData == "" {
		return macSum(secret, socketID, ":", channel)
	}
	return macSum(secret, socketID, ":", channel, ":", channelData)
}

// SignUser returns the hex HMAC-SHA256 of "socket_id::user::user_data".
func SignUser(secret, socketID, userData string) string {
	sum := macSum(secret, socketID, "::user::", userData)
	return hex.EncodeToString(sum[:])
}

// VerifyUserAuth checks a pusher:signin auth "<key>:<hex>", in constant time.
func VerifyUserAuth(key, secret, auth, socketID, userData string) bool {
	return verifyAuth(key, auth, macSum(secret, socketID, "::user::", userData))
}

// SignBody returns the hex HMAC-SHA256 of body with secret (webhook
// X-Pusher-Signature).
func SignBody(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
