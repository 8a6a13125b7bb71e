package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/shard"
)

// Sentinel errors callers branch on.
var (
	ErrDraining    = errors.New("engine: server is draining")
	ErrAppNotFound = errors.New("engine: app not found")
)

// Options configures an Engine. The zero value of every field is usable.
type Options struct {
	// Apps resolves app keys and ids. Required.
	Apps AppStore
	// Hooks receives webhook events; nil disables them.
	Hooks Hooks
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Shards is the number of workers connections are partitioned over;
	// 0 means GOMAXPROCS.
	Shards int
	// ActivityTimeout is advertised to clients in connection_established
	// and is the silence after which the server sends pusher:ping; 0 → 120 s.
	ActivityTimeout time.Duration
	// PongTimeout is how long a pinged connection may stay silent before
	// it is closed with 4201; 0 → 30 s.
	PongTimeout time.Duration
	// UserAuthTimeout closes connections of apps with user authentication
	// enabled that neither sign in nor join a private or presence channel
	// within it (4009); 0 → 30 s.
	UserAuthTimeout time.Duration
	// MaxConnections caps this node's connections (4100); 0 = unlimited.
	MaxConnections int
	// MaxPayload is the largest client message in bytes; 0 → 64 KiB.
	MaxPayload int
	// MaxBackpressure is how many bytes may wait for one slow connection
	// before it is closed with 4100; 0 → 1 MiB.
	MaxBackpressure int
	// CacheTTL is how long cache channels keep their last event; 0 → 30 min.
	CacheTTL time.Duration
	// Observer receives hot-path measurements; nil discards them.
	Observer Observer
	// SharedCache, when set, backs cache channels across nodes.
	SharedCache SharedCache
	// Bus connects this node to the others; nil runs a single node.
	Bus Bus
	// NodeName names this node on the bus (instance.process_id); ""
	// picks a random one.
	NodeName string
	// HeartbeatInterval, NodeTimeout and CleanupInterval govern node
	// liveness: a node silent for NodeTimeout is removed with everything
	// it held. 0 → 5 s, 15 s, 1 s.
	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration
	CleanupInterval   time.Duration
	// NodeID is mixed into socket ids so they are unique across nodes;
	// 0 picks a random one.
	NodeID uint64
	// V2 configures Sockudo protocol V2 connections.
	V2 V2Options
}

// ConnectRequest is what the engine needs to know about an upgraded
// connection. The adapter copies these out of the HTTP request.
type ConnectRequest struct {
	AppKey     string
	Protocol   string // the protocol query parameter, "" when absent
	Origin     string
	RemoteAddr string
	// EchoMessages is the echo_messages query parameter ("" when absent);
	// only V2 connections use it.
	EchoMessages string
	// Format is the wire format of the format query parameter, which only
	// V2 connections use; the adapter checks ServesFormat first.
	Format protocol.WireFormat
}

// Event is one event to publish through the HTTP API, already validated by
// the caller.
type Event struct {
	Name     string
	Data     string
	Channels []string
	// SocketID excludes that connection from the delivery.
	SocketID string
	// V2 holds the protocol V2 members of the publish; nil for none.
	V2 *V2Fields
	// WantAcks asks Publish to fill Acks, one per channel.
	WantAcks bool
	Acks     []PublishAck
}

// ChannelInfo answers the channel queries of the HTTP API.
type ChannelInfo struct {
	Name              string
	Occupied          bool
	SubscriptionCount int // connections subscribed
	UserCount         int // distinct users, presence channels only
}

// CachedEvent is the last event published to a cache channel.
type CachedEvent struct {
	Event string
	Data  string
	TTL   time.Duration // time left
}

// Stats is a point-in-time summary of the node.
type Stats struct {
	Connections int
	Channels    int
}

// Engine is one node's Pusher server core. Safe for concurrent use.
type Engine struct {
	opts    Options
	log     *slog.Logger
	workers []*worker
	next    atomic.Uint64 // round-robin worker choice
	seq     atomic.Uint64 // socket id counter
	conns   atomic.Int64  // open connections on the node

	draining atomic.Bool
	stopOnce sync.Once
	janitor  chan struct{}

	apps     sync.Map      // app id → *appRuntime
	appMu    sync.Mutex    // orders app changes against connects (appchange.go)
	appGen   atomic.Uint64 // bumped by every app change
	channels *shard.Map[chanKey, *channelState]
	users    *shard.Map[userKey, *userState] // signed-in users
	cluster  *cluster
	watchers *shard.Map[userKey, []*Conn] // connections watching a user
	cache    *shard.Map[chanKey, cachedEvent]

	frames      framePool
	pingFrame   []byte
	pingFrameV2 []byte
	stats       nodeStats
	// filteredSubs counts the node's filtered V2 subscriptions, so a
	// publish looks for filters only while there are any.
	filteredSubs atomic.Int64

	countWindow time.Duration // subscription_count throttle window

	sharedDownUntil atomic.Int64 // unix nanos: skip the shared cache until then
	storeErrLog     LogLimiter   // refusals for a failing app store
	wireLog         LogLimiter   // frames a wire format codec could not encode
	// binSubs counts subscriptions of binary-format connections on the
	// node; while 0 a publish does no per-format work.
	binSubs atomic.Int64

	history    *historyState // nil without a history store
	historyLog LogLimiter    // lost history writes
	expireLog  LogLimiter    // failed retention sweeps

	delta deltaState // delta compression (v2delta.go)
}

