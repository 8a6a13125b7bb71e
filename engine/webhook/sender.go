package webhook

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// Sender implements engine.Hooks: it filters, delays, batches and signs
// webhook events, keeps them as jobs in a Queue and delivers them with
// retries. Webhook never blocks; everything else runs on the Sender's own
// goroutines. Make one with New, then Start it; Shutdown stops it. Safe
// for concurrent use.
type Sender struct {
	opts     Options
	log      *slog.Logger
	obs      Observer
	queue    Queue
	apps     map[string][]*target // Options.Targets compiled
	compiled compiledApps         // apps' own webhooks compiled
	delay    delayer
	client   *http.Client
	jobs     chan *Job // batches → queue writer
	stopped  atomic.Bool

	runCtx    context.Context // cancelled to stop receiving jobs
	stopRecv  context.CancelFunc
	workCtx   context.Context // cancelled to abort deliveries in flight
	abortWork context.CancelFunc
	enqCtx    context.Context // cancelled to abort queue writes
	abortEnq  context.CancelFunc
	drain     chan struct{} // closed: the queue writer empties jobs and exits
	enqDone   chan struct{}
	workers   sync.WaitGroup
	bg        sync.WaitGroup
	startOnce sync.Once

	dropMu   sync.Mutex
	dropN    int
	dropLast time.Time
}

// New validates opts and returns a Sender that is not yet delivering
// (Webhook already queues). It takes ownership of opts.Queue.
func New(opts Options) (*Sender, error) {
	opts = withDefaults(opts)
	s := &Sender{
		opts:    opts,
		log:     opts.Logger,
		obs:     opts.Observer,
		queue:   opts.Queue,
		apps:    map[string][]*target{},
		jobs:    make(chan *Job, opts.Buffer),
		drain:   make(chan struct{}),
		enqDone: make(chan struct{}),
	}
	s.delay.seed = maphash.MakeSeed()
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	for app, ts := range opts.Targets {
		for i, t := range ts {
			ct, err := compileTarget(app, i, t, &s.opts)
			if err != nil {
				return nil, err
			}
			s.apps[app] = append(s.apps[app], ct)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = opts.Concurrency
	s.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.runCtx, s.stopRecv = context.WithCancel(context.Background())
	s.workCtx, s.abortWork = context.WithCancel(context.Background())
	s.enqCtx, s.abortEnq = context.WithCancel(context.Background())
	return s, nil
}

// Webhook implements engine.Hooks. It only filters and buffers; it never
// blocks on the network.
func (s *Sender) Webhook(app *engine.App, ev engine.WebhookEvent) {
	if s.stopped.Load() || len(s.targets(app)) == 0 {
		return
	}
	switch ev.Kind {
	case engine.WebhookChannelVacated, engine.WebhookMemberRemoved:
		if s.opts.VacateDelay > 0 {
			s.hold(app, ev)
			return
		}
	case engine.WebhookChannelOccupied, engine.WebhookMemberAdded:
		if s.opts.VacateDelay > 0 {
			s.cancelHeldOrRoute(app, ev)
			return
		}
	}
	s.route(app, ev)
}

// route hands ev to the batch of every target that wants it.
func (s *Sender) route(app *engine.App, ev engine.WebhookEvent) {
	for _, t := range s.targets(app) {
		if t.matches(&ev) {
			s.add(t, app, ev)
		}
	}
}

// Start launches the queue writer and the delivery workers. Calling it
// again does nothing.
func (s *Sender) Start() {
	s.startOnce.Do(func() {
		s.bg.Add(1)
		go func() { defer s.bg.Done(); s.writeQueue() }()
		for range s.opts.Concurrency {
			s.workers.Add(1)
			go func() { defer s.workers.Done(); s.work() }()
		}
		if s.opts.Observer != nil {
			s.bg.Add(1)
			go func() { defer s.bg.Done(); s.sampleQueue() }()
		}
	})
}

// Shutdown stops taking events, sends held and batched events to the
// queue and then, for a memory queue, keeps delivering until it is empty
// or ctx is done; jobs left are logged with their count. A durable queue
// keeps its jobs for the next start (this node's or another's): Shutdown
// only lets the deliveries in flight finish within ctx. It closes the
// queue and returns ctx.Err() when time ran out.
func (s *Sender) Shutdown(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	s.Start() // a never-started Sender still flushes
	s.releaseAll()
	for _, ts := range s.apps {
		for _, t := range ts {
			s.closeBatch(t)
		}
	}
	s.eachCompiled(func(t *target) { s.closeBatch(t) })
	close(s.drain)
	err := s.waitFor(ctx, s.enqDone, s.abortEnq)
	if d, ok := s.queue.(Durable); !ok || !d.Durable() {
		err = errors.Join(err, s.waitDrained(ctx))
	}
	s.stopRecv()
	workersDone := make(chan struct{})
	go func() { s.workers.Wait(); close(workersDone) }()
	err = errors.Join(err, s.waitFor(ctx, workersDone, s.abortWork))
	s.abortWork()
	if d, ok := s.queue.(Durable); !ok || !d.Durable() {
		if n, _ := s.queue.Len(context.Background()); n > 0 {
			s.log.Error("webhook: shutdown: jobs not delivered", "jobs", n)
		}
	}
	s.bg.Wait()
	s.client.CloseIdleConnections()
	return errors.Join(err, s.queue.Close())
}

// waitFor waits for done; if ctx ends first it calls abort and still
// waits for done, which abort makes prompt.
func (s *Sender) waitFor(ctx context.Context, done <-chan struct{}, abort context.CancelFunc) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		abort()
		<-done
		return ctx.Err()
	}
}

