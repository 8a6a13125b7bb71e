package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
)

// streamNode starts a cluster node on hub with connection recovery on.
func streamNode(t *testing.T, hub *memHub, name string) (*Engine, *memBus, *recovery.Buffer) {
	t.Helper()
	b := hub.bus()
	rb := recovery.New(recovery.Options{})
	e := newEngine(t, streamOptions(b, name, rb))
	hub.settled(t)
	return e, b, rb
}

func streamOptions(b *memBus, name string, rb *recovery.Buffer) Options {
	return Options{Bus: b, NodeName: name, HeartbeatInterval: 50 * time.Millisecond,
		NodeTimeout: time.Second, CleanupInterval: 50 * time.Millisecond, V2: V2Options{Recovery: rb}}
}

// ownerName is which of nodes a and b owns channel once both settled.
func ownerName(channel string) string {
	if ha, hb := rendezvous("a", channel), rendezvous("b", channel); hb > ha || hb == ha {
		return "b"
	}
	return "a"
}

// head is a node's replay-buffer position of channel.
func head(rb *recovery.Buffer, channel string) (string, uint64) {
	var s string
	var n uint64
	rb.Head("1", channel, func(stream string, serial uint64) { s, n = stream, serial })
	return s, n
}

// recvN reads n broadcasts of event and checks they form one stream with
// serials from..from+n-1 in order; it returns data → message id.
func recvN(t *testing.T, cl *client, event string, from uint64, n int) (string, map[string]string) {
	t.Helper()
	ids := map[string]string{}
	stream := ""
	for i := 0; i < n; i++ {
		m := cl.expectV2(event)
		if m.StreamID == nil || m.Serial == nil || m.MessageID == nil {
			t.Fatalf("message %d without a position: %s", i, m.Raw)
		}
		if stream == "" {
			stream = *m.StreamID
		}
		if *m.StreamID != stream || *m.Serial != from+uint64(i) {
			t.Fatalf("message %d: %s, want stream %s serial %d", i, m.Raw, stream, from+uint64(i))
		}
		d := m.dataString(t)
		if _, dup := ids[d]; dup {
			t.Fatalf("%s delivered twice", d)
		}
		ids[d] = *m.MessageID
	}
	return stream, ids
}

// TestClusterStreamIsOneSequence: publishes from both nodes, HTTP and
// client events, interleaved into one channel reach every V2 subscriber
// on both nodes as one stream with serials 1..N, each message with the
// same message id everywhere; the publishing node's acknowledgement has
// the serial its subscribers see.
func TestClusterStreamIsOneSequence(t *testing.T) {
	hub := newHub()
	a, _, _ := streamNode(t, hub, "a")
	b, _, _ := streamNode(t, hub, "b")
	app := testAppFrom(a)
	ca, cb := connectV2(t, a, ""), connectV2(t, b, "")
	ca.subscribePrivateV2("private-room")
	cb.subscribePrivateV2("private-room")
	const n = 20
	serials := map[string]uint64{}
	for i := 1; i <= n; i++ {
		node := a
		if i%2 == 0 {
			node = b
		}
		ev := &Event{Name: "ev", Data: fmt.Sprint(i), Channels: []string{"private-room"}, WantAcks: true}
		if err := node.Publish(t.Context(), app, ev); err != nil {
			t.Fatal(err)
		}
		if len(ev.Acks) != 1 || !ev.Acks[0].HasSerial || ev.Acks[0].MessageID == "" {
			t.Fatalf("publish %d: acks %+v", i, ev.Acks)
		}
		serials[fmt.Sprint(i)] = ev.Acks[0].Serial
	}
	sa, ida := recvN(t, ca, "ev", 1, n)
	sb, idb := recvN(t, cb, "ev", 1, n)
	if sa != sb {
		t.Fatalf("two streams: %s on a, %s on b", sa, sb)
	}
	for d, id := range ida {
		if idb[d] != id {
			t.Fatalf("message %s: id %s on a, %s on b", d, id, idb[d])
		}
	}
	// The acknowledged serials are the delivered ones: sequential
	// publishes get 1..N in publish order.
	for i := 1; i <= n; i++ {
		if serials[fmt.Sprint(i)] != uint64(i) {
			t.Fatalf("publish %d acknowledged serial %d", i, serials[fmt.Sprint(i)])
		}
	}
	// A client event continues the sequence from either node.
	cb.send(`{"event":"client-x","channel":"private-room","data":{}}`) // b's V2 sender gets its echo
	if m := ca.expectV2("client-x"); *m.StreamID != sa || *m.Serial != n+1 {
		t.Fatalf("client event on a: %s", m.Raw)
	}
	if m := cb.expectV2("client-x"); *m.StreamID != sa || *m.Serial != n+1 {
		t.Fatalf("client event echoed on b: %s", m.Raw)
	}
	ca.quiet()
	cb.quiet()
	if f := a.NodeSnapshot().Forwarded + b.NodeSnapshot().Forwarded; f < n/2 {
		t.Fatalf("%d publishes forwarded, want at least %d (half were published away from the owner)", f, n/2)
	}
}

