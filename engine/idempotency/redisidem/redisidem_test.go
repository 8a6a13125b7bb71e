package redisidem

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockudo/sockudo-go/engine/idempotency"
	"github.com/sockudo/sockudo-go/engine/redistest"
)

func newStore(t *testing.T, url string) *Store {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(Options{Client: c, Prefix: "test:", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTwoNodesShareKeys drives two stores (two nodes) over one Redis
// through a Guard each: what one claims or commits the other sees.
func TestTwoNodesShareKeys(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a, b := newStore(t, srv.URL), newStore(t, srv.URL)
	ga := idempotency.New(idempotency.Options{Store: a, Wait: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
	gb := idempotency.New(idempotency.Options{Store: b, Wait: 50 * time.Millisecond, Poll: 10 * time.Millisecond})
	var c idempotency.Claim
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if c, err = ga.Begin(ctx, "app:1:idempotency:k", "fp", time.Minute); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Outcome != idempotency.Proceed {
		t.Fatalf("first claim: %v", c.Outcome)
	}
	if d, err := gb.Begin(ctx, "app:1:idempotency:k", "fp", time.Minute); err != nil || d.Outcome != idempotency.InFlight {
		t.Fatalf("node b while a is in flight: %v %v", d.Outcome, err)
	}
	if d, _ := gb.Begin(ctx, "app:1:idempotency:k", "other", time.Minute); d.Outcome != idempotency.Conflict {
		t.Fatalf("node b with another payload: %v", d.Outcome)
	}
	body := []byte(`{"channels":{"a|b":{}}}`) // a | in the body must survive
	if err := ga.Commit(ctx, &c, "fp", 200, body); err != nil {
		t.Fatal(err)
	}
	d, err := gb.Begin(ctx, "app:1:idempotency:k", "fp", time.Minute)
	if err != nil || d.Outcome != idempotency.Replay || d.Entry.Status != 200 || string(d.Entry.Body) != string(body) {
		t.Fatalf("node b after commit: %+v %v", d, err)
	}
	// A failed publish on a releases its claim for b.
	r, _ := ga.Begin(ctx, "r", "fp", time.Minute)
	if err := ga.Abort(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if d, _ := gb.Begin(ctx, "r", "fp", time.Minute); d.Outcome != idempotency.Proceed {
		t.Fatalf("after release: %v", d.Outcome)
	}
	// A stale token neither commits nor releases another's claim.
	if err := a.Release(ctx, "r", "stale"); err != nil {
		t.Fatal(err)
	}
	if d, _ := ga.Begin(ctx, "r", "fp", time.Minute); d.Outcome != idempotency.InFlight {
		t.Fatalf("stale release removed a claim: %v", d.Outcome)
	}
	// Keys expire with their TTL (PX).
	e, _ := ga.Begin(ctx, "e", "fp", 100*time.Millisecond)
	_ = ga.Commit(ctx, &e, "fp", 200, []byte("{}"))
	deadline = time.Now().Add(5 * time.Second)
	for {
		d, _ := gb.Begin(ctx, "e", "other", time.Minute)
		if d.Outcome == idempotency.Proceed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key never expired: %v", d.Outcome)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Redis down: every call fails with ErrUnavailable.
	srv.Stop()
	if _, err := gb.Begin(ctx, "z", "fp", time.Minute); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Fatalf("with redis down: %v", err)
	}
}

func TestDecodeRefusesGarbage(t *testing.T) {
	for _, v := range []string{"", "x", "p|nofp", "c|fp|notanumber|b", "c|fp"} {
		if _, err := decode(v); err == nil {
			t.Errorf("%q decoded", v)
		}
	}
	e, err := decode("c|fp|201|a|b")
	if err != nil || e.Status != 201 || string(e.Body) != "a|b" || e.Fingerprint != "fp" {
		t.Fatalf("%+v %v", e, err)
	}
}

// FuzzDecode: any stored value decodes or is refused, never panics, and a
// committed entry round-trips.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"p|tok|fp", "c|fp|200|{}", "c|fp|200|a|b", "", "c||x|", "p|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e, err := decode(v)
		if err != nil || e.Pending {
			return
		}
		again, err := decode("c|" + e.Fingerprint + "|" + strconv.Itoa(e.Status) + "|" + string(e.Body))
		if err != nil || again.Status != e.Status || string(again.Body) != string(e.Body) || again.Fingerprint != e.Fingerprint {
			t.Fatalf("%q: %+v, again %+v %v", v, e, again, err)
		}
	})
}
