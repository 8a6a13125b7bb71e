package redisbus

import (
	"runtime"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/redistest"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus/bustest"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, false)
	url := srv.URL
	bustest.Run(t, bustest.Env{
		New: func(t *testing.T) engine.Bus {
			b, err := New(Options{URL: url, Prefix: "test:"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Outage:  func(t *testing.T) { srv.Stop() },
		Restore: func(t *testing.T) { srv.Restart() },
	})
}

func TestFraming(t *testing.T) {
	b := &Bus{self: "me"}
	if _, ok := b.unframe(string(b.frame([]byte("x")))); ok {
		t.Fatal("own message not dropped")
	}
	other := &Bus{self: "other"}
	if p, ok := b.unframe(string(other.frame([]byte("hello")))); !ok || string(p) != "hello" {
		t.Fatalf("unframe %q %v", p, ok)
	}
	if _, ok := b.unframe("\x09ab"); ok {
		t.Fatal("truncated frame accepted")
	}
}

// BenchmarkPublish is one node publishing as fast as it can to another,
// through a real Redis, until the other has received everything: the bus's
// throughput for a node whose publishes are ordered.
func BenchmarkPublish(b *testing.B) {
	srv := redistest.Start(b, false)
	start := func(id string) (*Bus, *bustest.Recorder) {
		bus, err := New(Options{URL: srv.URL, Prefix: "bench:"})
		if err != nil {
			b.Fatal(err)
		}
		r := &bustest.Recorder{}
		if err := bus.Start(id, r); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = bus.Close() })
		return bus, r
	}
	a, _ := start("a")
	_, rb := start("b")
	msg := make([]byte, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for a.Publish(msg) != nil {
			runtime.Gosched() // the queue is full: Redis sets the pace
		}
	}
	for rb.Count() < b.N {
		time.Sleep(time.Millisecond)
	}
}
