package webhook

import (
	"net/http"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// batch gathers one target's events until the batching window closes or
// the size cap is reached, then turns them into one signed Job. Each
// target has its own batch and lock, so apps and targets never contend.
type batch struct {
	key string // ordering key of the jobs: app id | URL

	mu     sync.Mutex
	app    *engine.App // the latest *App seen, for key and secret
	events []engine.WebhookEvent
	timer  *time.Timer
	closed bool
}

// add appends ev and flushes when batching is off or the batch is full.
func (s *Sender) add(t *target, app *engine.App, ev engine.WebhookEvent) {
	b := &t.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.app = app
	b.events = append(b.events, ev)
	if !s.opts.Batching.Enabled || len(b.events) >= s.opts.Batching.Size {
		if b.timer != nil {
			b.timer.Stop()
		}
		s.flushLocked(t)
		return
	}
	if len(b.events) == 1 {
		if b.timer == nil {
			b.timer = time.AfterFunc(s.opts.Batching.Duration, func() { s.flush(t) })
		} else {
			b.timer.Reset(s.opts.Batching.Duration)
		}
	}
}

// flush sends what t's batch holds (the batching window closed).
func (s *Sender) flush(t *target) {
	t.batch.mu.Lock()
	defer t.batch.mu.Unlock()
	s.flushLocked(t)
}

// flushLocked turns the batch into a job and hands it to the queue
// writer without blocking. Holding the batch lock while handing over
// keeps one target's jobs in order. Lock must be held.
func (s *Sender) flushLocked(t *target) {
	b := &t.batch
	if len(b.events) == 0 {
		return
	}
	j := s.makeJob(t, b.app, b.events)
	clear(b.events)
	b.events = b.events[:0]
	select {
	case s.jobs <- j:
	default:
		s.dropped(j, ErrQueueFull, "buffer to the queue is full")
	}
}

// close flushes the batch and refuses later events.
func (s *Sender) closeBatch(t *target) {
	b := &t.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	s.flushLocked(t)
	b.closed = true
}

// makeJob encodes and signs evs for t.
func (s *Sender) makeJob(t *target, app *engine.App, evs []engine.WebhookEvent) *Job {
	now := time.Now().UnixMilli()
	body := appendBody(make([]byte, 0, 64+len(evs)*96), now, evs)
	h := make(map[string]string, len(t.Headers)+3)
	for k, v := range t.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	h["Content-Type"] = "application/json"
	h["X-Pusher-Key"] = app.Key
	h["X-Pusher-Signature"] = protocol.SignBody(app.Secret, body)
	names := make([]string, len(evs))
	for i := range evs {
		names[i] = string(evs[i].Kind) + " " + evs[i].Channel
	}
	return &Job{
		ID:        newJobID(),
		Key:       t.batch.key,
		URL:       t.URL,
		Header:    h,
		Body:      string(body),
		Events:    names,
		CreatedMS: now,
		Retry:     t.retry,
		TimeoutMS: t.timeoutMS,
	}
}
