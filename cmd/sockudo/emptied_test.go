package main

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

func TestEmptiedChannelOverNATS(t *testing.T)  { emptiedChannel(t, natsBackend(t)) }
func TestEmptiedChannelOverRedis(t *testing.T) { emptiedChannel(t, redisBackend(t)) }

// emptiedChannel: a channel whose last subscriber left on node 2 answers on
// node 1 exactly like a channel never used, and neither node keeps any
// state of it.
func emptiedChannel(t *testing.T, b backend) {
	p1, n1 := clusterNode(t, b, "node-1")
	p2, n2 := clusterNode(t, b, "node-2")
	const query = "subscription_count"
	never := channelBody(t, p1, "never-used", query)
	if never != `{"occupied":false}` {
		t.Fatalf("a never-used channel answers %s", never)
	}
	c := dial(t, p2)
	c.send(map[string]any{"event": "pusher:subscribe", "data": map[string]any{"channel": "news"}})
	c.next(protocol.EventSubscriptionSucceeded)
	c.join("presence-room", "carol")
	waitCond(t, "node 1 counts node 2's subscriber", func() bool {
		return channelBody(t, p1, "news", query) == `{"occupied":true,"subscription_count":1}`
	})
	c.send(map[string]any{"event": "pusher:unsubscribe", "data": map[string]any{"channel": "news"}})
	waitCond(t, "node 1 sees the channel emptied", func() bool {
		return channelBody(t, p1, "news", query) == never
	})
	if got := channelBody(t, p2, "news", query); got != never {
		t.Fatalf("node 2 answers %s for the channel emptied on it, %s for one never used", got, never)
	}
	_ = c.c.Close() // the presence channel empties by disconnecting
	churn(t, p2, 1000)
	waitCond(t, "node 1 sees the presence channel emptied", func() bool {
		return channelBody(t, p1, "presence-room", "user_count,subscription_count") == never
	})
	for i, n := range []*node{n1, n2} {
		deadline := time.Now().Add(20 * time.Second)
		for r := n.eng.Registries(); r != [len(engine.RegistryLabels)]int64{}; r = n.eng.Registries() {
			if time.Now().After(deadline) {
				t.Fatalf("node %d keeps %v entries (%v)", i+1, r, engine.RegistryLabels)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := channelBody(t, p1, "churn-0", query); got != never {
		t.Fatalf("a churned channel answers %s, one never used %s", got, never)
	}
}

// channelBody is the raw body of GET /apps/1/channels/{channel}?info=…, as
// an SDK would sign it.
func channelBody(t *testing.T, port int, channel, info string) string {
	t.Helper()
	path := "/apps/1/channels/" + channel
	params := map[string]string{"info": info}
	q := protocol.SignRequest("GET", path, params, nil, "k", "s", time.Now())
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + path + "?" + q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, body, err)
	}
	return string(body)
}

// churn subscribes two connections of a node to channels distinct
// channels and leaves them: the first leave of each is announced with the
// coalesced counts, the last at once, racing over the real bus.
func churn(t *testing.T, port, channels int) {
	t.Helper()
	c1, c2 := dial(t, port), dial(t, port)
	for _, op := range []string{"pusher:subscribe", "pusher:unsubscribe"} {
		for i := range channels {
			for _, c := range []*wsClient{c1, c2} {
				c.send(map[string]any{"event": op, "data": map[string]any{"channel": "churn-" + strconv.Itoa(i)}})
			}
		}
	}
}
