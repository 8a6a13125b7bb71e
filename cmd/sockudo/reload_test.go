package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/configs"
	"github.com/sockudo/sockudo-go/protocol"
)

// syncBuffer is a log sink the test reads while the node writes.
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

// appSocket is a real WebSocket client of the node.
type appSocket struct {
	t      *testing.T
	ws     *websocket.Conn
	socket string
}

// pusherMsg is one server message.
type pusherMsg struct {
	Event   string `json:"event"`
	Channel string `json:"channel"`
	Data    any    `json:"data"`
}

func dialApp(t *testing.T, port int, key string) *appSocket {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/"+key+"?protocol=7", nil)
	if err != nil {
		t.Fatalf("dial %s: %v", key, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &appSocket{t: t, ws: ws}
	m, err := c.read()
	if err != nil || m.Event != protocol.EventConnectionEstablished {
		t.Fatalf("app %s: %+v %v, want connection_established", key, m, err)
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	_ = json.Unmarshal([]byte(m.Data.(string)), &d)
	c.socket = d.SocketID
	return c
}

// read returns the next message, skipping pings; err is the close.
func (c *appSocket) read() (pusherMsg, error) {
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return pusherMsg{}, err
		}
		var m pusherMsg
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("server sent %q: %v", b, err)
		}
		if m.Event != protocol.EventPing {
			return m, nil
		}
	}
}

func (c *appSocket) expect(event, channel string) pusherMsg {
	c.t.Helper()
	m, err := c.read()
	if err != nil || m.Event != event || m.Channel != channel {
		c.t.Fatalf("got %+v %v, want %s on %q", m, err, event, channel)
	}
	return m
}

// subscribe joins channel; a private one is signed with key and secret.
func (c *appSocket) subscribe(channel, key, secret string) {
	c.t.Helper()
	d := map[string]string{"channel": channel}
	if secret != "" {
		d["auth"] = key + ":" + protocol.SignChannel(secret, c.socket, channel, "")
	}
	b, _ := json.Marshal(map[string]any{"event": protocol.EventSubscribe, "data": d})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// expectClosed waits for pusher:error code and then the close code.
func (c *appSocket) expectClosed(code int) {
	c.t.Helper()
	m, err := c.read()
	if err != nil || m.Event != protocol.EventError {
		c.t.Fatalf("got %+v %v, want pusher:error %d", m, err, code)
	}
	if d, _ := m.Data.(map[string]any); d["code"] != float64(code) {
		c.t.Fatalf("pusher:error %v, want code %d", m.Data, code)
	}
	_, err = c.read()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		c.t.Fatalf("close %v, want %d", err, code)
	}
}

func reloadConfig(port int, apps string, extra string) string {
	return `{"host": "127.0.0.1", "port": ` + strconv.Itoa(port) + `, "shards": 2, "metrics": {"enabled": false}` + extra + `,
		"app_manager": {"driver": "memory", "array": {"apps": [` + apps + `]}}}`
}

