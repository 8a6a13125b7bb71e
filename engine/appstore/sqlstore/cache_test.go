package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// TestAppCache: fills land in the overlay and then the snapshot; settle
// leaves every app on the lock-free path; a new key for an id replaces the
// old key; remove drops both indexes.
func TestAppCache(t *testing.T) {
	c := newAppCache()
	for i := range 100 {
		c.put(&entry{app: &engine.App{ID: fmt.Sprint(i), Key: fmt.Sprintf("k%d", i)}})
	}
	if c.len() != 100 || c.byKey("k99") == nil || c.byID("99") == nil {
		t.Fatalf("len %d", c.len())
	}
	c.settle()
	if c.pending.Load() != 0 || len(c.snap.Load().apps) != 100 {
		t.Fatalf("after settle: %d pending, %d in the snapshot", c.pending.Load(), len(c.snap.Load().apps))
	}
	c.put(&entry{app: &engine.App{ID: "5", Key: "rotated"}})
	if c.byKey("k5") != nil || c.byKey("rotated") == nil || c.byID("5").app.Key != "rotated" || c.len() != 100 {
		t.Fatal("key rotation")
	}
	c.remove("5")
	if c.byKey("rotated") != nil || c.byID("5") != nil || c.len() != 99 || len(c.entries()) != 99 {
		t.Fatal("remove")
	}
}

// TestNegCacheBounded: the negative cache never holds more than its bound
// and forgets entries after the TTL.
func TestNegCacheBounded(t *testing.T) {
	n := newNegCache(50*time.Millisecond, 100)
	for i := range 1000 {
		n.add(fmt.Sprint(i))
	}
	if n.size() > 100 {
		t.Fatalf("%d entries, bound 100", n.size())
	}
	n.add("x")
	if !n.has("x") {
		t.Fatal("fresh entry missing")
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.has("x") {
		if time.Now().After(deadline) {
			t.Fatal("entry never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
