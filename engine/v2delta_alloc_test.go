//go:build !race

package engine

import (
	"testing"
)

// TestDeltaFanoutPerRecipientDoesNotAllocate: a delta publish allocates
// per message (the channel's record of it, one delta per base group),
// never per recipient: 200 delta subscribers cost the allocations of 10.
func TestDeltaFanoutPerRecipientDoesNotAllocate(t *testing.T) {
	allocs := func(n int) float64 {
		r := newDeltaRig(t, n, "fossil", false, 0, false)
		round := 0
		for ; round < 20; round++ { // every subscriber holds a base
			r.publish(round)
		}
		return testing.AllocsPerRun(50, func() {
			r.publish(round)
			round++
		})
	}
	few, many := allocs(10), allocs(200)
	if many > few {
		t.Fatalf("a delta publish allocates %.1f times with 200 subscribers, %.1f with 10", many, few)
	}
}
