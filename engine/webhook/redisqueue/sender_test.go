package redisqueue

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/webhook"
)

var app = &engine.App{ID: "app-id", Key: "app-key", Secret: "app-secret"}

// sink is a webhook receiver: answer decides each response; every event
// of a 2xx POST is recorded per path as its client_event data.
type sink struct {
	*httptest.Server
	answer func(path string) int

	mu        sync.Mutex
	delivered map[string][]string // path → data of the events, in order
	requests  int
	sigErrs   []error
}

func newSink(t *testing.T, answer func(path string) int) *sink {
	t.Helper()
	s := &sink{answer: answer, delivered: map[string][]string{}}
	client := pusher.Client{AppID: app.ID, Key: app.Key, Secret: app.Secret}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		status := s.answer(r.URL.Path)
		if status == 200 {
			wh, err := client.Webhook(r.Header, body)
			s.mu.Lock()
			if err != nil {
				s.sigErrs = append(s.sigErrs, err)
			} else {
				for _, e := range wh.Events {
					s.delivered[r.URL.Path] = append(s.delivered[r.URL.Path], e.Data)
				}
			}
			s.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	return s
}

func (s *sink) count() (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.delivered {
		n += len(d)
	}
	return n
}

func (s *sink) events(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.delivered[path]...)
}