// TestClusterStreamResumeOnAnotherNode: a client drops on one node while
// both publish; it reconnects to the other node and resumes: exactly the
// messages it missed, in order, once, then live ones.
func TestClusterStreamResumeOnAnotherNode(t *testing.T) {
	for _, first := range []string{"a", "b"} {
		t.Run("dropped on "+first, func(t *testing.T) {
			hub := newHub()
			a, _, ra := streamNode(t, hub, "a")
			b, _, rb := streamNode(t, hub, "b")
			nodes := map[string]*Engine{"a": a, "b": b}
			bufs := map[string]*recovery.Buffer{"a": ra, "b": rb}
			from, to := nodes[first], b
			toBuf := bufs["b"]
			if first == "b" {
				to, toBuf = a, bufs["a"]
			}
			c1 := connectV2(t, from, "")
			c1.subscribeV2("room")
			publish(t, a, "room", "ev", "1", "")
			publish(t, b, "room", "ev", "2", "")
			stream, _ := recvN(t, c1, "ev", 1, 2)
			c1.c.Gone(nil)
			const missed = 7
			for i := 3; i < 3+missed; i++ {
				publish(t, []*Engine{a, b}[i%2], "room", "ev", fmt.Sprint(i), "")
			}
			waitFor(t, "the other node holds every message", func() bool {
				s, h := head(toBuf, "room")
				return s == stream && h == 2+missed
			})
			c2 := connectV2(t, to, "")
			c2.subscribeV2("room")
			events, failed, ok := c2.resumeFrames(resumeData("room", stream, 2))
			if len(failed) != 0 || len(events) != missed {
				t.Fatalf("replayed %d, failed %d: %s", len(events), len(failed), ok.Raw)
			}
			got := map[string]bool{}
			for i, m := range events {
				if *m.Serial != uint64(3+i) || *m.StreamID != stream || got[m.dataString(t)] {
					t.Fatalf("replay %d: %s", i, m.Raw)
				}
				got[m.dataString(t)] = true
			}
			for i := 3; i < 3+missed; i++ {
				if !got[fmt.Sprint(i)] {
					t.Fatalf("message %d not replayed", i)
				}
			}
			publish(t, from, "room", "ev", "live", "")
			if m := c2.expectV2("ev"); *m.Serial != 3+missed || m.dataString(t) != "live" {
				t.Fatalf("live after resume: %s", m.Raw)
			}
			c2.quiet()
		})
	}
}