// appRuntime is the engine's per-app state, created once per app id.
type appRuntime struct {
	id    string
	stats appStats
	// app is the app its connections read (see appchange.go); nil until
	// the first connect or change.
	app atomic.Pointer[App]
	// closeCode, when not 0, is the code connections of a disabled or
	// removed app are closed with, even one adopted after the change.
	closeCode atomic.Int32
}

// userKey names a user of an app.
type userKey struct {
	app *appRuntime
	id  string
}

const registryShards = 64

// New validates opts, starts the workers and returns the engine.
func New(opts Options) (*Engine, error) {
	if opts.Apps == nil {
		return nil, errors.New("engine: Options.Apps is required")
	}
	opts = withDefaults(opts)
	e := &Engine{
		opts:     opts,
		log:      opts.Logger,
		janitor:  make(chan struct{}),
		channels: shard.NewMap[chanKey, *channelState](registryShards),
		users:    shard.NewMap[userKey, *userState](registryShards),
		watchers: shard.NewMap[userKey, []*Conn](registryShards),
		cache:    shard.NewMap[chanKey, cachedEvent](registryShards),

		countWindow: 5 * time.Second,
	}
	e.frames.obs = opts.Observer
	e.pingFrame = protocol.AppendFrame(nil, protocol.OpText, protocol.AppendEventObject(nil, protocol.EventPing, "", []byte("{}")))
	e.pingFrameV2 = protocol.AppendFrame(nil, protocol.OpText, v2PingMessage)
	for i := 0; i < opts.Shards; i++ {
		w := newWorker(e, i)
		if p, err := newPoller(); err == nil {
			w.poll = p
			go p.run()
		} else {
			e.log.Warn("no epoll: adapters read with a goroutine per connection", "err", err)
		}
		e.workers = append(e.workers, w)
		go w.run()
	}
	go e.sweepCache()
	e.startDelta()
	e.history = newHistoryState(e)
	e.cluster = newCluster(e)
	if err := e.cluster.start(); err != nil {
		e.stopWorkers()
		return nil, fmt.Errorf("engine: cluster bus: %w", err)
	}
	return e, nil
}

func withDefaults(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ActivityTimeout, 120*time.Second)
	def(&o.PongTimeout, 30*time.Second)
	def(&o.UserAuthTimeout, 30*time.Second)
	def(&o.CacheTTL, 30*time.Minute)
	if o.MaxPayload <= 0 {
		o.MaxPayload = 64 << 10
	}
	if o.MaxBackpressure <= 0 {
		o.MaxBackpressure = 1 << 20
	}
	if o.V2.RecoveryMaxBufferSize <= 0 {
		o.V2.RecoveryMaxBufferSize = 100
	}
	if o.NodeID == 0 {
		o.NodeID = rand.Uint64N(1_000_000_000) + 1
	}
	if o.NodeName == "" {
		o.NodeName = "node-" + strconv.FormatUint(rand.Uint64(), 36)
	}
	def(&o.HeartbeatInterval, 5*time.Second)
	def(&o.NodeTimeout, 15*time.Second)
	def(&o.CleanupInterval, time.Second)
	return o
}

// runtimeFor returns the app's runtime state, creating it on first use.
func (e *Engine) runtimeFor(app *App) *appRuntime { return e.runtimeByID(app.ID) }

// Draining reports whether Shutdown has begun; the adapter then refuses
// upgrades with 503 and /ready answers 503.
func (e *Engine) Draining() bool { return e.draining.Load() }

// Shards is the number of workers connections are partitioned over.
func (e *Engine) Shards() int { return len(e.workers) }

// Stats summarises the node.
func (e *Engine) Stats() Stats {
	return Stats{Connections: int(e.conns.Load()), Channels: e.channels.Len()}
}

// Shutdown stops admitting connections, closes every connection with 4200,
// waits until they are released or ctx ends, and stops the workers.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.draining.Store(true)
	for _, w := range e.workers {
		w.push(job{kind: jobCloseAll})
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
	for e.conns.Load() > 0 && err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		}
	}
	if e.history != nil && e.cluster.enabled() {
		// Before the goodbye: the channels' next owners then continue
		// their sequences without a gap (clusterhistory.go).
		e.releaseSerials()
	}
	e.cluster.shutdown()
	e.stopWorkers()
	return err
}

// stopWorkers stops the workers, their pollers and the cache janitor.
func (e *Engine) stopWorkers() {
	e.stopOnce.Do(func() {
		close(e.janitor)
		for _, w := range e.workers {
			close(w.quit)
			<-w.done
			if w.poll != nil {
				w.poll.stop()
			}
		}
		if e.history != nil {
			close(e.history.stop)
			<-e.history.done
			e.history.writer.stop()
			e.releaseSerials()
		}
	})
}
