package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// Vectors from pusher-protocol.md §2.1 and §2.2 (verified against the SDKs).
const (
	vecKey    = "278d425bdf160c739803"
	vecSecret = "7ad3773142a6692b25b8"
	vecSocket = "1234.1234"
)

func TestSignChannelVectors(t *testing.T) {
	f := func(channel, channelData, want string) {
		t.Helper()
		if got := SignChannel(vecSecret, vecSocket, channel, channelData); got != want {
			t.Fatalf("SignChannel(%q, %q) = %s, want %s", channel, channelData, got, want)
		}
		auth := vecKey + ":" + want
		if !VerifyChannelAuth(vecKey, vecSecret, auth, vecSocket, channel, channelData) {
			t.Fatalf("VerifyChannelAuth(%q) = false", auth)
		}
	}
	f("private-foobar", "", "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4")
	f("presence-foobar", `{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`,
		"afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c")
}

func TestSignUserVector(t *testing.T) {
	const userData = `{"id":"12345"}`
	const want = "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"
	if got := SignUser(vecSecret, vecSocket, userData); got != want {
		t.Fatalf("SignUser = %s, want %s", got, want)
	}
	if !VerifyUserAuth(vecKey, vecSecret, vecKey+":"+want, vecSocket, userData) {
		t.Fatal("VerifyUserAuth rejected the vector")
	}
	if VerifyUserAuth(vecKey, vecSecret, vecKey+":"+want, vecSocket, `{"id":"12346"}`) {
		t.Fatal("VerifyUserAuth accepted other user data")
	}
}

func TestVerifyChannelAuthRejects(t *testing.T) {
	good := vecKey + ":" + SignChannel(vecSecret, vecSocket, "private-a", "")
	f := func(auth, socketID, channel string) {
		t.Helper()
		if VerifyChannelAuth(vecKey, vecSecret, auth, socketID, channel, "") {
			t.Fatalf("VerifyChannelAuth(%q, %q, %q) = true", auth, socketID, channel)
		}
	}
	f("", vecSocket, "private-a")
	f(good[1:], vecSocket, "private-a")
	f("other:"+good[len(vecKey)+1:], vecSocket, "private-a")
	f(good[:len(good)-1], vecSocket, "private-a")
	f(good+"0", vecSocket, "private-a")
	f(good[:len(good)-1]+"g", vecSocket, "private-a")
	f(strings.Replace(good, ":", ";", 1), vecSocket, "private-a")
	f(good, "1234.1235", "private-a")
	f(good, vecSocket, "private-b")
	if !VerifyChannelAuth(vecKey, vecSecret, good, vecSocket, "private-a", "") {
		t.Fatal("good auth rejected")
	}
}

// TestMacSumMatchesCryptoHMAC checks the hand-written HMAC against
// crypto/hmac across key lengths (short, block, hashed) and message
// lengths (stack and heap paths).
func TestMacSumMatchesCryptoHMAC(t *testing.T) {
	for _, keyLen := range []int{0, 1, 20, 63, 64, 65, 200} {
		for _, msgLen := range []int{0, 1, 55, 64, 1023, 1024, 1025, 5000} {
			secret := strings.Repeat("k", keyLen)
			msg := strings.Repeat("m", msgLen)
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(msg))
			want := hex.EncodeToString(m.Sum(nil))
			half := len(msg) / 2
			sum := macSum(secret, msg[:half], msg[half:])
			if got := hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("key %d msg %d: got %s want %s", keyLen, msgLen, got, want)
			}
		}
	}
}

func TestSignBody(t *testing.T) {
	body := []byte(`{"time_ms":1,"events":[]}`)
	m := hmac.New(sha256.New, []byte(vecSecret))
	m.Write(body)
	if got, want := SignBody(vecSecret, body), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("SignBody = %s, want %s", got, want)
	}
}
