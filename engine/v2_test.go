package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// v2msg is a decoded V2 server frame with its raw bytes.
type v2msg struct {
	Event     string          `json:"event"`
	Channel   string          `json:"channel"`
	Data      json.RawMessage `json:"data"`
	MessageID *string         `json:"message_id"`
	StreamID  *string         `json:"stream_id"`
	Serial    *uint64         `json:"serial"`
	Tags      json.RawMessage `json:"tags"`
	Extras    json.RawMessage `json:"extras"`
	Close     int             `json:"-"`
	Raw       string          `json:"-"`
}

func (m v2msg) dataString(t *testing.T) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m.Data, &s); err != nil {
		t.Fatalf("%s data is not a string: %s", m.Event, m.Data)
	}
	return s
}

// rawNext reads the next complete server frame, waiting up to 3 s.
func (cl *client) rawNext() (v2msg, bool) {
	cl.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		cl.tr.mu.Lock()
		b := append([]byte(nil), cl.tr.out[cl.read:]...)
		cl.tr.mu.Unlock()
		if len(b) >= 2 {
			op, n, hl := b[0]&0x0f, int(b[1]&0x7f), 2
			switch n {
			case 126:
				if len(b) >= 4 {
					n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
				} else {
					n = 1 << 30
				}
			case 127:
				if len(b) >= 10 {
					n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
				} else {
					n = 1 << 30
				}
			}
			if len(b) >= hl+n {
				p := b[hl : hl+n]
				cl.read += hl + n
				m := v2msg{Raw: string(p)}
				if protocol.Opcode(op) == protocol.OpClose {
					m.Close, m.Event = int(binary.BigEndian.Uint16(p)), "close"
				} else if err := json.Unmarshal(p, &m); err != nil {
					cl.t.Fatalf("server sent invalid JSON %q: %v", p, err)
				}
				return m, true
			}
		}
		if time.Now().After(deadline) {
			return v2msg{}, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (cl *client) expectV2(event string) v2msg {
	cl.t.Helper()
	m, ok := cl.rawNext()
	if !ok {
		cl.t.Fatalf("timed out waiting for %s", event)
	}
	if m.Event != event {
		cl.t.Fatalf("got %s, want %s", m.Raw, event)
	}
	return m
}

// connectV2 opens a protocol=2 connection.
func connectV2(t *testing.T, e *Engine, echo string) *client {
	t.Helper()
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	c, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "2", EchoMessages: echo}, cl.tr)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	cl.c = c
	m := cl.expectV2("sockudo:connection_established")
	var d struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}
	if err := json.Unmarshal([]byte(m.dataString(t)), &d); err != nil || d.SocketID == "" || d.ActivityTimeout == 0 {
		t.Fatalf("connection_established data %s: %v", m.Data, err)
	}
	if m.MessageID == nil || !uuidV4.MatchString(*m.MessageID) {
		t.Fatalf("connection_established without a UUID-v4 message_id: %s", m.Raw)
	}
	cl.id = d.SocketID
	return cl
}

