package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

func members(t *testing.T, e *Engine, channel string) int {
	t.Helper()
	users, _ := e.PresenceUsers(t.Context(), testAppFrom(e), channel)
	return len(users)
}

func subscriptions(t *testing.T, e *Engine, channel string) int {
	t.Helper()
	info, _ := e.Channel(t.Context(), testAppFrom(e), channel)
	return info.SubscriptionCount
}

// holds reports whether e knows that node holds user in a presence channel.
func holds(e *Engine, node, channel, user string) bool {
	e.cluster.mu.Lock()
	defer e.cluster.mu.Unlock()
	p := e.cluster.peers[node]
	if p == nil {
		return false
	}
	for k, set := range p.members {
		if _, ok := set[user]; ok && k.name == channel {
			return true
		}
	}
	return false
}

func TestClusterBroadcastAndExclusion(t *testing.T) {
	hub := newHub()
	app := testApp()
	a, _ := clusterNode(t, hub, "a", nil, app)
	b, _ := clusterNode(t, hub, "b", nil, app)
	ca, cb := connect(t, a, "key"), connect(t, b, "key")
	ca.mustSubscribe("news")
	cb.mustSubscribe("news")
	publish(t, a, "news", "x", "1", ca.id) // excluded on its own node
	if m := cb.expect("x"); m.DataString() != "1" {
		t.Fatalf("remote delivery %s", m.Data)
	}
	ca.quiet()
	publish(t, b, "news", "y", "2", cb.id) // excluded across nodes
	ca.expect("y")
	cb.quiet()
	waitFor(t, "cluster-wide counts", func() bool { return subscriptions(t, a, "news") == 2 && subscriptions(t, b, "news") == 2 })
	list, _ := b.Channels(t.Context(), testAppFrom(b), "")
	if len(list) != 1 || list[0].SubscriptionCount != 2 {
		t.Fatalf("channels on b: %+v", list)
	}
}

func TestClusterClientEventsServerToUserAndTerminate(t *testing.T) {
	hub := newHub()
	a, _ := clusterNode(t, hub, "a", nil)
	b, _ := clusterNode(t, hub, "b", nil)
	ca, cb := connect(t, a, "key"), connect(t, b, "key")
	ca.mustSubscribe("private-room")
	cb.mustSubscribe("private-room")
	ca.send(`{"event":"client-hi","channel":"private-room","data":{"n":1}}`)
	if m := cb.expect("client-hi"); m.DataString() != `{"n":1}` {
		t.Fatalf("client event %s", m.Data)
	}
	ca.quiet()
	cb.signin(`{"id":"u9"}`)
	cb.expect(protocol.EventSigninSuccess)
	publish(t, a, "#server-to-user-u9", "dm", "hello", "")
	cb.expect("dm")
	if _, err := a.TerminateUser(t.Context(), testAppFrom(a), "u9"); err != nil {
		t.Fatal(err)
	}
	cb.expectClose(4009)
}

func TestClusterPresence(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{}
	a, _ := clusterNode(t, hub, "a", hooks)
	b, _ := clusterNode(t, hub, "b", hooks)
	a1 := connect(t, a, "key")
	a1.joinPresence("presence-room", "u1", `{"n":"one"}`)
	waitFor(t, "b learns u1", func() bool { return members(t, b, "presence-room") == 1 })
	b2 := connect(t, b, "key")
	m := b2.joinPresence("presence-room", "u2", `{}`)
	var pd presenceData
	_ = json.Unmarshal([]byte(m.DataString()), &pd)
	if pd.Presence.Count != 2 || string(pd.Presence.Hash["u1"]) != `{"n":"one"}` {
		t.Fatalf("b's member list misses a's member: %s", m.DataString())
	}
	if m := a1.expect(protocol.EventMemberAdded); m.DataString() != `{"user_id":"u2","user_info":{}}` {
		t.Fatalf("member_added across nodes: %s", m.DataString())
	}
	b1 := connect(t, b, "key") // u1's second connection, on the other node
	if m := b1.joinPresence("presence-room", "u1", `{"n":"one"}`); m.Event != protocol.EventSubscriptionSucceeded {
		t.Fatalf("join: %s", m.Event)
	}
	// Leaving before a hears that b holds u1 too would be a real
	// remove-and-add on a: the two messages cross.
	waitFor(t, "a learns b holds u1", func() bool { return holds(a, "b", "presence-room", "u1") })
	a1.c.Gone(nil) // u1 left node a but is still on node b
	b2.quiet()     // so nobody hears member_removed
	b1.c.Gone(nil)
	if m := b2.expect(protocol.EventMemberRemoved); m.DataString() != `{"user_id":"u1"}` {
		t.Fatalf("member_removed %s", m.DataString())
	}
	b2.c.Gone(nil)
	waitFor(t, "vacated webhook", func() bool { return hooks.count(WebhookChannelVacated, "presence-room") == 1 })
	for kind, want := range map[WebhookKind]int{WebhookChannelOccupied: 1, WebhookMemberAdded: 2, WebhookMemberRemoved: 2} {
		if n := hooks.count(kind, "presence-room"); n != want {
			t.Errorf("%s fired %d times, want %d (once per cluster-wide transition)", kind, n, want)
		}
	}
}

