package engine

import (
	"testing"
	"time"
)

// TestWheelRemoveKeepsOthersFiled: removing connections from the middle of
// a slot leaves the others due, and a removed one is never checked.
func TestWheelRemoveKeepsOthersFiled(t *testing.T) {
	var w wheel
	now := time.Unix(1000, 0)
	w.init(now)
	conns := make([]*Conn, 5)
	for i := range conns {
		conns[i] = &Conn{wslot: -1}
		w.insert(conns[i], now.Add(time.Second).UnixNano())
	}
	w.remove(conns[1])
	w.remove(conns[4])
	w.remove(conns[1]) // twice is harmless
	checked := map[*Conn]bool{}
	w.advance(now.Add(2*time.Second), func(c *Conn, _ int64) int64 { checked[c] = true; return 0 })
	for i, c := range conns {
		if removed := i == 1 || i == 4; checked[c] == removed {
			t.Errorf("conn %d: checked %v, removed %v", i, checked[c], removed)
		}
		if c.wslot != -1 {
			t.Errorf("conn %d still marked as filed", i)
		}
	}
}

// TestWheelDueSleepsUntilTheNextFiledSlot: an idle worker wakes for the
// next connection to check, not every tick, and never sleeps unbounded.
func TestWheelDueSleepsUntilTheNextFiledSlot(t *testing.T) {
	var w wheel
	now := time.Unix(1000, 0)
	w.init(now)
	n := now.UnixNano()
	if got := w.due(n); got != n+int64(wheelMaxSleep) {
		t.Fatalf("empty wheel due in %v, want the %v cap", time.Duration(got-n), wheelMaxSleep)
	}
	w.insert(&Conn{wslot: -1}, now.Add(10*time.Second).UnixNano())
	w.insert(&Conn{wslot: -1}, now.Add(30*time.Second).UnixNano())
	if got := time.Duration(w.due(n) - n); got != 10*time.Second {
		t.Fatalf("due in %v, want 10s", got)
	}
	checked := 0
	w.advance(now.Add(10*time.Second), func(*Conn, int64) int64 { checked++; return 0 })
	if checked != 1 {
		t.Fatalf("%d checked at the first due time, want 1", checked)
	}
	if got := time.Duration(w.due(n+int64(10*time.Second)) - n); got != 30*time.Second {
		t.Fatalf("next due at %v, want 30s", got)
	}
	w.insert(&Conn{wslot: -1}, now.Add(5*time.Minute).UnixNano())
	w.advance(now.Add(30*time.Second), func(*Conn, int64) int64 { return 0 })
	if got := time.Duration(w.due(n+int64(30*time.Second)) - n); got != 30*time.Second+wheelMaxSleep {
		t.Fatalf("far deadline: due at %v, want the cap", got)
	}
}
