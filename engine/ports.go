package engine

import (
	"context"
	"time"
)

// Transport is the byte pipe of one WebSocket connection after the upgrade.
// The engine writes complete WebSocket frames to it; the adapter reads the
// socket and hands the bytes to Conn.Feed. Only the owning worker (or that
// connection's flusher) calls TryWrite and Write, never concurrently.
type Transport interface {
	// TryWrite writes a prefix of bufs without blocking and reports how
	// many bytes the kernel accepted.
	TryWrite(bufs [][]byte) (int, error)
	// Write writes all of p, blocking at most the adapter's write timeout.
	// It is used only after TryWrite left bytes behind (a slow reader).
	Write(p []byte) error
	// Close closes the socket; later reads in the adapter fail.
	Close() error
}

// AppStore looks apps up. Implementations must be safe for concurrent use
// and fast: Connect calls AppByKey once per connection and the HTTP API
// calls AppByID once per request.
//
// AppByKey and AppByID return ErrAppNotFound when the store knows no such
// app. Any other error means the store could not answer (its database is
// down): callers must not treat that app as unknown, because it may exist.
type AppStore interface {
	AppByKey(key string) (*App, error)
	AppByID(id string) (*App, error)
}

// StoreState is an app store's health as /up reports it.
type StoreState int

// App store states, from healthy to unusable.
const (
	StoreOK       StoreState = iota // every app can be looked up
	StoreDegraded                   // the backing database is unreachable; apps are served from cache / config file
	StoreDown                       // no app can be served
)

// String is the word /up answers with.
func (s StoreState) String() string {
	switch s {
	case StoreOK:
		return "OK"
	case StoreDegraded:
		return "DEGRADED"
	default:
		return "ERROR"
	}
}

// StoreHealth is implemented by app stores that can fail (databases);
// stores without it are always OK.
type StoreHealth interface{ StoreState() StoreState }

// Hooks receives what an app's webhooks report. The engine calls Webhook
// synchronously from connection and worker goroutines, so implementations
// must only enqueue. A nil Hooks in Options disables webhooks.
type Hooks interface {
	Webhook(app *App, ev WebhookEvent)
}

// WebhookKind names a Pusher webhook event.
type WebhookKind string

// Webhook event kinds (pusher-protocol.md §2.4).
const (
	WebhookChannelOccupied   WebhookKind = "channel_occupied"
	WebhookChannelVacated    WebhookKind = "channel_vacated"
	WebhookMemberAdded       WebhookKind = "member_added"
	WebhookMemberRemoved     WebhookKind = "member_removed"
	WebhookClientEvent       WebhookKind = "client_event"
	WebhookCacheMiss         WebhookKind = "cache_miss"
	WebhookSubscriptionCount WebhookKind = "subscription_count"
)

// WebhookEvent is one webhook event. Vacated and member_removed are sent
// when they happen; delaying and cancelling them is the sink's job.
type WebhookEvent struct {
	Kind              WebhookKind
	Channel           string
	UserID            string // member_added, member_removed, client_event on presence
	Event             string // client_event
	Data              string // client_event, always a string
	SocketID          string // client_event
	SubscriptionCount int    // subscription_count
	TimeMS            int64
}

// SharedCache keeps cache channels' last events where every node can read
// them (cache.driver = redis), so a node that started after a publish can
// still replay it. Calls are made outside the engine's locks and may block
// briefly; a failing store only costs the replay (the local cache still
// serves).
type SharedCache interface {
	Get(ctx context.Context, appID, channel string) (event, data string, ttl time.Duration, ok bool, err error)
	Set(ctx context.Context, appID, channel, event, data string, ttl time.Duration) error
}
