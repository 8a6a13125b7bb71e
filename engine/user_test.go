package engine

import (
	"encoding/json"
	"testing"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestSigninServerToUserAndTerminate(t *testing.T) {
	e := newEngine(t, Options{})
	a, a2, other := connect(t, e, "key"), connect(t, e, "key"), connect(t, e, "key")
	for _, cl := range []*client{a, a2} {
		cl.signin(`{"id":"u1"}`)
		m := cl.expect(protocol.EventSigninSuccess)
		var d struct {
			UserData string `json:"user_data"`
		}
		_ = json.Unmarshal(m.Data, &d)
		if d.UserData != `{"id":"u1"}` {
			t.Fatalf("signin_success %s", m.Data)
		}
	}
	a.mustSubscribe("#server-to-user-u1")
	publish(t, e, "#server-to-user-u1", "hello", "hi", "")
	a.expect("hello")
	a2.expect("hello")
	other.quiet()
	n, _ := e.TerminateUser(t.Context(), testAppFrom(e), "u1")
	if n != 2 {
		t.Fatalf("terminated %d, want 2", n)
	}
	a.expectClose(4009)
	a2.expectClose(4009)
	other.send(`{"event":"pusher:ping"}`)
	other.expect(protocol.EventPong)
}

func TestBadSigninCloses4009(t *testing.T) {
	e := newEngine(t, Options{})
	a := connect(t, e, "key")
	a.sendJSON(protocol.EventSignin, map[string]any{"auth": "key:00", "user_data": `{"id":"u1"}`}, "")
	a.expectClose(4009)
	b := connect(t, e, "key")
	b.signin(`{"name":"no id"}`)
	b.expectClose(4009)
}

func TestWatchlist(t *testing.T) {
	e := newEngine(t, Options{})
	watcher, u2 := connect(t, e, "key"), connect(t, e, "key")
	u2.signin(`{"id":"u2"}`)
	u2.expect(protocol.EventSigninSuccess)
	watcher.signin(`{"id":"u1","watchlist":["u2","u3"]}`)
	watcher.expect(protocol.EventSigninSuccess)
	m := watcher.expect(protocol.EventWatchlist)
	if string(m.Data) != `{"events":[{"name":"online","user_ids":["u2"]},{"name":"offline","user_ids":["u3"]}]}` {
		t.Fatalf("initial watchlist %s", m.Data)
	}
	u3 := connect(t, e, "key")
	u3.signin(`{"id":"u3"}`)
	if m := watcher.expect(protocol.EventWatchlist); string(m.Data) != `{"events":[{"name":"online","user_ids":["u3"]}]}` {
		t.Fatalf("online %s", m.Data)
	}
	u2.c.Gone(nil)
	if m := watcher.expect(protocol.EventWatchlist); string(m.Data) != `{"events":[{"name":"offline","user_ids":["u2"]}]}` {
		t.Fatalf("offline %s", m.Data)
	}
}
