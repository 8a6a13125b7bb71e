package redisqueue

import (
	"context"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/webhook"
)

func newQueue(t *testing.T, url string, lease time.Duration) *Queue {
	t.Helper()
	q, err := New(Options{URL: url, Prefix: "test:", LeaseDuration: lease, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func job(key, id string) *webhook.Job {
	return &webhook.Job{ID: id, Key: key, URL: "http://x", Body: `{"id":"` + id + `"}`}
}

// receive returns the next delivery, or nil when none comes within d.
func receive(t *testing.T, q *Queue, d time.Duration) *webhook.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	dl, err := q.Receive(ctx)
	if err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	return dl
}

func mustID(t *testing.T, d *webhook.Delivery, id string) {
	t.Helper()
	if d == nil || d.Job.ID != id {
		t.Fatalf("got %+v, want job %s", d, id)
	}
}

func TestQueueOrderPerKey(t *testing.T) {
	for _, unix := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "unix"}[unix]
		t.Run(name, func(t *testing.T) {
			q := newQueue(t, startRedis(t, unix), time.Minute)
			ctx := context.Background()
			for _, j := range []*webhook.Job{job("a", "a1"), job("a", "a2"), job("a", "a3"), job("b", "b1")} {
				if err := q.Enqueue(ctx, j); err != nil {
					t.Fatal(err)
				}
			}
			if n, _ := q.Len(ctx); n != 4 {
				t.Fatalf("Len %d", n)
			}
			d1 := receive(t, q, time.Second)
			d2 := receive(t, q, time.Second)
			if d1 == nil || d2 == nil || d1.Job.Key == d2.Job.Key {
				t.Fatalf("want the heads of a and b, got %+v %+v", d1, d2)
			}
			if d1.Job.Key == "b" {
				d1, d2 = d2, d1
			}
			mustID(t, d1, "a1")
			mustID(t, d2, "b1")
			if d := receive(t, q, 60*time.Millisecond); d != nil {
				t.Fatalf("a second job of a leased key: %+v", d.Job)
			}
			if err := q.Ack(ctx, d1); err != nil {
				t.Fatal(err)
			}
			d3 := receive(t, q, time.Second)
			mustID(t, d3, "a2")
			d3.Job.Attempts = 1
			if err := q.Nack(ctx, d3, 150*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if d := receive(t, q, 60*time.Millisecond); d != nil {
				t.Fatalf("handed out during its backoff: %+v", d.Job)
			}
			d4 := receive(t, q, 2*time.Second)
			mustID(t, d4, "a2")
			if d4.Job.Attempts != 1 {
				t.Fatalf("nack lost the update: %+v", d4.Job)
			}
			for _, d := range []*webhook.Delivery{d4, d2} {
				if err := q.Ack(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			mustID(t, receive(t, q, time.Second), "a3")
			if n, _ := q.Len(ctx); n != 1 { // a3 in flight, counted; a2, b1 gone
				t.Fatalf("Len %d, want 1", n)
			}
		})
	}
}

// TestLeaseLapse: a job whose receiver vanished is handed out again once
// its lease lapses, to another node, and the stale receiver's late
// ack/nack does not disturb the new owner.
func TestLeaseLapse(t *testing.T) {
	url := startRedis(t, true)
	ctx := context.Background()
	q1 := newQueue(t, url, 150*time.Millisecond)
	q2 := newQueue(t, url, time.Minute)
	for _, j := range []*webhook.Job{job("k", "1"), job("k", "2")} {
		if err := q1.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	stale := receive(t, q1, time.Second)
	mustID(t, stale, "1")
	start := time.Now()
	d := receive(t, q2, 2*time.Second)
	mustID(t, d, "1")
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("re-delivered after %v, before the lease lapsed", el)
	}
	// The stale owner's nack is ignored; its ack removes the delivered
	// job but leaves the key leased by q2.
	if err := q1.Nack(ctx, stale, 0); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, q1, 60*time.Millisecond); d != nil {
		t.Fatalf("stale nack released the key: %+v", d.Job)
	}
	if err := q1.Ack(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, q1, 60*time.Millisecond); d != nil {
		t.Fatalf("stale ack released the key: %+v", d.Job)
	}
	if err := q2.Ack(ctx, d); err != nil { // head is now "2": nothing popped
		t.Fatal(err)
	}
	d2 := receive(t, q2, time.Second)
	mustID(t, d2, "2")
	if err := q2.Ack(ctx, d2); err != nil {
		t.Fatal(err)
	}
	if n, _ := q2.Len(ctx); n != 0 {
		t.Fatalf("Len %d", n)
	}
}
