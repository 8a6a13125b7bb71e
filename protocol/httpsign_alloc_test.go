//go:build !race

package protocol

import (
	"testing"
	"time"
)

// TestVerifyRequestAllocatesNothing: checking a signed publish as the SDKs
// send it, from strings or from the request's buffers, allocates nothing;
// escaped values and uppercase keys cost one buffer for them all.
func TestVerifyRequestAllocatesNothing(t *testing.T) {
	now := time.Unix(docsTS, 0)
	body := []byte(docsBody)
	q := docsQuery()
	checkNoAllocs(t, "VerifyRequest", func() {
		if err := VerifyRequest("POST", "/apps/3/events", q, body, vecKey, vecSecret, now); err != nil {
			t.Fatal(err)
		}
	})
	qb, method, path := []byte(q), []byte("POST"), []byte("/apps/3/events")
	checkNoAllocs(t, "VerifyRequestBytes", func() {
		if err := VerifyRequestBytes(method, path, qb, body, vecKey, vecSecret, now); err != nil {
			t.Fatal(err)
		}
	})
	params := map[string]string{"info": "user_count,subscription_count", "Extra": "a b"}
	signed := SignRequest("POST", "/apps/3/events", params, body, vecKey, vecSecret, now)
	n := testing.AllocsPerRun(100, func() {
		if err := VerifyRequest("POST", "/apps/3/events", signed, body, vecKey, vecSecret, now); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 {
		t.Errorf("VerifyRequest with escaped params: %v allocations per run, want 1", n)
	}
}

// TestDecodePublishEventAllocatesNothing: the plain decoder reads a
// one-channel publish without allocating (its strings alias the body).
func TestDecodePublishEventAllocatesNothing(t *testing.T) {
	body := `{"name":"tick","channel":"bench-3","data":"{\"n\":1}","socket_id":"1.2","info":"user_count"}`
	buf := make([]byte, len(body))
	var ev PublishEvent
	checkNoAllocs(t, "DecodePublishEvent", func() {
		copy(buf, body)
		if !DecodePublishEvent(buf, &ev) || ev.Channel != "bench-3" || ev.Data != `{"n":1}` {
			t.Fatalf("refused or misread: %+v", ev)
		}
	})
}
