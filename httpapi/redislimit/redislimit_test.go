package redislimit

import (
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/redistest"

	"github.com/sockudo/sockudo-go/httpapi"
)

func TestSharedWindowAgainstRedis(t *testing.T) {
	url := redistest.Start(t, false).URL
	a, _ := New(Options{URL: url})
	b, _ := New(Options{URL: url}) // a second node
	defer a.Close()
	defer b.Close()
	rule := httpapi.Rule{Max: 3, Window: time.Minute}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := a.Take("warmup", 1, rule); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []bool{true, true, true, false}
	for i, lim := range []*Limiter{a, b, a, b} { // both nodes draw on one budget
		d, err := lim.Take("api:1.2.3.4", 1, rule)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != want[i] || d.Limit != 3 || d.Reset <= 0 || d.Reset > time.Minute {
			t.Fatalf("take %d: %+v", i, d)
		}
		if !d.Allowed && d.Remaining != 0 {
			t.Fatalf("refusal with Remaining %d", d.Remaining)
		}
	}
	if d, _ := a.Take("api:other", 4, rule); d.Allowed {
		t.Fatal("n above the maximum allowed")
	}
}
