package httpapi

import (
	json "github.com/goccy/go-json"
	"net/http"
	"strings"
	"testing"

	pusher "github.com/pusher/pusher-http-go/v5"
)

func TestPublishReachesSubscriber(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.subscribe("chat")
	if err := ts.client().Trigger("chat", "message", map[string]string{"text": "hi"}); err != nil {
		t.Fatalf("Trigger: %v", err)
	}
	f := w.expect("message")
	if f.Channel != "chat" || f.str() != `{"text":"hi"}` {
		t.Fatalf("got %+v data %s", f, f.str())
	}
}

func TestPublishAnswersEmptyObject(t *testing.T) {
	ts := startServer(t, nil)
	r := ts.post(t, "/events", `{"name":"e","channels":["a","b"],"data":"x"}`)
	requireStatus(t, r, http.StatusOK)
	if r.body != "{}" {
		t.Fatalf("body %q, want {}", r.body)
	}
	r = ts.post(t, "/events", `{"name":"e","channel":"a","data":""}`)
	requireStatus(t, r, http.StatusOK)
}

func TestEventValidation(t *testing.T) {
	ts := startServer(t, nil)
	long := strings.Repeat("a", 201)
	many := `"c0"` + strings.Repeat(`,"c"`, 100)
	f := func(body string, status int, msg string) {
		t.Helper()
		r := ts.post(t, "/events", body)
		requireStatus(t, r, status)
		if msg != "" && !strings.Contains(r.body, msg) {
			t.Fatalf("body %s: want it to mention %q", r.body, msg)
		}
	}
	f(`not json`, 400, "")
	f(`{"channels":["a"],"data":"x"}`, 400, "name")
	f(`{"name":"`+long+`","channels":["a"],"data":"x"}`, 400, "name")
	f(`{"name":"`+long[:200]+`","channels":["a"],"data":"x"}`, 200, "")
	f(`{"name":"e","channels":["a"]}`, 400, "data")
	f(`{"name":"e","channels":["a"],"data":null}`, 400, "data")
	f(`{"name":"e","channels":["a"],"data":{"a":1}}`, 400, "string")
	f(`{"name":"e","channels":["a"],"data":12}`, 400, "string")
	f(`{"name":"e","channels":["a"],"data":"`+strings.Repeat("x", 10*1024)+`"}`, 200, "")
	f(`{"name":"e","channels":["a"],"data":"`+strings.Repeat("x", 10*1024+1)+`"}`, 413, "")
	f(`{"name":"e","data":"x"}`, 400, "channels")
	f(`{"name":"e","channels":[],"data":"x"}`, 400, "channels")
	f(`{"name":"e","channels":[`+many+`],"data":"x"}`, 400, "channels")
	f(`{"name":"e","channels":["bad name"],"data":"x"}`, 400, "channel")
	f(`{"name":"e","channels":["`+long+`"],"data":"x"}`, 400, "channel")
	f(`{"name":"e","channels":["#other"],"data":"x"}`, 400, "channel")
	f(`{"name":"e","channels":["#server-to-user-"],"data":"x"}`, 400, "channel")
	f(`{"name":"e","channels":["#server-to-user-u1"],"data":"x"}`, 200, "")
	f(`{"name":"e","channels":["a"],"data":"x","socket_id":"abc"}`, 400, "socket_id")
	f(`{"name":"e","channels":["a"],"data":"x","socket_id":"1.2"}`, 200, "")
}

func TestEventValidationAppLimits(t *testing.T) {
	ts := startServer(t, nil)
	small := [3]string{"3", "small-key", "small-secret"}
	f := func(body string, status int) {
		t.Helper()
		requireStatus(t, ts.do(t, http.MethodPost, "/apps/3/events", nil, body, small, true), status)
	}
	f(`{"name":"0123456789","channels":["a","b"],"data":"`+strings.Repeat("x", 1024)+`"}`, 200)
	f(`{"name":"0123456789a","channels":["a"],"data":"x"}`, 400)
	f(`{"name":"e","channels":["a","b","c"],"data":"x"}`, 400)
	f(`{"name":"e","channels":["a"],"data":"`+strings.Repeat("x", 1025)+`"}`, 413)
	b := func(body string, status int) {
		t.Helper()
		requireStatus(t, ts.do(t, http.MethodPost, "/apps/3/batch_events", nil, body, small, true), status)
	}
	item := `{"name":"e","channel":"a","data":"x"}`
	b(`{"batch":[]}`, 400) // publishing nothing is a client mistake
	b(`{"batch":[`+item+`,`+item+`]}`, 200)
	b(`{"batch":[`+item+`,`+item+`,`+item+`]}`, 400)
}

