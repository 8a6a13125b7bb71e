package engine

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// mutableApps is an AppStore whose apps a test changes, like a reloaded
// file or a database row; failing makes every lookup a store error.
type mutableApps struct {
	mu      sync.Mutex
	byKey   map[string]*App
	failing error
	// during runs inside the next AppByKey, after the answer is taken:
	// a change that lands while a connect is looking its app up.
	during func()
}

func newMutableApps(apps ...*App) *mutableApps {
	s := &mutableApps{byKey: map[string]*App{}}
	for _, a := range apps {
		s.byKey[a.Key] = a
	}
	return s
}

func (s *mutableApps) set(a *App) { s.mu.Lock(); s.byKey[a.Key] = a; s.mu.Unlock() }
func (s *mutableApps) del(key string) {
	s.mu.Lock()
	delete(s.byKey, key)
	s.mu.Unlock()
}

func (s *mutableApps) AppByKey(k string) (*App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing != nil {
		return nil, s.failing
	}
	a, ok := s.byKey[k]
	if f := s.during; f != nil {
		s.during = nil
		s.mu.Unlock()
		f()
		s.mu.Lock()
	}
	if ok {
		return a, nil
	}
	return nil, ErrAppNotFound
}

func (s *mutableApps) AppByID(id string) (*App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing != nil {
		return nil, s.failing
	}
	for _, a := range s.byKey {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, ErrAppNotFound
}

func newMutableEngine(t *testing.T, store *mutableApps) *Engine {
	t.Helper()
	e, err := New(Options{Apps: store, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(t.Context()) })
	return e
}

func otherApp() *App { return &App{ID: "2", Key: "key2", Secret: "secret2", Enabled: true} }

// A rotated secret applies to the next signature on a connection opened
// before the change, and the old secret stops working there.
func TestAppChangedSecretAppliesToOpenConnections(t *testing.T) {
	store := newMutableApps(testApp())
	e := newMutableEngine(t, store)
	cl := connect(t, e, "key")
	rotated := testApp()
	rotated.Secret = "rotated"
	store.set(rotated)
	e.AppChanged(rotated)

	old := cl.subscribe("private-a", map[string]any{"auth": "key:" + protocol.SignChannel("secret", cl.id, "private-a", "")})
	if old.Event != protocol.EventSubscriptionError {
		t.Fatalf("old secret: got %s %s, want subscription_error", old.Event, old.Data)
	}
	m := cl.subscribe("private-b", map[string]any{"auth": "key:" + protocol.SignChannel("rotated", cl.id, "private-b", "")})
	if m.Event != protocol.EventSubscriptionSucceeded || m.Channel != "private-b" {
		t.Fatalf("new secret: got %s %s", m.Event, m.Data)
	}
}

// Changed limits apply to open connections: a subscription cap lowered to
// 1 refuses the second subscription of a connection opened before.
func TestAppChangedLimitsApplyToOpenConnections(t *testing.T) {
	store := newMutableApps(testApp())
	e := newMutableEngine(t, store)
	cl := connect(t, e, "key")
	cl.mustSubscribe("one")
	capped := testApp()
	capped.MaxSubscriptionsPerConnection = 1
	store.set(capped)
	e.AppChanged(capped)
	if m := cl.subscribe("two", nil); m.Event == protocol.EventSubscriptionSucceeded {
		t.Fatal("second subscription admitted over the lowered cap")
	}
}

// Disabling an app closes its connections with 4003 and leaves another
// app's connection open and receiving; removing closes with 4001.
func TestAppDisabledAndRemovedCloseConnections(t *testing.T) {
	store := newMutableApps(testApp(), otherApp())
	e := newMutableEngine(t, store)
	a, b := connect(t, e, "key"), connect(t, e, "key2")
	b.mustSubscribe("news")

	off := testApp()
	off.Enabled = false
	store.set(off)
	e.AppChanged(off)
	a.expectClose(4003)
	waitFor(t, "release", func() bool { return e.Stats().Connections == 1 })

	app2, _ := store.AppByKey("key2")
	if err := e.Publish(t.Context(), app2, &Event{Name: "n", Data: "1", Channels: []string{"news"}}); err != nil {
		t.Fatal(err)
	}
	b.expect("n")

	// Re-enabled, the app admits again; removed, it closes with 4001.
	on := testApp()
	store.set(on)
	e.AppChanged(on)
	c := connect(t, e, "key")
	store.del("key2")
	e.AppRemoved("2")
	b.expectClose(4001)
	c.mustSubscribe("still-open")
}

// A connect that looked its app up just before a removal is closed on
// adoption, not left running on a removed app.
func TestConnectRacingRemovalIsClosed(t *testing.T) {
	store := newMutableApps(testApp())
	e := newMutableEngine(t, store)
	store.during = func() { store.byKey = map[string]*App{}; e.AppRemoved("1") }
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	if _, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "7"}, cl.tr); err != nil {
		t.Fatal(err)
	}
	cl.expect(protocol.EventConnectionEstablished)
	cl.expectClose(4001)
}

// A store that cannot answer refuses with pusher:error 4101 and a close
// 4101 (pusher-js retries after a pause), counted apart from 4001.
func TestConnectStoreErrorCloses4101(t *testing.T) {
	store := newMutableApps(testApp())
	e := newMutableEngine(t, store)
	store.failing = errors.New("database down")
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	_, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "7"}, cl.tr)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeStoreUnavailable {
		t.Fatalf("err = %v, want 4101", err)
	}
	cl.expectClose(4101)
	if got := e.stats.refused[refusalIndex(protocol.CodeStoreUnavailable)].Load(); got != 1 {
		t.Fatalf("app_store_unavailable refusals = %d, want 1", got)
	}
	if protocol.CodeStoreUnavailable.Reconnect() != protocol.ReconnectBackoff {
		t.Fatal("4101 must make pusher-js retry after a pause")
	}
	store.failing = nil
	connect(t, e, "key") // recovered
}

// A failing store that refuses every connect logs one line a second with
// the count, not one line per connect.
func TestLogLimiter(t *testing.T) {
	var l LogLimiter
	now := time.Unix(100, 0)
	if n, ok := l.Due(now); !ok || n != 1 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for range 5 {
		if _, ok := l.Due(now.Add(100 * time.Millisecond)); ok {
			t.Fatal("logged twice within a second")
		}
	}
	if n, ok := l.Due(now.Add(time.Second)); !ok || n != 6 {
		t.Fatalf("after a second: %d %v, want 6 true", n, ok)
	}
}

// Changes racing connects and subscriptions: no data race (run with
// -race), every connection ends up reading the last generation, and the
// counts balance.
func TestAppChangedConcurrentWithTraffic(t *testing.T) {
	store := newMutableApps(testApp())
	e := newMutableEngine(t, store)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			a := testApp()
			a.Secret = "s" + string(rune('a'+i%26))
			a.MaxClientEventsPerSecond = i%7 + 1
			store.set(a)
			e.AppChanged(a)
		}
	}()
	var conns []*Conn
	for range 50 {
		c, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "7"}, &fakeTransport{})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Feed(maskedFrame(protocol.OpText, []byte(`{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"key:00"}}`)))
		conns = append(conns, c)
	}
	<-done
	last, _ := store.AppByKey("key")
	for _, c := range conns {
		if c.app() != last {
			t.Fatal("a connection reads a stale app after the last change")
		}
		c.Gone(nil)
	}
	waitFor(t, "every connection released", func() bool { return e.Stats().Connections == 0 })
}
