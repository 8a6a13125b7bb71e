package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestClusterHistorySlowStoreDoesNotStallBus: with the store stalled,
// forwarded publishes of several history channels wait for serials on
// their owner, each up to the reservation timeout; meanwhile a message
// of another channel, sequenced by the other node, still reaches the
// owner's subscriber at once: the bus goroutine never waits on the
// store, nor for a channel's sequencer lock while a reservation is in
// flight (a reset of that channel crosses the bus meanwhile). The
// stalled forwards are still delivered, each channel's in
// order.
func TestClusterHistorySlowStoreDoesNotStallBus(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	ownerNode := ownerName("room")
	blockOf := func(name string) int { // the owner reserves at every publish, the other ahead
		if name == ownerNode {
			return 1
		}
		return 64
	}
	a, _ := historyNode(t, hub, store, "a", nil, blockOf("a"))
	b, _ := historyNode(t, hub, store, "b", nil, blockOf("b"))
	owner, other := ownerAndOther(a, b, "room")
	var slow []string // channels the owner sequences
	probe := ""       // a channel the other node sequences
	for i := 0; len(slow) < 4 || probe == ""; i++ {
		ch := fmt.Sprint("ch", i)
		if ownerName(ch) == ownerNode {
			slow = append(slow, ch)
		} else if probe == "" {
			probe = ch
		}
	}
	watch := connectV2(t, owner, "")
	for _, ch := range slow {
		watch.subscribeV2(ch)
	}
	co := connectV2(t, owner, "")
	co.subscribeV2(probe)
	publish(t, other, probe, "ev", "first", "") // the other node holds a block of its serials
	if m := co.expectV2("ev"); m.Serial == nil || *m.Serial != 1 {
		t.Fatalf("probe channel's first publish: %s", m.Raw)
	}
	for _, ch := range slow { // uses the serial subscribing reserved: the next one must wait for the store
		publish(t, other, ch, "ev", "first", "")
		if m := watch.expectV2("ev"); m.Serial == nil || *m.Serial != 1 {
			t.Fatalf("first publish: %s", m.Raw)
		}
	}
	store.stall.Store(true)
	for i := range 2 {
		for _, ch := range slow {
			publish(t, other, ch, "ev", fmt.Sprint("slow", i), "")
		}
	}
	// A reset of a stalled channel reaches the owner's bus goroutine,
	// which must not wait for the reservation in flight either.
	if _, err := other.ResetHistory(t.Context(), testAppFrom(other), slow[0], "test"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	publish(t, other, probe, "ev", "probe", "")
	m := co.expectV2("ev")
	if took := time.Since(start); m.dataString(t) != "probe" || m.Serial == nil || took > 400*time.Millisecond {
		t.Fatalf("probe behind %d stalled forwards: %s after %v", len(slow), m.Raw, took)
	}
	// The stalled ones arrive too (without a serial once the
	// reservation gave up), each channel's in order.
	got := map[string][]string{}
	for range 2 * len(slow) {
		m := watch.expectV2("ev")
		got[m.Channel] = append(got[m.Channel], m.dataString(t))
	}
	for _, ch := range slow {
		if !slices.Equal(got[ch], []string{"slow0", "slow1"}) {
			t.Fatalf("stalled forwards delivered: %v", got)
		}
	}
	store.stall.Store(false)
	watch.quiet()
	co.quiet()
}
