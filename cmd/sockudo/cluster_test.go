package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/engine/bus/natsbus/natstest"
	"github.com/sockudo/sockudo-go/engine/redistest"
	"github.com/sockudo/sockudo-go/protocol"
)

// backend is a real bus backend for the multi-node tests.
type backend struct {
	adapter         string // the adapter section of the config
	outage, restore func()
}

func natsBackend(t testing.TB) backend {
	srv := natstest.Start(t)
	return backend{
		adapter: `{"driver": "nats", "nats": {"servers": ["` + srv.URL + `"]}}`,
		outage:  srv.Stop,
		restore: srv.Restart,
	}
}

func redisBackend(t testing.TB) backend {
	srv := redistest.Start(t, false)
	return backend{
		adapter: `{"driver": "redis", "redis": {"redis_pub_options": {"url": "` + srv.URL + `"}}}`,
		outage:  srv.Stop,
		restore: srv.Restart,
	}
}

// clusterNode starts a node of the backend's cluster and returns its port.
func clusterNode(t *testing.T, b backend, name string) (int, *node) {
	t.Helper()
	port := freePort(t)
	n, _ := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`,
		"metrics": {"host": "127.0.0.1", "port": `+strconv.Itoa(freePort(t))+`},
		"instance": {"process_id": "`+name+`"}, "adapter": `+b.adapter+`,
		"cluster_health": {"heartbeat_interval_ms": 100, "node_timeout_ms": 600, "cleanup_interval_ms": 50},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s", "enable_client_messages": true}]}}}`)
	t.Cleanup(func() { _ = n.shutdown() })
	return port, n
}

// wsClient is a raw Pusher client.
type wsClient struct {
	t  *testing.T
	c  *websocket.Conn
	id string
	in chan []byte // frames read by a background reader
}

func dial(t *testing.T, port int) *wsClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/k?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &wsClient{t: t, c: c, in: make(chan []byte, 1024)}
	go func() {
		defer close(w.in)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			w.in <- p
		}
	}()
	var d struct {
		SocketID string `json:"socket_id"`
	}
	_ = json.Unmarshal([]byte(w.next(protocol.EventConnectionEstablished).data), &d)
	w.id = d.SocketID
	return w
}

type frame struct{ event, channel, data, userID string }

// next reads frames until one with event arrives (5 s deadline).
func (w *wsClient) next(event string) frame {
	w.t.Helper()
	f, ok := w.poll(event, 5*time.Second)
	if !ok {
		w.t.Fatalf("timed out waiting for %s", event)
	}
	return f
}

// poll is next without failing.
func (w *wsClient) poll(event string, d time.Duration) (frame, bool) {
	timeout := time.After(d)
	for {
		var p []byte
		select {
		case p = <-w.in:
		case <-timeout:
			return frame{}, false
		}
		var m struct {
			Event, Channel string
			Data           json.RawMessage
			UserID         string `json:"user_id"`
		}
		_ = json.Unmarshal(p, &m)
		if m.Event == event {
			var s string
			if json.Unmarshal(m.Data, &s) != nil {
				s = string(m.Data)
			}
			return frame{m.Event, m.Channel, s, m.UserID}, true
		}
	}
}

func (w *wsClient) send(v map[string]any) {
	b, _ := json.Marshal(v)
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) join(channel, user string) frame {
	cd := `{"user_id":"` + user + `","user_info":{}}`
	w.send(map[string]any{"event": "pusher:subscribe", "data": map[string]any{"channel": channel,
		"auth": "k:" + protocol.SignChannel("s", w.id, channel, cd), "channel_data": cd}})
	return w.next(protocol.EventSubscriptionSucceeded)
}

func api(port int) *pusher.Client {
	return &pusher.Client{AppID: "1", Key: "k", Secret: "s", Host: "127.0.0.1:" + strconv.Itoa(port)}
}

func TestClusterOverNATS(t *testing.T)  { clusterScenario(t, natsBackend(t)) }
func TestClusterOverRedis(t *testing.T) { clusterScenario(t, redisBackend(t)) }

