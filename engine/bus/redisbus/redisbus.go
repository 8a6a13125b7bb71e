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

	// out queues framed messages for the sender, the one goroutine that
	// talks to Redis for publishes: go-redis spreads commands over a pool,
	// and two concurrent PUBLISHes could reach Redis in the other order,
	// while the engine needs each node's messages in the order it sent
	// them. A caller never waits for a round trip (the engine publishes
	// under a channel's lock), and everything queued during one round trip
	// goes in the next pipeline.
	out       chan outMsg
	quit      chan struct{}
	sent      chan struct{}
	closing   sync.RWMutex // held for writing once Close begins
	closed    bool
	failing   atomic.Bool // the last pipeline failed: logged once per streak
	closeOnce sync.Once
}

// outMsg is one queued PUBLISH.
type outMsg struct {
	channel string
	payload []byte
}

const (
	// outboxSize bounds what waits for Redis; a publish beyond it fails
	// at once and is counted, as on a NATS bus in an outage.
	outboxSize = 16384
	// maxPipeline bounds one round trip's commands.
	maxPipeline = 512
)

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
	b := &Bus{opts: opts, client: opts.Client, done: make(chan struct{}),
		out: make(chan outMsg, outboxSize), quit: make(chan struct{}), sent: make(chan struct{})}
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
			b.cancel()
			b.ctx, b.cancel = nil, nil // not started: Close has nothing to stop
			return fmt.Errorf("redisbus: subscribe: %w", err)
		}
		if _, ok := m.(*redis.Subscription); ok {
			subscribed++
		}
	}
	go b.receive(h)
	go b.send()
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
	b.closing.RLock()
	defer b.closing.RUnlock()
	var err error
	switch {
	case b.closed:
		err = errors.New("redisbus: closed")
	case b.down.Load():
		err = errors.New("redisbus: publish: Redis is unreachable")
	default:
		select {
		case b.out <- outMsg{channel, b.frame(msg)}:
			return nil
		default:
			err = fmt.Errorf("redisbus: publish: %d messages already wait for Redis", outboxSize)
		}
	}
	b.opts.Observer.AdapterError()
	return err
}

// send writes the queue to Redis, one pipeline per round trip, until Close;
// then it sends what is left, so a node's goodbye goes out before it leaves,
// unless Redis fails, which must not hold the shutdown for a timeout per
// pipeline: what remains is then counted as lost.
func (b *Bus) send() {
	defer close(b.sent)
	batch := make([]outMsg, 0, maxPipeline)
	for {
		select {
		case m := <-b.out:
			batch, _ = b.flush(append(batch, m))
		case <-b.quit:
			for ok := true; ; {
				select {
				case m := <-b.out:
					if !ok {
						b.opts.Observer.AdapterError()
						continue
					}
					batch = append(batch, m)
					if len(batch) == maxPipeline {
						batch, ok = b.flush(batch)
					}
				default:
					if ok {
						b.flush(batch)
					}
					return
				}
			}
		}
	}
}

// flush adds whatever else is queued to batch (up to maxPipeline), sends it
// in one pipeline and returns batch emptied for reuse, and whether Redis
// took it.
func (b *Bus) flush(batch []outMsg) ([]outMsg, bool) {
	for more := true; more && len(batch) < maxPipeline; {
		select {
		case m := <-b.out:
			batch = append(batch, m)
		default:
			more = false
		}
	}
	if len(batch) == 0 {
		return batch, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.CommandTimeout)
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range batch {
			p.Publish(ctx, m.channel, m.payload)
		}
		return nil
	})
	cancel()
	for range batch {
		if err != nil {
			b.opts.Observer.AdapterError()
		} else {
			b.opts.Observer.AdapterPublished()
		}
	}
	switch {
	case err != nil && !b.failing.Swap(true):
		b.opts.Logger.Warn("redisbus: publishes lost", "messages", len(batch), "err", err)
	case err == nil && b.failing.Swap(false):
		b.opts.Logger.Info("redisbus: publishing again")
	}
	clear(batch)
	return batch[:0], err == nil
}

// Close unsubscribes and releases the connections.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.closing.Lock()
		b.closed = true
		b.closing.Unlock()
		if b.cancel != nil {
			close(b.quit)
			<-b.sent
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
