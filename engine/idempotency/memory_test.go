package idempotency

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryStoreClaimCommitRelease(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	m := NewMemoryStore(0, c.now)
	tok, _, ok, err := m.Claim(ctx, "k", "fp", time.Minute)
	if !ok || err != nil || tok == "" {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if _, e, ok, _ := m.Claim(ctx, "k", "fp", time.Minute); ok || !e.Pending || e.Fingerprint != "fp" {
		t.Fatalf("second claim got %+v claimed=%v", e, ok)
	}
	// Another request's token changes nothing.
	_ = m.Commit(ctx, "k", "not-mine", Entry{Fingerprint: "fp", Status: 500}, time.Minute)
	_ = m.Release(ctx, "k", "not-mine")
	if _, e, _, _ := m.Claim(ctx, "k", "fp", time.Minute); !e.Pending {
		t.Fatalf("a stranger's token committed or released the claim: %+v", e)
	}
	_ = m.Commit(ctx, "k", tok, Entry{Fingerprint: "fp", Status: 200, Body: []byte("{}")}, time.Minute)
	if _, e, _, _ := m.Claim(ctx, "k", "fp", time.Minute); e.Pending || e.Status != 200 || string(e.Body) != "{}" {
		t.Fatalf("committed entry %+v", e)
	}
	// A committed entry is not released by its old token.
	_ = m.Release(ctx, "k", tok)
	if m.Len() != 1 {
		t.Fatal("release removed a committed entry")
	}
	c.add(time.Minute)
	if _, _, ok, _ := m.Claim(ctx, "k", "fp2", time.Minute); !ok {
		t.Fatal("key not reusable after its TTL")
	}
	tok2, _, _, _ := m.Claim(ctx, "r", "fp", time.Minute)
	_ = m.Release(ctx, "r", tok2)
	if _, _, ok, _ := m.Claim(ctx, "r", "fp", time.Minute); !ok {
		t.Fatal("released key not reusable")
	}
}

func TestMemoryStoreIsBoundedAndExpires(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	m := NewMemoryStore(100, c.now)
	for i := range 100 {
		// Mixed TTLs: expiry follows deadlines, not insertion order.
		ttl := time.Duration(1+i%3) * time.Second
		if _, _, ok, err := m.Claim(ctx, strconv.Itoa(i), "fp", ttl); !ok || err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	if _, _, _, err := m.Claim(ctx, "full", "fp", time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("claim over the bound: %v, want ErrUnavailable", err)
	}
	c.add(time.Second)
	if _, _, ok, err := m.Claim(ctx, "after-1s", "fp", time.Hour); !ok || err != nil {
		t.Fatalf("claim after the 1 s entries expired: %v", err)
	}
	if got, want := m.Len(), 100-34+1; got != want {
		t.Fatalf("%d entries after the 1 s ones expired, want %d", got, want)
	}
	c.add(2 * time.Second)
	_, _, _, _ = m.Claim(ctx, "x", "fp", time.Second)
	if m.Len() != 2 {
		t.Fatalf("%d entries left, want 2", m.Len())
	}
}

func TestGuardOutcomes(t *testing.T) {
	ctx := context.Background()
	g := New(Options{Store: NewMemoryStore(0, nil), Wait: 30 * time.Millisecond, Poll: 5 * time.Millisecond})
	c, err := g.Begin(ctx, "k", "fp", 0)
	if err != nil || c.Outcome != Proceed {
		t.Fatalf("first: %+v %v", c, err)
	}
	if d, _ := g.Begin(ctx, "k", "fp", 0); d.Outcome != InFlight {
		t.Fatalf("while in flight: %v", d.Outcome)
	}
	if d, _ := g.Begin(ctx, "k", "other", 0); d.Outcome != Conflict {
		t.Fatalf("other payload: %v", d.Outcome)
	}
	if err := g.Commit(ctx, &c, "fp", 202, []byte("body")); err != nil {
		t.Fatal(err)
	}
	if d, _ := g.Begin(ctx, "k", "fp", 0); d.Outcome != Replay || d.Entry.Status != 202 || string(d.Entry.Body) != "body" {
		t.Fatalf("duplicate: %+v", d)
	}
	a, _ := g.Begin(ctx, "a", "fp", 0)
	if err := g.Abort(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if d, _ := g.Begin(ctx, "a", "fp", 0); d.Outcome != Proceed {
		t.Fatalf("after abort: %v", d.Outcome)
	}
	if Fingerprint("ab", "c") == Fingerprint("a", "bc") {
		t.Fatal("fingerprint parts run into each other")
	}
}

func BenchmarkMemoryStoreClaimCommit(b *testing.B) {
	ctx := context.Background()
	m := NewMemoryStore(1<<20, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := strconv.Itoa(i & (1<<19 - 1))
		i++
		tok, _, ok, _ := m.Claim(ctx, k, "fp", time.Millisecond)
		if ok {
			_ = m.Commit(ctx, k, tok, Entry{Fingerprint: "fp", Status: 200}, time.Millisecond)
		}
	}
}

// A claim whose request never finished lapses after PendingTTL, not the
// key's whole TTL; a committed answer is kept for the key's TTL.
func TestGuardPendingClaimLapses(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	g := New(Options{Store: NewMemoryStore(0, c.now), Wait: time.Millisecond, Poll: time.Millisecond, PendingTTL: 10 * time.Second})
	if d, _ := g.Begin(ctx, "dead", "fp", time.Hour); d.Outcome != Proceed {
		t.Fatal(d.Outcome)
	}
	c.add(10 * time.Second)
	if d, _ := g.Begin(ctx, "dead", "fp", time.Hour); d.Outcome != Proceed {
		t.Fatalf("claim of a dead request still held: %v", d.Outcome)
	}
	done, _ := g.Begin(ctx, "done", "fp", time.Hour)
	_ = g.Commit(ctx, &done, "fp", 200, nil)
	c.add(time.Minute)
	if d, _ := g.Begin(ctx, "done", "fp", time.Hour); d.Outcome != Replay {
		t.Fatalf("committed answer lost before its TTL: %v", d.Outcome)
	}
}
