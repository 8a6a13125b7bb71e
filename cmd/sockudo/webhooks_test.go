package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	pusher "github.com/pusher/pusher-http-go/v5"
)

func TestWebhooksWiredEndToEnd(t *testing.T) {
	got := make(chan *pusher.Webhook, 8)
	client := pusher.Client{AppID: "1", Key: "k", Secret: "s"}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hook, err := client.Webhook(r.Header, body)
		if err != nil {
			t.Errorf("webhook rejected by pusher-http-go: %v", err)
		} else {
			got <- hook
		}
	}))
	defer recv.Close()
	port, mport := freePort(t), freePort(t)
	n, _ := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`,
		"metrics": {"host": "127.0.0.1", "port": `+strconv.Itoa(mport)+`},
		"webhooks": {"batching": {"enabled": true, "duration": 20}},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s",
			"webhooks": [{"url": "`+recv.URL+`", "event_types": ["channel_occupied"]}]}]}}}`)
	defer n.shutdown()
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/k?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage() // connection_established
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"pusher:subscribe","data":{"channel":"room"}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case hook := <-got:
		if len(hook.Events) != 1 || hook.Events[0].Name != "channel_occupied" || hook.Events[0].Channel != "room" {
			t.Fatalf("webhook events %+v", hook.Events)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no channel_occupied webhook")
	}
}
