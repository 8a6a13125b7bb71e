package engine

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sockudo/sockudo-go/protocol"
)

// TestSlowConsumerCloseDoesNotStallWorker: a subscriber that stops reading
// is closed with 4100 once its backlog passes max_backpressure, while its
// flusher is still blocked writing to it. The other connections of the same
// worker keep receiving meanwhile (a worker blocked behind that write piles
// up every publish in its inbox), no more than max_backpressure is kept
// for the slow one, and once it reads again it gets whole frames without a
// gap, with pusher:error and the close frame last.
func TestSlowConsumerCloseDoesNotStallWorker(t *testing.T) {
	e := newEngine(t, Options{Shards: 1, MaxBackpressure: 4096})
	slow, fast := connect(t, e, "key"), connect(t, e, "key")
	slow.mustSubscribe("feed")
	fast.mustSubscribe("feed")
	unblock := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release) // before the engine's Shutdown, which waits for the worker
	slow.tr.mu.Lock()
	slow.tr.blocked, slow.tr.unblock = true, unblock
	slow.tr.mu.Unlock()

	data := strings.Repeat("x", 1024)
	for i := range 20 {
		publish(t, e, "feed", "e"+strconv.Itoa(i), data, "")
	}
	for i := range 20 {
		if m := fast.expect("e" + strconv.Itoa(i)); m.DataString() != data {
			t.Fatalf("event %d: data of %d bytes", i, len(m.DataString()))
		}
	}
	if n := e.stats.slowConsumers.Load(); n != 1 {
		t.Fatalf("%d slow consumers counted, want 1", n)
	}

	slow.tr.mu.Lock()
	slow.tr.blocked = false
	slow.tr.mu.Unlock()
	release()
	var events int
	for {
		m, ok := slow.next()
		if !ok {
			t.Fatal("the slow consumer's stream ended without a close frame")
		}
		if m.Event == "close" {
			if m.Close != int(protocol.CodeOverCapacity) {
				t.Fatalf("close code %d, want %d", m.Close, protocol.CodeOverCapacity)
			}
			break
		}
		if m.Event == protocol.EventError {
			continue
		}
		if m.Event != "e"+strconv.Itoa(events) {
			t.Fatalf("slow consumer got %s after %d events", m.Event, events)
		}
		events++
	}
	// 1 KiB events within 4 KiB of backlog and write in progress.
	if events > 4 {
		t.Fatalf("the slow consumer was sent %d events: more than max_backpressure was kept for it", events)
	}
	if m, ok := slow.parse(); ok {
		t.Fatalf("%s after the close frame", m.Event)
	}
	waitFor(t, "slow transport closed", func() bool {
		slow.tr.mu.Lock()
		defer slow.tr.mu.Unlock()
		return slow.tr.closed
	})
}