// waitDrained polls the queue until it is empty or ctx is done.
func (s *Sender) waitDrained(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if n, err := s.queue.Len(ctx); err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// writeQueue moves jobs from the batches to the queue, one at a time so
// that one key's jobs keep their order.
func (s *Sender) writeQueue() {
	defer close(s.enqDone)
	for {
		select {
		case j := <-s.jobs:
			s.enqueue(j)
		case <-s.drain:
			for {
				select {
				case j := <-s.jobs:
					s.enqueue(j)
				default:
					return
				}
			}
		}
	}
}

// enqueue writes j, retrying a failing (durable) queue for a few seconds
// before dropping j.
func (s *Sender) enqueue(j *Job) {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := s.queue.Enqueue(s.enqCtx, j)
		if err == nil {
			return
		}
		if errors.Is(err, ErrQueueFull) || errors.Is(err, ErrQueueClosed) || attempt == 6 || s.enqCtx.Err() != nil {
			s.dropped(j, err, "queue refused the job")
			return
		}
		sleepCtx(s.enqCtx, backoff)
		backoff *= 2
	}
}

// dropped counts and logs (at most once a second) a job that could not
// be queued.
func (s *Sender) dropped(j *Job, err error, why string) {
	s.obs.QueueJobFailed()
	if d, ok := s.obs.(DropObserver); ok {
		d.QueueJobDropped()
	}
	s.dropMu.Lock()
	s.dropN++
	now := time.Now()
	if now.Sub(s.dropLast) < time.Second {
		s.dropMu.Unlock()
		return
	}
	n := s.dropN
	s.dropN, s.dropLast = 0, now
	s.dropMu.Unlock()
	s.log.Error("webhook: job dropped: "+why, "dropped", n, "url", j.URL,
		"events", strings.Join(j.Events, ", "), "error", err)
}

// sampleQueue reports the queue length every second.
func (s *Sender) sampleQueue() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if n, err := s.queue.Len(s.runCtx); err == nil {
			s.obs.SetQueueActive(n)
		}
		select {
		case <-s.runCtx.Done():
			return
		case <-t.C:
		}
	}
}
