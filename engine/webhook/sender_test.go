package webhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

func channels(evs []map[string]any) string {
	var s []string
	for _, e := range evs {
		s = append(s, fmt.Sprint(e["name"], ":", e["channel"]))
	}
	return strings.Join(s, " ")
}

func TestBatching(t *testing.T) {
	rcv := newReceiver(t, nil)
	opts := fast(Target{URL: rcv.URL})
	opts.Batching = Batching{Enabled: true, Duration: 100 * time.Millisecond, Size: 3}
	s := newSender(t, opts)
	for i := range 5 {
		s.Webhook(testApp, occupied(fmt.Sprint("c", i)))
	}
	checkFor(t, 5*time.Second, "5 events", func() bool { return len(rcv.delivered(t)) == 5 })
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d posts, want 2 (3 + 2)", len(reqs))
	}
	if a, b := decodeBody(t, reqs[0].body).Events, decodeBody(t, reqs[1].body).Events; len(a) != 3 || len(b) != 2 {
		t.Fatalf("batches of %d and %d", len(a), len(b))
	}
	if got := channels(rcv.delivered(t)); got != "channel_occupied:c0 channel_occupied:c1 channel_occupied:c2 channel_occupied:c3 channel_occupied:c4" {
		t.Fatalf("order %s", got)
	}
}

func TestBatchingWindow(t *testing.T) {
	rcv := newReceiver(t, nil)
	opts := fast(Target{URL: rcv.URL})
	opts.Batching = Batching{Enabled: true, Duration: 150 * time.Millisecond}
	s := newSender(t, opts)
	start := time.Now()
	s.Webhook(testApp, occupied("a"))
	s.Webhook(testApp, engine.WebhookEvent{Kind: engine.WebhookClientEvent, Channel: "private-a", Event: "client-x", Data: "1"})
	s.Webhook(testApp, vacated("a"))
	checkFor(t, 5*time.Second, "a post", func() bool { return len(rcv.requests()) == 1 })
	if d := rcv.requests()[0].at.Sub(start); d < 100*time.Millisecond {
		t.Errorf("batch sent after %v, before its window", d)
	}
	if n := len(decodeBody(t, rcv.requests()[0].body).Events); n != 3 {
		t.Fatalf("%d events in the batch", n)
	}
}

func TestVacateDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	rcv := newReceiver(t, nil)
	opts := fast(Target{URL: rcv.URL})
	opts.VacateDelay = delay
	s := newSender(t, opts)
	member := func(k engine.WebhookKind, ch, u string) engine.WebhookEvent {
		return engine.WebhookEvent{Kind: k, Channel: ch, UserID: u}
	}

	// Re-occupied / re-added within the delay: nothing at all is sent.
	s.Webhook(testApp, vacated("reload"))
	s.Webhook(testApp, member(engine.WebhookMemberRemoved, "presence-r", "u1"))
	time.Sleep(delay / 10)
	s.Webhook(testApp, occupied("reload"))
	s.Webhook(testApp, member(engine.WebhookMemberAdded, "presence-r", "u1"))

	// Left for good: sent after the delay.
	start := time.Now()
	s.Webhook(testApp, vacated("gone"))
	s.Webhook(testApp, member(engine.WebhookMemberRemoved, "presence-r", "u2"))
	// Another user's return does not cancel u2's removal.
	s.Webhook(testApp, member(engine.WebhookMemberAdded, "presence-r", "u3"))
	checkFor(t, 5*time.Second, "3 events", func() bool { return len(rcv.delivered(t)) == 3 })
	for _, q := range rcv.requests() {
		ev := decodeBody(t, q.body).Events[0]
		if ev["name"] != "member_added" && q.at.Sub(start) < delay*3/4 {
			t.Errorf("%v sent after %v, before the delay", ev, q.at.Sub(start))
		}
	}
	time.Sleep(delay * 2) // the cancelled ones must never come
	got := channels(rcv.delivered(t))
	want := "member_added:presence-r channel_vacated:gone member_removed:presence-r"
	if got != want && got != "member_added:presence-r member_removed:presence-r channel_vacated:gone" {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, e := range rcv.delivered(t) {
		if e["name"] == "member_removed" && e["user_id"] != "u2" {
			t.Fatalf("removed %v", e)
		}
	}

	// Occupied after the delay ran out: vacated then occupied, in order.
	s.Webhook(testApp, vacated("slow"))
	checkFor(t, 5*time.Second, "vacated", func() bool { return len(rcv.delivered(t)) == 4 })
	s.Webhook(testApp, occupied("slow"))
	checkFor(t, 5*time.Second, "occupied", func() bool { return len(rcv.delivered(t)) == 5 })
	if got := channels(rcv.delivered(t)[3:]); got != "channel_vacated:slow channel_occupied:slow" {
		t.Fatalf("got %s", got)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	rcv := newReceiver(t, func(n int, _ []byte) int {
		if n < 2 {
			return 500
		}
		return 200
	})
	obs := &counters{}
	opts := fast(Target{URL: rcv.URL})
	opts.Observer = obs
	s := newSender(t, opts)
	s.Webhook(testApp, occupied("a"))
	checkFor(t, 5*time.Second, "delivery", func() bool { return len(rcv.delivered(t)) == 1 })
	reqs := rcv.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, q := range reqs[1:] {
		if string(q.body) != string(reqs[0].body) {
			t.Fatalf("retry changed the body: %s vs %s", q.body, reqs[0].body)
		}
	}
	if gap := reqs[2].at.Sub(reqs[1].at); gap < 25*time.Millisecond {
		t.Errorf("second retry after %v; backoff should double from 20 ms", gap)
	}
	checkFor(t, time.Second, "counters", func() bool { return obs.processed.Load() == 1 })
	if obs.retried.Load() != 2 || obs.failed.Load() != 0 || obs.status("5xx") != 2 || obs.status("2xx") != 1 {
		t.Fatalf("retried %d failed %d statuses %v", obs.retried.Load(), obs.failed.Load(), obs.statuses)
	}
}

func TestRetryTransportError(t *testing.T) {
	rcv := newReceiver(t, nil)
	url := rcv.URL
	rcv.Close() // nothing listens: connection refused
	obs := &counters{}
	opts := fast(Target{URL: url})
	opts.Observer = obs
	opts.Retry.MaxElapsed = 100 * time.Millisecond
	s := newSender(t, opts)
	s.Webhook(testApp, occupied("a"))
	checkFor(t, 5*time.Second, "failure", func() bool { return obs.failed.Load() == 1 })
	if obs.status("error") < 2 || obs.retried.Load() < 1 {
		t.Fatalf("statuses %v retried %d", obs.statuses, obs.retried.Load())
	}
}

func TestGiveUpAfterBudget(t *testing.T) {
	rcv := newReceiver(t, func(int, []byte) int { return 503 })
	obs := &counters{}
	logs := &logBuffer{}
	opts := fast(Target{URL: rcv.URL})
	opts.Observer = obs
	opts.Logger = logs.logger()
	opts.Retry = Retry{Initial: 20 * time.Millisecond, MaxElapsed: 250 * time.Millisecond}
	s := newSender(t, opts)
	start := time.Now()
	s.Webhook(testApp, occupied("doomed"))
	checkFor(t, 5*time.Second, "failed job", func() bool { return obs.failed.Load() == 1 })
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("gave up after %v, before the budget", d)
	}
	n := len(rcv.requests())
	if n < 3 || n > 7 { // about 0, 20, 60, 140, 250 ms
		t.Errorf("%d attempts", n)
	}
	l := logs.String()
	if !strings.Contains(l, "giving up") || !strings.Contains(l, rcv.URL) || !strings.Contains(l, "channel_occupied doomed") {
		t.Errorf("log lacks URL or events: %s", l)
	}
	time.Sleep(100 * time.Millisecond)
	if len(rcv.requests()) != n {
		t.Error("attempts after giving up")
	}
}

func TestRetryMaxAttemptsAndDisabled(t *testing.T) {
	rcv := newReceiver(t, func(int, []byte) int { return 500 })
	rcv2 := newReceiver(t, func(int, []byte) int { return 500 })
	obs := &counters{}
	opts := fast(Target{URL: rcv.URL, Retry: &Retry{MaxAttempts: 3}}, Target{URL: rcv2.URL, Retry: &Retry{Disabled: true}})
	opts.Observer = obs
	s := newSender(t, opts)
	s.Webhook(testApp, occupied("a"))
	checkFor(t, 5*time.Second, "2 failures", func() bool { return obs.failed.Load() == 2 })
	if len(rcv.requests()) != 3 || len(rcv2.requests()) != 1 {
		t.Fatalf("attempts %d and %d, want 3 and 1", len(rcv.requests()), len(rcv2.requests()))
	}
}

