package engine

import (
	"sync/atomic"
	"time"
)

// LogLimiter lets one log line through per second for an event that can
// repeat thousands of times a second (a failing app store refusing every
// connect); the others are counted and the count goes with the next line.
// The zero value is ready; safe for concurrent use.
type LogLimiter struct {
	next       atomic.Int64 // unix nanos before which lines are held
	suppressed atomic.Int64
}

// Due counts one occurrence and reports whether a line may be logged now,
// with the occurrences since the last line (this one included).
func (l *LogLimiter) Due(now time.Time) (n int64, ok bool) {
	l.suppressed.Add(1)
	t := l.next.Load()
	if now.UnixNano() < t || !l.next.CompareAndSwap(t, now.Add(time.Second).UnixNano()) {
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
