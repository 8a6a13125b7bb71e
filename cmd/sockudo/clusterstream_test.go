package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

func TestClusterStreamsOverNATS(t *testing.T)  { clusterStreamScenario(t, natsBackend(t)) }
func TestClusterStreamsOverRedis(t *testing.T) { clusterStreamScenario(t, redisBackend(t)) }

// streamClusterNode starts a node of the backend's cluster with connection
// recovery on (durable history off). The caller stops it (stop is safe to
// call twice).
func streamClusterNode(t testing.TB, b backend, name string) (int, *node, func()) {
	t.Helper()
	port := freePort(t)
	n, _ := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`, "metrics": {"enabled": false},
		"instance": {"process_id": "`+name+`"}, "adapter": `+b.adapter+`,
		"connection_recovery": {"enabled": true},
		"cluster_health": {"heartbeat_interval_ms": 100, "node_timeout_ms": 600, "cleanup_interval_ms": 50},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`)
	var once sync.Once
	stop := func() { once.Do(func() { _ = n.shutdown() }) }
	t.Cleanup(stop)
	return port, n, stop
}

// v2ws is a raw protocol V2 client.
type v2ws struct {
	t  testing.TB
	c  *websocket.Conn
	in chan v2frame
}

// v2frame is a decoded V2 server frame.
type v2frame struct {
	Event     string          `json:"event"`
	Channel   string          `json:"channel"`
	Data      json.RawMessage `json:"data"`
	MessageID string          `json:"message_id"`
	StreamID  string          `json:"stream_id"`
	Serial    uint64          `json:"serial"`
	raw       string
}

func (f v2frame) data() string {
	var s string
	if json.Unmarshal(f.Data, &s) != nil {
		return string(f.Data)
	}
	return s
}

func dialV2(t testing.TB, port int) *v2ws {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/k?protocol=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &v2ws{t: t, c: c, in: make(chan v2frame, 4096)}
	go func() {
		defer close(w.in)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			f := v2frame{raw: string(p)}
			_ = json.Unmarshal(p, &f)
			w.in <- f
		}
	}()
	w.next("sockudo:connection_established")
	return w
}

// next returns the next frame, which must be event (5 s deadline).
func (w *v2ws) next(event string) v2frame {
	w.t.Helper()
	select {
	case f, ok := <-w.in:
		if !ok {
			w.t.Fatalf("connection closed waiting for %s", event)
		}
		if f.Event != event {
			w.t.Fatalf("got %s, want %s", f.raw, event)
		}
		return f
	case <-time.After(5 * time.Second):
		w.t.Fatalf("timed out waiting for %s", event)
	}
	return v2frame{}
}

