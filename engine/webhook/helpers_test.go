package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

var testApp = &engine.App{ID: "app-id", Key: "app-key", Secret: "app-secret"}

// request is one POST the receiver got.
type request struct {
	header http.Header
	body   []byte
	status int // what the receiver answered
	at     time.Time
}

// receiver is a webhook endpoint on 127.0.0.1 that records every POST
// and answers with the status answer returns (nil: 200).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(n int, body []byte) int // n counts requests from 0
}

func newReceiver(t *testing.T, answer func(n int, body []byte) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs)
		r.reqs = append(r.reqs, request{header: req.Header.Clone(), body: body, at: time.Now()})
		r.mu.Unlock()
		status := 200
		if r.answer != nil {
			status = r.answer(n, body)
		}
		r.mu.Lock()
		r.reqs[n].status = status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// delivered returns the events of the POSTs answered 2xx, in order.
func (r *receiver) delivered(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, q := range r.requests() {
		if q.status >= 200 && q.status < 300 {
			out = append(out, decodeBody(t, q.body).Events...)
		}
	}
	return out
}

type body struct {
	TimeMS int64            `json:"time_ms"`
	Events []map[string]any `json:"events"`
}

func decodeBody(t *testing.T, b []byte) body {
	t.Helper()
	var v body
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return v
}

// newSender starts a Sender for testApp and shuts it down at cleanup.
func newSender(t *testing.T, opts Options) *Sender {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// fast returns options with short timings for tests: no batching, no
// vacate delay, retries after 20 ms.
func fast(targets ...Target) Options {
	return Options{
		Targets:     map[string][]Target{testApp.ID: targets},
		VacateDelay: -1,
		Retry:       Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, MaxElapsed: 10 * time.Second},
	}
}

// checkFor polls fn until it returns true or d passes.
func checkFor(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counters is an Observer for tests.
type counters struct {
	processed, failed, retried, dropped atomic.Int64
	active                              atomic.Int64
	mu                                  sync.Mutex
	statuses                            map[string]int
}

func (c *counters) QueueJobProcessed(time.Duration) { c.processed.Add(1) }
func (c *counters) QueueJobFailed()                 { c.failed.Add(1) }
func (c *counters) SetQueueActive(n int)            { c.active.Store(int64(n)) }
func (c *counters) WebhookRetried()                 { c.retried.Add(1) }
func (c *counters) QueueJobDropped()                { c.dropped.Add(1) }
func (c *counters) WebhookDelivered(status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statuses == nil {
		c.statuses = map[string]int{}
	}
	c.statuses[status]++
}

func (c *counters) status(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statuses[s]
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func occupied(ch string) engine.WebhookEvent {
	return engine.WebhookEvent{Kind: engine.WebhookChannelOccupied, Channel: ch}
}

func vacated(ch string) engine.WebhookEvent {
	return engine.WebhookEvent{Kind: engine.WebhookChannelVacated, Channel: ch}
}
