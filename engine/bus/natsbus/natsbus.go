// Package natsbus is an engine.Bus over NATS: one subject every node
// listens on (<prefix>.broadcast) and one per node (<prefix>.node.<id>).
package natsbus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus"
)

// Options configures a Bus. The zero value connects to a local server.
type Options struct {
	// Servers are NATS URLs; empty means nats://127.0.0.1:4222.
	Servers []string
	// Prefix starts every subject; "" means "sockudo_adapter".
	Prefix string
	// Username, Password and Token authenticate, when set.
	Username, Password, Token string
	// ConnectTimeout bounds the first connection; 0 means 5 s.
	ConnectTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Observer counts traffic; nil counts nothing.
	Observer bus.Observer
}

// Bus is a NATS-backed engine.Bus. Build it with New; Start connects.
type Bus struct {
	opts Options
	nc   *nats.Conn
	in   chan *nats.Msg
	stop chan struct{}
	done chan struct{}
	subs []*nats.Subscription

	closeOnce sync.Once
}

// inboxSize bounds the messages waiting for the engine; a burst beyond it
// makes NATS drop messages (counted as errors, then resynchronised).
const inboxSize = 1 << 16

// New validates opts; it does not connect.
func New(opts Options) (*Bus, error) {
	if len(opts.Servers) == 0 {
		opts.Servers = []string{nats.DefaultURL}
	}
	if opts.Prefix == "" {
		opts.Prefix = "sockudo_adapter"
	}
	opts.Prefix = subjectToken(opts.Prefix)
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Observer == nil {
		opts.Observer = bus.NopObserver{}
	}
	return &Bus{opts: opts, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// subjectToken makes s usable inside a subject: no spaces, dots or
// wildcards.
func subjectToken(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

func (b *Bus) broadcastSubject() string { return b.opts.Prefix + ".broadcast" }

func (b *Bus) nodeSubject(id string) string { return b.opts.Prefix + ".node." + subjectToken(id) }

// Start connects, subscribes and delivers messages to h from one
// goroutine. Both subscriptions feed one channel, so a node's Publish and
// Send arrive in the order it sent them (one connection, one reader).
func (b *Bus) Start(nodeID string, h engine.BusHandler) error {
	o := b.opts
	opts := []nats.Option{
		nats.Name("sockudo " + nodeID),
		nats.NoEcho(), // our own broadcasts never come back
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// Publishing during an outage fails at once instead of piling up:
		// the engine serves locally and resynchronises on reconnection.
		nats.ReconnectBufSize(-1),
		nats.Timeout(o.ConnectTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = errors.New("natsbus: disconnected")
			}
			h.Down(err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { h.Up() }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			o.Observer.AdapterError()
			o.Logger.Warn("nats bus error", "err", err)
		}),
	}
	if o.Username != "" {
		opts = append(opts, nats.UserInfo(o.Username, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	nc, err := nats.Connect(strings.Join(o.Servers, ","), opts...)
	if err != nil {
		return fmt.Errorf("natsbus: connect %s: %w", strings.Join(o.Servers, ","), err)
	}
	b.nc = nc
	b.in = make(chan *nats.Msg, inboxSize)
	for _, subj := range []string{b.broadcastSubject(), b.nodeSubject(nodeID)} {
		sub, err := nc.ChanSubscribe(subj, b.in)
		if err != nil {
			nc.Close()
			return fmt.Errorf("natsbus: subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(-1, -1) // the channel bounds it
		b.subs = append(b.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("natsbus: %w", err)
	}
	go b.deliver(h)
	h.Up()
	return nil
}

func (b *Bus) deliver(h engine.BusHandler) {
	defer close(b.done)
	for {
		select {
		case m := <-b.in:
			b.opts.Observer.AdapterReceived()
			h.Message(m.Data)
		case <-b.stop:
			return
		}
	}
}

// Publish sends msg to every other node.
func (b *Bus) Publish(msg []byte) error { return b.publish(b.broadcastSubject(), msg) }

// Send sends msg to one node.
func (b *Bus) Send(nodeID string, msg []byte) error { return b.publish(b.nodeSubject(nodeID), msg) }

func (b *Bus) publish(subject string, msg []byte) error {
	if b.nc == nil || !b.nc.IsConnected() {
		b.opts.Observer.AdapterError()
		return errors.New("natsbus: not connected")
	}
	if err := b.nc.Publish(subject, msg); err != nil {
		b.opts.Observer.AdapterError()
		return fmt.Errorf("natsbus: publish: %w", err)
	}
	b.opts.Observer.AdapterPublished()
	return nil
}

// Close unsubscribes, closes the connection and waits for the delivery
// goroutine.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		if b.nc == nil {
			close(b.done)
			return
		}
		for _, s := range b.subs {
			_ = s.Unsubscribe()
		}
		b.nc.Close()
		// b.in is never closed: NATS may still hold it; stop ends delivery.
		close(b.stop)
		<-b.done
	})
	return nil
}