// TestClusterStreamOwnerLeaves: when the channel's owner stops, the
// survivor sequences a new stream: its subscribers get every message
// once (the old stream's, then the new one's from serial 1), and a resume
// from a position in the old stream fails with stream_reset instead of
// replaying a gap.
func TestClusterStreamOwnerLeaves(t *testing.T) {
	hub := newHub()
	// The owner is stopped by the test, not by a cleanup.
	names := map[string]string{"a": "b", "b": "a"}
	leaving, err := New(Options{Apps: staticApps{testApp()}, Shards: 1, Bus: hub.bus(), NodeName: ownerName("room"),
		HeartbeatInterval: 50 * time.Millisecond, NodeTimeout: time.Second, CleanupInterval: 50 * time.Millisecond,
		V2: V2Options{Recovery: recovery.New(recovery.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	survivor, _, _ := streamNode(t, hub, names[ownerName("room")])
	if o, _ := leaving.cluster.owner("room"); o != owner {
		t.Fatal("the rendezvous winner does not own the channel")
	}
	cs := connectV2(t, survivor, "")
	cs.subscribeV2("room")
	for i := 1; i <= 3; i++ {
		publish(t, survivor, "room", "ev", fmt.Sprint(i), "")
	}
	old, _ := recvN(t, cs, "ev", 1, 3)
	if err := leaving.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the survivor owns the channel", func() bool { return survivor.cluster.sequencer("room") == "" })
	for i := 4; i <= 6; i++ {
		publish(t, survivor, "room", "ev", fmt.Sprint(i), "")
	}
	fresh, _ := recvN(t, cs, "ev", 1, 3)
	if fresh == old {
		t.Fatal("the survivor continued the old owner's stream")
	}
	cs.quiet()
	c2 := connectV2(t, survivor, "")
	c2.subscribeV2("room")
	events, failed, _ := c2.resumeFrames(resumeData("room", old, 3))
	if len(events) != 0 || len(failed) != 1 || failureOf(t, failed[0])["code"] != "stream_reset" {
		t.Fatalf("resume in the old stream: %d replayed, failed %v", len(events), failed)
	}
}

// TestClusterStreamForwardRetriedWhenOwnerDies: a forward whose owner
// dies before sequencing it is sent again once the owner is declared
// dead, and delivered once; the HTTP publish learns its serial.
func TestClusterStreamForwardRetriedWhenOwnerDies(t *testing.T) {
	hub := newHub()
	a, abus, _ := streamNode(t, hub, "a")
	b, bbus, _ := streamNode(t, hub, "b")
	ownerBus, other := abus, b
	if o, _ := b.cluster.owner("room"); o == owner {
		ownerBus, other = bbus, a
	}
	cl := connectV2(t, other, "")
	cl.subscribeV2("room")
	ownerBus.crash() // the forward below reaches nobody
	ev := &Event{Name: "ev", Data: "x", Channels: []string{"room"}, WantAcks: true}
	if err := other.Publish(t.Context(), testAppFrom(other), ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Acks) != 1 || !ev.Acks[0].HasSerial || ev.Acks[0].Serial != 1 {
		t.Fatalf("acknowledgement of the retried forward: %+v", ev.Acks)
	}
	m := cl.expectV2("ev") // after the node timeout, sequenced by the survivor
	if *m.Serial != 1 || m.dataString(t) != "x" {
		t.Fatalf("retried forward: %s", m.Raw)
	}
	cl.quiet()
	if s := other.NodeSnapshot(); s.Forwarded != 1 || s.ForwardRetries != 1 || s.ForwardFailures != 0 {
		t.Fatalf("forwarded %d, retried %d, failed %d", s.Forwarded, s.ForwardRetries, s.ForwardFailures)
	}
}

// TestClusterStreamHistoryOffV1Unchanged: a V1 subscriber on another
// node receives sequenced publishes byte-identical to before.
func TestClusterStreamV1Unchanged(t *testing.T) {
	hub := newHub()
	a, _, _ := streamNode(t, hub, "a")
	b, _, _ := streamNode(t, hub, "b")
	for _, e := range []*Engine{a, b} {
		v1 := connect(t, e, "key")
		v1.mustSubscribe("room")
		publish(t, a, "room", "ev", "d1", "")
		publish(t, b, "room", "ev", "d2", "")
		got := map[string]bool{}
		for range 2 {
			m, ok := v1.rawNext()
			if !ok || m.Raw != `{"event":"ev","channel":"room","data":"`+m.dataString(t)+`"}` {
				t.Fatalf("V1 frame %q", m.Raw)
			}
			got[m.dataString(t)] = true
		}
		if !got["d1"] || !got["d2"] {
			t.Fatalf("V1 subscriber got %v", got)
		}
		v1.quiet()
	}
}

// TestClusterStreamUnansweredForwardIsCounted: a forward the owner never
// answers, while it still counts as alive, is given up after the forward
// timeout: counted as a failure, and not retried.
func TestClusterStreamUnansweredForwardIsCounted(t *testing.T) {
	hub := newHub()
	slow := func(name string) *Engine {
		o := streamOptions(hub.bus(), name, recovery.New(recovery.Options{}))
		o.NodeTimeout = time.Minute // the silent owner is not declared dead here
		return newEngine(t, o)
	}
	nodes := map[string]*Engine{"a": slow("a"), "b": slow("b")}
	hub.settled(t)
	other := nodes["a"]
	if ownerName("room") == "a" {
		other = nodes["b"]
	}
	hub.mu.Lock()
	owner := hub.nodes[ownerName("room")]
	hub.mu.Unlock()
	owner.crash()
	publish(t, other, "room", "ev", "lost", "")
	other.cluster.fmu.Lock()
	pending := len(other.cluster.pending)
	other.cluster.fmu.Unlock()
	if pending != 1 {
		t.Fatalf("%d forwards pending, want 1", pending)
	}
	other.cluster.expireForwards(time.Now().Add(3 * time.Minute).UnixNano()) // past 2 × node timeout
	other.cluster.fmu.Lock()
	pending = len(other.cluster.pending)
	other.cluster.fmu.Unlock()
	if s := other.NodeSnapshot(); pending != 0 || s.Forwarded != 1 || s.ForwardFailures != 1 || s.ForwardRetries != 0 {
		t.Fatalf("pending %d, forwarded %d, failed %d, retried %d", pending, s.Forwarded, s.ForwardFailures, s.ForwardRetries)
	}
}