func TestClusterOccupancyWebhooksOnce(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{}
	a, _ := clusterNode(t, hub, "a", hooks)
	b, _ := clusterNode(t, hub, "b", hooks)
	c, _ := clusterNode(t, hub, "c", hooks)
	var clients []*client
	for _, e := range []*Engine{a, b, c, a, b} {
		cl := connect(t, e, "key")
		cl.mustSubscribe("room")
		clients = append(clients, cl)
	}
	waitFor(t, "counts converge", func() bool { return subscriptions(t, c, "room") == 5 && subscriptions(t, a, "room") == 5 })
	for _, cl := range clients {
		cl.c.Gone(nil)
	}
	waitFor(t, "vacated", func() bool { return hooks.count(WebhookChannelVacated, "room") == 1 })
	if n := hooks.count(WebhookChannelOccupied, "room"); n != 1 {
		t.Fatalf("occupied fired %d times across 3 nodes, want 1", n)
	}
}

// TestRendezvousSpreadsOwnership: every node owns its share of channels,
// whatever the node names look like.
func TestRendezvousSpreadsOwnership(t *testing.T) {
	const channels = 6000
	for _, nodes := range [][]string{{"a", "b", "c"}, {"node-1", "node-2", "node-3", "node-4"}, {"3f2a9c1e", "77b1d0aa", "c0ffee12"}} {
		wins := map[string]int{}
		for i := range channels {
			key := fmt.Sprintf("presence-room-%d", i)
			best, bestNode := uint64(0), ""
			for _, n := range nodes {
				if h := rendezvous(n, key); bestNode == "" || h > best {
					best, bestNode = h, n
				}
			}
			wins[bestNode]++
		}
		fair := channels / len(nodes)
		for _, n := range nodes {
			if w := wins[n]; w < fair*85/100 || w > fair*115/100 {
				t.Errorf("nodes %v: %s owns %d of %d channels, fair share %d", nodes, n, w, channels, fair)
			}
		}
	}
}

// TestClusterJoinReportsNoHistory: a node joining a cluster learns the
// channels and members that exist, but reports none of them again; later
// transitions are still reported once.
func TestClusterJoinReportsNoHistory(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{}
	a, _ := clusterNode(t, hub, "a", hooks)
	b, _ := clusterNode(t, hub, "b", hooks)
	var rooms []string
	var clients []*client
	for i := range 12 { // enough channels that the newcomer owns some
		room := fmt.Sprintf("presence-r%d", i)
		cl := connect(t, []*Engine{a, b}[i%2], "key")
		cl.joinPresence(room, fmt.Sprintf("u%d", i), `{}`)
		rooms, clients = append(rooms, room), append(clients, cl)
	}
	for _, room := range rooms {
		waitFor(t, "occupied "+room, func() bool { return hooks.count(WebhookChannelOccupied, room) == 1 })
	}
	c, _ := clusterNode(t, hub, "c", hooks)
	// Every room: a's state and b's state reach c separately, and a
	// member c never learned cannot be reported removed by it.
	for _, room := range rooms {
		waitFor(t, "c learns the members of "+room, func() bool { return members(t, c, room) == 1 })
	}
	owned := 0
	for _, room := range rooms {
		if o, _ := c.cluster.owner(room); o == owner {
			owned++
		}
	}
	if owned == 0 {
		t.Fatal("the newcomer owns none of the channels: the test proves nothing")
	}
	for _, cl := range clients {
		cl.c.Gone(nil)
	}
	for _, room := range rooms {
		// The count and the member leave are two bus messages: vacated
		// may be reported before member_removed.
		waitFor(t, "vacated and member removed "+room, func() bool {
			return hooks.count(WebhookChannelVacated, room) == 1 && hooks.count(WebhookMemberRemoved, room) >= 1
		})
		for kind, want := range map[WebhookKind]int{WebhookChannelOccupied: 1, WebhookMemberAdded: 1, WebhookMemberRemoved: 1} {
			if n := hooks.count(kind, room); n != want {
				t.Errorf("%s: %s fired %d times, want %d", room, kind, n, want)
			}
		}
	}
}

