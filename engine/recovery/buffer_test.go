package recovery

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func appendN(b *Buffer, ch string, n, size int) (stream string, last uint64) {
	for i := 0; i < n; i++ {
		b.Append("app", ch, size, func(s string, serial uint64) []byte {
			stream, last = s, serial
			return []byte(fmt.Sprintf("m%d", serial))
		})
	}
	return stream, last
}

type result struct {
	got            []string
	cur            string
	head, oldest   uint64
	reason         string
	emitsAfterDone bool
}

func replay(b *Buffer, ch, stream string, serial uint64, max int) result {
	var r result
	done := false
	b.Replay("app", ch, stream, serial, max, func(s uint64, p []byte) {
		r.emitsAfterDone = r.emitsAfterDone || done
		r.got = append(r.got, fmt.Sprintf("%d:%s", s, p))
	}, func(cur string, head, oldest uint64, reason string) {
		done = true
		r.cur, r.head, r.oldest, r.reason = cur, head, oldest, reason
	})
	return r
}

func TestBufferAssignsSerialsAndReplays(t *testing.T) {
	b := New(Options{})
	var head0 uint64 = 99
	var stream0 string
	b.Head("app", "c", func(s string, serial uint64) { stream0, head0 = s, serial })
	if head0 != 0 || stream0 == "" {
		t.Fatalf("new channel head %q %d", stream0, head0)
	}
	stream, last := appendN(b, "c", 5, 0)
	if stream != stream0 || last != 5 {
		t.Fatalf("stream %q serial %d", stream, last)
	}
	r := replay(b, "c", stream, 2, 100)
	if r.reason != "" || fmt.Sprint(r.got) != "[3:m3 4:m4 5:m5]" || r.head != 5 || r.oldest != 1 || r.emitsAfterDone {
		t.Fatalf("%+v", r)
	}
	if r := replay(b, "c", stream, 5, 100); r.reason != "" || len(r.got) != 0 {
		t.Fatalf("at head: %+v", r)
	}
	if r := replay(b, "c", "", 4, 100); r.reason != "" || len(r.got) != 1 {
		t.Fatalf("legacy: %+v", r)
	}
}