func (cl *client) subscribeV2(channel string) v2msg {
	cl.t.Helper()
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"` + channel + `"}}`)
	m := cl.expectV2("sockudo_internal:subscription_succeeded")
	if m.Channel != channel || m.MessageID == nil || !uuidV4.MatchString(*m.MessageID) {
		cl.t.Fatalf("subscription_succeeded: %s", m.Raw)
	}
	return m
}

// recoveryEngine runs an engine with connection recovery on.
func recoveryEngine(t *testing.T, ropts recovery.Options, opts Options, apps ...*App) (*Engine, *recovery.Buffer) {
	t.Helper()
	rb := recovery.New(ropts)
	opts.V2.Recovery = rb
	return newEngine(t, opts, apps...), rb
}

func TestV2HandshakeAndV1Unchanged(t *testing.T) {
	e := newEngine(t, Options{})
	connectV2(t, e, "")
	// V1 stays byte-identical: no message_id, pusher: prefixes.
	cl := &client{t: t, e: e, tr: &fakeTransport{}}
	c, err := e.Connect(ConnectRequest{AppKey: "key", Protocol: "7"}, cl.tr)
	if err != nil {
		t.Fatal(err)
	}
	cl.c = c
	m := cl.expectV2(protocol.EventConnectionEstablished)
	want := `{"event":"pusher:connection_established","data":"{\"socket_id\":\"` + c.SocketID() + `\",\"activity_timeout\":120}"}`
	if m.Raw != want {
		t.Fatalf("V1 handshake\n got %s\nwant %s", m.Raw, want)
	}
	cl.send(`{"event":"pusher:subscribe","data":{"channel":"news"}}`)
	if m := cl.expectV2(protocol.EventSubscriptionSucceeded); m.Raw != `{"event":"pusher_internal:subscription_succeeded","channel":"news","data":"{}"}` {
		t.Fatalf("V1 subscription_succeeded %s", m.Raw)
	}
	cl.send(`{"event":"pusher:ping","data":{}}`)
	if m := cl.expectV2("pusher:pong"); m.Raw != `{"event":"pusher:pong","data":{}}` {
		t.Fatalf("V1 pong %s", m.Raw)
	}
	// V2 prefixes are accepted on V1 and answered in V1 framing.
	cl.send(`{"event":"sockudo:ping","data":{}}`)
	cl.expectV2("pusher:pong")
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"other"}}`)
	if m := cl.expectV2(protocol.EventSubscriptionSucceeded); m.MessageID != nil {
		t.Fatalf("V1 frame with message_id: %s", m.Raw)
	}
}

func TestV2PingPongAndPrefixes(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connectV2(t, e, "")
	for _, ping := range []string{"sockudo:ping", "pusher:ping", "sockudo_internal:ping"} {
		cl.send(`{"event":"` + ping + `","data":{}}`)
		if m := cl.expectV2("sockudo:pong"); m.Raw != `{"event":"sockudo:pong"}` {
			t.Fatalf("pong to %s: %s (want no data and no message_id)", ping, m.Raw)
		}
	}
	// pusher:subscribe works on V2 and is answered with the V2 prefix.
	cl.send(`{"event":"pusher:subscribe","data":{"channel":"a"}}`)
	m := cl.expectV2("sockudo_internal:subscription_succeeded")
	if m.dataString(t) != "{}" || m.StreamID != nil || m.Serial != nil {
		t.Fatalf("recovery off: %s", m.Raw)
	}
	// An application event named pusher:* reaches V2 as sockudo:*.
	publish(t, e, "a", "pusher:custom", "x", "")
	if m := cl.expectV2("sockudo:custom"); m.Raw != `{"event":"sockudo:custom","channel":"a","data":"x"}` {
		t.Fatalf("rewritten app event %s", m.Raw)
	}
	publish(t, e, "a", "plain", "y", "")
	if m := cl.expectV2("plain"); m.Raw != `{"event":"plain","channel":"a","data":"y"}` {
		t.Fatalf("plain event, recovery off: %s", m.Raw)
	}
}

func TestV2Errors(t *testing.T) {
	e := newEngine(t, Options{})
	cl := connectV2(t, e, "")
	cl.send(`not json`)
	m := cl.expectV2("sockudo:error")
	var d struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil || d.Code != 4000 || d.Message == "" {
		t.Fatalf("error data must be an object {code,message}: %s", m.Raw)
	}
	if m.Channel != "" || m.MessageID == nil || !uuidV4.MatchString(*m.MessageID) {
		t.Fatalf("error frame: %s", m.Raw)
	}
	// A refused subscription is a non-fatal sockudo:error, not subscription_error.
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"private-x","auth":"key:bad"}}`)
	m = cl.expectV2("sockudo:error")
	if err := json.Unmarshal(m.Data, &d); err != nil || d.Code != 4009 || !strings.Contains(d.Message, "private-x") {
		t.Fatalf("refused subscription: %s", m.Raw)
	}
	cl.send(`{"event":"sockudo:subscribe","data":{"channel":"bad channel"}}`)
	if err := json.Unmarshal(cl.expectV2("sockudo:error").Data, &d); err != nil || d.Code != 4300 {
		t.Fatalf("invalid channel code %d", d.Code)
	}
	// Unknown events are ignored on V2, as Sockudo does (the official
	// client sends some this server does not serve yet).
	cl.send(`{"event":"sockudo:enable_delta_compression","data":{"algorithms":["fossil"]}}`)
	cl.send(`{"event":"whatever","data":{}}`)
	cl.send(`{"event":"sockudo:ping"}`)
	cl.expectV2("sockudo:pong") // still open, nothing before the pong
}

func TestV2ActivityPingAndPongTimeout(t *testing.T) {
	e := newEngine(t, Options{ActivityTimeout: time.Second, PongTimeout: time.Second})
	cl := connectV2(t, e, "")
	if m := cl.expectV2("sockudo:ping"); m.MessageID != nil {
		t.Fatalf("server ping with message_id: %s", m.Raw)
	}
	m := cl.expectV2("sockudo:error")
	var d struct{ Code int }
	_ = json.Unmarshal(m.Data, &d)
	if d.Code != 4201 {
		t.Fatalf("error before close: %s", m.Raw)
	}
	if m := cl.expectV2("close"); m.Close != 4201 {
		t.Fatalf("close %d, want 4201", m.Close)
	}
}

func TestV2PublishFieldsReachOnlyV2(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	v2 := connectV2(t, e, "")
	v2.subscribeV2("orders")
	v1 := connect(t, e, "key")
	v1.mustSubscribe("orders")
	app, _ := e.opts.Apps.AppByKey("key")
	ev := &Event{Name: "order.updated", Data: `{"id":1}`, Channels: []string{"orders"}, WantAcks: true,
		V2: &V2Fields{Tags: []byte(`{"region":"eu"}`), Extras: []byte(`{"headers":{"tenant":"acme"}}`), MessageID: "m-1"}}
	if err := e.Publish(t.Context(), app, ev); err != nil {
		t.Fatal(err)
	}
	m := v2.expectV2("order.updated")
	if m.MessageID == nil || *m.MessageID != "m-1" || m.StreamID == nil || m.Serial == nil || *m.Serial != 1 ||
		string(m.Tags) != `{"region":"eu"}` || string(m.Extras) != `{"headers":{"tenant":"acme"}}` {
		t.Fatalf("V2 frame: %s", m.Raw)
	}
	want := `{"event":"order.updated","channel":"orders","data":"{\"id\":1}","tags":{"region":"eu"},"message_id":"m-1","stream_id":"` + *m.StreamID + `","serial":1,"extras":{"headers":{"tenant":"acme"}}}`
	if m.Raw != want {
		t.Fatalf("V2 member order\n got %s\nwant %s", m.Raw, want)
	}
	if got := v1.expectV2("order.updated").Raw; got != `{"event":"order.updated","channel":"orders","data":"{\"id\":1}"}` {
		t.Fatalf("V1 subscriber sees V2 fields: %s", got)
	}
	if len(ev.Acks) != 1 || ev.Acks[0].MessageID != "m-1" || ev.Acks[0].Serial != 1 || !ev.Acks[0].HasSerial {
		t.Fatalf("acks %+v", ev.Acks)
	}
	// Without a publisher id the server assigns one per message.
	publish(t, e, "orders", "next", "d", "")
	if m := v2.expectV2("next"); m.MessageID == nil || !uuidV4.MatchString(*m.MessageID) || *m.Serial != 2 {
		t.Fatalf("assigned id: %s", m.Raw)
	}
	v1.expectV2("next")
}

func TestV2SubscriptionSucceededPosition(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	a := connectV2(t, e, "")
	m := a.subscribeV2("fresh")
	if m.StreamID == nil || !uuidV4.MatchString(*m.StreamID) || m.Serial == nil || *m.Serial != 0 || m.dataString(t) != "{}" {
		t.Fatalf("never-published channel: %s", m.Raw)
	}
	for i := 0; i < 3; i++ {
		publish(t, e, "fresh", "ev", "x", "")
		a.expectV2("ev")
	}
	b := connectV2(t, e, "")
	m2 := b.subscribeV2("fresh")
	if *m2.StreamID != *m.StreamID || *m2.Serial != 3 {
		t.Fatalf("position after 3 publishes: %s", m2.Raw)
	}
	// Recovery off for the app: no position, still a message id.
	off := testApp()
	off.Key, off.ID, off.RecoveryDisabled = "off", "2", true
	e2, _ := recoveryEngine(t, recovery.Options{}, Options{}, off)
	cl := &client{t: t, e: e2, tr: &fakeTransport{}}
	c, _ := e2.Connect(ConnectRequest{AppKey: "off", Protocol: "2"}, cl.tr)
	cl.c = c
	cl.expectV2("sockudo:connection_established")
	if m := cl.subscribeV2("x"); m.StreamID != nil || m.Serial != nil {
		t.Fatalf("recovery disabled by app policy: %s", m.Raw)
	}
}

// resumeFrames sends a resume and collects frames up to resume_success.
func (cl *client) resumeFrames(data string) (events []v2msg, failed []v2msg, success v2msg) {
	cl.t.Helper()
	cl.send(`{"event":"sockudo:resume","data":` + data + `}`)
	for {
		m, ok := cl.rawNext()
		if !ok {
			cl.t.Fatal("no resume_success")
		}
		switch m.Event {
		case "sockudo:resume_success":
			return events, failed, m
		case "sockudo:resume_failed":
			failed = append(failed, m)
		default:
			events = append(events, m)
		}
	}
}

func resumeData(channel, stream string, serial uint64) string {
	inner := fmt.Sprintf(`{"channel_positions":{%q:{"stream_id":%q,"serial":%d}}}`, channel, stream, serial)
	b, _ := json.Marshal(inner)
	return string(b) // as the JS client sends it: a JSON string
}

func TestV2ResumeAfterDropReplaysExactlyTheMissed(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	a := connectV2(t, e, "")
	a.subscribeV2("room")
	var stream string
	for i := 1; i <= 2; i++ {
		publish(t, e, "room", "ev", fmt.Sprint(i), "")
		m := a.expectV2("ev")
		stream = *m.StreamID
	}
	a.c.Gone(nil) // abrupt drop
	for i := 3; i <= 7; i++ {
		publish(t, e, "room", "ev", fmt.Sprint(i), "")
	}
	b := connectV2(t, e, "")
	b.subscribeV2("room")
	events, failed, ok := b.resumeFrames(resumeData("room", stream, 2))
	if len(failed) != 0 || len(events) != 5 {
		t.Fatalf("replayed %d, failed %d", len(events), len(failed))
	}
	for i, m := range events {
		if *m.Serial != uint64(3+i) || m.dataString(t) != fmt.Sprint(3+i) || *m.StreamID != stream || m.MessageID == nil {
			t.Fatalf("replay %d: %s", i, m.Raw)
		}
	}
	var res struct {
		Recovered []struct {
			Channel  string `json:"channel"`
			Source   string `json:"source"`
			Replayed int    `json:"replayed"`
			Position struct {
				StreamID      string `json:"stream_id"`
				Serial        uint64 `json:"serial"`
				LastMessageID string `json:"last_message_id"`
			} `json:"position"`
		} `json:"recovered"`
		Failed []any `json:"failed"`
	}
	if err := json.Unmarshal([]byte(ok.dataString(t)), &res); err != nil || len(res.Recovered) != 1 || len(res.Failed) != 0 {
		t.Fatalf("resume_success %s: %v", ok.Raw, err)
	}
	r := res.Recovered[0]
	if r.Channel != "room" || r.Source != "hot" || r.Replayed != 5 || r.Position.Serial != 7 || r.Position.StreamID != stream ||
		r.Position.LastMessageID != *events[4].MessageID || ok.MessageID == nil {
		t.Fatalf("resume_success %s", ok.Raw)
	}
	// Live delivery continues after the replay, once.
	publish(t, e, "room", "ev", "8", "")
	if m := b.expectV2("ev"); *m.Serial != 8 {
		t.Fatalf("live after resume: %s", m.Raw)
	}
	b.quiet()
	if n := e.NodeSnapshot(); n.Resumes[0] != 1 || n.Replayed != 5 || n.Buffered != 8 {
		t.Fatalf("metrics: resumes %v, replayed %d, buffered %d", n.Resumes, n.Replayed, n.Buffered)
	}
}

func failureOf(t *testing.T, m v2msg) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(m.dataString(t)), &d); err != nil {
		t.Fatalf("resume_failed data: %s", m.Raw)
	}
	if m.Channel == "" || d["channel"] != m.Channel {
		t.Fatalf("resume_failed must carry channel at top level and in data: %s", m.Raw)
	}
	return d
}

func TestV2ResumeFailures(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	app := testApp()
	app.RecoveryMaxBufferSize = 5
	e, _ := recoveryEngine(t, recovery.Options{TTL: time.Minute, Now: clock}, Options{}, app)
	a := connectV2(t, e, "")
	stream := *a.subscribeV2("win").StreamID
	a.subscribeV2("ttl")
	for i := 0; i < 7; i++ {
		publish(t, e, "win", "ev", "x", "")
		a.expectV2("ev")
	}
	publish(t, e, "ttl", "ev", "x", "")
	a.expectV2("ev")
	ttlStream := stream
	cases := []struct {
		name, data, code, reason string
	}{
		{"window", resumeData("win", stream, 0), "position_expired", "recovery_window_exceeded"},
		{"unknown stream", resumeData("win", "not-the-stream", 6), "stream_reset", "stream_id_mismatch"},
		{"legacy beyond the buffer", `{"channel_serials":{"win":0}}`, "continuity_unverifiable", "legacy_serial_only_position_cannot_use_cold_recovery"},
	}
	for _, tc := range cases {
		events, failed, ok := a.resumeFrames(tc.data)
		if len(events) != 0 || len(failed) != 1 {
			t.Fatalf("%s: %d events, %d failed", tc.name, len(events), len(failed))
		}
		d := failureOf(t, failed[0])
		if d["code"] != tc.code || d["reason"] != tc.reason {
			t.Fatalf("%s: %s", tc.name, failed[0].Raw)
		}
		if !strings.Contains(ok.dataString(t), `"failed":[{"channel":"win","code":"`+tc.code+`"`) {
			t.Fatalf("%s: resume_success %s", tc.name, ok.Raw)
		}
	}
	// a received everything live: the gate replays nothing twice.
	if events, failed, _ := a.resumeFrames(resumeData("win", stream, 4)); len(events) != 0 || len(failed) != 0 {
		t.Fatalf("already delivered: %d events, %d failed", len(events), len(failed))
	}
	// A new connection within the window and the TTL: recovered.
	b := connectV2(t, e, "")
	b.subscribeV2("win")
	if events, failed, _ := b.resumeFrames(resumeData("win", stream, 4)); len(events) != 3 || len(failed) != 0 {
		t.Fatalf("within window: %d events, %d failed", len(events), len(failed))
	}
	// After the TTL the messages are gone: position_expired.
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	_ = ttlStream
	m := a.subscribeV2("ttl") // re-subscribe answers the position again
	_, failed, _ := a.resumeFrames(resumeData("ttl", *m.StreamID, 0))
	if len(failed) != 1 {
		t.Fatal("no failure after TTL")
	}
	if d := failureOf(t, failed[0]); d["code"] != "position_expired" || d["reason"] != "hot_replay_expired_and_durable_history_disabled" {
		t.Fatalf("after TTL: %s", failed[0].Raw)
	}
	n := e.NodeSnapshot()
	if want := [len(ResumeOutcomes)]uint64{2, 2, 1, 1}; n.Resumes != want {
		t.Fatalf("resumes by outcome %v, want %v", n.Resumes, want)
	}
}

func TestV2ResumeRequestErrors(t *testing.T) {
	code := func(cl *client) int {
		t.Helper()
		m := cl.expectV2("sockudo:error")
		var d struct{ Code int }
		_ = json.Unmarshal(m.Data, &d)
		return d.Code
	}
	off := connectV2(t, newEngine(t, Options{}), "")
	off.send(`{"event":"sockudo:resume","data":{"channel_positions":{"a":{"serial":1}}}}`)
	if c := code(off); c != 4301 {
		t.Fatalf("recovery disabled: %d", c)
	}
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	cl := connectV2(t, e, "")
	cl.send(`{"event":"sockudo:resume","data":"{\"channel_positions\":{}}"}`)
	if c := code(cl); c != 4302 {
		t.Fatalf("empty positions: %d", c)
	}
	cl.send(`{"event":"sockudo:resume","data":"{not json"}`)
	if c := code(cl); c != 4000 {
		t.Fatalf("bad JSON: %d", c)
	}
	// The object form and legacy channel_serials are accepted too, and a
	// channel the connection is not subscribed to is replayed all the same.
	publish(t, e, "c", "ev", "1", "")
	if events, failed, _ := cl.resumeFrames(`{"channel_serials":{"c":0}}`); len(events) != 1 || len(failed) != 0 {
		t.Fatalf("legacy: %d events, %d failed", len(events), len(failed))
	}
}

// TestV2ResumeDuringPublishing publishes continuously while a client
// reconnects, resubscribes and resumes: it must see every serial after
// its position exactly once, in order.
func TestV2ResumeDuringPublishing(t *testing.T) {
	e, _ := recoveryEngine(t, recovery.Options{}, Options{})
	a := connectV2(t, e, "")
	stream := *a.subscribeV2("live").StreamID
	publish(t, e, "live", "ev", "x", "")
	a.expectV2("ev")
	a.c.Gone(nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	app, _ := e.opts.Apps.AppByKey("key")
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = e.Publish(t.Context(), app, &Event{Name: "ev", Data: "x", Channels: []string{"live"}})
			time.Sleep(200 * time.Microsecond)
		}
	}()
	time.Sleep(5 * time.Millisecond) // let some messages be missed
	b := connectV2(t, e, "")
	b.send(`{"event":"sockudo:subscribe","data":{"channel":"live"}}`)
	b.send(`{"event":"sockudo:resume","data":` + resumeData("live", stream, 1) + `}`)
	var serials []uint64
	succeeded, resumed := false, false
	deadline := time.Now().Add(5 * time.Second)
	for !resumed || len(serials) < 60 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %d messages, resumed %v", len(serials), resumed)
		}
		m, ok := b.rawNext()
		if !ok {
			t.Fatal("stalled")
		}
		switch m.Event {
		case "sockudo_internal:subscription_succeeded":
			succeeded = true
		case "sockudo:resume_success":
			if !strings.Contains(m.dataString(t), `"recovered":[{"channel":"live"`) {
				t.Fatalf("resume failed: %s", m.Raw)
			}
			resumed = true
		case "sockudo:resume_failed":
			t.Fatalf("resume failed: %s", m.Raw)
		case "ev":
			serials = append(serials, *m.Serial)
		}
	}
	close(stop)
	<-done
	if !succeeded {
		t.Fatal("no subscription_succeeded")
	}
	seen := map[uint64]bool{}
	for _, s := range serials {
		if seen[s] {
			t.Fatalf("serial %d delivered twice: %v", s, serials)
		}
		seen[s] = true
	}
	// Every serial from 2 to the highest seen arrived (order may
	// interleave the replay and the live tail only where the gate allows).
	var top uint64
	for _, s := range serials {
		top = max(top, s)
	}
	for s := uint64(2); s <= top; s++ {
		if !seen[s] {
			t.Fatalf("serial %d lost: %v", s, serials)
		}
	}
}

// TestV2FieldsCrossTheBus: a V2 subscriber on another node sees the
// publisher's tags, extras and message id; a V1 one there sees none.
func TestV2FieldsCrossTheBus(t *testing.T) {
	hub := newHub()
	app := testApp()
	a, _ := clusterNode(t, hub, "a", nil, app)
	b, _ := clusterNode(t, hub, "b", nil, app)
	v2 := connectV2(t, b, "")
	v2.subscribeV2("news")
	v1 := connect(t, b, "key")
	v1.mustSubscribe("news")
	waitFor(t, "b's subscribers known on a", func() bool { return subscriptions(t, a, "news") == 2 })
	ev := &Event{Name: "ev", Data: "d", Channels: []string{"news"},
		V2: &V2Fields{Tags: []byte(`{"k":"v"}`), Extras: []byte(`{"headers":{"h":1}}`), MessageID: "m-9"}}
	if err := a.Publish(t.Context(), app, ev); err != nil {
		t.Fatal(err)
	}
	if m := v2.expectV2("ev"); m.Raw != `{"event":"ev","channel":"news","data":"d","tags":{"k":"v"},"message_id":"m-9","extras":{"headers":{"h":1}}}` {
		t.Fatalf("remote V2 frame %s", m.Raw)
	}
	if m := v1.expectV2("ev"); m.Raw != `{"event":"ev","channel":"news","data":"d"}` {
		t.Fatalf("remote V1 frame %s", m.Raw)
	}
}
