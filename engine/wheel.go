package engine

import "time"

// wheelTick is the timer granularity: activity timeouts are whole seconds,
// so a quarter second is precise enough and costs four wake-ups a second.
const wheelTick = 250 * time.Millisecond

// wheelMaxSleep bounds how long an idle worker sleeps, so its wheel's
// clock never falls far behind.
const wheelMaxSleep = time.Minute

// wheelSlots × wheelTick is the horizon (~17 min); later deadlines sit in
// the last slot and are re-filed when it comes round.
const wheelSlots = 4096

// wheel is a hashed timing wheel of connections, one per worker, so a
// connection costs no goroutine and no runtime timer. Entries are lazy: a
// connection is filed under its next check time and, when the slot comes
// up, the callback says when to look again (activity since filing just
// moves it later). The worker sleeps until the next filed slot (see due),
// not every tick: idle connections are checked once per activity timeout
// and cost no wake-ups in between. Owned by the worker goroutine.
type wheel struct {
	slots [wheelSlots][]*Conn
	cur   int
	at    int64 // unix nanos of slot cur
}

func (w *wheel) init(now time.Time) { w.at = now.UnixNano() }

// insert files c to be checked at unix nanos t (0 means never).
func (w *wheel) insert(c *Conn, t int64) {
	if t == 0 {
		return
	}
	ticks := (t - w.at + int64(wheelTick) - 1) / int64(wheelTick)
	ticks = max(1, min(ticks, wheelSlots-1))
	i := (w.cur + int(ticks)) % wheelSlots
	c.wslot, c.wpos = int32(i), int32(len(w.slots[i]))
	w.slots[i] = append(w.slots[i], c)
}

// remove takes a closed connection out of the wheel at once, so its memory
// is not held until its slot comes round (up to the activity timeout).
func (w *wheel) remove(c *Conn) {
	if c.wslot < 0 {
		return
	}
	s := w.slots[c.wslot]
	last := len(s) - 1
	if int(c.wpos) < last {
		s[c.wpos] = s[last]
		s[c.wpos].wpos = c.wpos
	}
	s[last] = nil
	w.slots[c.wslot] = s[:last]
	c.wslot = -1
}

// advance runs every slot up to now; check returns each connection's next
// check time, 0 to drop it.
func (w *wheel) advance(now time.Time, check func(*Conn, int64) int64) {
	n := now.UnixNano()
	for w.at+int64(wheelTick) <= n {
		w.at += int64(wheelTick)
		w.cur = (w.cur + 1) % wheelSlots
		due := w.slots[w.cur]
		w.slots[w.cur] = nil
		for i, c := range due {
			due[i] = nil
			c.wslot = -1
			w.insert(c, check(c, n))
		}
		if w.slots[w.cur] == nil && cap(due) <= 1024 {
			w.slots[w.cur] = due[:0]
		}
	}
}

// due returns when the next non-empty slot comes up (unix nanos), at most
// wheelMaxSleep after now.
func (w *wheel) due(now int64) int64 {
	limit := now + int64(wheelMaxSleep)
	for k := 1; k < wheelSlots; k++ {
		t := w.at + int64(k)*int64(wheelTick)
		if t >= limit {
			break
		}
		if len(w.slots[(w.cur+k)%wheelSlots]) > 0 {
			return t
		}
	}
	return limit
}
