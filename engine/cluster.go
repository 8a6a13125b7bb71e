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
// by its owner: the settled node that wins a rendezvous hash of the channel.
//
// A node settles one heartbeat interval after it joins the bus (by then it
// has heard every live node and holds their state) and says so in every
// message. Until then it owns nothing: what it learns from the others'
// state is history their owners reported long ago, and its own changes
// reach the settled nodes, which report them. Only while no settled node
// is known at all (a cluster starting) are its reports deferred, and
// delivered when it settles unless another node settled first.
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
	apply   sync.Mutex
	leaving bool // goodbye said: forwards are left to their origins; under apply and fwdMu
	// fwdMu orders queued history forwards with the goodbye
	// (clusterqueue.go): read-held while one is sequenced.
	fwdMu sync.RWMutex
	fwdq  forwardQueues

	up         atomic.Bool
	downLogged atomic.Bool
	stopped    atomic.Bool // shutdown ran

	// ready says this node has settled and may own channels; settleGen
	// tells a settle timer from an older (re)connection's.
	ready     atomic.Bool
	settleGen atomic.Uint64

	hmu      sync.Mutex // serialises owned webhooks with the deferred ones
	deferred []deferredHook
	overflow int            // deferred reports beyond maxDeferred
	leftTo   []deferredHook // reports other nodes own, oldest first
	leftFull bool           // the cap on leftTo was reached (logged once)

	pmu         sync.Mutex // guards the pending announcements
	pendingChan map[chanKey]struct{}
	pendingApp  map[*appRuntime]struct{}

	// cmu orders what this node says about its counts: a count is read
	// and published under it, so the bus carries the readings in the
	// order they were taken and the last one a peer applies is the
	// newest. Without it a coalesced batch read before a channel's last
	// leave could overtake that leave's zero, and the peer would keep the
	// stale count for good.
	cmu sync.Mutex

	// fmu guards the publishes forwarded to their channel's owner and not
	// yet seen back stamped (clusterstream.go), by token.
	fmu     sync.Mutex
	fwdSeq  uint64
	pending map[uint64]*forwarded

	stop chan struct{}
	done chan struct{}
}

// peer is another node and what it holds.
type peer struct {
	lastSeen int64
	ready    bool                            // settled: may own channels
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
	msgHistReset = "hrst"  // a channel's durable history was reset: forget its stream
)

// busMsg is every message on the bus. JSON: a publish crosses the bus
// once, whatever its audience, so the encoding is not on a hot path.
type busMsg struct {
	T        string          `json:"t"`
	From     string          `json:"f"`
	Ready    bool            `json:"r,omitempty"` // the sender has settled
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
	V2       *busV2          `json:"v2,omitempty"` // protocol V2 members of a publish
	Pos      *busPos         `json:"p,omitempty"`  // a sequenced publish's position, a forward's origin
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
			c.forget(now.UnixNano())
			c.expireForwards(now.UnixNano())
		}
	}
}

// countsInterval coalesces count announcements: a burst of subscribes to
// one channel crosses the bus as one message.
const countsInterval = 50 * time.Millisecond

// shutdown says goodbye and closes the bus; later calls do nothing.
func (c *cluster) shutdown() {
	if c.bus == nil || !c.stopped.CompareAndSwap(false, true) {
		return
	}
	close(c.stop)
	<-c.done
	c.flushCounts()
	// Under apply and fwdMu, which every forward is sequenced under
	// (history forwards under fwdMu only, off the bus goroutine): a
	// forward is either sequenced and stamped before the goodbye, or left
	// to its origin, which sends it again to the next owner when it
	// hears it.
	c.apply.Lock()
	c.fwdMu.Lock()
	c.leaving = true
	c.publish(&busMsg{T: msgBye})
	c.fwdMu.Unlock()
	c.apply.Unlock()
	_ = c.bus.Close()
}

// publish sends m to every other node. Failures are counted by the bus
// adapter and logged once per outage here; local delivery never waits.
func (c *cluster) publish(m *busMsg) {
	if c.bus == nil {
		return
	}
	m.From, m.Ready = c.self, c.ready.Load()
	b, err := json.Marshal(m)
	if err == nil {
		err = c.bus.Publish(b)
	}
	if err != nil && !c.downLogged.Swap(true) {
		c.e.log.Warn("cluster bus unavailable: serving local connections only until it returns", "err", err)
	}
}

// sendState sends this node's full state to node; its counts are read
// under cmu like every count announcement.
func (c *cluster) sendState(node, typ string) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.send(node, &busMsg{T: typ, State: c.e.localSnapshot()})
}

func (c *cluster) send(node string, m *busMsg) {
	m.From, m.Ready = c.self, c.ready.Load()
	if b, err := json.Marshal(m); err == nil {
		_ = c.bus.Send(node, b)
	}
}

