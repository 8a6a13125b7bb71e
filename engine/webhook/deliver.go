package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// work is one delivery worker: it takes a job, POSTs it and acks, nacks
// (retry later) or fails it.
func (s *Sender) work() {
	for {
		d, err := s.queue.Receive(s.runCtx)
		if err != nil {
			if s.runCtx.Err() != nil || errors.Is(err, ErrQueueClosed) {
				return
			}
			s.log.Warn("webhook: queue receive failed", "error", err)
			if !sleepCtx(s.runCtx, time.Second) {
				return
			}
			continue
		}
		s.process(d)
	}
}

// process makes one delivery attempt of d and settles it with the queue.
func (s *Sender) process(d *Delivery) {
	j := d.Job
	start := time.Now()
	status, err := s.post(j)
	s.obs.WebhookDelivered(statusClass(status, err))
	// Queue operations use their own context: the decision must reach
	// the queue even while shutting down.
	qctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err == nil {
		s.obs.QueueJobProcessed(time.Since(start))
		s.settle("ack", s.queue.Ack(qctx, d), j)
		return
	}
	if s.workCtx.Err() != nil {
		// Aborted by Shutdown: not the target's fault; put it back.
		s.settle("nack", s.queue.Nack(qctx, d, 0), j)
		return
	}
	now := time.Now()
	if j.FirstAttemptMS == 0 {
		j.FirstAttemptMS = start.UnixMilli()
	}
	j.Attempts++
	delay, retry := nextDelay(j, now)
	if !retry {
		s.obs.QueueJobFailed()
		s.log.Error("webhook: delivery failed, giving up", "url", j.URL,
			"events", strings.Join(j.Events, ", "), "attempts", j.Attempts, "error", err)
		s.settle("ack", s.queue.Ack(qctx, d), j)
		return
	}
	s.obs.WebhookRetried()
	s.log.Debug("webhook: delivery failed, will retry", "url", j.URL, "attempts", j.Attempts,
		"retry_in", delay, "error", err)
	s.settle("nack", s.queue.Nack(qctx, d, delay), j)
}

func (s *Sender) settle(op string, err error, j *Job) {
	if err != nil {
		s.log.Warn("webhook: queue "+op+" failed; the job may be delivered again", "url", j.URL, "error", err)
	}
}

// post sends j once and returns the HTTP status; err is non-nil for a
// transport error or a non-2xx status.
func (s *Sender) post(j *Job) (int, error) {
	ctx, cancel := context.WithTimeout(s.workCtx, time.Duration(j.TimeoutMS)*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, strings.NewReader(j.Body))
	if err != nil {
		return 0, err
	}
	for k, v := range j.Header {
		req.Header[k] = []string{v}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook: %s answered %s", j.URL, resp.Status)
	}
	return resp.StatusCode, nil
}

// nextDelay decides whether j, which just failed its j.Attempts-th
// attempt, is retried and after how long: Initial·2^(n-1) capped at Max,
// ±Jitter, and never past the budget (the last retry happens when the
// budget runs out).
func nextDelay(j *Job, now time.Time) (time.Duration, bool) {
	r := &j.Retry
	if r.Disabled || (r.MaxAttempts > 0 && j.Attempts >= r.MaxAttempts) {
		return 0, false
	}
	elapsed := now.UnixMilli() - j.FirstAttemptMS
	if elapsed >= r.MaxElapsedMS {
		return 0, false
	}
	d := float64(r.InitialMS)
	for i := 1; i < j.Attempts && d < float64(r.MaxMS); i++ {
		d *= 2
	}
	d = min(d, float64(r.MaxMS))
	if r.Jitter > 0 {
		d *= 1 + r.Jitter*(2*rand.Float64()-1)
	}
	ms := min(int64(d), r.MaxElapsedMS-elapsed)
	return time.Duration(ms) * time.Millisecond, true
}

// statusClass maps an attempt's outcome to a DeliveryStatuses value.
func statusClass(status int, err error) string {
	switch {
	case status < 200:
		return "error"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// sleepCtx sleeps d and reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
