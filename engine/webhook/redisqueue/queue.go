// Package redisqueue is the durable webhook.Queue driver on Redis: jobs
// survive a restart and are delivered by whichever node is up, at least
// once. Each ordering key has a list of jobs; a sorted set says when each
// key's head may next be handed out; a worker leases a key's head by
// pushing that time to now + lease, so a node that dies mid-delivery
// lets its lease lapse and another node delivers the job again.
//
// Usage: q, err := redisqueue.New(redisqueue.Options{URL: "redis://host:6379/0"});
// pass q as webhook.Options.Queue (the Sender closes it).
package redisqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockudo/sockudo-go/engine/webhook"
)

// Options configures a Queue. Zero values take the defaults in brackets.
type Options struct {
	// URL of the Redis server: redis://[user:pass@]host:port/db,
	// rediss://… (TLS) or unix:///path/to/socket?db=N. Ignored when
	// Client is set.
	URL string
	// Client is an existing client to use instead of URL; Close leaves it
	// open.
	Client redis.UniversalClient
	// Prefix starts every key [sockudo_queue:] (queue.redis.prefix).
	Prefix string
	// LeaseDuration is how long a handed-out job stays invisible to other
	// workers [30 s] (queue.reliability.lease_duration_ms). It must exceed
	// the webhook request timeout, or a slow delivery is duplicated.
	LeaseDuration time.Duration
	// PollInterval is the longest a waiting worker sleeps before looking
	// again [200 ms]; jobs enqueued on this node wake it at once.
	PollInterval time.Duration
	// CommandTimeout bounds one Redis command [5 s]
	// (queue.redis.response_timeout_ms).
	CommandTimeout time.Duration
}

// Queue implements webhook.Queue on Redis. Safe for concurrent use; any
// number of Queues (nodes) may share one Redis and prefix.
type Queue struct {
	rdb       redis.UniversalClient
	ownClient bool
	keys      keys
	lease     time.Duration
	poll      time.Duration
	timeout   time.Duration
	wake      chan struct{}
}

type keys struct {
	ready, lease, count, jobs string
}

// New connects (lazily: the first command dials) and returns a Queue.
func New(opts Options) (*Queue, error) {
	q := &Queue{
		rdb:     opts.Client,
		lease:   orDefault(opts.LeaseDuration, 30*time.Second),
		poll:    orDefault(opts.PollInterval, 200*time.Millisecond),
		timeout: orDefault(opts.CommandTimeout, 5*time.Second),
		wake:    make(chan struct{}, 1),
	}
	if q.rdb == nil {
		ro, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("redisqueue: url: %w", err)
		}
		ro.ReadTimeout, ro.WriteTimeout = q.timeout, q.timeout
		q.rdb, q.ownClient = redis.NewClient(ro), true
	}
	p := opts.Prefix
	if p == "" {
		p = "sockudo_queue:"
	}
	p += "webhooks:"
	q.keys = keys{ready: p + "ready", lease: p + "lease", count: p + "count", jobs: p + "jobs:"}
	return q, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Durable implements webhook.Durable.
func (q *Queue) Durable() bool { return true }

// Ping checks the connection.
func (q *Queue) Ping(ctx context.Context) error { return q.rdb.Ping(ctx).Err() }

func encode(j *webhook.Job) (string, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	return j.ID + "\n" + string(b), nil
}

func decode(entry string) (*webhook.Job, error) {
	_, js, ok := strings.Cut(entry, "\n")
	if !ok {
		return nil, errors.New("redisqueue: malformed entry")
	}
	j := &webhook.Job{}
	return j, json.Unmarshal([]byte(js), j)
}

func (q *Queue) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, q.timeout)
}

// Enqueue implements webhook.Queue.
func (q *Queue) Enqueue(ctx context.Context, j *webhook.Job) error {
	entry, err := encode(j)
	if err != nil {
		return err
	}
	ctx, cancel := q.cmdCtx(ctx)
	defer cancel()
	err = enqueueScript.Run(ctx, q.rdb, []string{q.keys.ready, q.keys.jobs + j.Key, q.keys.count}, j.Key, entry).Err()
	if err != nil {
		return fmt.Errorf("redisqueue: enqueue: %w", err)
	}
	q.signal()
	return nil
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Receive implements webhook.Queue: it polls for a due key, sleeping at
// most PollInterval (less when a retry falls due sooner).
func (q *Queue) Receive(ctx context.Context) (*webhook.Delivery, error) {
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for {
		d, wait, err := q.claim(ctx)
		if d != nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("redisqueue: receive: %w", err)
		}
		if wait < 0 || wait > q.poll {
			wait = q.poll
		}
		if wait == 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.wake:
			if !t.Stop() {
				<-t.C
			}
		case <-t.C:
		}
	}
}

// claim leases one due head; wait says how long until one may be due.
func (q *Queue) claim(ctx context.Context) (*webhook.Delivery, time.Duration, error) {
	token := newToken()
	cctx, cancel := q.cmdCtx(ctx)
	defer cancel()
	res, err := claimScript.Run(cctx, q.rdb, []string{q.keys.ready, q.keys.lease},
		q.keys.jobs, q.lease.Milliseconds(), token).Slice()
	if err != nil {
		return nil, 0, err
	}
	if len(res) < 3 {
		ms, _ := res[0].(int64)
		return nil, time.Duration(ms) * time.Millisecond, nil
	}
	entry, _ := res[2].(string)
	j, err := decode(entry)
	if err != nil {
		// A poisoned entry would block its key forever: drop it.
		_ = q.ack(ctx, res[1].(string), strings.SplitN(entry, "\n", 2)[0], token)
		return nil, 0, err
	}
	q.signal() // other keys may be due too
	return &webhook.Delivery{Job: j, Lease: token}, 0, nil
}

// Ack implements webhook.Queue.
func (q *Queue) Ack(ctx context.Context, d *webhook.Delivery) error {
	if err := q.ack(ctx, d.Job.Key, d.Job.ID, d.Lease); err != nil {
		return fmt.Errorf("redisqueue: ack: %w", err)
	}
	q.signal()
	return nil
}

func (q *Queue) ack(ctx context.Context, key, id, token string) error {
	ctx, cancel := q.cmdCtx(ctx)
	defer cancel()
	return ackScript.Run(ctx, q.rdb, []string{q.keys.ready, q.keys.lease, q.keys.jobs + key, q.keys.count},
		key, id, token).Err()
}

// Nack implements webhook.Queue.
func (q *Queue) Nack(ctx context.Context, d *webhook.Delivery, delay time.Duration) error {
	entry, err := encode(d.Job)
	if err != nil {
		return err
	}
	ctx, cancel := q.cmdCtx(ctx)
	defer cancel()
	err = nackScript.Run(ctx, q.rdb, []string{q.keys.ready, q.keys.lease, q.keys.jobs + d.Job.Key},
		d.Job.Key, d.Job.ID, d.Lease, entry, delay.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("redisqueue: nack: %w", err)
	}
	if delay <= 0 {
		q.signal()
	}
	return nil
}

// Len implements webhook.Queue: the jobs held by every node.
func (q *Queue) Len(ctx context.Context) (int, error) {
	ctx, cancel := q.cmdCtx(ctx)
	defer cancel()
	n, err := q.rdb.Get(ctx, q.keys.count).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Close implements webhook.Queue: it closes the client New made. Jobs
// stay in Redis.
func (q *Queue) Close() error {
	if q.ownClient {
		return q.rdb.Close()
	}
	return nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
