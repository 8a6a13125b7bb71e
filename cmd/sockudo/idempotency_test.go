package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/redistest"
	"github.com/sockudo/sockudo-go/protocol"
)

// keyedPublish posts body to node port's /apps/1/events with
// X-Idempotency-Key: key, as a backend retrying through a load balancer.
func keyedPublish(t *testing.T, port int, body, key string) (int, string) {
	t.Helper()
	const path = "/apps/1/events"
	q := protocol.SignRequest(http.MethodPost, path, nil, []byte(body), "k", "s", time.Now())
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(port)+path+"?"+q, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("publish to node on %d: %v", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// countUntil counts w's frames of event until the sentinel events in
// ends have all arrived.
func countUntil(t *testing.T, w *wsClient, event string, ends ...string) int {
	t.Helper()
	n, left := 0, map[string]bool{}
	for _, e := range ends {
		left[e] = true
	}
	timeout := time.After(10 * time.Second)
	for len(left) > 0 {
		var p []byte
		select {
		case p = <-w.in:
		case <-timeout:
			t.Fatalf("sentinels %v never arrived", left)
		}
		var m struct{ Event string }
		_ = json.Unmarshal(p, &m)
		if m.Event == event {
			n++
		}
		delete(left, m.Event)
	}
	return n
}

// TestIdempotencyAcrossNodesOverRedis: two nodes sharing cache.driver =
// redis agree on keys, so a duplicate retried through the other node is
// answered with the first response and broadcast once; with Redis gone a
// keyed publish is refused rather than risk a second broadcast.
func TestIdempotencyAcrossNodesOverRedis(t *testing.T) {
	srv := redistest.Start(t, false)
	b := backend{
		adapter: `{"driver": "redis", "redis": {"redis_pub_options": {"url": "` + srv.URL + `"}}},
		"cache": {"driver": "redis", "redis": {"url_override": "` + srv.URL + `", "prefix": "idem_test:"}}`,
	}
	p1, _ := clusterNode(t, b, "node-1")
	p2, _ := clusterNode(t, b, "node-2")
	s1, s2 := dial(t, p1), dial(t, p2)
	for _, w := range []*wsClient{s1, s2} {
		w.send(map[string]any{"event": "pusher:subscribe", "data": map[string]any{"channel": "orders"}})
		w.next(protocol.EventSubscriptionSucceeded)
	}
	waitCond(t, "both subscribers known cluster-wide", func() bool { return subCount(t, p1, "orders") == 2 })

	body := `{"name":"paid","channel":"orders","data":"{\"id\":7}","info":"subscription_count"}`
	st1, first := keyedPublish(t, p1, body, "order-7")
	st2, again := keyedPublish(t, p2, body, "order-7")
	if st1 != 200 || st2 != 200 || again != first {
		t.Fatalf("first %d %s, duplicate via node 2 %d %s", st1, first, st2, again)
	}
	if st, resp := keyedPublish(t, p2, strings.Replace(body, "7", "8", 1), "order-7"); st != 400 ||
		!strings.Contains(resp, "different payload") {
		t.Fatalf("another payload via node 2: %d %s", st, resp)
	}
	for i, p := range []int{p1, p2} {
		if st, resp := keyedPublish(t, p, `{"name":"end`+strconv.Itoa(i+1)+`","channel":"orders","data":"x"}`, ""); st != 200 {
			t.Fatalf("sentinel: %d %s", st, resp)
		}
	}
	for i, w := range []*wsClient{s1, s2} {
		if n := countUntil(t, w, "paid", "end1", "end2"); n != 1 {
			t.Fatalf("subscriber on node %d got %d broadcasts of a key sent to both nodes, want 1", i+1, n)
		}
	}

	srv.Stop()
	st, resp := keyedPublish(t, p2, body, "order-9")
	if st != 503 || !strings.Contains(resp, `"code":"service_unavailable"`) ||
		!strings.Contains(resp, "Idempotency coordination is temporarily unavailable") {
		t.Fatalf("keyed publish with Redis down: %d %s", st, resp)
	}
	// A plain publish still works (node-local delivery) and comes after
	// nothing: the refused one was not broadcast.
	if st, resp := keyedPublish(t, p2, `{"name":"down","channel":"orders","data":"x"}`, ""); st != 200 {
		t.Fatalf("plain publish with Redis down: %d %s", st, resp)
	}
	if n := countUntil(t, s2, "paid", "down"); n != 0 {
		t.Fatalf("refused keyed publish was broadcast %d times", n)
	}
}
