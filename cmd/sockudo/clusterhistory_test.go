package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
)

func TestClusterHistoryStreamsOverNATS(t *testing.T) {
	clusterHistoryScenario(t, natsBackend(t), pgtest.Start(t))
}

func TestClusterHistoryStreamsOverRedis(t *testing.T) {
	clusterHistoryScenario(t, redisBackend(t), pgtest.Start(t))
}

// historyClusterNode starts a node of the backend's cluster with
// connection recovery (replayable for 2 s) and durable history in db.
func historyClusterNode(t testing.TB, b backend, db *pgtest.DB, name string) (int, *node, func()) {
	t.Helper()
	port := freePort(t)
	n, _ := startNode(t, fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, "metrics": {"enabled": false},
		"instance": {"process_id": %q}, "adapter": %s,
		"connection_recovery": {"enabled": true, "buffer_ttl_seconds": 2},
		"history": {"enabled": true, "backend": "postgres", "postgres": {"table_prefix": "ch"}},
		"database": {"postgres": {"host": "127.0.0.1", "port": %d, "username": "postgres", "database": %q}},
		"cluster_health": {"heartbeat_interval_ms": 100, "node_timeout_ms": 600, "cleanup_interval_ms": 50},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`,
		port, name, b.adapter, db.Port, db.Name))
	var once sync.Once
	stop := func() { once.Do(func() { _ = n.shutdown() }) }
	t.Cleanup(stop)
	return port, n, stop
}

// resumeFrom resumes channel and checks it recovered from source with
// exactly the serials after..after+n, in order, once; it returns them.
func (w *v2ws) resumeFrom(channel, stream string, after uint64, n int, source string) []v2frame {
	w.t.Helper()
	inner, _ := json.Marshal(fmt.Sprintf(`{"channel_positions":{%q:{"stream_id":%q,"serial":%d}}}`, channel, stream, after))
	w.write(`{"event":"sockudo:resume","data":` + string(inner) + `}`)
	var events []v2frame
	for {
		f := w.nextAny()
		switch f.Event {
		case "sockudo:resume_failed":
			w.t.Fatalf("resume failed: %s", f.raw)
		case "sockudo:resume_success":
			var ok struct {
				Recovered []struct {
					Source   string `json:"source"`
					Replayed int    `json:"replayed"`
				} `json:"recovered"`
			}
			if json.Unmarshal([]byte(f.data()), &ok) != nil || len(ok.Recovered) != 1 || ok.Recovered[0].Replayed != n ||
				source != "" && ok.Recovered[0].Source != source {
				w.t.Fatalf("resume_success %s, want %d replayed from %q", f.raw, n, source)
			}
			if len(events) != n {
				w.t.Fatalf("%d replayed, want %d", len(events), n)
			}
			return events
		default:
			if f.StreamID != stream || f.Serial != after+uint64(len(events))+1 || f.MessageID == "" {
				w.t.Fatalf("replay %d: %s, want stream %s serial %d", len(events), f.raw, stream, after+uint64(len(events))+1)
			}
			events = append(events, f)
		}
	}
}

// nextAny returns the next frame (5 s deadline).
func (w *v2ws) nextAny() v2frame {
	w.t.Helper()
	select {
	case f, ok := <-w.in:
		if !ok {
			w.t.Fatal("connection closed")
		}
		return f
	case <-time.After(5 * time.Second):
		w.t.Fatal("timed out waiting for a frame")
	}
	return v2frame{}
}

// clusterHistoryScenario: two nodes, recovery and durable history (one
// PostgreSQL) on. Publishes from both nodes reach subscribers of both as
// one stream of store-assigned serials; a client dropped on one node
// resumes on the other from its hot buffer, and later (hot buffer
// expired) from durable history; the owner stopping cleanly leaves the
// stream and its sequence to the survivor, and a client resumes across
// the change.
func clusterHistoryScenario(t *testing.T, b backend, db *pgtest.DB) {
	p1, n1, stop1 := historyClusterNode(t, b, db, "node-1")
	p2, n2, stop2 := historyClusterNode(t, b, db, "node-2")
	waitPairSettled(t, n1, n2)
	owner, other := p1, p2
	ownerNode, otherNode, stopOwner := n1, n2, stop1
	if n1.eng.ChannelSequencer("room") == "node-2" {
		owner, other, ownerNode, otherNode, stopOwner = p2, p1, n2, n1, stop2
	}
	if s := otherNode.eng.ChannelSequencer("room"); s != ownerNode.eng.ChannelSequencer("room") {
		t.Fatalf("the nodes disagree on the sequencer: %s", s)
	}
	ports := []int{owner, other}
	publishN := func(from, to int) { t.Helper(); publishOn(t, ports, from, to) }
	xo, xr, d := dialV2(t, owner), dialV2(t, other), dialV2(t, owner)
	for _, c := range []*v2ws{xo, xr, d} {
		c.subscribe("room")
	}
	publishN(1, 10)
	so, _ := sameStream(t, xo, xr, 10)
	d.stream("ev", 1, 10)
	_ = d.c.UnderlyingConn().Close() // abrupt drop on the owner

	// Hot: the other node kept what the owner sequenced.
	publishN(11, 16)
	_, missed := xo.stream("ev", 11, 6)
	xr.stream("ev", 11, 6)
	r := dialV2(t, other)
	r.subscribe("room")
	for i, f := range r.resumeFrom("room", so, 10, 6, "") {
		// Serial order is the owner's order, not necessarily the publish
		// order: the replay must be what subscribers had at each serial.
		if missed[f.data()] != f.MessageID {
			t.Fatalf("replay %d: %s, not the missed message", i, f.raw)
		}
	}
	publishN(17, 17)
	if f := r.next("ev"); f.Serial != 17 || f.data() != "17" {
		t.Fatalf("live after the resume: %s", f.raw)
	}
	r.quiet()
	xo.stream("ev", 17, 1)
	xr.stream("ev", 17, 1)

	// Cold: the hot buffers expired; the other node reads what the owner
	// stored.
	time.Sleep(2500 * time.Millisecond) // past buffer_ttl_seconds
	c := dialV2(t, other)
	c.subscribe("room")
	c.resumeFrom("room", so, 12, 5, "cold")
	c.quiet()

	// The owner stops cleanly: the survivor continues the same stream.
	stopOwner()
	waitAlone(t, otherNode)
	publishOn(t, []int{other}, 18, 20)
	if s, _ := xr.stream("ev", 18, 3); s != so {
		t.Fatalf("the survivor started stream %s, want %s continued", s, so)
	}
	late := dialV2(t, other)
	late.subscribe("room")
	late.resumeFrom("room", so, 17, 3, "")
	late.quiet()
}

// BenchmarkClusterHistoryLatency is BenchmarkClusterStreamLatency with
// durable history on (PostgreSQL): per op, an HTTP publish on one node
// and the time until a V2 subscriber of that node has it stamped, when
// that node owns the channel (serial from its reserved block) and when
// it forwards to the owner over NATS.
func BenchmarkClusterHistoryLatency(b *testing.B) {
	be, db := natsBackend(b), pgtest.Start(b)
	p1, n1, _ := historyClusterNode(b, be, db, "node-1")
	p2, n2, _ := historyClusterNode(b, be, db, "node-2")
	waitPairSettled(b, n1, n2)
	benchOwnerAndForwarded(b, n1, p1, p2, func(b *testing.B, f v2frame) {
		if f.Serial == 0 {
			b.Fatalf("unstamped: %s", f.raw)
		}
	})
}
