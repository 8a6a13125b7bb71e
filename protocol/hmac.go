package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// macStack is the longest signed string macSum hashes in stack buffers;
// longer ones (big presence channel_data) go through crypto/hmac.
const macStack = 1024

// macSum returns HMAC-SHA256(secret, concat(parts)). It is RFC 2104 spelled
// out over sha256.Sum256 because crypto/hmac allocates its state on every
// call and subscribe verification sits on the hot path; tests check it
// against crypto/hmac.
func macSum(secret string, parts ...string) (sum [sha256.Size]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > macStack {
		return macSumHeap(secret, parts)
	}
	var key [sha256.BlockSize]byte
	if len(secret) > sha256.BlockSize {
		h := sha256.Sum256([]byte(secret))
		copy(key[:], h[:])
	} else {
		copy(key[:], secret)
	}
	var inner [sha256.BlockSize + macStack]byte
	for i, k := range key {
		inner[i] = k ^ 0x36
	}
	off := sha256.BlockSize
	for _, p := range parts {
		off += copy(inner[off:], p)
	}
	ih := sha256.Sum256(inner[:off])
	var outer [sha256.BlockSize + sha256.Size]byte
	for i, k := range key {
		outer[i] = k ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], ih[:])
	return sha256.Sum256(outer[:])
}

// macSumHeap is macSum for long input, through crypto/hmac.
func macSumHeap(secret string, parts []string) (sum [sha256.Size]byte) {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	m.Sum(sum[:0])
	return sum
}

// verifyAuth checks auth = "<key>:<64 hex digits>" against sum, comparing
// the digest in constant time. The key is public, so it is compared plainly.
func verifyAuth(key, auth string, sum [sha256.Size]byte) bool {
	if len(auth) != len(key)+1+2*sha256.Size || auth[:len(key)] != key || auth[len(key)] != ':' {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], aliasBytes(auth[len(key)+1:])); err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], sum[:]) == 1
}
