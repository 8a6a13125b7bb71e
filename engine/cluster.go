package engine

import (
	"encoding/json"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// cluster is this node's view of the others, built from what they announce
// on the bus. Each node announces only its own changes (a channel's local
// subscriber count, a presence user it starts or stops holding, a user it
// signs in or out, its connection counts) and every node applies them, so
// counts, member lists and online users are answered without asking. A
// channel's transitions that must be reported once (webhooks) are reported
// by its owner: the live node that wins a rendezvous hash of the channel.
//
// Without a bus the cluster is empty and this node owns everything.
type cluster struct {
	e    *Engine
	bus  Bus
	self string

	mu    sync.Mutex // guards peers and their tables
	peers map[string]*peer

	// apply serialises applying peers' state (bus messages, expiry), so a
	// node's share is never half removed while a message adds to it.
	apply sync.Mutex

	up         atomic.Bool
	downLogged atomic.Bool

	pmu         sync.Mutex // guards the pending announcements
	pendingChan map[chanKey]struct{}
	pendingApp  map[*appRuntime]struct{}

	stop chan struct{}
	done chan struct{}
}

// peer is another node and what it holds.
type peer struct {
	lastSeen int64
	counts   map[chanKey]int                 // subscribers per channel (> 0)
	members  map[chanKey]map[string]struct{} // presence users it holds
	users    map[userKey]struct{}            // users signed in on it
	conns    map[*appRuntime]int             // connections per app
}

func newPeer(now int64) *peer {
	return &peer{lastSeen: now, counts: map[chanKey]int{}, members: map[chanKey]map[string]struct{}{},
		users: map[userKey]struct{}{}, conns: map[*appRuntime]int{}}
}

// Message types on the bus.
const (
	msgPublish   = "pub"   // an event for channels (HTTP publish or client event)
	msgTerminate = "term"  // close a user's connections
	msgJoin      = "join"  // the sender now holds a presence user
	msgLeave     = "leave" // the sender no longer holds a presence user
	msgOnline    = "on"    // a user signed in on the sender (first connection)
	msgOffline   = "off"   // the sender's last connection of a user left
	msgCounts    = "cnt"   // the sender's subscriber and connection counts
	msgHeartbeat = "hb"
	msgHello     = "hello" // the sender (re)joined: its full state; answer with state
	msgState     = "state" // the full state of the sender, to one node
	msgBye       = "bye"   // the sender is shutting down
)

// busMsg is every message on the bus. JSON: a publish crosses the bus
// once, whatever its audience, so the encoding is not on a hot path.
type busMsg struct {
	T        string          `json:"t"`
	From     string          `json:"f"`
	App      string          `json:"a,omitempty"`
	Channels []string        `json:"cs,omitempty"`
	Channel  string          `json:"c,omitempty"`
	Event    string          `json:"e,omitempty"`
	Data     string          `json:"d,omitempty"`
	Except   string          `json:"x,omitempty"`
	User     string          `json:"u,omitempty"`
	Info     json.RawMessage `json:"i,omitempty"`
	Cache    bool            `json:"k,omitempty"`
	Counts   []countEntry    `json:"n,omitempty"`
	Conns    []countEntry    `json:"cn,omitempty"`
	State    *snapshot       `json:"s,omitempty"`
}

// countEntry is a channel's (or, without C, an app's) count on a node.
type countEntry struct {
	A string `json:"a"`
	C string `json:"c,omitempty"`
	N int    `json:"n"`
}

// memberEntry is a presence user a node holds.
type memberEntry struct {
	A string          `json:"a"`
	C string          `json:"c"`
	U string          `json:"u"`
	I json.RawMessage `json:"i,omitempty"`
}

// snapshot is everything a node holds, sent when it (re)joins.
type snapshot struct {
	Counts  []countEntry  `json:"n,omitempty"`
	Members []memberEntry `json:"m,omitempty"`
	Users   []countEntry  `json:"u,omitempty"` // C is the user id
	Conns   []countEntry  `json:"cn,omitempty"`
}

func newCluster(e *Engine) *cluster {
	return &cluster{e: e, bus: e.opts.Bus, self: e.opts.NodeName, peers: map[string]*peer{},
		pendingChan: map[chanKey]struct{}{}, pendingApp: map[*appRuntime]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// enabled reports whether there is a bus at all.
func (c *cluster) enabled() bool { return c.bus != nil }

// start subscribes and runs the heartbeat and announcement loop.
func (c *cluster) start() error {
	if c.bus == nil {
		close(c.done)
		return nil
	}
	if err := c.bus.Start(c.self, c); err != nil {
		return err
	}
	go c.loop()
	return nil
}

// loop announces pending counts every tick, heartbeats, and removes nodes
// that stopped beating.
func (c *cluster) loop() {
	defer close(c.done)
	o := &c.e.opts
	flush := time.NewTicker(countsInterval)
	beat := time.NewTicker(o.HeartbeatInterval)
	sweep := time.NewTicker(o.CleanupInterval)
	defer flush.Stop()
	defer beat.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-flush.C:
			c.flushCounts()
		case <-beat.C:
			c.publish(&busMsg{T: msgHeartbeat})
		case now := <-sweep.C:
			c.expire(now.UnixNano())
		}
	}
}

// countsInterval coalesces count announcements: a burst of subscribes to
// one channel crosses the bus as one message.
const countsInterval = 50 * time.Millisecond

// shutdown says goodbye and closes the bus.
func (c *cluster) shutdown() {
	if c.bus == nil {
		return
	}
	close(c.stop)
	<-c.done
	c.flushCounts()
	c.publish(&busMsg{T: msgBye})
	_ = c.bus.Close()
}

// publish sends m to every other node. Failures are counted by the bus
// adapter and logged once per outage here; local delivery never waits.
func (c *cluster) publish(m *busMsg) {
	if c.bus == nil {
		return
	}
	m.From = c.self
	b, err := json.Marshal(m)
	if err == nil {
		err = c.bus.Publish(b)
	}
	if err != nil && !c.downLogged.Swap(true) {
		c.e.log.Warn("cluster bus unavailable: serving local connections only until it returns", "err", err)
	}
}

func (c *cluster) send(node string, m *busMsg) {
	m.From = c.self
	if b, err := json.Marshal(m); err == nil {
		_ = c.bus.Send(node, b)
	}
}

// Up is BusHandler.Up: (re)announce ourselves and ask for everyone's state.
func (c *cluster) Up() {
	c.up.Store(true)
	if c.downLogged.Swap(false) {
		c.e.log.Info("cluster bus reconnected: resynchronising")
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	for _, p := range c.peers {
		p.lastSeen = now // we could not hear them: give them a fresh window
	}
	c.mu.Unlock()
	c.publish(&busMsg{T: msgHello, State: c.e.localSnapshot()})
}

// Down is BusHandler.Down.
func (c *cluster) Down(err error) {
	c.up.Store(false)
	if !c.downLogged.Swap(true) {
		c.e.log.Warn("cluster bus disconnected: serving local connections only", "err", err)
	}
}

// Message is BusHandler.Message.
func (c *cluster) Message(b []byte) {
	var m busMsg
	if err := json.Unmarshal(b, &m); err != nil || m.From == "" || m.From == c.self {
		return
	}
	c.apply.Lock()
	defer c.apply.Unlock()
	p := c.touch(m.From, m.T)
	e := c.e
	switch m.T {
	case msgPublish:
		e.publishLocal(e.runtimeByID(m.App), m.Channels, m.Event, m.Data, m.User, m.Except, m.Cache)
	case msgTerminate:
		e.terminateLocal(e.runtimeByID(m.App), m.User)
	case msgJoin, msgLeave:
		e.peerMember(m.From, p, &m)
	case msgOnline, msgOffline:
		e.peerUser(p, userKey{e.runtimeByID(m.App), m.User}, m.T == msgOnline)
	case msgCounts:
		e.peerCounts(m.From, p, m.Counts, m.Conns)
	case msgHello:
		e.applySnapshot(m.From, p, m.State)
		c.send(m.From, &busMsg{T: msgState, State: e.localSnapshot()})
	case msgState:
		e.applySnapshot(m.From, p, m.State)
	case msgBye:
		e.dropPeer(m.From)
	}
}

// touch records that node is alive and returns its peer entry. A node we
// did not know gets our state, so it can answer with its own.
func (c *cluster) touch(node, typ string) *peer {
	now := time.Now().UnixNano()
	c.mu.Lock()
	p, ok := c.peers[node]
	if !ok {
		p = newPeer(now)
		c.peers[node] = p
	}
	p.lastSeen = now
	c.mu.Unlock()
	if !ok && typ != msgHello && typ != msgState && typ != msgBye {
		c.send(node, &busMsg{T: msgHello, State: c.e.localSnapshot()})
	}
	return p
}

// expire removes nodes silent for longer than the node timeout. While our
// own bus is down we cannot hear anyone, so nobody is declared dead.
func (c *cluster) expire(now int64) {
	if !c.up.Load() {
		return
	}
	limit := now - int64(c.e.opts.NodeTimeout)
	var dead []string
	c.mu.Lock()
	for id, p := range c.peers {
		if p.lastSeen < limit {
			dead = append(dead, id)
		}
	}
	c.mu.Unlock()
	for _, id := range dead {
		c.e.log.Warn("cluster node timed out: removing its connections and members", "node", id)
		c.apply.Lock()
		c.e.dropPeer(id)
		c.apply.Unlock()
	}
}

// owns reports whether this node reports the channel's transitions.
func (c *cluster) owns(name string) bool {
	if c.bus == nil {
		return true
	}
	best, bestNode := rendezvous(c.self, name), c.self
	c.mu.Lock()
	for id := range c.peers {
		if h := rendezvous(id, name); h > best || h == best && id > bestNode {
			best, bestNode = h, id
		}
	}
	c.mu.Unlock()
	return bestNode == c.self
}

func rendezvous(node, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// countChanged announces a channel's local count: at once when it crossed
// zero (other nodes must not think the channel empty, or occupied, a
// moment longer than necessary), else with the next coalesced batch.
func (c *cluster) countChanged(k chanKey, edge bool) {
	if c.bus == nil {
		return
	}
	if edge {
		c.publish(&busMsg{T: msgCounts, Counts: []countEntry{{A: k.app.id, C: k.name, N: c.e.localCount(k)}}})
		return
	}
	c.pmu.Lock()
	c.pendingChan[k] = struct{}{}
	c.pmu.Unlock()
}

// markConns queues an app's local connection count.
func (c *cluster) markConns(rt *appRuntime) {
	if c.bus == nil {
		return
	}
	c.pmu.Lock()
	c.pendingApp[rt] = struct{}{}
	c.pmu.Unlock()
}

// flushCounts announces the current local counts of what changed.
func (c *cluster) flushCounts() {
	c.pmu.Lock()
	chans, apps := c.pendingChan, c.pendingApp
	if len(chans) == 0 && len(apps) == 0 {
		c.pmu.Unlock()
		return
	}
	c.pendingChan, c.pendingApp = map[chanKey]struct{}{}, map[*appRuntime]struct{}{}
	c.pmu.Unlock()
	m := &busMsg{T: msgCounts}
	for k := range chans {
		m.Counts = append(m.Counts, countEntry{A: k.app.id, C: k.name, N: c.e.localCount(k)})
	}
	for rt := range apps {
		m.Conns = append(m.Conns, countEntry{A: rt.id, N: int(rt.stats.connections.Load())})
	}
	c.publish(m)
}

// remoteConns sums an app's connections on the other nodes.
func (c *cluster) remoteConns(rt *appRuntime) int64 {
	if c.bus == nil {
		return 0
	}
	var n int64
	c.mu.Lock()
	for _, p := range c.peers {
		n += int64(p.conns[rt])
	}
	c.mu.Unlock()
	return n
}
