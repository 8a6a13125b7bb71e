package webhook

import (
	"context"
	"sync"
	"time"
)

// DefaultMemoryCapacity is the job bound of a MemoryQueue made with
// capacity 0 (Sockudo's queue.reliability.memory_capacity).
const DefaultMemoryCapacity = 100000

// MemoryQueue is the in-process Queue driver: bounded, lost on exit (the
// Sender flushes it on Shutdown). Safe for concurrent use.
type MemoryQueue struct {
	mu     sync.Mutex
	cap    int
	n      int
	keys   map[string]*memKey
	ready  []*memKey // FIFO of keys whose head may be handed out
	wake   chan struct{}
	closed bool
}

type memState uint8

const (
	memIdle    memState = iota // no job is ready, leased or waiting
	memReady                   // in ready
	memLeased                  // head handed out
	memWaiting                 // head nacked, timer pending
)

type memKey struct {
	name  string
	jobs  []*Job
	state memState
	timer *time.Timer
}

// NewMemoryQueue returns a queue holding at most capacity jobs (0 →
// DefaultMemoryCapacity); Enqueue beyond that returns ErrQueueFull.
func NewMemoryQueue(capacity int) *MemoryQueue {
	if capacity <= 0 {
		capacity = DefaultMemoryCapacity
	}
	return &MemoryQueue{cap: capacity, keys: map[string]*memKey{}, wake: make(chan struct{}, 1)}
}

// Enqueue implements Queue; it never blocks.
func (q *MemoryQueue) Enqueue(_ context.Context, j *Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrQueueClosed
	}
	if q.n >= q.cap {
		return ErrQueueFull
	}
	k := q.keys[j.Key]
	if k == nil {
		k = &memKey{name: j.Key}
		q.keys[j.Key] = k
	}
	k.jobs = append(k.jobs, j)
	q.n++
	if k.state == memIdle {
		q.pushReadyLocked(k)
	}
	return nil
}

// pushReadyLocked queues k for Receive and wakes one receiver. Lock must
// be held.
func (q *MemoryQueue) pushReadyLocked(k *memKey) {
	k.state = memReady
	q.ready = append(q.ready, k)
	q.signal()
}

func (q *MemoryQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Receive implements Queue.
func (q *MemoryQueue) Receive(ctx context.Context) (*Delivery, error) {
	for {
		if d, err := q.tryReceive(); d != nil || err != nil {
			return d, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.wake:
		}
	}
}

func (q *MemoryQueue) tryReceive() (*Delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrQueueClosed
	}
	if len(q.ready) == 0 {
		return nil, nil
	}
	k := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	if len(q.ready) > 0 {
		q.signal() // pass the wake-up on to another receiver
	}
	k.state = memLeased
	return &Delivery{Job: k.jobs[0]}, nil
}

// Ack implements Queue.
func (q *MemoryQueue) Ack(_ context.Context, d *Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.keys[d.Job.Key]
	if k == nil || k.state != memLeased || len(k.jobs) == 0 || k.jobs[0].ID != d.Job.ID {
		return nil
	}
	k.jobs[0] = nil
	k.jobs = k.jobs[1:]
	q.n--
	if len(k.jobs) == 0 {
		delete(q.keys, k.name)
		k.state = memIdle
		return nil
	}
	if !q.closed {
		q.pushReadyLocked(k)
	}
	return nil
}

// Nack implements Queue.
func (q *MemoryQueue) Nack(_ context.Context, d *Delivery, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := q.keys[d.Job.Key]
	if k == nil || k.state != memLeased || len(k.jobs) == 0 || k.jobs[0].ID != d.Job.ID {
		return nil
	}
	k.jobs[0] = d.Job
	if q.closed {
		return nil
	}
	if delay <= 0 {
		q.pushReadyLocked(k)
		return nil
	}
	k.state = memWaiting
	k.timer = time.AfterFunc(delay, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.closed && k.state == memWaiting {
			k.timer = nil
			q.pushReadyLocked(k)
		}
	})
	return nil
}

// Len implements Queue.
func (q *MemoryQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, nil
}

// Close implements Queue: pending retry timers stop and Receive returns
// ErrQueueClosed. Jobs still held are dropped.
func (q *MemoryQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	for _, k := range q.keys {
		if k.timer != nil {
			k.timer.Stop()
		}
	}
	close(q.wake)
	return nil
}