// sighup sends the process a real SIGHUP, as an operator does, and waits
// until the node logged the n-th reload outcome matching done.
func sighup(t *testing.T, log *syncBuffer, done string, n int) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(log.String(), done) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after SIGHUP; log:\n%s", done, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSIGHUPReloadsApps starts a node from a temp config file with apps A
// and B and open sockets on both, rewrites the file (A's secret changed, B
// removed, C added, a restart-only setting changed) and sends SIGHUP; then
// a broken file, which must change nothing; then C disabled.
func TestSIGHUPReloadsApps(t *testing.T) {
	port := freePort(t)
	const appA = `{"id": "a", "key": "ka", "secret": "sa"}`
	const appB = `{"id": "b", "key": "kb", "secret": "sb"}`
	const appA2 = `{"id": "a", "key": "ka", "secret": "sa2"}`
	const appC = `{"id": "c", "key": "kc", "secret": "sc"}`
	path := writeConfig(t, reloadConfig(port, appA+","+appB, ""))
	var log syncBuffer
	cfg, o, err := loadConfig([]string{"--config", path}, env(nil), &log)
	if err != nil {
		t.Fatal(err)
	}
	n, err := start(cfg, o, &log)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	defer func() {
		if err := n.shutdown(); err != nil {
			t.Error(err)
		}
	}()
	a, b := dialApp(t, port, "ka"), dialApp(t, port, "kb")
	a.subscribe("news", "", "")
	a.expect(protocol.EventSubscriptionSucceeded, "news")
	b.subscribe("news", "", "")
	b.expect(protocol.EventSubscriptionSucceeded, "news")

	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(port, appA2+","+appC, `, "activity_timeout": 60`))
	sighup(t, &log, "SIGHUP: apps reloaded", 1)

	b.expectClosed(4001)
	if !strings.Contains(log.String(), "key=activity_timeout") {
		t.Fatalf("restart-only change not reported; log:\n%s", log.String())
	}
	// A's socket is the same one and still receives; the API takes the
	// new secret.
	api := pusher.Client{AppID: "a", Key: "ka", Secret: "sa2", Host: "127.0.0.1:" + strconv.Itoa(port)}
	if err := api.Trigger("news", "update", "1"); err != nil {
		t.Fatalf("publish with the new secret: %v", err)
	}
	a.expect("update", "news")
	// A private subscribe on that socket is verified with the new secret.
	a.subscribe("private-old", "ka", "sa")
	a.expect(protocol.EventSubscriptionError, "private-old")
	a.subscribe("private-new", "ka", "sa2")
	a.expect(protocol.EventSubscriptionSucceeded, "private-new")
	dialApp(t, port, "kc")

	// A broken file is refused naming the key; nothing changes.
	write(reloadConfig(port, `{"id": "a", "key": "ka", "secret": "sa3", "max_connections": "lots"}`, ""))
	sighup(t, &log, "SIGHUP: config file refused", 1)
	if !strings.Contains(log.String(), "app_manager.array.apps[0].max_connections") {
		t.Fatalf("refusal does not name the key; log:\n%s", log.String())
	}
	if err := api.Trigger("news", "again", "2"); err != nil {
		t.Fatalf("publish after the refused reload: %v", err)
	}
	a.expect("again", "news")
	c := dialApp(t, port, "kc")

	// C disabled: its socket is closed with 4003, A's stays.
	write(reloadConfig(port, appA2+`, {"id": "c", "key": "kc", "secret": "sc", "enabled": false}`, ""))
	sighup(t, &log, "SIGHUP: apps reloaded", 2)
	c.expectClosed(4003)
	if err := api.Trigger("news", "still", "3"); err != nil {
		t.Fatal(err)
	}
	a.expect("still", "news")
}

// Reading the same file twice needs no restart; changing a setting other
// than apps names it; apps and the app defaults they take from global
// sections apply live.
func TestRestartKeys(t *testing.T) {
	load := func(body string) configs.Config {
		t.Helper()
		cfg, _, err := loadConfig([]string{"--config", writeConfig(t, body)}, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	base := load(reloadConfig(6001, `{"id": "a", "key": "ka", "secret": "sa"}`, ""))
	if keys := restartKeys(base, load(reloadConfig(6001, `{"id": "a", "key": "ka", "secret": "sa"}`, ""))); len(keys) != 0 {
		t.Fatalf("same file: %v", keys)
	}
	next := load(reloadConfig(6002, `{"id": "b", "key": "kb", "secret": "sb"}`, `, "presence": {"max_members_per_channel": 5}, "queue": {"driver": "none"}`))
	if keys := restartKeys(base, next); strings.Join(keys, " ") != "port queue.driver" {
		t.Fatalf("restart keys %v, want port queue.driver", keys)
	}
}

// A webhook added to an app by a reload is used for that app's next
// events: the sender takes targets from the app it is handed.
func TestSIGHUPAddsWebhooks(t *testing.T) {
	got := make(chan *pusher.Webhook, 8)
	client := pusher.Client{AppID: "a", Key: "ka", Secret: "sa"}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if hook, err := client.Webhook(r.Header, body); err == nil {
			got <- hook
		}
	}))
	defer recv.Close()
	port := freePort(t)
	path := writeConfig(t, reloadConfig(port, `{"id": "a", "key": "ka", "secret": "sa"}`, ""))
	var log syncBuffer
	cfg, o, err := loadConfig([]string{"--config", path}, env(nil), &log)
	if err != nil {
		t.Fatal(err)
	}
	n, err := start(cfg, o, &log)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	defer n.shutdown()
	a := dialApp(t, port, "ka")
	a.subscribe("before", "", "")
	a.expect(protocol.EventSubscriptionSucceeded, "before")

	withHook := `{"id": "a", "key": "ka", "secret": "sa", "webhooks": [{"url": "` + recv.URL + `", "event_types": ["channel_occupied"]}]}`
	if err := os.WriteFile(path, []byte(reloadConfig(port, withHook, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	sighup(t, &log, "SIGHUP: apps reloaded", 1)
	a.subscribe("after", "", "")
	a.expect(protocol.EventSubscriptionSucceeded, "after")
	select {
	case hook := <-got:
		if len(hook.Events) != 1 || hook.Events[0].Name != "channel_occupied" || hook.Events[0].Channel != "after" {
			t.Fatalf("webhook events %+v", hook.Events)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no webhook after the reload added one; log:\n%s", log.String())
	}
}
