package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// waitLong is waitFor with a deadline for bulk work on a loaded machine.
func waitLong(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// registryLeft describes what a node still holds when nothing is
// subscribed or signed in anywhere: "" when all is back to empty.
func registryLeft(e *Engine) string {
	var left []string
	r := e.Registries()
	for i, n := range r {
		if n != 0 {
			left = append(left, fmt.Sprintf("%s=%d", RegistryLabels[i], n))
		}
	}
	if n := e.cluster.pendingLen(); n != 0 {
		left = append(left, fmt.Sprintf("pending counts=%d", n))
	}
	for _, w := range e.workers {
		w.subMu.RLock()
		if n := len(w.subs); n != 0 {
			left = append(left, fmt.Sprintf("worker index=%d", n))
		}
		w.subMu.RUnlock()
	}
	return strings.Join(left, " ")
}

// TestClusterChurnLeavesNothing: after 10,000 distinct channels are
// subscribed and left on two nodes (public ones by unsubscribe, the
// presence ones by disconnecting), neither node keeps any state of them,
// local or learned from the other; a channel emptied on the other node
// answers like one never used.
func TestClusterChurnLeavesNothing(t *testing.T) {
	const channels = 10000
	hub := newHub()
	a, _ := clusterNode(t, hub, "a", &hookLog{})
	b, _ := clusterNode(t, hub, "b", &hookLog{})
	name := func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("presence-churn-%d", i)
		}
		return fmt.Sprintf("churn-%d", i)
	}
	var pubs, presence []*client
	for _, e := range []*Engine{a, b} {
		// Public channels on two connections, left by unsubscribe (the
		// first leave is announced with the coalesced counts, the last at
		// once); each presence channel on its own signed-in connection,
		// left by disconnecting.
		pub1, pub2 := connect(t, e, "key"), connect(t, e, "key")
		pubs = append(pubs, pub1, pub2)
		for i := range channels {
			ch := name(i)
			if i%10 != 0 {
				pub1.sendJSON(protocol.EventSubscribe, map[string]any{"channel": ch}, "")
				pub2.sendJSON(protocol.EventSubscribe, map[string]any{"channel": ch}, "")
				continue
			}
			cl := connect(t, e, "key")
			user := fmt.Sprintf("u%d-%s", i, e.opts.NodeName)
			cl.signin(`{"id":"` + user + `","watchlist":["w` + user + `"]}`)
			cl.expect(protocol.EventSigninSuccess)
			cl.joinPresence(ch, user, `{}`)
			presence = append(presence, cl)
		}
	}
	full := func(e *Engine) func() bool {
		return func() bool {
			r := e.Registries()
			return r[RegistryChannels] == channels && r[RegistryPeerChannels] == channels &&
				r[RegistryPeerMembers] == channels/10 && r[RegistryPeerUsers] == channels/10
		}
	}
	for _, e := range []*Engine{a, b} {
		waitLong(t, e.opts.NodeName+" tracks every channel on both nodes", full(e), func() string { return fmt.Sprint(e.Registries()) })
	}
	for i := range channels {
		if i%10 != 0 {
			for _, pub := range pubs {
				pub.sendJSON(protocol.EventUnsubscribe, map[string]any{"channel": name(i)}, "")
			}
		}
	}
	for _, cl := range presence {
		cl.c.Gone(nil)
	}
	for _, e := range []*Engine{a, b} {
		waitLong(t, e.opts.NodeName+" back to empty", func() bool { return registryLeft(e) == "" }, func() string { return registryLeft(e) })
	}
	for _, e := range []*Engine{a, b} {
		app := testAppFrom(e)
		never, _ := e.Channel(t.Context(), app, "never-used")
		for i := range channels {
			got, _ := e.Channel(t.Context(), app, name(i))
			if got.Name = never.Name; got != never {
				t.Fatalf("%s answers %+v for %s, emptied on both nodes; %+v for a channel never used",
					e.opts.NodeName, got, name(i), never)
			}
		}
	}
}

// TestClusterResyncDropsWhatLeftDuringOutage: what another node stopped
// holding while this node's bus was down is dropped by the resync, its
// connection count included (else the app's quota would count ghosts).
func TestClusterResyncDropsWhatLeftDuringOutage(t *testing.T) {
	hub := newHub()
	a, abus := clusterNode(t, hub, "a", nil)
	b, _ := clusterNode(t, hub, "b", nil)
	cb := connect(t, b, "key")
	cb.mustSubscribe("news")
	cb.signin(`{"id":"u1"}`)
	cb.expect(protocol.EventSigninSuccess)
	cb.joinPresence("presence-room", "u1", `{}`)
	rt := a.runtimeFor(testAppFrom(a))
	waitFor(t, "a learns b's state", func() bool {
		r := a.Registries()
		return r[RegistryPeerChannels] == 2 && r[RegistryPeerMembers] == 1 && r[RegistryPeerUsers] == 1 &&
			a.cluster.remoteConns(rt) == 1
	})
	abus.setDown(true)
	cb.c.Gone(nil)
	waitFor(t, "b announced the release (to nobody)", func() bool { return b.Stats().Connections == 0 && b.cluster.pendingLen() == 0 })
	abus.setDown(false)
	waitLong(t, "a resynchronised", func() bool { return registryLeft(a) == "" && a.cluster.remoteConns(rt) == 0 },
		func() string {
			return fmt.Sprintf("%s remote connections=%d", registryLeft(a), a.cluster.remoteConns(rt))
		})
}