// quiet fails on any frame arriving within a short while.
func (w *v2ws) quiet() {
	w.t.Helper()
	select {
	case f, ok := <-w.in:
		if ok {
			w.t.Fatalf("unexpected frame %s", f.raw)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

func (w *v2ws) write(s string) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *v2ws) subscribe(channel string) {
	w.t.Helper()
	w.write(`{"event":"sockudo:subscribe","data":{"channel":"` + channel + `"}}`)
	w.next("sockudo_internal:subscription_succeeded")
}

// stream reads n broadcasts of event: one stream, serials from..from+n-1
// in order, each message once. It returns the stream and data → id.
func (w *v2ws) stream(event string, from uint64, n int) (string, map[string]string) {
	w.t.Helper()
	ids := map[string]string{}
	stream := ""
	for i := 0; i < n; i++ {
		f := w.next(event)
		if stream == "" {
			stream = f.StreamID
		}
		if stream == "" || f.StreamID != stream || f.Serial != from+uint64(i) || f.MessageID == "" {
			w.t.Fatalf("message %d: %s, want stream %q serial %d", i, f.raw, stream, from+uint64(i))
		}
		if _, dup := ids[f.data()]; dup {
			w.t.Fatalf("%s delivered twice", f.data())
		}
		ids[f.data()] = f.MessageID
	}
	return stream, ids
}

// resume sends sockudo:resume for one channel and collects the frames up
// to resume_success.
func (w *v2ws) resume(channel, stream string, serial uint64) (events, failed []v2frame) {
	w.t.Helper()
	inner, _ := json.Marshal(fmt.Sprintf(`{"channel_positions":{%q:{"stream_id":%q,"serial":%d}}}`, channel, stream, serial))
	w.write(`{"event":"sockudo:resume","data":` + string(inner) + `}`)
	for {
		select {
		case f, ok := <-w.in:
			if !ok {
				w.t.Fatal("connection closed during the resume")
			}
			switch f.Event {
			case "sockudo:resume_success":
				return events, failed
			case "sockudo:resume_failed":
				failed = append(failed, f)
			default:
				events = append(events, f)
			}
		case <-time.After(5 * time.Second):
			w.t.Fatal("no resume_success")
		}
	}
}

// clusterStreamScenario: two nodes, recovery on, history off. Publishes
// from both nodes form one stream everywhere; a client dropped on one
// node resumes on the other; the channel's owner stopping starts a new
// stream on the survivor, and an old position gets stream_reset.
func clusterStreamScenario(t *testing.T, b backend) {
	p1, n1, stop1 := streamClusterNode(t, b, "node-1")
	p2, n2, stop2 := streamClusterNode(t, b, "node-2")
	waitPairSettled(t, n1, n2)
	if s1, s2 := n1.eng.ChannelSequencer("room"), n2.eng.ChannelSequencer("room"); s1 != s2 {
		t.Fatalf("the nodes disagree on the sequencer: %s, %s", s1, s2)
	}
	ports := []int{p1, p2}
	x1, x2, d := dialV2(t, p1), dialV2(t, p2), dialV2(t, p1)
	for _, c := range []*v2ws{x1, x2, d} {
		c.subscribe("room")
	}
	publishN := func(from, to int) { t.Helper(); publishOn(t, ports, from, to) }
	publishN(1, 10)
	s1, ids2 := sameStream(t, x1, x2, 10)
	d.stream("ev", 1, 10)
	_ = d.c.UnderlyingConn().Close() // abrupt drop on node 1

	publishN(11, 16)
	x1.stream("ev", 11, 6)
	x2.stream("ev", 11, 6) // node 2 keeps a message before delivering it
	r := dialV2(t, p2)
	r.subscribe("room")
	events, failed := r.resume("room", s1, 10)
	if len(failed) != 0 || len(events) != 6 {
		t.Fatalf("resume on the other node: %d replayed, %d failed", len(events), len(failed))
	}
	seen := map[string]bool{}
	for i, f := range events {
		if f.StreamID != s1 || f.Serial != uint64(11+i) || seen[f.data()] || ids2[f.data()] != "" {
			t.Fatalf("replay %d: %s", i, f.raw)
		}
		seen[f.data()] = true
	}
	publishN(17, 17)
	if f := r.next("ev"); f.Serial != 17 || f.data() != "17" {
		t.Fatalf("live after the resume: %s", f.raw)
	}
	r.quiet()
	x1.stream("ev", 17, 1)
	x2.stream("ev", 17, 1)

	// The owner stops: the survivor sequences a new stream.
	survivor, survivorPort, survivorNode, stop := x2, p2, n2, stop1
	if n1.eng.ChannelSequencer("room") == "node-2" {
		survivor, survivorPort, survivorNode, stop = x1, p1, n1, stop2
	}
	stop()
	waitAlone(t, survivorNode)
	publishOn(t, []int{survivorPort}, 18, 20)
	fresh, _ := survivor.stream("ev", 1, 3)
	if fresh == s1 {
		t.Fatal("the survivor continued the stopped owner's stream")
	}
	survivor.quiet()
	late := dialV2(t, survivorPort)
	late.subscribe("room")
	if events, failed := late.resume("room", s1, 17); len(events) != 0 || len(failed) != 1 ||
		!jsonHas(failed[0].data(), "code", "stream_reset") {
		t.Fatalf("resume in the old stream: %d replayed, failed %v", len(events), failed)
	}
}

func jsonHas(s, key, want string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(s), &m) == nil && m[key] == want
}

// BenchmarkClusterStreamLatency is what a forward to the channel's owner
// costs an HTTP publish's own node: per op, a publish on one node and the
// time until a V2 subscriber of that node has it, when that node is the
// channel's owner (sequenced locally) and when it is not (one round trip
// to the owner over the bus).
func BenchmarkClusterStreamLatency(b *testing.B) {
	for _, bus := range []struct {
		name string
		of   func(testing.TB) backend
	}{{"nats", natsBackend}, {"redis", redisBackend}} {
		b.Run(bus.name, func(b *testing.B) {
			be := bus.of(b)
			p1, n1, _ := streamClusterNode(b, be, "node-1")
			p2, n2, _ := streamClusterNode(b, be, "node-2")
			waitPairSettled(b, n1, n2)
			benchOwnerAndForwarded(b, n1, p1, p2, func(*testing.B, v2frame) {})
		})
	}
}

// waitPairSettled waits until both nodes of a two-node cluster settled and
// each counts the other as its one peer.
func waitPairSettled(t testing.TB, n1, n2 *node) {
	t.Helper()
	waitCond(t, "both nodes settled and known to each other", func() bool {
		s1, r1 := n1.eng.ClusterSettled()
		s2, r2 := n2.eng.ClusterSettled()
		return s1 && s2 && r1 == 1 && r2 == 1
	})
}

// benchOwnerAndForwarded times, per op, an HTTP publish on channel "bench"
// and its arrival at a V2 subscriber of the same node, once on the
// channel's owner (n1's port p1 or p2) and once on the other node, which
// forwards to the owner. check inspects each received frame.
func benchOwnerAndForwarded(b *testing.B, n1 *node, p1, p2 int, check func(*testing.B, v2frame)) {
	ownerPort, otherPort := p1, p2
	if n1.eng.ChannelSequencer("bench") == "node-2" {
		ownerPort, otherPort = p2, p1
	}
	for _, c := range []struct {
		name string
		port int
	}{{"owner", ownerPort}, {"forwarded", otherPort}} {
		b.Run(c.name, func(b *testing.B) {
			w := dialV2(b, c.port)
			w.subscribe("bench")
			client := api(c.port)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := client.Trigger("bench", "ev", "x"); err != nil {
					b.Fatal(err)
				}
				check(b, w.next("ev"))
			}
		})
	}
}

// waitAlone waits until n counts no peer (the other node stopped).
func waitAlone(t testing.TB, n *node) {
	t.Helper()
	waitCond(t, "the survivor sequences alone", func() bool {
		_, peers := n.eng.ClusterSettled()
		return peers == 0
	})
}

// publishOn publishes events from…to on channel "room", event i through
// the HTTP API of ports[i % len(ports)], the event's number as its data.
func publishOn(t testing.TB, ports []int, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := api(ports[i%len(ports)]).Trigger("room", "ev", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// sameStream reads events 1…n on a and b, subscribers of different nodes,
// and fails unless both got them in one stream, each message with the same
// id on both. It returns the stream and b's ids by data.
func sameStream(t testing.TB, a, b *v2ws, n int) (string, map[string]string) {
	t.Helper()
	sa, idsA := a.stream("ev", 1, n)
	sb, idsB := b.stream("ev", 1, n)
	if sa != sb {
		t.Fatalf("two streams: %s on one node, %s on the other", sa, sb)
	}
	for data, id := range idsA {
		if idsB[data] != id {
			t.Fatalf("message %s has id %s on one node, %s on the other", data, id, idsB[data])
		}
	}
	return sa, idsB
}
