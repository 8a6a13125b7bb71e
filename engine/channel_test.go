package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestPublicPublishAndExclusion(t *testing.T) {
	e := newEngine(t, Options{Shards: 3})
	subs := make([]*client, 6)
	for i := range subs {
		subs[i] = connect(t, e, "key")
		subs[i].mustSubscribe("news")
	}
	publish(t, e, "news", "update", `{"hello":"world"}`, subs[0].id)
	for _, s := range subs[1:] {
		m := s.expect("update")
		if m.Channel != "news" || m.DataString() != `{"hello":"world"}` {
			t.Fatalf("got %+v", m)
		}
	}
	subs[0].quiet()
}

func TestSubscribeValidation(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connect(t, e, "key")
	fail := func(channel string, extra map[string]any, typ string, status int) {
		t.Helper()
		m := cl.subscribe(channel, extra)
		if m.Event != protocol.EventSubscriptionError || m.Channel != channel {
			t.Fatalf("%s: got %s %s", channel, m.Event, m.Data)
		}
		var d struct {
			Type   string
			Error  string
			Status int
		}
		_ = json.Unmarshal(m.Data, &d)
		if d.Type != typ || d.Status != status || d.Error == "" {
			t.Fatalf("%s: %+v, want %s %d", channel, d, typ, status)
		}
	}
	fail("private-x", map[string]any{"auth": "key:deadbeef"}, "AuthError", 401)
	fail("private-x", nil, "AuthError", 401)
	fail("private-x", map[string]any{"auth": "other:" + protocol.SignChannel("secret", cl.id, "private-x", "")}, "AuthError", 401)
	fail("bad#name", nil, "InvalidChannel", 400)
	fail(strings.Repeat("a", 201), nil, "LimitReached", 400)
	fail("#server-to-user-u1", nil, "AuthError", 403)
	fail("private-cache-x", map[string]any{"auth": "key:00"}, "AuthError", 401)
	cl.mustSubscribe("private-x")
	cl.mustSubscribe("private-x") // re-acknowledged
	cl.mustSubscribe("private-encrypted-x")
	cl.send(`{"event":"pusher:ping"}`)
	cl.expect(protocol.EventPong)
}

func TestMaxSubscriptionsPerConnection(t *testing.T) {
	app := testApp()
	app.MaxSubscriptionsPerConnection = 2
	e := newEngine(t, Options{}, app)
	cl := connect(t, e, "key")
	cl.mustSubscribe("a")
	cl.mustSubscribe("b")
	if m := cl.subscribe("c", nil); m.Event != protocol.EventSubscriptionError {
		t.Fatalf("third subscription: %s", m.Event)
	}
	cl.sendJSON(protocol.EventUnsubscribe, map[string]any{"channel": "a"}, "")
	cl.mustSubscribe("c")
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connect(t, e, "key")
	cl.mustSubscribe("room")
	cl.sendJSON(protocol.EventUnsubscribe, map[string]any{"channel": "room"}, "")
	waitFor(t, "vacated", func() bool { return e.Stats().Channels == 0 })
	publish(t, e, "room", "x", "1", "")
	cl.quiet()
}

type presenceData struct {
	Presence struct {
		IDs   []string                   `json:"ids"`
		Hash  map[string]json.RawMessage `json:"hash"`
		Count int                        `json:"count"`
	} `json:"presence"`
}

func TestPresenceMembers(t *testing.T) {
	e := newEngine(t, Options{Shards: 2})
	a, a2, b := connect(t, e, "key"), connect(t, e, "key"), connect(t, e, "key")
	if m := a.joinPresence("presence-room", "u1", `{"name":"A"}`); m.Event != protocol.EventSubscriptionSucceeded {
		t.Fatalf("join: %s %s", m.Event, m.Data)
	}
	m := b.joinPresence("presence-room", "u2", `{"name":"B"}`)
	var pd presenceData
	if err := json.Unmarshal([]byte(m.DataString()), &pd); err != nil {
		t.Fatal(err)
	}
	if pd.Presence.Count != 2 || len(pd.Presence.IDs) != 2 || string(pd.Presence.Hash["u1"]) != `{"name":"A"}` {
		t.Fatalf("presence data %s", m.DataString())
	}
	added := a.expect(protocol.EventMemberAdded)
	if added.DataString() != `{"user_id":"u2","user_info":{"name":"B"}}` {
		t.Fatalf("member_added %s", added.DataString())
	}
	a2.joinPresence("presence-room", "u1", `{"name":"A"}`) // second tab of u1: silent
	a.quiet()
	b.quiet()
	a.c.Gone(nil)
	b.quiet() // u1 still has a2
	users, _ := e.PresenceUsers(t.Context(), testAppFrom(e), "presence-room")
	if len(users) != 2 {
		t.Fatalf("users = %v", users)
	}
	a2.c.Gone(nil)
	if m := b.expect(protocol.EventMemberRemoved); m.DataString() != `{"user_id":"u1"}` {
		t.Fatalf("member_removed %s", m.DataString())
	}
	info, _ := e.Channel(t.Context(), testAppFrom(e), "presence-room")
	if info.UserCount != 1 || info.SubscriptionCount != 1 {
		t.Fatalf("channel info %+v", info)
	}
}