func checkFor(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func clientEvent(n int) engine.WebhookEvent {
	return engine.WebhookEvent{Kind: engine.WebhookClientEvent, Channel: "private-c", Event: "client-n",
		Data: fmt.Sprint(n), SocketID: "1.1"}
}

func senderOpts(q webhook.Queue, paths []string, base string) webhook.Options {
	var ts []webhook.Target
	for _, p := range paths {
		ts = append(ts, webhook.Target{URL: base + p})
	}
	return webhook.Options{
		Targets:     map[string][]webhook.Target{app.ID: ts},
		Queue:       q,
		Concurrency: 3,
		VacateDelay: -1,
		Retry:       webhook.Retry{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond, MaxElapsed: time.Minute},
	}
}

func shutdown(t *testing.T, s *webhook.Sender) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// inOrder checks that data delivers 0..n-1 in order; a value seen before
// may repeat (at-least-once re-delivery of a job), a new one must be next.
func inOrder(data []string, n int) error {
	next := 0
	for i, d := range data {
		v, err := strconv.Atoi(d)
		switch {
		case err != nil || v > next:
			return fmt.Errorf("event %q at position %d, expected %d: %v", d, i, next, data)
		case v == next:
			next++
		}
	}
	if next != n {
		return fmt.Errorf("delivered %d of %d: %v", next, n, data)
	}
	return nil
}

// TestSenderOverRedis: batched, signed, retried deliveries through the
// Redis queue keep their order per target.
func TestSenderOverRedis(t *testing.T) {
	url := startRedis(t, false)
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(3, 4))
	sk := newSink(t, func(string) int {
		mu.Lock()
		defer mu.Unlock()
		if rnd.IntN(10) < 3 {
			return 500
		}
		return 200
	})
	defer sk.Close()
	q, err := New(Options{URL: url, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	opts := senderOpts(q, []string{"/a", "/b"}, sk.URL)
	opts.Batching = webhook.Batching{Enabled: true, Duration: 5 * time.Millisecond, Size: 3}
	s, err := webhook.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer shutdown(t, s)
	const n = 40
	for i := range n {
		s.Webhook(app, clientEvent(i))
		if i%7 == 0 {
			time.Sleep(2 * time.Millisecond) // spread over several batches
		}
	}
	checkFor(t, 20*time.Second, "all events", func() bool { return sk.count() >= 2*n })
	for _, p := range []string{"/a", "/b"} {
		if err := inOrder(sk.events(p), n); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if len(sk.sigErrs) > 0 {
		t.Fatalf("signature errors: %v", sk.sigErrs)
	}
	checkFor(t, 5*time.Second, "empty queue", func() bool { l, _ := q.Len(context.Background()); return l == 0 })
}

// crashable wraps a queue; once dead it neither hands out nor settles
// jobs, like a process killed without a graceful shutdown: its leases
// lapse and its nacks never happen.
type crashable struct {
	webhook.Queue
	dead atomic.Bool
}

func (c *crashable) Durable() bool { return true }

func (c *crashable) Receive(ctx context.Context) (*webhook.Delivery, error) {
	if c.dead.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	d, err := c.Queue.Receive(ctx)
	if err == nil && c.dead.Load() {
		// A Receive that began before the crash must not hand out what it
		// claims after it: a dead process delivers nothing new. Its lease
		// lapses like any other.
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return d, err
}

func (c *crashable) Ack(ctx context.Context, d *webhook.Delivery) error {
	if c.dead.Load() {
		return nil
	}
	return c.Queue.Ack(ctx, d)
}

func (c *crashable) Nack(ctx context.Context, d *webhook.Delivery, delay time.Duration) error {
	if c.dead.Load() {
		return nil
	}
	return c.Queue.Nack(ctx, d, delay)
}

// failingSink is the receiver of the crash tests: until healthy, /a hangs
// until release (node A holds its lease and dies meanwhile) and every
// other path answers 500 (node A backs off); then everything is 200.
func failingSink(t *testing.T, healthy *atomic.Bool, release <-chan struct{}) *sink {
	return newSink(t, func(path string) int {
		if healthy.Load() {
			return 200
		}
		if path == "/a" {
			<-release
		}
		return 500
	})
}

// TestCrashRecovery: node A queues jobs in Redis while the receiver
// hangs (/a: A holds a lease) or fails (/b, /c: A backs off), then dies
// without shutting down. Node B, a fresh Sender on the same Redis,
// delivers every job: none lost, order kept, repeats only of what A had
// in flight.
func TestCrashRecovery(t *testing.T) {
	url := startRedis(t, true)
	var healthy atomic.Bool
	release := make(chan struct{})
	sk := failingSink(t, &healthy, release)
	defer sk.Close()
	paths := []string{"/a", "/b", "/c"}

	qa, err := New(Options{URL: url, LeaseDuration: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cq := &crashable{Queue: qa}
	a, err := webhook.New(senderOpts(cq, paths, sk.URL))
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	const n = 25
	for i := range n {
		a.Webhook(app, clientEvent(i))
	}
	checkFor(t, 10*time.Second, "all jobs in Redis", func() bool {
		l, _ := qa.Len(context.Background())
		return l == n*len(paths)
	})
	checkFor(t, 10*time.Second, "A retrying", func() bool {
		sk.mu.Lock()
		defer sk.mu.Unlock()
		return sk.requests >= 4
	})
	cq.dead.Store(true) // A is gone: no ack, nack or receive any more
	healthy.Store(true)

	qb, err := New(Options{URL: url, LeaseDuration: 30 * time.Second, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.New(senderOpts(qb, paths, sk.URL))
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	checkFor(t, 20*time.Second, "B delivers everything", func() bool { return sk.count() >= n*len(paths) })
	checkFor(t, 5*time.Second, "empty queue", func() bool { l, _ := qb.Len(context.Background()); return l == 0 })
	for _, p := range paths {
		ev := sk.events(p)
		if err := inOrder(ev, n); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if len(ev) > n+1 { // only the job A had in flight may repeat
			t.Errorf("%s: %d deliveries of %d events: %v", p, len(ev), n, ev)
		}
	}
	if len(sk.sigErrs) > 0 {
		t.Fatalf("signature errors: %v", sk.sigErrs)
	}
	close(release)
	shutdown(t, b)
	shutdown(t, a)
}

// TestKilledProcess is TestCrashRecovery with a real crash: node A runs
// in a child process (this test binary, re-executed) that is killed with
// SIGKILL while its jobs are pending; node B, in this process, delivers
// them all.
func TestKilledProcess(t *testing.T) {
	if os.Getenv("WEBHOOK_NODE_A") != "" {
		runNodeA(t)
		return
	}
	url := startRedis(t, false)
	var healthy atomic.Bool
	release := make(chan struct{})
	sk := failingSink(t, &healthy, release)
	defer sk.Close()
	defer close(release)
	paths := []string{"/a", "/b"}
	const n = 20

	child := exec.Command(os.Args[0], "-test.run=^TestKilledProcess$", "-test.count=1")
	child.Env = append(os.Environ(), "WEBHOOK_NODE_A="+url, "WEBHOOK_SINK="+sk.URL, "WEBHOOK_N="+strconv.Itoa(n))
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	}()
	qb, err := New(Options{URL: url, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, "A's jobs in Redis and A retrying", func() bool {
		l, _ := qb.Len(context.Background())
		sk.mu.Lock()
		defer sk.mu.Unlock()
		return l == n*len(paths) && sk.requests >= 3
	})
	if err := child.Process.Kill(); err != nil { // SIGKILL: no shutdown at all
		t.Fatal(err)
	}
	_ = child.Wait()
	killed = true
	healthy.Store(true)

	b, err := webhook.New(senderOpts(qb, paths, sk.URL))
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	defer shutdown(t, b)
	checkFor(t, 20*time.Second, "B delivers everything", func() bool { return sk.count() >= n*len(paths) })
	checkFor(t, 5*time.Second, "empty queue", func() bool { l, _ := qb.Len(context.Background()); return l == 0 })
	for _, p := range paths {
		if err := inOrder(sk.events(p), n); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if len(sk.sigErrs) > 0 {
		t.Fatalf("signature errors: %v", sk.sigErrs)
	}
}

// runNodeA is the child of TestKilledProcess: it queues the events and
// delivers until it is killed.
func runNodeA(t *testing.T) {
	q, err := New(Options{URL: os.Getenv("WEBHOOK_NODE_A"), LeaseDuration: 300 * time.Millisecond,
		PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := webhook.New(senderOpts(q, []string{"/a", "/b"}, os.Getenv("WEBHOOK_SINK")))
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	n, _ := strconv.Atoi(os.Getenv("WEBHOOK_N"))
	for i := range n {
		a.Webhook(app, clientEvent(i))
	}
	time.Sleep(time.Minute) // killed long before
}
