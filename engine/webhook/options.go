package webhook

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// Options configures a Sender. The zero value of every field except
// Targets is usable and means the default in brackets.
type Options struct {
	// Targets maps an app id to webhook targets used for apps whose
	// engine.App carries none (embedders, tests); validated by New. The
	// server leaves it empty: each app brings its own (App.Webhooks).
	Targets map[string][]Target
	// Queue holds the jobs (nil → NewMemoryQueue(0)). The Sender owns it
	// from New on and closes it in Shutdown.
	Queue Queue
	// Concurrency is the number of delivery workers on this node [5]
	// (queue.redis.concurrency). Jobs with the same key (app and URL) are
	// delivered one at a time whatever the concurrency.
	Concurrency int
	// Batching merges events for one target into one POST.
	Batching Batching
	// Retry is the default retry policy of every target.
	Retry Retry
	// RequestTimeout bounds one POST [10 s] (webhooks.request_timeout_ms).
	RequestTimeout time.Duration
	// VacateDelay holds channel_vacated and member_removed back so that a
	// quick re-join cancels them [3 s]; negative sends them at once.
	VacateDelay time.Duration
	// Buffer bounds the events handed from the engine's goroutines to the
	// queue writer, in jobs [4096]; a full buffer drops (logged, counted).
	Buffer int
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Observer receives metrics; nil discards them.
	Observer Observer
}

// Batching is webhooks.batching. With Enabled false every event is its
// own POST.
type Batching struct {
	Enabled bool
	// Duration is how long events are gathered after the first [50 ms].
	Duration time.Duration
	// Size caps the events in one POST [100].
	Size int
}

// Retry is a retry policy (webhooks.retry), the engine's type so that an
// app's targets carry theirs. Non-2xx answers and transport errors are
// retried after Initial [1 s], doubling up to Max [60 s], each delay
// varied by ±Jitter [0.2], until MaxElapsed [5 min] has passed since the
// first attempt or MaxAttempts attempts failed; then the job is failed.
type Retry = engine.WebhookRetry

// Target is one webhook of an app: engine.App.Webhooks holds them. Its
// Retry, when non-nil, replaces Options.Retry for this target (zero fields
// take the Options.Retry values); RequestTimeout replaces
// Options.RequestTimeout when > 0. Headers cannot replace Content-Type,
// X-Pusher-Key or X-Pusher-Signature.
type Target = engine.Webhook

// Filter selects channels; every non-empty condition must hold (Soketi's
// channel_name_starts_with / _ends_with map to the prefix and suffix).
type Filter = engine.WebhookFilter

// Observer receives the webhook metrics. The expose package's metrics
// satisfy it structurally. Methods are called from many goroutines.
type Observer interface {
	// QueueJobProcessed: a job was delivered; d is its last attempt.
	QueueJobProcessed(d time.Duration)
	// QueueJobFailed: a job was given up (budget spent) or dropped (queue
	// full or unavailable).
	QueueJobFailed()
	// SetQueueActive reports the jobs in the queue (waiting, backing off
	// or in flight), sampled every second.
	SetQueueActive(n int)
	// WebhookDelivered counts one POST attempt by outcome, one of
	// DeliveryStatuses.
	WebhookDelivered(status string)
	// WebhookRetried: a failed attempt was scheduled for a retry.
	WebhookRetried()
}

// DropObserver is an optional Observer capability: QueueJobDropped is
// called (besides QueueJobFailed) for each job dropped because the queue
// was full or unavailable.
type DropObserver interface {
	QueueJobDropped()
}

// DeliveryStatuses lists the status values of Observer.WebhookDelivered,
// for metrics to pre-create.
func DeliveryStatuses() []string {
	return []string{"2xx", "3xx", "4xx", "5xx", "error"}
}

type nopObserver struct{}

func (nopObserver) QueueJobProcessed(time.Duration) {}
func (nopObserver) QueueJobFailed()                 {}
func (nopObserver) SetQueueActive(int)              {}
func (nopObserver) WebhookDelivered(string)         {}
func (nopObserver) WebhookRetried()                 {}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Queue == nil {
		o.Queue = NewMemoryQueue(0)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 5
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Batching.Duration, 50*time.Millisecond)
	if o.Batching.Size <= 0 {
		o.Batching.Size = 100
	}
	def(&o.RequestTimeout, 10*time.Second)
	if o.VacateDelay == 0 {
		o.VacateDelay = 3 * time.Second
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	o.Retry = mergeRetry(o.Retry, Retry{MaxElapsed: 5 * time.Minute, Initial: time.Second, Max: time.Minute, Jitter: 0.2})
	return o
}

// mergeRetry fills r's zero fields from d.
func mergeRetry(r, d Retry) Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = d.MaxAttempts
	}
	if r.MaxElapsed <= 0 {
		r.MaxElapsed = d.MaxElapsed
	}
	if r.Initial <= 0 {
		r.Initial = d.Initial
	}
	if r.Max <= 0 {
		r.Max = d.Max
	}
	if r.Jitter == 0 {
		r.Jitter = d.Jitter
	}
	if r.Jitter < 0 {
		r.Jitter = 0
	}
	return r
}

func jobRetry(r Retry) JobRetry {
	return JobRetry{
		Disabled:     r.Disabled,
		MaxAttempts:  r.MaxAttempts,
		MaxElapsedMS: r.MaxElapsed.Milliseconds(),
		InitialMS:    r.Initial.Milliseconds(),
		MaxMS:        r.Max.Milliseconds(),
		Jitter:       r.Jitter,
	}
}

// target is a Target compiled for matching, with its batch.
type target struct {
	Target
	types     map[string]bool // nil = every type
	pattern   *regexp.Regexp
	spaces    map[string]bool
	retry     JobRetry
	timeoutMS int64
	batch     batch
}

func compileTarget(appID string, i int, t Target, o *Options) (*target, error) {
	where := fmt.Sprintf("webhook: app %q target %d", appID, i)
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: url %q is not an http(s) URL", where, t.URL)
	}
	ct := &target{Target: t, timeoutMS: o.RequestTimeout.Milliseconds()}
	if len(t.EventTypes) > 0 {
		ct.types = map[string]bool{}
		for _, e := range t.EventTypes {
			ct.types[e] = true
		}
	}
	if t.Filter.ChannelPattern != "" {
		if ct.pattern, err = regexp.Compile(t.Filter.ChannelPattern); err != nil {
			return nil, fmt.Errorf("%s: channel_pattern: %w", where, err)
		}
	}
	if len(t.Filter.ChannelNamespaces) > 0 {
		ct.spaces = map[string]bool{}
		for _, s := range t.Filter.ChannelNamespaces {
			ct.spaces[s] = true
		}
	}
	r := o.Retry
	if t.Retry != nil {
		r = mergeRetry(*t.Retry, o.Retry)
	}
	ct.retry = jobRetry(r)
	if t.RequestTimeout > 0 {
		ct.timeoutMS = t.RequestTimeout.Milliseconds()
	}
	ct.batch.key = appID + "|" + t.URL
	return ct, nil
}