func TestSocketIDExcludesSender(t *testing.T) {
	ts := startServer(t, nil)
	a, b := ts.dial(t), ts.dial(t)
	a.subscribe("room")
	b.subscribe("room")
	c := ts.client()
	if _, err := c.TriggerWithParams("room", "first", "1", pusher.TriggerParams{SocketID: &a.socketID}); err != nil {
		t.Fatal(err)
	}
	if err := c.Trigger("room", "second", "2"); err != nil {
		t.Fatal(err)
	}
	b.expect("first")
	b.expect("second")
	// Events on one connection arrive in order: if "first" had reached a,
	// it would come before "second".
	for {
		f := a.next()
		if f.Event == "first" {
			t.Fatal("excluded socket received the event")
		}
		if f.Event == "second" {
			break
		}
	}
}

func TestEventsInfo(t *testing.T) {
	ts := startServer(t, nil)
	a, b := ts.dial(t), ts.dial(t)
	a.subscribePresence("presence-room", "u1")
	b.subscribePresence("presence-room", "u1")
	a.subscribe("public-x")
	res, err := ts.client().TriggerMultiWithParams([]string{"presence-room", "public-x", "empty"}, "ev", "d",
		pusher.TriggerParams{Info: ptr("user_count,subscription_count")})
	if err != nil {
		t.Fatal(err)
	}
	pr, px, pe := res.Channels["presence-room"], res.Channels["public-x"], res.Channels["empty"]
	if pr.UserCount == nil || *pr.UserCount != 1 || pr.SubscriptionCount == nil || *pr.SubscriptionCount != 2 {
		t.Fatalf("presence-room %+v", res.Channels)
	}
	if px.UserCount != nil || px.SubscriptionCount == nil || *px.SubscriptionCount != 1 {
		t.Fatalf("public-x %+v", res.Channels)
	}
	if pe.SubscriptionCount == nil || *pe.SubscriptionCount != 0 {
		t.Fatalf("empty %+v", res.Channels)
	}
}

func TestBatchEvents(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.subscribe("b1")
	c := ts.client()
	res, err := c.TriggerBatch([]pusher.Event{
		{Channel: "b1", Name: "one", Data: "1", Info: ptr("subscription_count")},
		{Channel: "b2", Name: "two", Data: "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batch) != 2 || res.Batch[0].SubscriptionCount == nil || *res.Batch[0].SubscriptionCount != 1 ||
		res.Batch[1].SubscriptionCount != nil || res.Batch[1].UserCount != nil {
		t.Fatalf("batch answer %+v", res.Batch)
	}
	if f := w.expect("one"); f.str() != "1" {
		t.Fatalf("got %+v", f)
	}

	r := ts.post(t, "/batch_events", `{"batch":[{"channel":"b1","name":"x","data":"1"}]}`)
	requireStatus(t, r, http.StatusOK)
	if r.body != "{}" {
		t.Fatalf("body %q, want {}", r.body)
	}
	item := `{"channel":"b1","name":"x","data":"1"}`
	requireStatus(t, ts.post(t, "/batch_events", `{"batch":[`+item+strings.Repeat(","+item, 10)+`]}`), 400)
	requireStatus(t, ts.post(t, "/batch_events", `{"batch":[`+item+`,{"channel":"bad name","name":"x","data":"1"}]}`), 400)
	requireStatus(t, ts.post(t, "/batch_events", `{"batch":[{"channel":"b1","name":"x","data":{}}]}`), 400)
	requireStatus(t, ts.post(t, "/batch_events", `{"batch":[{"channel":"b1","name":"x","data":"`+strings.Repeat("x", 10241)+`"}]}`), 413)
	requireStatus(t, ts.post(t, "/batch_events", `{}`), 400)
	requireStatus(t, ts.post(t, "/batch_events", `[`), 400)
}

func TestSendToUser(t *testing.T) {
	ts := startServer(t, nil)
	w := ts.dial(t)
	w.signin("u7")
	if err := ts.client().SendToUser("u7", "note", "hello"); err != nil {
		t.Fatal(err)
	}
	f := w.expect("note")
	if f.Channel != "#server-to-user-u7" || f.str() != "hello" {
		t.Fatalf("got %+v", f)
	}
}

// TestBatchPoolForgetsPreviousRequest: the pooled batch body is decoded
// into old elements, so a member absent now must not keep its last value
// (a stale socket_id would exclude the wrong connection).
func TestBatchPoolForgetsPreviousRequest(t *testing.T) {
	s := &Server{}
	b := s.getBatch()
	if err := json.Unmarshal([]byte(`{"batch":[{"name":"a","socket_id":"1.2","channel":"x"}]}`), b); err != nil {
		t.Fatal(err)
	}
	s.batches.Put(b)
	b = s.getBatch()
	if err := json.Unmarshal([]byte(`{"batch":[{"name":"b"}]}`), b); err != nil {
		t.Fatal(err)
	}
	if got := b.Batch[0]; got.SocketID != "" || got.Channel != "" || got.Name != "b" {
		t.Fatalf("reused element kept old fields: %+v", got)
	}
}
