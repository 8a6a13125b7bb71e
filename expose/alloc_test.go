//go:build !race

package expose

import (
	"testing"
	"time"
)

// The observer methods run on the engine's and the HTTP adapter's hot
// paths: once a series exists they must not allocate.
func TestObserversDoNotAllocate(t *testing.T) {
	n := newNode(t, Options{}, false)
	s := n.srv
	f := func(name string, fn func()) {
		t.Helper()
		fn() // create the series
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s: %v allocs per call", name, a)
		}
	}
	f("ObserveBroadcast", func() { s.ObserveBroadcast(time.Millisecond) })
	f("ObserveHTTP", func() { s.ObserveHTTP("/apps/{app_id}/events", "POST", "app-1", 200, time.Millisecond, 10, 2) })
	f("ObserveHTTP unmatched", func() { s.ObserveHTTP("", "GET", "", 404, 0, 0, 2) })
	f("RateLimited", func() { s.RateLimited("api") })
	f("WebhookDelivered", func() { s.WebhookDelivered("2xx") })
	f("QueueJobProcessed", func() { s.QueueJobProcessed(time.Millisecond) })
	f("AppStoreLookup", func() { s.AppStoreLookup("hit") })
	f("AppStoreError", func() { s.AppStoreError() })
}
