package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/sockudo/sockudo-go/protocol"
)

// filterNode starts a node of b's cluster with extra top-level config
// sections and returns its port.
func filterNode(t *testing.T, b backend, name, sections string) int {
	t.Helper()
	port := freePort(t)
	n, _ := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`,
		"metrics": {"host": "127.0.0.1", "port": `+strconv.Itoa(freePort(t))+`},
		"instance": {"process_id": "`+name+`"}, "adapter": `+b.adapter+`, `+sections+`
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`)
	t.Cleanup(func() { _ = n.shutdown() })
	return port
}

// dialV2Raw opens a protocol=2 connection and returns its frames, raw.
func dialV2Raw(t *testing.T, port int) (*websocket.Conn, chan []byte) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/k?protocol=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	in := make(chan []byte, 256)
	go func() {
		defer close(in)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			in <- p
		}
	}()
	return c, in
}

type v2Frame struct {
	Event   string            `json:"event"`
	Channel string            `json:"channel"`
	Tags    map[string]string `json:"tags"`
	Data    json.RawMessage   `json:"data"`
}

// framesUntil collects frames until one of event end arrives (5 s).
func framesUntil(t *testing.T, in chan []byte, end string) []v2Frame {
	t.Helper()
	var got []v2Frame
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p, ok := <-in:
			if !ok {
				t.Fatalf("connection closed; got %+v", got)
			}
			var f v2Frame
			if err := json.Unmarshal(p, &f); err != nil {
				t.Fatalf("frame %s: %v", p, err)
			}
			if f.Event == end {
				return append(got, f)
			}
			got = append(got, f)
		case <-timeout:
			t.Fatalf("no %s; got %+v", end, got)
		}
	}
}

func publishTags(t *testing.T, port int, event, tags string) {
	t.Helper()
	body := `{"name":"` + event + `","channel":"orders","data":"x","tags":` + tags + `}`
	const path = "/apps/1/events"
	q := protocol.SignRequest(http.MethodPost, path, nil, []byte(body), "k", "s", time.Now())
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+path+"?"+q, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish %s: %d", event, resp.StatusCode)
	}
}

// TestFiltersFromConfigAcrossNodes: with tag_filtering on in the file, a
// V2 subscriber on one node gets only the messages its tag filter
// accepts of those published through another node, with their tags
// (enable_tags defaults to true once the section exists); without the
// section the tag filter is validated and not applied, and tags are not
// sent (Sockudo's defaults). Filters from the file's
// event_name_filtering limit are refused with 4000.
func TestFiltersFromConfigAcrossNodes(t *testing.T) {
	b := natsBackend(t)
	sections := `"tag_filtering": {"enabled": true}, "event_name_filtering": {"max_events_per_filter": 2},`
	p1 := filterNode(t, b, "node-1", sections)
	p2 := filterNode(t, b, "node-2", sections)
	c, in := dialV2Raw(t, p2)
	framesUntil(t, in, "sockudo:connection_established")
	send := func(s string) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"event":"sockudo:subscribe","data":{"channel":"orders","filter":{"events":["a","b","c"]}}}`)
	if f := framesUntil(t, in, "sockudo:error"); len(f) != 1 || !strings.Contains(string(f[0].Data), "4000") {
		t.Fatalf("events over the configured limit: %+v", f)
	}
	send(`{"event":"sockudo:subscribe","data":{"channel":"orders","tags_filter":{"key":"region","cmp":"eq","val":"eu"}}}`)
	framesUntil(t, in, "sockudo_internal:subscription_succeeded")
	waitCond(t, "the subscriber known on node 1", func() bool { return subCount(t, p1, "orders") == 1 })
	publishTags(t, p1, "us-order", `{"region":"us"}`)
	publishTags(t, p1, "eu-order", `{"region":"eu"}`)
	publishTags(t, p1, "end", `{"region":"eu","last":"1"}`)
	got := framesUntil(t, in, "end")
	if len(got) != 2 || got[0].Event != "eu-order" || got[0].Tags["region"] != "eu" || got[1].Tags["last"] != "1" {
		t.Fatalf("filtered across nodes, tags emitted: %+v", got)
	}

	// No tag_filtering section: validated, not applied, tags stripped.
	b2 := natsBackend(t)
	p3 := filterNode(t, b2, "node-3", "")
	c3, in3 := dialV2Raw(t, p3)
	framesUntil(t, in3, "sockudo:connection_established")
	_ = c3.WriteMessage(websocket.TextMessage, []byte(`{"event":"sockudo:subscribe","data":{"channel":"orders","tags_filter":{"key":"region","cmp":"nope"}}}`))
	framesUntil(t, in3, "sockudo:error")
	_ = c3.WriteMessage(websocket.TextMessage, []byte(`{"event":"sockudo:subscribe","data":{"channel":"orders","tags_filter":{"key":"region","cmp":"eq","val":"eu"}}}`))
	framesUntil(t, in3, "sockudo_internal:subscription_succeeded")
	publishTags(t, p3, "us-order", `{"region":"us"}`)
	publishTags(t, p3, "end", `{"region":"eu"}`)
	got = framesUntil(t, in3, "end")
	if len(got) != 2 || got[0].Event != "us-order" || got[0].Tags != nil || got[1].Tags != nil {
		t.Fatalf("default config: %+v", got)
	}
}