// TestClusterStartDefersReports: a node alone on the bus owns nothing
// until it settles; what happened meanwhile is reported then, once.
func TestClusterStartDefersReports(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{}
	e := newEngine(t, Options{Bus: hub.bus(), NodeName: "a", Hooks: hooks, HeartbeatInterval: time.Second,
		NodeTimeout: 3 * time.Second, CleanupInterval: 50 * time.Millisecond})
	cl := connect(t, e, "key")
	cl.mustSubscribe("room")
	if n := hooks.count(WebhookChannelOccupied, "room"); n != 0 || e.cluster.ready.Load() {
		t.Fatalf("occupied reported %d times before the node settled (settled: %v)", n, e.cluster.ready.Load())
	}
	waitFor(t, "deferred occupied", func() bool { return hooks.count(WebhookChannelOccupied, "room") == 1 })
	cl.c.Gone(nil)
	waitFor(t, "vacated", func() bool { return hooks.count(WebhookChannelVacated, "room") == 1 })
	if n := hooks.count(WebhookChannelOccupied, "room"); n != 1 {
		t.Fatalf("occupied fired %d times, want 1", n)
	}
}

// TestClusterDeadOwnerLosesNoWebhook: a channel's transitions that happen
// after its owner died, while the others still believe it alive, are
// reported by the new owner once the dead node times out.
func TestClusterDeadOwnerLosesNoWebhook(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{}
	a, _ := clusterNode(t, hub, "a", hooks)
	_, bbus := clusterNode(t, hub, "b", nil) // "crashed" but still running here: its reports would not be real
	c, _ := clusterNode(t, hub, "c", hooks)
	room := ""
	for i := 0; room == ""; i++ { // a channel b owns
		if _, node := a.cluster.owner(fmt.Sprintf("room-%d", i)); node == "b" {
			room = fmt.Sprintf("room-%d", i)
		}
	}
	ca := connect(t, a, "key")
	ca.mustSubscribe(room)
	waitFor(t, "c counts a's subscriber", func() bool { return subscriptions(t, c, room) == 1 })
	if n := hooks.count(WebhookChannelOccupied, room); n != 0 {
		t.Fatalf("a survivor reported occupied for b's channel while b was alive (%d)", n)
	}
	bbus.crash()
	ca.c.Gone(nil) // vacated while a and c still think b reports it
	waitFor(t, "vacated after b's timeout", func() bool { return hooks.count(WebhookChannelVacated, room) >= 1 })
	time.Sleep(100 * time.Millisecond) // a second report would come from the other survivor at the same moment
	if n := hooks.count(WebhookChannelVacated, room); n != 1 {
		t.Fatalf("vacated reported %d times, want 1", n)
	}
}

func TestClusterNodeCrashCleanup(t *testing.T) {
	hub := newHub()
	hooks := &hookLog{} // the survivor's: the "crashed" node keeps running here
	a, _ := clusterNode(t, hub, "a", hooks)
	b, bbus := clusterNode(t, hub, "b", nil)
	ca, cb := connect(t, a, "key"), connect(t, b, "key")
	ca.joinPresence("presence-x", "u1", `{}`)
	cb.joinPresence("presence-x", "u2", `{}`)
	ca.expect(protocol.EventMemberAdded)
	waitFor(t, "a counts b's subscriber", func() bool { return subscriptions(t, a, "presence-x") == 2 })
	bbus.crash() // no goodbye: a must notice the silence
	if m := ca.expect(protocol.EventMemberRemoved); m.DataString() != `{"user_id":"u2"}` {
		t.Fatalf("after the crash: %s", m.DataString())
	}
	if n := subscriptions(t, a, "presence-x"); n != 1 {
		t.Fatalf("subscription_count %d after the crash, want 1", n)
	}
	if members(t, a, "presence-x") != 1 {
		t.Fatal("ghost member after the crash")
	}
	waitFor(t, "member_removed webhook", func() bool { return hooks.count(WebhookMemberRemoved, "presence-x") == 1 })
}

