package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Sentinel errors queue drivers return.
var (
	// ErrQueueFull: a bounded queue refused a job.
	ErrQueueFull = errors.New("webhook: queue full")
	// ErrQueueClosed: the queue was closed.
	ErrQueueClosed = errors.New("webhook: queue closed")
)

// Queue is the port the Sender keeps its jobs in. Drivers: MemoryQueue
// (this package) and redisqueue.Queue (durable, shared by every node).
//
// Contract: jobs with the same Key are handed out one at a time and in
// the order they were enqueued. A received job is leased to its receiver
// until it is acknowledged (removed) or nacked (kept at the head of its
// key, to be handed out again after the delay); while it is leased or
// waiting for its delay no other job of that key is handed out. A durable
// driver hands a job out again when its lease lapses (its receiver
// crashed): delivery is at least once. Implementations must be safe for
// concurrent use.
type Queue interface {
	// Enqueue appends j to the tail of its key. It may block for network
	// I/O; the Sender never calls it from the engine's goroutines.
	Enqueue(ctx context.Context, j *Job) error
	// Receive blocks until a job is available or ctx is done.
	Receive(ctx context.Context) (*Delivery, error)
	// Ack removes a delivered job.
	Ack(ctx context.Context, d *Delivery) error
	// Nack stores d.Job (its attempt counters updated) back at the head
	// of its key and releases the lease; the key is handed out again
	// after delay.
	Nack(ctx context.Context, d *Delivery, delay time.Duration) error
	// Len reports the jobs held: waiting, backing off and in flight.
	Len(ctx context.Context) (int, error)
	// Close releases the driver's resources. Jobs of a durable driver
	// stay where they are.
	Close() error
}

// Durable is implemented by queues whose jobs outlive the process; the
// Sender then does not wait for them to drain on Shutdown.
type Durable interface {
	Durable() bool
}

// Delivery is a job handed out by Receive, with the driver's lease token.
type Delivery struct {
	Job *Job
	// Lease identifies this hand-out to the driver (empty for memory).
	Lease string
}

// Job is one signed POST to one webhook URL. It is self-contained (the
// body is signed when the job is made) so that any node can deliver it,
// also after a restart; it never holds the app secret.
type Job struct {
	// ID is unique per job.
	ID string `json:"id"`
	// Key orders jobs: one app's POSTs to one URL are sent one at a time,
	// in order.
	Key string `json:"key"`
	// URL is the target.
	URL string `json:"url"`
	// Header holds every request header: Content-Type, X-Pusher-Key,
	// X-Pusher-Signature and the target's custom headers.
	Header map[string]string `json:"header"`
	// Body is the exact signed JSON body.
	Body string `json:"body"`
	// Events names the events in Body, for logs.
	Events []string `json:"events"`
	// CreatedMS is when the job was made (unix ms).
	CreatedMS int64 `json:"created_ms"`
	// FirstAttemptMS is when delivery was first tried (unix ms, 0 = not
	// yet); the retry budget counts from it.
	FirstAttemptMS int64 `json:"first_attempt_ms,omitempty"`
	// Attempts counts failed attempts so far.
	Attempts int `json:"attempts,omitempty"`
	// Retry is the target's retry policy.
	Retry JobRetry `json:"retry"`
	// TimeoutMS bounds one attempt.
	TimeoutMS int64 `json:"timeout_ms"`
}

// JobRetry is a job's retry policy in milliseconds (see Retry).
type JobRetry struct {
	Disabled     bool    `json:"disabled,omitempty"`
	MaxAttempts  int     `json:"max_attempts,omitempty"`
	MaxElapsedMS int64   `json:"max_elapsed_ms"`
	InitialMS    int64   `json:"initial_ms"`
	MaxMS        int64   `json:"max_ms"`
	Jitter       float64 `json:"jitter"`
}

// newJobID returns 16 random bytes in hex.
func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
