package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/goccy/go-json"
	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

const (
	testKey    = "app-key"
	testSecret = "app-secret"
	waitFor    = 5 * time.Second
)

// staticApps is an in-memory engine.AppStore.
type staticApps struct{ apps []*engine.App }

func (s *staticApps) AppByKey(key string) (*engine.App, error) {
	for _, a := range s.apps {
		if a.Key == key {
			return a, nil
		}
	}
	return nil, engine.ErrAppNotFound
}

func (s *staticApps) AppByID(id string) (*engine.App, error) {
	for _, a := range s.apps {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, engine.ErrAppNotFound
}

// testApps: "1" with defaults, "2" disabled, "3" with small limits.
func testApps() *staticApps {
	return &staticApps{apps: []*engine.App{
		{ID: "1", Key: testKey, Secret: testSecret, Enabled: true, EnableClientMessages: true},
		{ID: "2", Key: "disabled-key", Secret: "disabled-secret", Enabled: false},
		{ID: "3", Key: "small-key", Secret: "small-secret", Enabled: true,
			MaxEventNameLength: 10, MaxEventPayloadKB: 1, MaxEventChannelsAtOnce: 2, MaxEventBatchSize: 2},
	}}
}

type testServer struct {
	srv  *Server
	eng  *engine.Engine
	addr string
}

// startServer runs an engine and a Server on 127.0.0.1:0 until the test
// ends. tweak, when not nil, adjusts the httpapi options.
func startServer(t testing.TB, tweak func(*Options)) *testServer {
	t.Helper()
	return startServerWith(t, nil, tweak)
}

// startServerWith is startServer with engine options adjusted by engTweak.
func startServerWith(t testing.TB, engTweak func(*engine.Options), tweak func(*Options)) *testServer {
	t.Helper()
	return startServerStore(t, testApps(), engTweak, tweak)
}

// startServerStore is startServerWith over the app store apps.
func startServerStore(t testing.TB, apps engine.AppStore, engTweak func(*engine.Options), tweak func(*Options)) *testServer {
	t.Helper()
	eopts := engine.Options{Apps: apps, Shards: 2}
	if engTweak != nil {
		engTweak(&eopts)
	}
	eng, err := engine.New(eopts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	opts := Options{Engine: eng, Apps: apps}
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if !eng.Draining() {
			_ = eng.Shutdown(ctx)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{srv: srv, eng: eng, addr: ln.Addr().String()}
}

func (ts *testServer) client() *pusher.Client {
	return &pusher.Client{AppID: "1", Key: testKey, Secret: testSecret, Host: ts.addr}
}

// apiResponse is a raw HTTP answer.
type apiResponse struct {
	status int
	body   string
	ctype  string
}

// do sends a request signed for app (id, key, secret); params are added to
// the query and signed. sign=false sends it without any auth parameter.
func (ts *testServer) do(t *testing.T, method, path string, params map[string]string, body string, creds [3]string, sign bool) apiResponse {
	t.Helper()
	var query string
	if sign {
		query = protocol.SignRequest(method, path, params, []byte(body), creds[1], creds[2], time.Now())
	} else {
		var parts []string
		for k, v := range params {
			parts = append(parts, k+"="+v)
		}
		query = strings.Join(parts, "&")
	}
	return ts.raw(t, method, path+"?"+query, body)
}

// raw sends method and pathQuery as given.
func (ts *testServer) raw(t *testing.T, method, pathQuery, body string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.addr+pathQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResponse{status: resp.StatusCode, body: string(b), ctype: resp.Header.Get("Content-Type")}
}

var app1 = [3]string{"1", testKey, testSecret}

// post signs and posts body to /apps/1{sub}.
func (ts *testServer) post(t *testing.T, sub, body string) apiResponse {
	t.Helper()
	return ts.do(t, http.MethodPost, "/apps/1"+sub, nil, body, app1, true)
}

// get signs and gets /apps/1{sub} with params.
func (ts *testServer) get(t *testing.T, sub string, params map[string]string) apiResponse {
	t.Helper()
	return ts.do(t, http.MethodGet, "/apps/1"+sub, params, "", app1, true)
}

// requireStatus checks status and, for errors, the JSON error shape.
func requireStatus(t *testing.T, r apiResponse, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if r.ctype != "application/json" {
		t.Fatalf("content type %q, want application/json; body %s", r.ctype, r.body)
	}
	if status >= 400 {
		var e struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" || e.Code != status {
			t.Fatalf("error body %s: want {\"error\":..., \"code\":%d} (%v)", r.body, status, err)
		}
	}
}

// decodeBody unmarshals a JSON answer.
func decodeBody(t *testing.T, r apiResponse, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

// frame is a Pusher message as a client receives it.
type frame struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  string          `json:"user_id"`
}

// str returns data as the string it carries (channel events), else raw.
func (f frame) str() string {
	var s string
	if json.Unmarshal(f.Data, &s) == nil {
		return s
	}
	return string(f.Data)
}

// wsClient is a Pusher client driven by hand.
type wsClient struct {
	t        *testing.T
	c        *websocket.Conn
	socketID string
	mu       sync.Mutex
}

// dial connects to /app/{key} and waits for connection_established.
func (ts *testServer) dial(t *testing.T) *wsClient {
	t.Helper()
	return ts.dialWith(t, websocket.DefaultDialer, "ws", nil)
}

// dialWith dials with d over scheme (ws or wss), sending hdr.
func (ts *testServer) dialWith(t *testing.T, d *websocket.Dialer, scheme string, hdr http.Header) *wsClient {
	t.Helper()
	c, resp, err := d.Dial(scheme+"://"+ts.addr+"/app/"+testKey+"?protocol=7&client=js&version=8.4.0", hdr)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	w := &wsClient{t: t, c: c}
	t.Cleanup(func() { _ = c.Close() })
	f := w.next()
	if f.Event != protocol.EventConnectionEstablished {
		t.Fatalf("first frame %+v", f)
	}
	var est struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal([]byte(f.str()), &est); err != nil || !protocol.ValidSocketID(est.SocketID) {
		t.Fatalf("connection_established %s: %v", f.Data, err)
	}
	w.socketID = est.SocketID
	return w
}

// next reads one frame, failing the test after waitFor.
func (w *wsClient) next() frame {
	w.t.Helper()
	f, err := w.read()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return f
}

func (w *wsClient) read() (frame, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(waitFor))
	_, p, err := w.c.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(p, &f); err != nil {
		return frame{}, fmt.Errorf("frame %q: %w", p, err)
	}
	return f, nil
}

// expect reads until a frame with event arrives and returns it; frames of
// other events (pings, internal events) are skipped.
func (w *wsClient) expect(event string) frame {
	w.t.Helper()
	for {
		f := w.next()
		if f.Event == event {
			return f
		}
		if f.Event == protocol.EventError || f.Event == protocol.EventSubscriptionError {
			w.t.Fatalf("waiting for %s, got %s %s", event, f.Event, f.Data)
		}
	}
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.c.WriteJSON(v); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// subscribe joins a public channel and waits for the acknowledgement.
func (w *wsClient) subscribe(channel string) {
	w.t.Helper()
	w.send(map[string]any{"event": protocol.EventSubscribe, "data": map[string]string{"channel": channel}})
	w.expect(protocol.EventSubscriptionSucceeded)
}

// subscribePresence joins a presence channel as userID.
func (w *wsClient) subscribePresence(channel, userID string) {
	w.t.Helper()
	cd := `{"user_id":"` + userID + `","user_info":{}}`
	auth := testKey + ":" + protocol.SignChannel(testSecret, w.socketID, channel, cd)
	w.send(map[string]any{"event": protocol.EventSubscribe,
		"data": map[string]string{"channel": channel, "auth": auth, "channel_data": cd}})
	f := w.expect(protocol.EventSubscriptionSucceeded)
	if f.Channel != channel {
		w.t.Fatalf("subscription_succeeded for %q, want %q", f.Channel, channel)
	}
}

// signin signs the connection in as userID and joins its server-to-user
// channel, as pusher-js does.
func (w *wsClient) signin(userID string) {
	w.t.Helper()
	ud := `{"id":"` + userID + `"}`
	auth := testKey + ":" + protocol.SignUser(testSecret, w.socketID, ud)
	w.send(map[string]any{"event": protocol.EventSignin, "data": map[string]string{"auth": auth, "user_data": ud}})
	w.expect(protocol.EventSigninSuccess)
	w.subscribe(protocol.ServerToUserPrefix + userID)
}

// expectClose reads until the server closes and returns the close code.
func (w *wsClient) expectClose() (int, []frame) {
	w.t.Helper()
	var seen []frame
	for {
		f, err := w.read()
		if err == nil {
			seen = append(seen, f)
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, seen
		}
		w.t.Fatalf("waiting for close: %v (frames %+v)", err, seen)
	}
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }
