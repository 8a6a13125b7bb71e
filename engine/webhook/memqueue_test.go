package webhook

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMemoryQueue(t *testing.T) {
	q := NewMemoryQueue(4)
	ctx := context.Background()
	job := func(key, id string) *Job { return &Job{ID: id, Key: key} }
	for _, j := range []*Job{job("a", "a1"), job("a", "a2"), job("b", "b1"), job("a", "a3")} {
		if err := q.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(ctx, job("c", "c1")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("over capacity: %v", err)
	}
	recv := func(d time.Duration) *Delivery {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		dl, _ := q.Receive(ctx)
		return dl
	}
	want := func(d *Delivery, id string) {
		t.Helper()
		if d == nil || d.Job.ID != id {
			t.Fatalf("got %+v, want %s", d, id)
		}
	}
	a1, b1 := recv(time.Second), recv(time.Second)
	want(a1, "a1")
	want(b1, "b1")
	if d := recv(30 * time.Millisecond); d != nil {
		t.Fatalf("second job of a leased key: %s", d.Job.ID)
	}
	_ = q.Ack(ctx, a1)
	a2 := recv(time.Second)
	want(a2, "a2")
	a2.Job.Attempts = 1
	_ = q.Nack(ctx, a2, 80*time.Millisecond)
	if d := recv(30 * time.Millisecond); d != nil {
		t.Fatalf("handed out during backoff: %s", d.Job.ID)
	}
	a2 = recv(time.Second)
	want(a2, "a2")
	if n, _ := q.Len(ctx); n != 3 {
		t.Fatalf("Len %d", n)
	}
	_ = q.Ack(ctx, a2)
	want(recv(time.Second), "a3")
	_ = q.Close()
	if _, err := q.Receive(ctx); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}
}
