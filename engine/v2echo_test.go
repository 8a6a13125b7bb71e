package engine

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

func (cl *client) subscribePrivateV2(channel string) v2msg {
	cl.t.Helper()
	auth := "key:" + protocol.SignChannel("secret", cl.id, channel, "")
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"` + channel + `","auth":"` + auth + `"}}`)
	return cl.expectV2("sockudo_internal:subscription_succeeded")
}

func TestV2EchoControl(t *testing.T) {
	e := newEngine(t, Options{})
	def, off, on := connectV2(t, e, ""), connectV2(t, e, "false"), connectV2(t, e, "true")
	v1 := connect(t, e, "key")
	v1.mustSubscribe("private-room")
	for _, cl := range []*client{def, off, on} {
		cl.subscribePrivateV2("private-room")
	}
	send := func(from *client, data string) {
		from.send(`{"event":"client-msg","channel":"private-room","data":"` + data + `"}`)
	}
	// Each V2 sender with echo on gets its own event; echo_messages=false
	// does not; everyone else gets it once.
	send(def, "from-def")
	send(off, "from-off")
	send(on, "from-on")
	got := func(cl *client, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			m := cl.expectV2("client-msg")
			out = append(out, m.dataString(t))
			if m.MessageID != nil {
				t.Fatalf("recovery off: client event with message_id %s", m.Raw)
			}
		}
		cl.quiet()
		return out
	}
	if g := got(def, 3); len(g) != 3 {
		t.Fatalf("default echo: %v", g)
	}
	if g := got(off, 2); g[0] != "from-def" || g[1] != "from-on" {
		t.Fatalf("echo_messages=false: %v", g)
	}
	if g := got(on, 3); len(g) != 3 {
		t.Fatalf("echo_messages=true: %v", g)
	}
	// V1 unchanged: the sender never gets its own event.
	if g := len(got(v1, 3)); g != 3 {
		t.Fatalf("V1 subscriber got %d", g)
	}
	v1.send(`{"event":"client-msg","channel":"private-room","data":"from-v1"}`)
	v1.quiet()
	got(def, 1)

	// echo_control.enabled=false: echo forced on.
	e2 := newEngine(t, Options{V2: V2Options{EchoControlDisabled: true}})
	forced := connectV2(t, e2, "false")
	forced.subscribePrivateV2("private-x")
	forced.send(`{"event":"client-msg","channel":"private-x","data":"me"}`)
	forced.expectV2("client-msg")
	// default_echo_messages=false: no echo without the parameter.
	e3 := newEngine(t, Options{V2: V2Options{EchoOffByDefault: true}})
	quiet := connectV2(t, e3, "")
	quiet.subscribePrivateV2("private-x")
	quiet.send(`{"event":"client-msg","channel":"private-x","data":"me"}`)
	quiet.quiet()
}

func TestV2EphemeralMessages(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	a := connectV2(t, e, "")
	stream := *a.subscribeV2("eph").StreamID
	app, _ := e.opts.Apps.AppByKey("key")
	pub := func(data string, x *V2Fields) {
		if err := e.Publish(t.Context(), app, &Event{Name: "ev", Data: data, Channels: []string{"eph"}, V2: x}); err != nil {
			t.Fatal(err)
		}
	}
	pub("1", nil)
	pub("e", &V2Fields{Ephemeral: true, Extras: []byte(`{"ephemeral":true}`)})
	pub("2", nil)
	if m := a.expectV2("ev"); *m.Serial != 1 {
		t.Fatal(m.Raw)
	}
	if m := a.expectV2("ev"); m.Serial != nil || m.StreamID != nil || m.MessageID != nil || string(m.Extras) != `{"ephemeral":true}` {
		t.Fatalf("ephemeral message got identity: %s", m.Raw)
	}
	if m := a.expectV2("ev"); *m.Serial != 2 {
		t.Fatalf("ephemeral consumed a serial: %s", m.Raw)
	}
	// Not buffered: a resume from 0 replays 1 and 2 only.
	b := connectV2(t, e, "")
	events, failed, _ := b.resumeFrames(resumeData("eph", stream, 0))
	if len(failed) != 0 || len(events) != 2 || events[0].dataString(t) != "1" || events[1].dataString(t) != "2" {
		t.Fatalf("replay %d events, %d failed", len(events), len(failed))
	}
	// ephemeral.enabled=false: the flag is ignored.
	e2, _ := recoveryEngine(t, recovery.Options{}, Options{V2: V2Options{EphemeralDisabled: true}})
	c := connectV2(t, e2, "")
	c.subscribeV2("eph")
	app2, _ := e2.opts.Apps.AppByKey("key")
	_ = e2.Publish(t.Context(), app2, &Event{Name: "ev", Data: "x", Channels: []string{"eph"}, V2: &V2Fields{Ephemeral: true}})
	if m := c.expectV2("ev"); m.Serial == nil || *m.Serial != 1 {
		t.Fatalf("ephemeral disabled: %s", m.Raw)
	}
}

// TestV2PresenceAndSignin: presence and signin frames reach V2 with the
// sockudo prefixes, V1 members on the same channel keep theirs.
func TestV2PresenceAndSignin(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	v2 := connectV2(t, e, "")
	cd := `{"user_id":"u2","user_info":{"n":2}}`
	auth := "key:" + protocol.SignChannel("secret", v2.id, "presence-room", cd)
	v2.sendJSON("sockudo:subscribe", map[string]any{"channel": "presence-room", "auth": auth, "channel_data": cd}, "")
	m := v2.expectV2("sockudo_internal:subscription_succeeded")
	if m.dataString(t) != `{"presence":{"ids":["u2"],"hash":{"u2":{"n":2}},"count":1}}` || m.Serial == nil || m.MessageID == nil {
		t.Fatalf("presence subscription_succeeded %s", m.Raw)
	}
	v1 := connect(t, e, "key")
	if got := v1.joinPresence("presence-room", "u1", `{"n":1}`); got.Event != protocol.EventSubscriptionSucceeded {
		t.Fatalf("V1 join %+v", got)
	}
	if m := v2.expectV2("sockudo_internal:member_added"); m.Raw != `{"event":"sockudo_internal:member_added","channel":"presence-room","data":"{\"user_id\":\"u1\",\"user_info\":{\"n\":1}}"}` {
		t.Fatalf("member_added on V2 %s", m.Raw)
	}
	v2.signin(`{"id":"u2"}`)
	if m := v2.expectV2("sockudo:signin_success"); m.MessageID == nil {
		t.Fatalf("signin_success %s", m.Raw)
	}
	v1.c.Gone(nil)
	if m := v2.expectV2("sockudo_internal:member_removed"); m.Channel != "presence-room" {
		t.Fatalf("member_removed %s", m.Raw)
	}
}
