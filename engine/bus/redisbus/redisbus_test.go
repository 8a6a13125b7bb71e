package redisbus

import (
	"testing"

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