func TestPresenceNumericUserIDAndLimits(t *testing.T) {
	app := testApp()
	app.MaxPresenceMembersPerChannel = 1
	app.MaxPresenceMemberSizeKB = 1
	e := newEngine(t, Options{}, app)
	a, b := connect(t, e, "key"), connect(t, e, "key")
	cd := `{"user_id":42,"user_info":{}}`
	m := a.subscribe("presence-x", map[string]any{"auth": "key:" + protocol.SignChannel("secret", a.id, "presence-x", cd), "channel_data": cd})
	var pd presenceData
	_ = json.Unmarshal([]byte(m.DataString()), &pd)
	if len(pd.Presence.IDs) != 1 || pd.Presence.IDs[0] != "42" {
		t.Fatalf("numeric id not stringified: %s", m.DataString())
	}
	if m := b.joinPresence("presence-x", "u2", `{}`); m.Event != protocol.EventSubscriptionError {
		t.Fatalf("over member limit: %s", m.Event)
	}
	big := `{"x":"` + strings.Repeat("a", 2000) + `"}`
	if m := b.joinPresence("presence-y", "u2", big); m.Event != protocol.EventSubscriptionError {
		t.Fatalf("oversized user_info: %s", m.Event)
	}
}

func TestPresenceFromSignedInUser(t *testing.T) {
	e := newEngine(t, Options{})
	a := connect(t, e, "key")
	a.signin(`{"id":"u9","user_info":{"n":1}}`)
	a.expect(protocol.EventSigninSuccess)
	m := a.subscribe("presence-z", map[string]any{"auth": "key:" + protocol.SignChannel("secret", a.id, "presence-z", "")})
	if !strings.Contains(m.DataString(), `"u9":{"n":1}`) {
		t.Fatalf("presence without channel_data: %s %s", m.Event, m.DataString())
	}
}

func TestClientEvents(t *testing.T) {
	e := newEngine(t, Options{})
	a, b := connect(t, e, "key"), connect(t, e, "key")
	a.joinPresence("presence-chat", "u1", `{}`)
	b.joinPresence("presence-chat", "u2", `{}`)
	a.expect(protocol.EventMemberAdded)
	a.send(`{"event":"client-typing","channel":"presence-chat","data":{"t":1}}`)
	m := b.expect("client-typing")
	if m.UserID != "u1" || m.DataString() != `{"t":1}` {
		t.Fatalf("client event %+v data %s", m, m.DataString())
	}
	a.quiet() // never echoed
	a.mustSubscribe("public")
	rejected := func(frame string) {
		t.Helper()
		a.send(frame)
		m := a.expect(protocol.EventError)
		var d struct{ Code int }
		_ = json.Unmarshal(m.Data, &d)
		if d.Code != 4301 {
			t.Fatalf("%s: code %d", frame, d.Code)
		}
	}
	rejected(`{"event":"client-x","channel":"public","data":{}}`)
	rejected(`{"event":"client-x","channel":"private-notjoined","data":{}}`)
	a.send(`{"event":"pusher:ping"}`)
	a.expect(protocol.EventPong) // still open after rejections
}

func TestClientEventRateLimit(t *testing.T) {
	app := testApp()
	app.MaxClientEventsPerSecond = 3
	app.ClientEventWindow = time.Minute // one window for the whole test
	obs := &countingObserver{}
	e := newEngine(t, Options{Observer: obs}, app)
	a, b := connect(t, e, "key"), connect(t, e, "key")
	a.mustSubscribe("private-r")
	b.mustSubscribe("private-r")
	for i := 0; i < 4; i++ {
		a.send(`{"event":"client-x","channel":"private-r","data":"s"}`)
	}
	m := a.expect(protocol.EventError)
	var d struct{ Code int }
	_ = json.Unmarshal(m.Data, &d)
	if d.Code != 4301 || m.Channel != "private-r" {
		t.Fatalf("over the limit: %+v", m)
	}
	for i := 0; i < 3; i++ {
		if m := b.expect("client-x"); m.DataString() != "s" {
			t.Fatalf("string data relayed as %s", m.Data)
		}
	}
	b.quiet()
	a.send(`{"event":"pusher:ping"}`)
	a.expect(protocol.EventPong) // still open after the rate limit
	if n := obs.limited.Load(); n != 1 {
		t.Fatalf("observer counted %d limited client events, want 1", n)
	}
}

