// Package redisbus is an engine.Bus over Redis pub/sub: one channel every
// node listens on (<prefix>#broadcast) and one per node (<prefix>#node:<id>).
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus"
)

// Options configures a Bus.
type Options struct {
	// URL is redis://[user:password@]host:port/db, rediss:// or
	// unix:///path; ignored when Client is set.
	URL string
	// Client is an existing client to use (not closed by Close).
	Client redis.UniversalClient
	// Prefix starts every channel name; "" means "sockudo_adapter:".
	Prefix string
	// CommandTimeout bounds a PUBLISH; 0 means 2 s.
	CommandTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Observer counts traffic; nil counts nothing.
	Observer bus.Observer
}

// Bus is a Redis-backed engine.Bus. Build it with New; Start connects.
type Bus struct {
	opts   Options
	client redis.UniversalClient
	owned  bool
	self   string
	ps     *redis.PubSub
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	down   atomic.Bool

	// mu serialises publishes: go-redis spreads commands over a pool, and
	// two concurrent PUBLISHes could reach Redis in the other order, while
	// the engine needs each node's messages in the order it sent them.
	mu sync.Mutex

	closeOnce sync.Once
}

// New validates opts and builds the client; it does not connect.
func New(opts Options) (*Bus, error) {
	if opts.Prefix == "" {
		opts.Prefix = "sockudo_adapter:"
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Observer == nil {
		opts.Observer = bus.NopObserver{}
	}
	b := &Bus{opts: opts, client: opts.Client, done: make(chan struct{})}
	if b.client == nil {
		o, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("redisbus: %w", err)
		}
		b.client, b.owned = redis.NewClient(o), true
	}
	return b, nil
}

func (b *Bus) broadcast() string     { return b.opts.Prefix + "#broadcast" }
func (b *Bus) node(id string) string { return b.opts.Prefix + "#node:" + id }

// Start subscribes and delivers messages to h from one goroutine, in the
// order Redis sends them (one subscription connection).
func (b *Bus) Start(nodeID string, h engine.BusHandler) error {
	b.self = nodeID
	b.ctx, b.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	b.ps = b.client.Subscribe(ctx, b.broadcast(), b.node(nodeID))
	for subscribed := 0; subscribed < 2; {
		m, err := b.ps.Receive(ctx)
		if err != nil {
			_ = b.ps.Close()
			return fmt.Errorf("redisbus: subscribe: %w", err)
		}
		if _, ok := m.(*redis.Subscription); ok {
			subscribed++
		}
	}
	go b.receive(h)
	h.Up()
	return nil
}

// receive reads the subscription. go-redis reconnects and resubscribes by
// itself; an error marks the bus down and the next subscription
// confirmation marks it up again.
func (b *Bus) receive(h engine.BusHandler) {
	defer close(b.done)
	for {
		m, err := b.ps.Receive(b.ctx)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if !b.down.Swap(true) {
				h.Down(err)
			}
			b.opts.Observer.AdapterError()
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && b.down.Swap(false) {
				h.Up()
			}
		case *redis.Message:
			if b.down.Swap(false) {
				h.Up()
			}
			if payload, ok := b.unframe(m.Payload); ok {
				b.opts.Observer.AdapterReceived()
				h.Message(payload)
			}
		}
	}
}

// frame prefixes msg with the sender's id: Redis delivers a publisher's
// own broadcast back to it, and the receiver drops those.
func (b *Bus) frame(msg []byte) []byte {
	out := make([]byte, 0, 1+len(b.self)+len(msg))
	out = append(out, byte(len(b.self)))
	out = append(out, b.self...)
	return append(out, msg...)
}

func (b *Bus) unframe(s string) ([]byte, bool) {
	if len(s) < 1 || len(s) < 1+int(s[0]) {
		return nil, false
	}
	n := int(s[0])
	if s[1:1+n] == b.self {
		return nil, false
	}
	return []byte(s[1+n:]), true
}

// Publish sends msg to every other node.
func (b *Bus) Publish(msg []byte) error { return b.publish(b.broadcast(), msg) }

// Send sends msg to one node.
func (b *Bus) Send(nodeID string, msg []byte) error { return b.publish(b.node(nodeID), msg) }

func (b *Bus) publish(channel string, msg []byte) error {
	if b.ctx == nil {
		return errors.New("redisbus: not started")
	}
	if len(b.self) > 255 {
		return errors.New("redisbus: node id longer than 255 bytes")
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
	defer cancel()
	b.mu.Lock()
	err := b.client.Publish(ctx, channel, b.frame(msg)).Err()
	b.mu.Unlock()
	if err != nil {
		b.opts.Observer.AdapterError()
		return fmt.Errorf("redisbus: publish: %w", err)
	}
	b.opts.Observer.AdapterPublished()
	return nil
}

// Close unsubscribes and releases the connections.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		if b.cancel != nil {
			b.cancel()
			_ = b.ps.Close()
			<-b.done
		}
		if b.owned {
			_ = b.client.Close()
		}
	})
	return nil
}
