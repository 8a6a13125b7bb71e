package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/engine"
)

func TestAppendEvent(t *testing.T) {
	f := func(ev engine.WebhookEvent, want string) {
		t.Helper()
		if got := string(appendEvent(nil, &ev)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", ev.Kind, got, want)
		}
	}
	f(occupied("a"), `{"name":"channel_occupied","channel":"a"}`)
	f(vacated("a"), `{"name":"channel_vacated","channel":"a"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookMemberAdded, Channel: "presence-r", UserID: "42"},
		`{"name":"member_added","channel":"presence-r","user_id":"42"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookMemberRemoved, Channel: "presence-r", UserID: "42"},
		`{"name":"member_removed","channel":"presence-r","user_id":"42"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookClientEvent, Channel: "private-a", Event: "client-x",
		Data: `{"a":"<b>"}`, SocketID: "1.2"},
		`{"name":"client_event","channel":"private-a","event":"client-x","data":"{\"a\":\"<b>\"}","socket_id":"1.2"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookClientEvent, Channel: "presence-r", Event: "client-x",
		Data: "plain", SocketID: "1.2", UserID: "u1"},
		`{"name":"client_event","channel":"presence-r","event":"client-x","data":"plain","socket_id":"1.2","user_id":"u1"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookCacheMiss, Channel: "cache-a"},
		`{"name":"cache_miss","channel":"cache-a"}`)
	f(engine.WebhookEvent{Kind: engine.WebhookSubscriptionCount, Channel: "a", SubscriptionCount: 0},
		`{"name":"subscription_count","channel":"a","subscription_count":0}`)
	f(engine.WebhookEvent{Kind: engine.WebhookSubscriptionCount, Channel: "a", SubscriptionCount: 7},
		`{"name":"subscription_count","channel":"a","subscription_count":7}`)
}

// TestEveryEventType sends each event type through a Sender and checks
// the exact JSON, the headers and the signature with the Go SDK.
func TestEveryEventType(t *testing.T) {
	rcv := newReceiver(t, nil)
	s := newSender(t, fast(Target{URL: rcv.URL + "/hook", Headers: map[string]string{"x-custom": "yes", "Authorization": "Bearer t"}}))
	evs := []engine.WebhookEvent{
		occupied("presence-room"),
		{Kind: engine.WebhookMemberAdded, Channel: "presence-room", UserID: "1"},
		{Kind: engine.WebhookClientEvent, Channel: "presence-room", Event: "client-typing", Data: `{"x":1}`, SocketID: "123.456", UserID: "1"},
		{Kind: engine.WebhookMemberRemoved, Channel: "presence-room", UserID: "1"},
		vacated("presence-room"),
		{Kind: engine.WebhookCacheMiss, Channel: "cache-x"},
		{Kind: engine.WebhookSubscriptionCount, Channel: "public", SubscriptionCount: 3},
	}
	for _, ev := range evs {
		s.Webhook(testApp, ev)
	}
	checkFor(t, 5*time.Second, "7 posts", func() bool { return len(rcv.requests()) == len(evs) })

	client := pusher.Client{AppID: testApp.ID, Key: testApp.Key, Secret: testApp.Secret}
	for i, q := range rcv.requests() {
		want := `{"events":[` + string(appendEvent(nil, &evs[i])) + `]}`
		if got := q.body; !strings.HasPrefix(string(got), `{"time_ms":`) || !strings.HasSuffix(string(got), want[1:]) {
			t.Errorf("post %d body %s, want events %s", i, got, want)
		}
		if ct := q.header["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if q.header.Get("X-Custom") != "yes" || q.header.Get("Authorization") != "Bearer t" {
			t.Errorf("custom headers missing: %v", q.header)
		}
		wh, err := client.Webhook(q.header, q.body)
		if err != nil {
			t.Fatalf("post %d: Go SDK: %v (body %s)", i, err, q.body)
		}
		if len(wh.Events) != 1 || wh.Events[0].Name != string(evs[i].Kind) || wh.Events[0].Channel != evs[i].Channel ||
			wh.Events[0].UserID != evs[i].UserID || wh.Events[0].Data != evs[i].Data || wh.Events[0].SocketID != evs[i].SocketID {
			t.Errorf("post %d: SDK parsed %+v from %s", i, wh.Events, q.body)
		}
		if d := time.Since(time.UnixMilli(int64(wh.TimeMs))); d < 0 || d > time.Minute {
			t.Errorf("time_ms %d is off by %v", wh.TimeMs, d)
		}
	}
	bad := pusher.Client{AppID: testApp.ID, Key: testApp.Key, Secret: "other"}
	q := rcv.requests()[0]
	if _, err := bad.Webhook(q.header, q.body); err == nil {
		t.Error("a wrong secret validated")
	}
}

// TestProtocolHeadersWin: custom headers cannot replace the signature
// headers or the content type.
func TestProtocolHeadersWin(t *testing.T) {
	rcv := newReceiver(t, nil)
	s := newSender(t, fast(Target{URL: rcv.URL, Headers: map[string]string{
		"content-type": "text/plain", "x-pusher-key": "evil", "X-Pusher-Signature": "0"}}))
	s.Webhook(testApp, occupied("a"))
	checkFor(t, 5*time.Second, "post", func() bool { return len(rcv.requests()) == 1 })
	q := rcv.requests()[0]
	if h := q.header; h.Get("Content-Type") != "application/json" || h.Get("X-Pusher-Key") != "app-key" {
		t.Fatalf("headers %v", h)
	}
	c := pusher.Client{AppID: testApp.ID, Key: testApp.Key, Secret: testApp.Secret}
	if _, err := c.Webhook(http.Header(q.header), q.body); err != nil {
		t.Fatal(err)
	}
}

func TestFilters(t *testing.T) {
	type tc struct {
		target Target
		want   []string // channels delivered, in order
	}
	evs := []engine.WebhookEvent{
		occupied("private-a"), occupied("presence-b"), occupied("chat:room-1"), occupied("chat:room-2.log"),
		{Kind: engine.WebhookMemberAdded, Channel: "presence-b", UserID: "9"},
		{Kind: engine.WebhookSubscriptionCount, Channel: "news", SubscriptionCount: 1},
	}
	cases := map[string]tc{
		"all":       {Target{}, []string{"private-a", "presence-b", "chat:room-1", "chat:room-2.log", "presence-b", "news"}},
		"types":     {Target{EventTypes: []string{"member_added", "subscription_count"}}, []string{"presence-b", "news"}},
		"prefix":    {Target{Filter: Filter{ChannelPrefix: "pres"}}, []string{"presence-b", "presence-b"}},
		"suffix":    {Target{Filter: Filter{ChannelSuffix: ".log"}}, []string{"chat:room-2.log"}},
		"pattern":   {Target{Filter: Filter{ChannelPattern: `^chat:room-\d+$`}}, []string{"chat:room-1"}},
		"namespace": {Target{Filter: Filter{ChannelNamespace: "chat"}}, []string{"chat:room-1", "chat:room-2.log"}},
		"both": {Target{EventTypes: []string{"channel_occupied"}, Filter: Filter{ChannelPrefix: "p", ChannelSuffix: "b"}},
			[]string{"presence-b"}},
		"namespaces": {Target{Filter: Filter{ChannelNamespaces: []string{"x", "chat"}}}, []string{"chat:room-1", "chat:room-2.log"}},
	}
	rcv := map[string]*receiver{}
	opts := fast()
	var order []string
	for name, c := range cases {
		rcv[name] = newReceiver(t, nil)
		c.target.URL = rcv[name].URL
		opts.Targets[testApp.ID] = append(opts.Targets[testApp.ID], c.target)
		order = append(order, name)
	}
	s := newSender(t, opts)
	for _, ev := range evs {
		s.Webhook(testApp, ev)
	}
	for _, name := range order {
		want := cases[name].want
		checkFor(t, 5*time.Second, name, func() bool { return len(rcv[name].delivered(t)) >= len(want) })
	}
	time.Sleep(50 * time.Millisecond) // nothing more may arrive
	for _, name := range order {
		var got []string
		for _, e := range rcv[name].delivered(t) {
			got = append(got, e["channel"].(string))
		}
		if strings.Join(got, " ") != strings.Join(cases[name].want, " ") {
			t.Errorf("%s: got %v, want %v", name, got, cases[name].want)
		}
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, tg := range []Target{{URL: "ftp://x"}, {URL: ""}, {URL: "http://h", Filter: Filter{ChannelPattern: "("}}} {
		if _, err := New(Options{Targets: map[string][]Target{"a": {tg}}}); err == nil {
			t.Errorf("%+v accepted", tg)
		}
	}
}