// Up is BusHandler.Up: (re)announce ourselves and ask for everyone's state,
// then settle again: what we missed while away reaches us as state, and
// the nodes that stayed have reported it.
func (c *cluster) Up() {
	c.up.Store(true)
	c.ready.Store(false)
	gen := c.settleGen.Add(1)
	time.AfterFunc(c.e.opts.HeartbeatInterval, func() { c.settle(gen) })
	if c.downLogged.Swap(false) {
		c.e.log.Info("cluster bus reconnected: resynchronising")
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	for _, p := range c.peers {
		p.lastSeen = now // we could not hear them: give them a fresh window
	}
	c.mu.Unlock()
	c.cmu.Lock()
	c.publish(&busMsg{T: msgHello, State: c.e.localSnapshot()})
	c.cmu.Unlock()
}

// Down is BusHandler.Down. The bus going down because shutdown closed
// it is not an outage: an operator stopping a node should not read a
// warning about serving local connections only.
func (c *cluster) Down(err error) {
	c.up.Store(false)
	if c.stopped.Load() {
		return
	}
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
	p := c.touch(m.From, m.T, m.Ready)
	e := c.e
	switch m.T {
	case msgPublish:
		if m.Pos != nil && len(m.Channels) == 1 {
			e.applyStamped(&m)
			break
		}
		e.publishLocal(e.runtimeByID(m.App), m.Channels, m.Event, m.Data, m.User, m.Except, m.Cache, m.V2.fields())
	case msgForward:
		e.applyForward(&m)
	case msgHistReset:
		e.forgetHistory(chanKey{e.runtimeByID(m.App), m.Channel})
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
		c.sendState(m.From, msgState)
	case msgState:
		e.applySnapshot(m.From, p, m.State)
	case msgBye:
		e.dropPeer(m.From, time.Now().UnixNano()-int64(reclaimMargin))
	}
}

// touch records that node is alive and returns its peer entry. A node we
// did not know gets our state, so it can answer with its own.
func (c *cluster) touch(node, typ string, ready bool) *peer {
	now := time.Now().UnixNano()
	c.mu.Lock()
	p, ok := c.peers[node]
	if !ok {
		p = newPeer(now)
		c.peers[node] = p
	}
	p.lastSeen, p.ready = now, ready
	c.mu.Unlock()
	if !ok && typ != msgHello && typ != msgState && typ != msgBye {
		c.sendState(node, msgHello)
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
	dead := map[string]int64{}
	c.mu.Lock()
	for id, p := range c.peers {
		if p.lastSeen < limit {
			dead[id] = p.lastSeen
		}
	}
	c.mu.Unlock()
	for id, lastSeen := range dead {
		c.e.log.Warn("cluster node timed out: removing its connections and members", "node", id)
		c.apply.Lock()
		// What it was left since shortly before it was last heard from
		// may never have been reported.
		c.e.dropPeer(id, lastSeen-int64(reclaimMargin))
		c.apply.Unlock()
	}
}

// reclaimMargin covers the skew between a transition reaching this node
// and reaching the node that owned it, when that node leaves or dies.
const reclaimMargin = time.Second

// ownership says who reports a channel's transitions.
type ownership uint8

const (
	notOwner     ownership = iota
	owner                  // this node
	ownerUnknown           // no settled node is known yet
)

// owner picks the settled node that wins the channel's rendezvous hash,
// and names it.
func (c *cluster) owner(name string) (ownership, string) {
	if c.bus == nil {
		return owner, c.self
	}
	var best uint64
	bestNode := ""
	if c.ready.Load() {
		best, bestNode = rendezvous(c.self, name), c.self
	}
	c.mu.Lock()
	for id, p := range c.peers {
		if !p.ready {
			continue
		}
		if h := rendezvous(id, name); bestNode == "" || h > best || h == best && id > bestNode {
			best, bestNode = h, id
		}
	}
	c.mu.Unlock()
	switch bestNode {
	case "":
		return ownerUnknown, ""
	case c.self:
		return owner, bestNode
	}
	return notOwner, bestNode
}

// deferredHook is a report held until this node settles, or one left to
// another node (owner), kept a while in case that node died before it
// could report it.
type deferredHook struct {
	app   *App
	ev    WebhookEvent
	owner string
	at    int64 // unix nanos
}

// maxDeferred bounds what a starting cluster holds: one heartbeat
// interval of transitions.
const maxDeferred = 1 << 16

// report hands a channel transition's webhook to the sink if this node
// owns the channel, or holds it while no node has settled.
func (c *cluster) report(app *App, ev WebhookEvent) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	switch o, node := c.owner(ev.Channel); o {
	case owner:
		c.e.opts.Hooks.Webhook(app, ev)
	case ownerUnknown:
		if len(c.deferred) < maxDeferred {
			c.deferred = append(c.deferred, deferredHook{app: app, ev: ev})
		} else {
			c.overflow++
		}
	case notOwner:
		c.remember(deferredHook{app: app, ev: ev, owner: node, at: time.Now().UnixNano()})
	}
}

// remember keeps a report left to another node for as long as that node
// could be dead unnoticed (node timeout, cleanup interval, reclaim
// margin); c.hmu is held. Past maxDeferred the oldest go first.
func (c *cluster) remember(h deferredHook) {
	i := c.expired(h.at)
	if n := len(c.leftTo) - i - maxDeferred + 1; n > 0 {
		i += n
		if !c.leftFull {
			c.leftFull = true
			c.e.log.Warn("cluster: more channel transitions than can be kept for a dead owner's recovery; the oldest are forgotten (logged once)",
				"kept", maxDeferred)
		}
	}
	c.leftTo = append(c.leftTo[i:], h)
}

// expired counts the oldest remembered reports no dead owner can need any
// more at now; c.hmu is held.
func (c *cluster) expired(now int64) int {
	o := &c.e.opts
	keep := now - int64(o.NodeTimeout+o.CleanupInterval+o.HeartbeatInterval+reclaimMargin)
	i := 0
	for i < len(c.leftTo) && c.leftTo[i].at < keep {
		i++
	}
	return i
}

// forget drops the remembered reports that expired by now, so a cluster
// whose channel churn stops does not keep the last burst's reports.
func (c *cluster) forget(now int64) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if i := c.expired(now); i > 0 {
		clear(c.leftTo[:i])
		c.leftTo = c.leftTo[i:]
		if len(c.leftTo) == 0 {
			c.leftTo = nil // let the backing array go after a burst
		}
	}
}

