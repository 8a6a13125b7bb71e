package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memHub is an in-process bus connecting engines of one test: ordered per
// sender, no self-delivery of Publish, with outages and crashes on demand.
type memHub struct {
	mu    sync.Mutex
	nodes map[string]*memBus
}

func newHub() *memHub { return &memHub{nodes: map[string]*memBus{}} }

type memBus struct {
	hub  *memHub
	id   string
	h    BusHandler
	in   chan []byte
	down atomic.Bool
	done chan struct{}
}

var errBusDown = errors.New("membus: down")

func (h *memHub) bus() *memBus {
	return &memBus{hub: h, in: make(chan []byte, 100000), done: make(chan struct{})}
}

func (b *memBus) Start(id string, h BusHandler) error {
	b.id, b.h = id, h
	b.hub.mu.Lock()
	b.hub.nodes[id] = b
	b.hub.mu.Unlock()
	go func() {
		defer close(b.done)
		for m := range b.in {
			b.h.Message(m)
		}
	}()
	h.Up()
	return nil
}

func (b *memBus) deliver(to *memBus, msg []byte) {
	if to.down.Load() {
		return
	}
	defer func() { _ = recover() }() // the target closed meanwhile
	to.in <- append([]byte(nil), msg...)
}

func (b *memBus) Publish(msg []byte) error {
	if b.down.Load() {
		return errBusDown
	}
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	if b.hub.nodes[b.id] != b {
		return errBusDown // crashed: nobody hears it
	}
	for id, n := range b.hub.nodes {
		if id != b.id {
			b.deliver(n, msg)
		}
	}
	return nil
}

func (b *memBus) Send(id string, msg []byte) error {
	if b.down.Load() {
		return errBusDown
	}
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	if n := b.hub.nodes[id]; n != nil && b.hub.nodes[b.id] == b {
		b.deliver(n, msg)
	}
	return nil
}

func (b *memBus) Close() error {
	b.hub.mu.Lock()
	if b.hub.nodes[b.id] == b {
		delete(b.hub.nodes, b.id)
	}
	b.hub.mu.Unlock()
	close(b.in)
	<-b.done
	b.h.Down(errBusDown) // as the NATS client does when it is closed
	return nil
}

// crash takes the node off the bus without a goodbye.
func (b *memBus) crash() {
	b.hub.mu.Lock()
	delete(b.hub.nodes, b.id)
	b.hub.mu.Unlock()
}

func (b *memBus) setDown(down bool) {
	b.down.Store(down)
	if down {
		b.h.Down(errBusDown)
	} else {
		b.h.Up()
	}
}

// hookLog records webhook events from every node of a test.
type hookLog struct {
	mu  sync.Mutex
	evs []WebhookEvent
}

func (h *hookLog) Webhook(_ *App, ev WebhookEvent) {
	h.mu.Lock()
	h.evs = append(h.evs, ev)
	h.mu.Unlock()
}

func (h *hookLog) count(kind WebhookKind, channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ev := range h.evs {
		if ev.Kind == kind && ev.Channel == channel {
			n++
		}
	}
	return n
}

// clusterNode starts an engine on the hub with short liveness timings.
func clusterNode(t *testing.T, hub *memHub, name string, hooks *hookLog, apps ...*App) (*Engine, *memBus) {
	t.Helper()
	b := hub.bus()
	opts := Options{Bus: b, NodeName: name, HeartbeatInterval: 50 * time.Millisecond,
		NodeTimeout: time.Second, CleanupInterval: 50 * time.Millisecond} // a stall of the loaded test machine must not look like a dead node
	if hooks != nil {
		opts.Hooks = hooks
	}
	e := newEngine(t, opts, apps...)
	hub.settled(t)
	return e, b
}

// settled waits until every node on the hub has settled and knows that
// every other one has: the steady state the exactly-once tests assume.
func (h *memHub) settled(t *testing.T) {
	t.Helper()
	waitFor(t, "cluster settled", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for id, b := range h.nodes {
			c := b.h.(*cluster)
			if !c.ready.Load() {
				return false
			}
			for other := range h.nodes {
				c.mu.Lock()
				p := c.peers[other]
				known := p != nil && p.ready
				c.mu.Unlock()
				if other != id && !known {
					return false
				}
			}
		}
		return true
	})
}