// countingObserver counts what the engine reports.
type countingObserver struct{ limited, broadcasts atomic.Int64 }

func (o *countingObserver) ObserveBroadcast(time.Duration) { o.broadcasts.Add(1) }
func (o *countingObserver) ClientEventLimited()            { o.limited.Add(1) }

func TestClientEventsDisabled(t *testing.T) {
	app := testApp()
	app.EnableClientMessages = false
	e := newEngine(t, Options{}, app)
	a := connect(t, e, "key")
	a.mustSubscribe("private-a")
	a.send(`{"event":"client-x","channel":"private-a","data":{}}`)
	if m := a.expect(protocol.EventError); m.Channel != "private-a" {
		t.Fatalf("error without channel: %+v", m)
	}
}

func TestCacheChannels(t *testing.T) {
	e := newEngine(t, Options{})
	a := connect(t, e, "key")
	a.mustSubscribe("cache-prices")
	a.expect(protocol.EventCacheMiss)
	publish(t, e, "cache-prices", "tick", "42", "")
	a.expect("tick")
	b := connect(t, e, "key")
	b.mustSubscribe("cache-prices")
	if m := b.expect("tick"); m.DataString() != "42" {
		t.Fatalf("replayed %s", m.Data)
	}
	ce, ok := e.CachedEvent(t.Context(), testAppFrom(e), "cache-prices")
	if !ok || ce.Data != "42" || ce.TTL <= 0 || ce.TTL > 30*time.Minute {
		t.Fatalf("cached %+v %v", ce, ok)
	}
}

func TestSubscriptionCountEvents(t *testing.T) {
	app := testApp()
	app.EnableSubscriptionCount = true
	e := newEngine(t, Options{}, app)
	a, b := connect(t, e, "key"), connect(t, e, "key")
	a.mustSubscribe("room")
	if m := a.expect(protocol.EventSubscriptionCount); m.DataString() != `{"subscription_count":1}` {
		t.Fatalf("count %s", m.DataString())
	}
	b.mustSubscribe("room")
	for _, cl := range []*client{a, b} {
		if m := cl.expect(protocol.EventSubscriptionCount); m.DataString() != `{"subscription_count":2}` {
			t.Fatalf("count %s", m.DataString())
		}
	}
	b.c.Gone(nil)
	a.expect(protocol.EventSubscriptionCount)
}

// TestSubscriptionCountThrottleTrails: above 100 subscribers counts are
// throttled, and the last change inside a window still reaches clients.
func TestSubscriptionCountThrottleTrails(t *testing.T) {
	app := testApp()
	app.EnableSubscriptionCount = true
	e := newEngine(t, Options{}, app)
	e.countWindow = 1500 * time.Millisecond
	watcher := connect(t, e, "key")
	watcher.mustSubscribe("crowd")
	for range 99 {
		connect(t, e, "key").mustSubscribe("crowd")
	}
	for n := 1; n <= 100; n++ {
		if m := watcher.expect(protocol.EventSubscriptionCount); m.DataString() != fmt.Sprintf(`{"subscription_count":%d}`, n) {
			t.Fatalf("count %d: %s", n, m.DataString())
		}
	}
	connect(t, e, "key").mustSubscribe("crowd") // 101 and 102: inside the window
	connect(t, e, "key").mustSubscribe("crowd")
	if m := watcher.expect(protocol.EventSubscriptionCount); m.DataString() != `{"subscription_count":102}` {
		t.Fatalf("trailing count %s, want 102 (throttled, then the last value)", m.DataString())
	}
	watcher.quiet()
}

// TestPublishRightAfterSubscriptionSucceeded: an event published after the
// client saw subscription_succeeded always reaches it (the e2e suite once
// caught the acknowledgement overtaking the fan-out index).
func TestPublishRightAfterSubscriptionSucceeded(t *testing.T) {
	e := newEngine(t, Options{Shards: 2})
	for i := range 300 {
		cl := connect(t, e, "key")
		channel := "race-" + strconv.Itoa(i)
		cl.mustSubscribe(channel)
		publish(t, e, channel, "evt", "x", "")
		cl.expect("evt")
		cl.c.Gone(nil)
	}
}
