package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// v2Frame is a V2 frame with its raw text.
type v2Frame struct {
	Event     string          `json:"event"`
	Channel   string          `json:"channel"`
	Data      json.RawMessage `json:"data"`
	MessageID *string         `json:"message_id"`
	StreamID  *string         `json:"stream_id"`
	Serial    *uint64         `json:"serial"`
	Tags      json.RawMessage `json:"tags"`
	Extras    json.RawMessage `json:"extras"`
	raw       string
}

type v2Client struct {
	t *testing.T
	c *websocket.Conn
}

func (ts *testServer) dialV2(t *testing.T, query string) *v2Client {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=2&client=js&version=2.2.0&flash=false"+query, nil)
	if err != nil {
		t.Fatalf("dial V2: %v (%v)", err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	v := &v2Client{t: t, c: c}
	if f := v.next(); f.Event != "sockudo:connection_established" || f.MessageID == nil {
		t.Fatalf("V2 handshake %s", f.raw)
	}
	return v
}

func (v *v2Client) next() v2Frame {
	v.t.Helper()
	_ = v.c.SetReadDeadline(time.Now().Add(waitFor))
	_, p, err := v.c.ReadMessage()
	if err != nil {
		v.t.Fatalf("read: %v", err)
	}
	f := v2Frame{raw: string(p)}
	if err := json.Unmarshal(p, &f); err != nil {
		v.t.Fatalf("frame %q: %v", p, err)
	}
	return f
}

func (v *v2Client) expect(event string) v2Frame {
	v.t.Helper()
	f := v.next()
	if f.Event != event {
		v.t.Fatalf("got %s, want %s", f.raw, event)
	}
	return f
}

func (v *v2Client) send(s string) {
	v.t.Helper()
	if err := v.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		v.t.Fatal(err)
	}
}

func withRecovery(o *engine.Options) {
	o.V2.Recovery = recovery.New(recovery.Options{})
}

func TestV2UpgradeRefusesUnservedFormats(t *testing.T) {
	var cs codecs
	ts := startServerWith(t, withCodecs(&cs), nil)
	for _, q := range []string{"&format=xml", "&format=msgpack2", "&format=json5", "&echo_messages=maybe"} {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=2"+q, nil)
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Fatalf("%s: want HTTP 400 before the upgrade, got %v %v", q, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		var e struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		if json.Unmarshal(body, &e) != nil || e.Code != 400 || e.Error == "" {
			t.Fatalf("%s: body %s", q, body)
		}
	}
	ts.dialV2(t, "&format=%20JSON%20&echo_messages=false")
	// V1 ignores format (it is always JSON), as before V2.
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=7&format=msgpack&echo_messages=maybe", nil)
	if err != nil {
		t.Fatalf("V1 with format: %v", err)
	}
	_ = c.Close()
}

func TestV2PublishOverHTTP(t *testing.T) {
	ts := startServerWith(t, withRecovery, nil)
	v2 := ts.dialV2(t, "")
	v2.send(`{"event":"sockudo:subscribe","data":{"channel":"orders"}}`)
	sub := v2.expect("sockudo_internal:subscription_succeeded")
	if sub.StreamID == nil || sub.Serial == nil || *sub.Serial != 0 {
		t.Fatalf("subscription_succeeded %s", sub.raw)
	}
	v1 := ts.dial(t)
	v1.subscribe("orders")

	r := ts.post(t, "/events", `{"name":"order.updated","channel":"orders","data":"{\"id\":1}","message_id":"m-1",
		"tags":{"region":"eu"},"extras":{"headers":{"tenant":"acme","n":1}},"idempotency_key":"k1","delta":false,"info":"subscription_count"}`)
	requireStatus(t, r, 200)
	var resp struct {
		Channels map[string]struct {
			AcknowledgementID string  `json:"acknowledgement_id"`
			MessageSerial     *uint64 `json:"message_serial"`
			SubscriptionCount *int    `json:"subscription_count"`
		} `json:"channels"`
	}
	decodeBody(t, r, &resp)
	if a := resp.Channels["orders"]; a.AcknowledgementID != "m-1" || a.MessageSerial == nil || *a.MessageSerial != 1 ||
		a.SubscriptionCount == nil || *a.SubscriptionCount != 2 {
		t.Fatalf("response %s", r.body)
	}
	f := v2.expect("order.updated")
	want := `{"event":"order.updated","channel":"orders","data":"{\"id\":1}","tags":{"region":"eu"},"message_id":"m-1","stream_id":"` +
		*sub.StreamID + `","serial":1,"extras":{"headers":{"tenant":"acme","n":1}}}`
	if f.raw != want {
		t.Fatalf("V2 frame\n got %s\nwant %s", f.raw, want)
	}
	_ = v1.c.SetReadDeadline(time.Now().Add(waitFor))
	_, p, err := v1.c.ReadMessage()
	if err != nil || string(p) != `{"event":"order.updated","channel":"orders","data":"{\"id\":1}"}` {
		t.Fatalf("V1 frame %s %v", p, err)
	}
	// A V1-style publish keeps Pusher's exact answer, even with info.
	r = ts.post(t, "/events", `{"name":"e","channel":"orders","data":"x","info":"subscription_count"}`)
	if r.body != `{"channels":{"orders":{"subscription_count":2}}}` {
		t.Fatalf("V1 answer changed: %s", r.body)
	}
	// batch_events: per-item acknowledgement.
	r = ts.post(t, "/batch_events", `{"batch":[{"name":"b","channel":"orders","data":"1","message_id":"b-1"},{"name":"b","channel":"orders","data":"2"}]}`)
	requireStatus(t, r, 200)
	if !strings.Contains(r.body, `"acknowledgement_id":"b-1","message_serial":3`) {
		t.Fatalf("batch answer %s", r.body)
	}
}

func TestV2PublishFieldValidation(t *testing.T) {
	ts := startServer(t, nil)
	long := strings.Repeat("k", 129)
	for _, extra := range []string{
		`"tags":{"a":1}`, `"tags":[1]`, `"delta":"no"`, `"idempotency_key":""`, `"idempotency_key":"` + long + `"`,
		`"message_id":5`, `"extras":[]`, `"extras":{"headers":{"a":{"b":1}}}`, `"extras":{"ephemeral":"yes"}`,
		`"extras":{"echo":1}`, `"extras":{"idempotencyKey":7}`,
	} {
		r := ts.post(t, "/events", `{"name":"e","channel":"c","data":"x",`+extra+`}`)
		requireStatus(t, r, 400)
		r = ts.post(t, "/batch_events", `{"batch":[{"name":"e","channel":"c","data":"x",`+extra+`}]}`)
		requireStatus(t, r, 400)
	}
	requireStatus(t, ts.post(t, "/events", `{"name":"e","channel":"c","data":"x","tags":null,"extras":{"push":{"x":[1]},"ephemeral":true}}`), 200)
}

func TestV2ResumeOverRealServer(t *testing.T) {
	ts := startServerWith(t, withRecovery, nil)
	a := ts.dialV2(t, "")
	a.send(`{"event":"sockudo:subscribe","data":{"channel":"room"}}`)
	stream := *a.expect("sockudo_internal:subscription_succeeded").StreamID
	requireStatus(t, ts.post(t, "/events", `{"name":"ev","channel":"room","data":"1"}`), 200)
	a.expect("ev")
	_ = a.c.NetConn().Close() // abrupt drop: no close frame
	for i := 2; i <= 6; i++ {
		requireStatus(t, ts.post(t, "/events", fmt.Sprintf(`{"name":"ev","channel":"room","data":"%d"}`, i)), 200)
	}
	b := ts.dialV2(t, "")
	b.send(`{"event":"sockudo:subscribe","data":{"channel":"room"}}`)
	inner, _ := json.Marshal(fmt.Sprintf(`{"channel_positions":{"room":{"stream_id":%q,"serial":1}}}`, stream))
	b.send(`{"event":"sockudo:resume","data":` + string(inner) + `}`)
	b.expect("sockudo_internal:subscription_succeeded")
	for want := uint64(2); want <= 6; want++ {
		f := b.expect("ev")
		if *f.Serial != want {
			t.Fatalf("replayed serial %d, want %d", *f.Serial, want)
		}
	}
	ok := b.expect("sockudo:resume_success")
	if !strings.Contains(ok.raw, `\"replayed\":5`) {
		t.Fatalf("resume_success %s", ok.raw)
	}
}

func TestV2EchoOverRealServer(t *testing.T) {
	ts := startServer(t, nil)
	for _, tc := range []struct {
		query string
		echo  bool
	}{{"", true}, {"&echo_messages=false", false}, {"&echo_messages=true", true}} {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=2"+tc.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := &v2Client{t: t, c: c}
		est := v.expect("sockudo:connection_established")
		var d struct {
			SocketID string `json:"socket_id"`
		}
		var s string
		_ = json.Unmarshal(est.Data, &s)
		_ = json.Unmarshal([]byte(s), &d)
		auth := testKey + ":" + protocol.SignChannel(testSecret, d.SocketID, "private-echo", "")
		v.send(`{"event":"sockudo:subscribe","data":{"channel":"private-echo","auth":"` + auth + `"}}`)
		v.expect("sockudo_internal:subscription_succeeded")
		v.send(`{"event":"client-hi","channel":"private-echo","data":{"a":1}}`)
		v.send(`{"event":"sockudo:ping"}`)
		f := v.next()
		if tc.echo && f.Event != "client-hi" || !tc.echo && f.Event != "sockudo:pong" {
			t.Fatalf("echo_messages%q: got %s", tc.query, f.raw)
		}
		_ = c.Close()
	}
}

// FuzzV2PublishFields: any body's V2 members are accepted or refused with
// a 400, never a panic; accepted tags and extras are JSON objects (tags of
// strings) that can be spliced into a frame as they are.
func FuzzV2PublishFields(f *testing.F) {
	f.Add([]byte(`{"tags":{"a":"b"},"extras":{"headers":{"x":1},"ephemeral":true},"message_id":"m","idempotency_key":"k","delta":true}`))
	f.Add([]byte(`{"tags":{"a":1}}`))
	f.Add([]byte(`{"extras":{"headers":{"a":[1]}}}`))
	f.Add([]byte(`{"extras":{"idempotencyKey":"","push":null}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b eventBody
		if decodeJSON(body, &b) != nil {
			return
		}
		v, aerr := decodeV2Fields(&b, maxKeyLen)
		if aerr != nil {
			if aerr.status != 400 {
				t.Fatalf("status %d", aerr.status)
			}
			return
		}
		if v == nil {
			return
		}
		if v.Tags != nil {
			var tags map[string]string
			if err := json.Unmarshal(v.Tags, &tags); err != nil {
				t.Fatalf("tags %s: %v", v.Tags, err)
			}
		}
		if v.Extras != nil {
			var x map[string]any
			if err := json.Unmarshal(v.Extras, &x); err != nil || x == nil {
				t.Fatalf("extras %s: %v", v.Extras, err)
			}
		}
	})
}
