//go:build !race

package engine

import "testing"

// TestFanoutAllocatesNothingPerDelivery: a publish to 1,000 subscribers must
// allocate no more than a publish to 1 (pooled frame, pooled jobs): zero
// allocations per delivery.
func TestFanoutAllocatesNothingPerDelivery(t *testing.T) {
	perPublish := func(n int) float64 {
		r := newFanoutRig(t, n)
		round := int64(0)
		for range 20 { // warm the pools and the inbox slices
			round++
			r.publish(round)
		}
		return testing.AllocsPerRun(200, func() {
			round++
			r.publish(round)
		})
	}
	one, many := perPublish(1), perPublish(1000)
	if many > one || many > 1 {
		t.Fatalf("allocations per publish: %.1f with 1 subscriber, %.1f with 1,000: want 0 per delivery and ≤ 1 per publish", one, many)
	}
}

// TestSmallChannelPublishAllocatesNothing: a publish to a channel of 10
// subscribers, written by the publishing goroutine itself (worker.publish),
// allocates nothing: the job it processes lives in the worker, not on the
// heap.
func TestSmallChannelPublishAllocatesNothing(t *testing.T) {
	r := newFanoutRig(t, 10)
	round := int64(0)
	for range 20 {
		round++
		r.publish(round)
	}
	if n := testing.AllocsPerRun(200, func() {
		round++
		r.publish(round)
	}); n > 0 {
		t.Fatalf("%.1f allocations per publish to 10 subscribers, want 0", n)
	}
}