// TestOrderingAcrossRetries: a receiver failing at random must still see
// each channel's events, as delivered (2xx), in the order they happened.
func TestOrderingAcrossRetries(t *testing.T) {
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(1, 2))
	rcv := newReceiver(t, func(int, []byte) int {
		mu.Lock()
		defer mu.Unlock()
		if rnd.IntN(10) < 4 {
			return 500
		}
		return 200
	})
	opts := fast(Target{URL: rcv.URL})
	opts.Retry.Initial = 5 * time.Millisecond
	opts.Retry.Max = 20 * time.Millisecond
	opts.Concurrency = 4
	s := newSender(t, opts)
	var want []string
	for i := range 60 {
		ch := fmt.Sprint("c", i%3)
		ev := occupied(ch)
		if i/3%2 == 1 {
			ev = vacated(ch)
		}
		want = append(want, fmt.Sprint(ev.Kind, ":", ch))
		s.Webhook(testApp, ev)
	}
	checkFor(t, 10*time.Second, "60 deliveries", func() bool { return len(rcv.delivered(t)) == 60 })
	if got := channels(rcv.delivered(t)); got != strings.Join(want, " ") {
		t.Fatalf("order:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
	// One job in flight per key: attempts, read in arrival order with
	// repeats collapsed, are exactly the events in order (no event was
	// tried before the one before it succeeded).
	var seq []string
	for _, q := range rcv.requests() {
		ev := channels(decodeBody(t, q.body).Events)
		if len(seq) == 0 || seq[len(seq)-1] != ev {
			seq = append(seq, ev)
		}
	}
	if strings.Join(seq, " ") != strings.Join(want, " ") {
		t.Fatalf("attempt order:\n got %s\nwant %s", strings.Join(seq, " "), strings.Join(want, " "))
	}
}

// TestShutdownFlushes: events still batched or held are delivered by a
// graceful Shutdown.
func TestShutdownFlushes(t *testing.T) {
	rcv := newReceiver(t, nil)
	opts := fast(Target{URL: rcv.URL})
	opts.Batching = Batching{Enabled: true, Duration: time.Hour, Size: 1000}
	opts.VacateDelay = time.Hour
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	s.Webhook(testApp, occupied("a"))
	s.Webhook(testApp, vacated("b"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := channels(rcv.delivered(t)); got != "channel_occupied:a channel_vacated:b" {
		t.Fatalf("delivered %q", got)
	}
	s.Webhook(testApp, occupied("late")) // ignored, no panic
}

// TestShutdownReportsLeftovers: what cannot be sent within the grace
// period is logged with its count.
func TestShutdownReportsLeftovers(t *testing.T) {
	rcv := newReceiver(t, func(int, []byte) int { return 500 })
	logs := &logBuffer{}
	opts := fast(Target{URL: rcv.URL})
	opts.Logger = logs.logger()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	s.Webhook(testApp, occupied("a"))
	s.Webhook(testApp, occupied("b"))
	checkFor(t, 5*time.Second, "first attempt", func() bool { return len(rcv.requests()) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with jobs left")
	}
	if l := logs.String(); !strings.Contains(l, "jobs not delivered") || !strings.Contains(l, "jobs=2") {
		t.Fatalf("log: %s", l)
	}
}

func TestQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	rcv := newReceiver(t, func(int, []byte) int { <-release; return 200 })
	defer close(release)
	obs := &counters{}
	logs := &logBuffer{}
	opts := fast(Target{URL: rcv.URL})
	opts.Queue = NewMemoryQueue(2)
	opts.Observer = obs
	opts.Logger = logs.logger()
	s := newSender(t, opts)
	for i := range 5 {
		s.Webhook(testApp, occupied(fmt.Sprint("c", i)))
	}
	checkFor(t, 5*time.Second, "3 drops", func() bool { return obs.dropped.Load() == 3 })
	if obs.failed.Load() != 3 || !strings.Contains(logs.String(), "queue full") {
		t.Fatalf("failed %d, log %s", obs.failed.Load(), logs.String())
	}
}

func TestNoTargetsNoWork(t *testing.T) {
	s := newSender(t, Options{})
	s.Webhook(testApp, occupied("a"))
	if n, _ := s.queue.Len(context.Background()); n != 0 {
		t.Fatal("queued for an app without targets")
	}
}