func TestBufferFailures(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	b := New(Options{TTL: time.Minute, Now: clk.Now})
	stream, _ := appendN(b, "c", 10, 4) // keeps 7..10
	cases := []struct {
		name, stream string
		serial       uint64
		max          int
		reason       string
	}{
		{"other stream", "x", 9, 100, ReasonStreamMismatch},
		{"evicted", stream, 3, 100, ReasonHotExpired},
		{"over the window", stream, 5, 4, ReasonWindowExceeded},
		{"ahead", stream, 11, 100, ReasonHotExpired},
	}
	for _, c := range cases {
		if r := replay(b, "c", c.stream, c.serial, c.max); r.reason != c.reason || len(r.got) != 0 {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	if r := replay(b, "c", stream, 6, 4); r.reason != "" || len(r.got) != 4 {
		t.Fatalf("exactly the window: %+v", r)
	}
	if r := replay(b, "nochannel", "s", 1, 100); r.reason != ReasonStreamMismatch || r.cur != "" {
		t.Fatalf("unknown channel: %+v", r)
	}
	clk.add(2 * time.Minute)
	if r := replay(b, "c", stream, 9, 100); r.reason != ReasonHotExpired || r.head != 10 || r.cur != stream {
		t.Fatalf("after TTL: %+v", r)
	}
	// The stream and its head survive the TTL; the next publish continues.
	_, last := appendN(b, "c", 1, 4)
	if last != 11 {
		t.Fatalf("serial after TTL %d", last)
	}
	// Idle streams with nothing kept are forgotten by Sweep.
	clk.add(time.Hour)
	b.Sweep()
	if b.Len() != 0 {
		t.Fatalf("%d streams after sweep", b.Len())
	}
}

func TestBufferStoreWithForeignStream(t *testing.T) {
	b := New(Options{})
	b.Store("app", "c", "s1", 1, []byte("a"), 0)
	b.Store("app", "c", "s1", 2, []byte("b"), 0)
	if r := replay(b, "c", "s1", 0, 100); fmt.Sprint(r.got) != "[1:a 2:b]" {
		t.Fatalf("%+v", r)
	}
	b.Store("app", "c", "s2", 7, []byte("c"), 0) // a different stream clears the buffer
	if r := replay(b, "c", "s1", 2, 100); r.reason != ReasonStreamMismatch || r.cur != "s2" {
		t.Fatalf("old stream: %+v", r)
	}
	if r := replay(b, "c", "s2", 6, 100); fmt.Sprint(r.got) != "[7:c]" {
		t.Fatalf("new stream: %+v", r)
	}
	if r := replay(b, "c", "s2", 5, 100); r.reason != ReasonHotExpired {
		t.Fatalf("before the new stream's first: %+v", r)
	}
}

func TestBufferResize(t *testing.T) {
	b := New(Options{})
	stream, _ := appendN(b, "c", 10, 8)
	appendN(b, "c", 1, 3) // shrink keeps the newest
	if r := replay(b, "c", stream, 8, 100); fmt.Sprint(r.got) != "[9:m9 10:m10 11:m11]" {
		t.Fatalf("%+v", r)
	}
}

func TestBufferConcurrentAppendsAreOrdered(t *testing.T) {
	b := New(Options{MaxSize: 10000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []uint64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				b.Append("app", "c", 0, func(_ string, serial uint64) []byte {
					mu.Lock()
					order = append(order, serial)
					mu.Unlock()
					return nil
				})
			}
		}()
	}
	wg.Wait()
	for i, s := range order {
		if s != uint64(i+1) {
			t.Fatalf("deliver saw serial %d at %d: appends are not serialized", s, i)
		}
	}
}

// BenchmarkAppend is the cost of keeping one broadcast (the issue's
// budget: ≤ 1 µs per message) with a full ring of 100 200-byte messages.
func BenchmarkAppend(b *testing.B) {
	buf := New(Options{})
	payload := make([]byte, 200)
	deliver := func(string, uint64) []byte { return payload }
	for i := 0; i < 200; i++ {
		buf.Append("app", "bench", 0, deliver)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Append("app", "bench", 0, deliver)
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	buf := New(Options{})
	payload := make([]byte, 200)
	deliver := func(string, uint64) []byte { return payload }
	for i := 0; i < 200; i++ {
		buf.Append("app", "c", 0, deliver)
	}
	if n := testing.AllocsPerRun(1000, func() { buf.Append("app", "c", 0, deliver) }); n != 0 {
		t.Fatalf("Append allocates %.1f per message once the ring is warm", n)
	}
}

// TestBufferAppendNeverContinuesAForeignStream: a buffer that kept
// another sequencer's stream starts its own when it assigns, so two
// nodes never hand out the same serial of one stream; its own stream it
// continues, also after a Head.
func TestBufferAppendNeverContinuesAForeignStream(t *testing.T) {
	b := New(Options{})
	own, _ := appendN(b, "c", 2, 0)
	b.Head("app", "c", func(s string, serial uint64) {
		if s != own || serial != 2 {
			t.Fatalf("head %q %d", s, serial)
		}
	})
	if s, last := appendN(b, "c", 1, 0); s != own || last != 3 {
		t.Fatalf("own stream not continued: %q %d", s, last)
	}
	b.Store("app", "c", "foreign", 41, []byte("x"), 0)
	s, last := appendN(b, "c", 1, 0)
	if s == "foreign" || s == own || last != 1 {
		t.Fatalf("after a foreign stream: %q %d", s, last)
	}
	if r := replay(b, "c", s, 0, 100); fmt.Sprint(r.got) != "[1:m1]" {
		t.Fatalf("new stream keeps only its own message: %+v", r)
	}
	if r := replay(b, "c", "foreign", 41, 100); r.reason != ReasonStreamMismatch {
		t.Fatalf("foreign position: %+v", r)
	}
}