// clusterScenario drives two nodes through the real wiring.
func clusterScenario(t *testing.T, b backend) {
	p1, _ := clusterNode(t, b, "node-1")
	p2, _ := clusterNode(t, b, "node-2")
	a, c := dial(t, p1), dial(t, p2)
	a.join("presence-room", "alice")
	waitCond(t, "node 2 sees alice", func() bool { return userCount(t, p2, "presence-room") == 1 })
	if got := c.join("presence-room", "carol"); !strings.Contains(got.data, `"alice"`) {
		t.Fatalf("carol's member list lacks alice: %s", got.data)
	}
	if m := a.next(protocol.EventMemberAdded); !strings.Contains(m.data, `"carol"`) {
		t.Fatalf("member_added across nodes: %s", m.data)
	}
	// A publish on node 1 reaches node 2, excluding a socket on node 2.
	if err := api(p1).Trigger("presence-room", "news", map[string]string{"n": "1"}); err != nil {
		t.Fatal(err)
	}
	c.next("news")
	a.next("news")
	params := pusher.TriggerParams{SocketID: &c.id}
	if _, err := api(p1).TriggerWithParams("presence-room", "excl", "x", params); err != nil {
		t.Fatal(err)
	}
	a.next("excl")
	// Client events cross nodes, with user_id.
	a.send(map[string]any{"event": "client-typing", "channel": "presence-room", "data": map[string]any{"t": 1}})
	if m := c.next("client-typing"); m.userID != "alice" {
		t.Fatalf("client event across nodes: %+v", m)
	}
	// Cluster-wide REST answers.
	waitCond(t, "counts on node 2", func() bool { return subCount(t, p2, "presence-room") == 2 })
	// The bus goes away and comes back: local service continues, then
	// the nodes resynchronise.
	b.outage()
	if err := api(p2).Trigger("presence-room", "local", "x"); err != nil {
		t.Fatalf("publish during the outage: %v", err)
	}
	c.next("local")
	b.restore()
	waitCond(t, "traffic after the outage", func() bool {
		if err := api(p2).Trigger("presence-room", "again", "x"); err != nil {
			return false
		}
		_, ok := a.poll("again", 300*time.Millisecond)
		return ok
	})
	// send-to-user and terminate reach a user signed in on the other node.
	u := dial(t, p1)
	ud := `{"id":"dave"}`
	u.send(map[string]any{"event": "pusher:signin", "data": map[string]any{"user_data": ud, "auth": "k:" + protocol.SignUser("s", u.id, ud)}})
	u.next(protocol.EventSigninSuccess)
	waitCond(t, "dm via node 2", func() bool {
		_ = api(p2).SendToUser("dave", "dm", "hi")
		_, ok := u.poll("dm", 200*time.Millisecond)
		return ok
	})
	terminate(t, p2, "dave")
	u.next(protocol.EventError) // 4009, then the close
	// Leaving on node 2 is a member_removed on node 1.
	c.c.Close()
	if m := a.next(protocol.EventMemberRemoved); !strings.Contains(m.data, `"carol"`) {
		t.Fatalf("member_removed across nodes: %s", m.data)
	}
}

func channelInfo(t *testing.T, port int, channel, info string) *pusher.Channel {
	t.Helper()
	ch, err := api(port).Channel(channel, pusher.ChannelParams{Info: &info})
	if err != nil {
		return nil
	}
	return ch
}

func userCount(t *testing.T, port int, channel string) int {
	if ch := channelInfo(t, port, channel, "user_count"); ch != nil {
		return ch.UserCount
	}
	return -1
}

func subCount(t *testing.T, port int, channel string) int {
	if ch := channelInfo(t, port, channel, "subscription_count"); ch != nil {
		return ch.SubscriptionCount
	}
	return -1
}

func waitCond(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate calls terminate_connections through a hand-signed request
// (pusher-http-go v5.1.1 has no method for it).
func terminate(t *testing.T, port int, user string) {
	t.Helper()
	path := "/apps/1/users/" + user + "/terminate_connections"
	body := []byte("{}")
	q := protocol.SignRequest("POST", path, nil, body, "k", "s", time.Now())
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+path+"?"+q, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("terminate: %d", resp.StatusCode)
	}
}
