package engine

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// subscribeTo subscribes cl to channel and waits for the acknowledgement.
func (cl *client) subscribeTo(channel string) {
	cl.t.Helper()
	cl.sendJSON("pusher:subscribe", map[string]string{"channel": channel}, "")
	cl.expect("pusher_internal:subscription_succeeded")
}

// TestSmallPublishWrittenBeforePublishReturns: a publish to a channel with
// few subscribers on an idle worker is written by the publishing goroutine,
// so the frame is on the socket when Publish returns (no handoff to the
// worker goroutine). A worker busy with its wheel at that instant takes the
// job instead, so the test asks for most publishes, not all.
func TestSmallPublishWrittenBeforePublishReturns(t *testing.T) {
	e := newEngine(t, Options{})
	app := testApp()
	cl := connect(t, e, "key")
	cl.subscribeTo("small")
	const n = 50
	early := 0
	for i := range n {
		cl.tr.mu.Lock()
		before := len(cl.tr.out)
		cl.tr.mu.Unlock()
		if err := e.Publish(context.Background(), app, &Event{Name: "ev", Channels: []string{"small"}, Data: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		cl.tr.mu.Lock()
		if len(cl.tr.out) > before {
			early++
		}
		cl.tr.mu.Unlock()
	}
	for i := range n {
		m := cl.expect("ev")
		if m.DataString() != strconv.Itoa(i) {
			t.Fatalf("message %d: data %q", i, m.DataString())
		}
	}
	if early < n/2 {
		t.Fatalf("%d of %d publishes were on the socket when Publish returned; want most (written by the publisher)", early, n)
	}
}

// TestSmallPublishOrderUnderLoad: publishes to a small channel go inline
// when its workers are idle and through their inboxes when a concurrent
// broadcast keeps them busy; every subscriber still gets each message
// once, in publish order. Under -race this also checks that a publisher
// writing inline and the worker goroutine never use the worker's state at
// the same time.
func TestSmallPublishOrderUnderLoad(t *testing.T) {
	e := newEngine(t, Options{})
	app := testApp()
	var small, big []*client
	for range 6 {
		cl := connect(t, e, "key")
		cl.subscribeTo("small")
		small = append(small, cl)
	}
	for range 2 * (inlineMax + 8) { // more than inlineMax per worker: queued
		cl := connect(t, e, "key")
		cl.subscribeTo("big")
		big = append(big, cl)
	}
	const n = 300
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			_ = e.Publish(context.Background(), app, &Event{Name: "ev", Channels: []string{"small"}, Data: strconv.Itoa(i)})
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n / 3 {
			_ = e.Publish(context.Background(), app, &Event{Name: "bulk", Channels: []string{"big"}, Data: strconv.Itoa(i)})
		}
	}()
	wg.Wait()
	for k, cl := range small {
		for i := range n {
			m := cl.expect("ev")
			if m.DataString() != strconv.Itoa(i) {
				t.Fatalf("small subscriber %d, message %d: data %q (lost, repeated or reordered)", k, i, m.DataString())
			}
		}
		if m, ok := cl.parse(); ok {
			t.Fatalf("small subscriber %d: extra message %s %s", k, m.Event, m.Data)
		}
	}
	for k, cl := range big {
		for i := range n / 3 {
			if m := cl.expect("bulk"); m.DataString() != strconv.Itoa(i) {
				t.Fatalf("big subscriber %d, message %d: data %q", k, i, m.DataString())
			}
		}
	}
}

// TestSmallPublishAfterSubscribeAck: a subscriber acknowledged through the
// worker's inbox receives an inline publish made right after, never before
// its subscription_succeeded.
func TestSmallPublishAfterSubscribeAck(t *testing.T) {
	e := newEngine(t, Options{})
	app := testApp()
	for i := range 20 {
		cl := connect(t, e, "key")
		ch := "room-" + strconv.Itoa(i)
		cl.sendJSON("pusher:subscribe", map[string]string{"channel": ch}, "")
		deadline := time.Now().Add(2 * time.Second)
		for {
			_ = e.Publish(context.Background(), app, &Event{Name: "ev", Channels: []string{ch}, Data: "x"})
			cl.tr.mu.Lock()
			got := len(cl.tr.out) > cl.read
			cl.tr.mu.Unlock()
			if got || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		cl.expect("pusher_internal:subscription_succeeded")
	}
}
