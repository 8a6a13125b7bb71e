package httpapi

import (
	"net/http"
	"testing"
	"time"

	pusher "github.com/pusher/pusher-http-go/v5"
)

func TestGetChannels(t *testing.T) {
	ts := startServer(t, nil)
	a, b := ts.dial(t), ts.dial(t)
	a.subscribe("news")
	a.subscribePresence("presence-lobby", "u1")
	b.subscribePresence("presence-lobby", "u2")
	c := ts.client()

	all, err := c.Channels(pusher.ChannelsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all.Channels["news"]; !ok || len(all.Channels) < 2 {
		t.Fatalf("channels %+v", all.Channels)
	}
	r := ts.get(t, "/channels", map[string]string{"filter_by_prefix": "news"})
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"channels":{"news":{}}}` {
		t.Fatalf("body %s", r.body)
	}

	pres, err := c.Channels(pusher.ChannelsParams{FilterByPrefix: ptr("presence-"), Info: ptr("user_count")})
	if err != nil {
		t.Fatal(err)
	}
	if len(pres.Channels) != 1 || pres.Channels["presence-lobby"].UserCount != 2 {
		t.Fatalf("presence channels %+v", pres.Channels)
	}

	var sc struct {
		Channels map[string]struct {
			SubscriptionCount *int `json:"subscription_count"`
		} `json:"channels"`
	}
	r = ts.get(t, "/channels", map[string]string{"info": "subscription_count"})
	requireStatus(t, r, http.StatusOK)
	decodeBody(t, r, &sc)
	if n := sc.Channels["presence-lobby"].SubscriptionCount; n == nil || *n != 2 {
		t.Fatalf("body %s", r.body)
	}

	requireStatus(t, ts.get(t, "/channels", map[string]string{"info": "user_count"}), 400)
	requireStatus(t, ts.get(t, "/channels", map[string]string{"info": "user_count", "filter_by_prefix": "private-"}), 400)

	r = ts.get(t, "/channels", map[string]string{"filter_by_prefix": "nothing-"})
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"channels":{}}` {
		t.Fatalf("body %s", r.body)
	}
}

func TestGetChannel(t *testing.T) {
	ts := startServer(t, nil)
	a, b := ts.dial(t), ts.dial(t)
	a.subscribe("news")
	a.subscribePresence("presence-lobby", "u1")
	b.subscribePresence("presence-lobby", "u1")
	c := ts.client()

	ch, err := c.Channel("presence-lobby", pusher.ChannelParams{Info: ptr("user_count,subscription_count")})
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Occupied || ch.UserCount != 1 || ch.SubscriptionCount != 2 {
		t.Fatalf("channel %+v", ch)
	}
	r := ts.get(t, "/channels/news", nil)
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"occupied":true}` {
		t.Fatalf("body %s", r.body)
	}
	r = ts.get(t, "/channels/news", map[string]string{"info": "subscription_count"})
	if r.body != `{"occupied":true,"subscription_count":1}` {
		t.Fatalf("body %s", r.body)
	}
	r = ts.get(t, "/channels/vacant", nil)
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"occupied":false}` {
		t.Fatalf("body %s", r.body)
	}
	// Counts are not reported for an unoccupied channel, asked or not,
	// so one emptied a moment ago answers like one never used.
	for _, q := range []struct{ path, info string }{
		{"/channels/vacant", "subscription_count"},
		{"/channels/presence-vacant", "user_count,subscription_count"},
	} {
		if r = ts.get(t, q.path, map[string]string{"info": q.info}); r.body != `{"occupied":false}` {
			t.Fatalf("%s?info=%s: body %s", q.path, q.info, r.body)
		}
	}
	requireStatus(t, ts.get(t, "/channels/news", map[string]string{"info": "user_count"}), 400)
	requireStatus(t, ts.get(t, "/channels/bad%20name", nil), 400)
}

func TestGetChannelCache(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.client().Trigger("cache-prices", "tick", "42"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Occupied bool `json:"occupied"`
		Cache    *struct {
			Data string `json:"data"`
			TTL  int64  `json:"ttl"`
		} `json:"cache"`
	}
	r := ts.get(t, "/channels/cache-prices", map[string]string{"info": "cache"})
	requireStatus(t, r, http.StatusOK)
	decodeBody(t, r, &out)
	if out.Cache == nil || out.Cache.Data != "42" || out.Cache.TTL <= 0 || out.Cache.TTL > int64(30*time.Minute/time.Second) {
		t.Fatalf("body %s", r.body)
	}
	r = ts.get(t, "/channels/cache-empty", map[string]string{"info": "cache"})
	if r.body != `{"occupied":false}` {
		t.Fatalf("body %s", r.body)
	}
}

func TestGetUsers(t *testing.T) {
	ts := startServer(t, nil)
	a, b, c := ts.dial(t), ts.dial(t), ts.dial(t)
	a.subscribePresence("presence-lobby", "u1")
	b.subscribePresence("presence-lobby", "u1")
	c.subscribePresence("presence-lobby", "42")
	c.subscribe("news")

	users, err := ts.client().GetChannelUsers("presence-lobby")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, u := range users.List {
		ids[u.ID] = true
	}
	if len(users.List) != 2 || !ids["u1"] || !ids["42"] {
		t.Fatalf("users %+v", users.List)
	}
	r := ts.get(t, "/channels/presence-empty/users", nil)
	requireStatus(t, r, http.StatusOK)
	if r.body != `{"users":[]}` {
		t.Fatalf("body %s", r.body)
	}
	requireStatus(t, ts.get(t, "/channels/news/users", nil), 400)
	requireStatus(t, ts.get(t, "/channels/private-x/users", nil), 400)
}

func TestTerminateConnections(t *testing.T) {
	ts := startServer(t, nil)
	a, other := ts.dial(t), ts.dial(t)
	a.signin("u9")
	other.signin("u10")
	r := ts.post(t, "/users/u9/terminate_connections", "{}")
	requireStatus(t, r, http.StatusOK)
	if r.body != "{}" {
		t.Fatalf("body %q", r.body)
	}
	code, frames := a.expectClose()
	if code != 4009 {
		t.Fatalf("close code %d, want 4009", code)
	}
	var sawError bool
	for _, f := range frames {
		sawError = sawError || (f.Event == "pusher:error" && jsonHasCode(f.Data, 4009))
	}
	if !sawError {
		t.Fatalf("no pusher:error 4009 before the close: %+v", frames)
	}
	// The other user stays connected.
	if err := ts.client().SendToUser("u10", "still", "here"); err != nil {
		t.Fatal(err)
	}
	other.expect("still")
	// Without a body, as the Go SDK would send it.
	requireStatus(t, ts.post(t, "/users/u10/terminate_connections", ""), http.StatusOK)
}

func jsonHasCode(data []byte, code int) bool {
	var d struct {
		Code int `json:"code"`
	}
	return decodeJSON(data, &d) == nil && d.Code == code
}
