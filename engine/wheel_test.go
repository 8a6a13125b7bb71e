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