// reclaim reports what was left to node, a node now gone, from since on:
// it may have died before reporting it. The reports this node now owns go
// out (at least once: the dead node may have sent some); node must already
// be out of the peers.
func (c *cluster) reclaim(node string, since int64) {
	if c.e.opts.Hooks == nil {
		return
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	kept := c.leftTo[:0]
	for _, h := range c.leftTo {
		if h.owner != node {
			kept = append(kept, h)
			continue
		}
		if h.at < since {
			continue
		}
		if o, _ := c.owner(h.ev.Channel); o == owner {
			c.e.opts.Hooks.Webhook(h.app, h.ev)
		}
	}
	clear(c.leftTo[len(kept):])
	c.leftTo = kept
}

// settle makes this node an owner, unless a newer connection restarted
// the wait or the node stopped, and delivers the reports held meanwhile
// if no other node settled first (that one reported them).
func (c *cluster) settle(gen uint64) {
	select {
	case <-c.stop:
		return
	default:
	}
	c.hmu.Lock()
	if gen != c.settleGen.Load() || !c.up.Load() {
		c.hmu.Unlock()
		return
	}
	c.ready.Store(true)
	held, overflow := c.deferred, c.overflow
	c.deferred, c.overflow = nil, 0
	others := c.readyPeers()
	if others == 0 {
		for _, h := range held {
			c.e.opts.Hooks.Webhook(h.app, h.ev)
		}
	}
	c.hmu.Unlock()
	if overflow > 0 && others == 0 {
		c.e.log.Warn("cluster start-up: webhooks of channel transitions dropped, more than could be held before the node settled",
			"dropped", overflow, "held", len(held))
	}
	c.publish(&busMsg{T: msgHeartbeat}) // tell the others at once
}

func (c *cluster) readyPeers() int {
	n := 0
	c.mu.Lock()
	for _, p := range c.peers {
		if p.ready {
			n++
		}
	}
	c.mu.Unlock()
	return n
}

// rendezvous scores node for key. FNV alone is not enough: names that
// differ only in their first bytes keep correlated high bits, so one node
// would win most channels; the finaliser (MurmurHash3's fmix64) spreads
// them.
func rendezvous(node, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// countChanged announces a channel's local count: at once when it crossed
// zero (other nodes must not think the channel empty, or occupied, a
// moment longer than necessary), else with the next coalesced batch.
func (c *cluster) countChanged(k chanKey, edge bool) {
	if c.bus == nil {
		return
	}
	if edge {
		c.cmu.Lock()
		c.publish(&busMsg{T: msgCounts, Counts: []countEntry{{A: k.app.id, C: k.name, N: c.e.localCount(k)}}})
		c.cmu.Unlock()
		return
	}
	c.pmu.Lock()
	c.pendingChan[k] = struct{}{}
	c.pmu.Unlock()
}

// announceMember tells the others whether this node holds user in a
// presence channel, as the registry says now. Reading under cmu, rather
// than announcing the transition that was made, keeps a join and a leave
// racing on two connections from reaching the peers in the wrong order:
// the last announcement is always the current truth.
func (c *cluster) announceMember(k chanKey, user string) {
	if c.bus == nil {
		return
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	m := &busMsg{T: msgLeave, App: k.app.id, Channel: k.name, User: user}
	c.e.channels.View(k, func(ch *channelState) {
		if info, ok := ch.members.LocalInfo(user); ok {
			m.T, m.Info = msgJoin, info
		}
	})
	c.publish(m)
}

// announceUser tells the others whether a user is signed in on this node
// now; see announceMember.
func (c *cluster) announceUser(uk userKey) {
	if c.bus == nil {
		return
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	m := &busMsg{T: msgOffline, App: uk.app.id, User: uk.id}
	c.e.users.View(uk, func(us *userState) {
		if len(us.conns) > 0 {
			m.T = msgOnline
		}
	})
	c.publish(m)
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
	c.cmu.Lock()
	defer c.cmu.Unlock()
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
