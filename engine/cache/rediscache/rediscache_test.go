package rediscache

import (
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/redistest"
)

func TestSetGetAgainstRedis(t *testing.T) {
	srv := redistest.Start(t, false)
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	deadline := time.Now().Add(5 * time.Second)
	for c.Set(ctx, "1", "cache-x", "tick", `{"p":1}`, time.Minute) != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis never accepted a write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ev, data, ttl, ok, err := c.Get(ctx, "1", "cache-x")
	if err != nil || !ok || ev != "tick" || data != `{"p":1}` || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("got %q %q %v %v %v", ev, data, ttl, ok, err)
	}
	if _, _, _, ok, err := c.Get(ctx, "1", "cache-missing"); ok || err != nil {
		t.Fatalf("missing key: ok %v err %v", ok, err)
	}
}