func TestClusterGracefulLeave(t *testing.T) {
	hub := newHub()
	a, _ := clusterNode(t, hub, "a", nil)
	b, err := New(Options{Apps: staticApps{testApp()}, Shards: 1, Bus: hub.bus(), NodeName: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := connect(t, a, "key"), connect(t, b, "key")
	ca.joinPresence("presence-y", "u1", `{}`)
	cb.joinPresence("presence-y", "u2", `{}`)
	ca.expect(protocol.EventMemberAdded)
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	ca.expect(protocol.EventMemberRemoved) // at once, not after the node timeout
}

// syncBuffer is a log sink several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClusterShutdownIsNotAnOutage: closing the bus on shutdown reports it
// down, as the NATS client does; that is no outage to warn about, while a
// real outage still is.
func TestClusterShutdownIsNotAnOutage(t *testing.T) {
	hub := newHub()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	node := func(name string) (*Engine, *memBus) {
		b := hub.bus()
		e, err := New(Options{Apps: staticApps{testApp()}, Shards: 1, Bus: b, NodeName: name, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return e, b
	}
	a, abus := node("a")
	b, _ := node("b")
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "cluster bus") {
		t.Fatalf("shutdown logged an outage:\n%s", logs.String())
	}
	abus.setDown(true)
	if !strings.Contains(logs.String(), "cluster bus disconnected") {
		t.Fatalf("a real outage was not logged:\n%s", logs.String())
	}
	abus.setDown(false)
	if err := a.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestClusterBusOutageAndResync(t *testing.T) {
	hub := newHub()
	a, abus := clusterNode(t, hub, "a", nil)
	b, _ := clusterNode(t, hub, "b", nil)
	ca, cb := connect(t, a, "key"), connect(t, b, "key")
	ca.mustSubscribe("news")
	cb.mustSubscribe("news")
	waitFor(t, "counts", func() bool { return subscriptions(t, a, "news") == 2 })
	abus.setDown(true)
	publish(t, a, "news", "local", "1", "") // still served locally
	ca.expect("local")
	ca2 := connect(t, a, "key") // new connections and presence keep working
	ca2.joinPresence("presence-z", "u5", `{}`)
	abus.setDown(false)
	waitFor(t, "b resynchronised a's member", func() bool { return members(t, b, "presence-z") == 1 })
	publish(t, a, "news", "again", "2", "")
	cb.expect("again")
}

func TestClusterWatchlist(t *testing.T) {
	hub := newHub()
	a, _ := clusterNode(t, hub, "a", nil)
	b, _ := clusterNode(t, hub, "b", nil)
	w := connect(t, a, "key")
	w.signin(`{"id":"watcher","watchlist":["friend"]}`)
	w.expect(protocol.EventSigninSuccess)
	w.expect(protocol.EventWatchlist) // friend offline
	f := connect(t, b, "key")
	f.signin(`{"id":"friend"}`)
	if m := w.expect(protocol.EventWatchlist); string(m.Data) != `{"events":[{"name":"online","user_ids":["friend"]}]}` {
		t.Fatalf("online across nodes: %s", m.Data)
	}
	f.c.Gone(nil)
	if m := w.expect(protocol.EventWatchlist); string(m.Data) != `{"events":[{"name":"offline","user_ids":["friend"]}]}` {
		t.Fatalf("offline across nodes: %s", m.Data)
	}
}

func TestClusterAppQuota(t *testing.T) {
	hub := newHub()
	app := testApp()
	app.MaxConnections = 2
	a, _ := clusterNode(t, hub, "a", nil, app)
	b, _ := clusterNode(t, hub, "b", nil, app)
	connect(t, a, "key")
	connect(t, b, "key")
	waitFor(t, "b knows a's connection", func() bool { return b.cluster.remoteConns(b.runtimeFor(app)) == 1 })
	cl := &client{t: t, e: b, tr: &fakeTransport{}}
	if _, err := b.Connect(ConnectRequest{AppKey: "key"}, cl.tr); err == nil {
		t.Fatal("third connection admitted over a cluster-wide quota of 2")
	}
	cl.expectClose(4004)
}

// memCache is a SharedCache shared by the nodes of a test.
type memCache struct {
	mu   sync.Mutex
	m    map[string][2]string
	gets int
	err  error // every Get fails with it
}

func (c *memCache) Set(_ context.Context, app, ch, ev, data string, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][2]string{}
	}
	c.m[app+"/"+ch] = [2]string{ev, data}
	return nil
}

func (c *memCache) Get(_ context.Context, app, ch string) (string, string, time.Duration, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	if c.err != nil {
		return "", "", 0, false, c.err
	}
	v, ok := c.m[app+"/"+ch]
	return v[0], v[1], time.Minute, ok, nil
}

// TestSharedCacheReplaysOnALaterNode: a node that started after a cache
// channel's publish still replays it, from the shared cache.
func TestSharedCacheReplaysOnALaterNode(t *testing.T) {
	shared := &memCache{}
	a := newEngine(t, Options{SharedCache: shared})
	publish(t, a, "cache-prices", "tick", "42", "")
	b := newEngine(t, Options{SharedCache: shared}) // started later, never saw it
	cl := connect(t, b, "key")
	cl.mustSubscribe("cache-prices")
	if m := cl.expect("tick"); m.DataString() != "42" {
		t.Fatalf("replayed %s", m.Data)
	}
	if ce, ok := b.CachedEvent(t.Context(), testAppFrom(b), "cache-prices"); !ok || ce.Data != "42" {
		t.Fatalf("info=cache on the later node: %+v %v", ce, ok)
	}
}

func (c *memCache) getCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

// TestSharedCacheMissIsRemembered: the shared cache is asked once about
// a channel it has nothing for, and a publish still replaces the miss.
func TestSharedCacheMissIsRemembered(t *testing.T) {
	shared := &memCache{}
	e := newEngine(t, Options{SharedCache: shared})
	for range 3 {
		cl := connect(t, e, "key")
		cl.mustSubscribe("cache-empty")
		cl.expect(protocol.EventCacheMiss)
	}
	if n := shared.getCount(); n != 1 {
		t.Fatalf("shared cache asked %d times about one empty channel, want 1", n)
	}
	publish(t, e, "cache-empty", "tick", "7", "")
	cl := connect(t, e, "key")
	cl.mustSubscribe("cache-empty")
	if m := cl.expect("tick"); m.DataString() != "7" {
		t.Fatalf("after a publish: %s", m.Data)
	}
}

// TestSharedCacheOutageBacksOff: while the shared cache fails, subscribes
// answer from the local copy without asking it each time.
func TestSharedCacheOutageBacksOff(t *testing.T) {
	shared := &memCache{err: errors.New("redis: connection refused")}
	e := newEngine(t, Options{SharedCache: shared})
	for i := range 5 {
		cl := connect(t, e, "key")
		cl.mustSubscribe(fmt.Sprintf("cache-%d", i))
		cl.expect(protocol.EventCacheMiss)
	}
	if n := shared.getCount(); n != 1 {
		t.Fatalf("failing shared cache asked %d times, want 1 (then backed off)", n)
	}
}

// TestRememberedReportsAreBounded: what a node keeps for a dead owner's
// recovery is capped, the oldest going first.
func TestRememberedReportsAreBounded(t *testing.T) {
	e, _ := clusterNode(t, newHub(), "a", &hookLog{})
	c := e.cluster
	now := time.Now().UnixNano()
	c.hmu.Lock()
	defer c.hmu.Unlock()
	for i := range maxDeferred + 10 {
		c.remember(deferredHook{ev: WebhookEvent{Channel: strconv.Itoa(i)}, owner: "b", at: now})
	}
	if len(c.leftTo) != maxDeferred || c.leftTo[0].ev.Channel != "10" || !c.leftFull {
		t.Fatalf("kept %d, oldest %q, full %v; want %d from \"10\"", len(c.leftTo), c.leftTo[0].ev.Channel, c.leftFull, maxDeferred)
	}
	c.remember(deferredHook{ev: WebhookEvent{Channel: "late"}, owner: "b", at: now + int64(time.Hour)})
	if len(c.leftTo) != 1 {
		t.Fatalf("an hour later %d old reports are still kept", len(c.leftTo)-1)
	}
}
