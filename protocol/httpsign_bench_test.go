package protocol

import (
	"testing"
	"time"
)

func BenchmarkVerifyRequest(b *testing.B) {
	now := time.Unix(docsTS, 0)
	body := []byte(docsBody)
	q := docsQuery()
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyRequest("POST", "/apps/3/events", q, body, vecKey, vecSecret, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyChannelAuth(b *testing.B) {
	const channelData = `{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`
	auth := vecKey + ":" + SignChannel(vecSecret, vecSocket, "presence-foobar", channelData)
	b.ReportAllocs()
	for b.Loop() {
		if !VerifyChannelAuth(vecKey, vecSecret, auth, vecSocket, "presence-foobar", channelData) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkVerifyRequestBytes(b *testing.B) {
	now := time.Unix(docsTS, 0)
	body := []byte(docsBody)
	q := []byte(docsQuery())
	method, path := []byte("POST"), []byte("/apps/3/events")
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyRequestBytes(method, path, q, body, vecKey, vecSecret, now); err != nil {
			b.Fatal(err)
		}
	}
}
