package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
	"github.com/sockudo/sockudo-go/protocol/msgpackwire"
	"github.com/sockudo/sockudo-go/protocol/protobufwire"
)

// countingCodec counts the server frames a codec encodes.
type countingCodec struct {
	engine.WireCodec
	encodes atomic.Int64
}

func (c *countingCodec) Encode(dst, msg []byte) ([]byte, error) {
	c.encodes.Add(1)
	return c.WireCodec.Encode(dst, msg)
}

type codecs struct{ mp, pb *countingCodec }

// withCodecs wires both binary formats, counted, with recovery on so
// broadcasts carry serials.
func withCodecs(cs *codecs) func(*engine.Options) {
	return func(o *engine.Options) {
		cs.mp = &countingCodec{WireCodec: msgpackwire.Codec{}}
		cs.pb = &countingCodec{WireCodec: protobufwire.Codec{}}
		o.V2.MessagePack, o.V2.Protobuf = cs.mp, cs.pb
		withRecovery(o)
	}
}

// wireFrame is a decoded binary frame, whatever the format.
type wireFrame struct {
	Event, Channel, MessageID string
	DataKind, Data            string // "string" / "json" and the text
	Serial                    uint64
	HasSerial                 bool
}

// binClient is a V2 client speaking one binary wire format, decoding
// frames independently of the server's codecs (the library's generic
// decoder for MessagePack, a field walk for Protobuf) as the official
// client does.
type binClient struct {
	t      *testing.T
	c      *websocket.Conn
	format string
	socket string
}

func dialFormat(t *testing.T, ts *testServer, format string) *binClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=2&client=js&version=2.2.0&format="+format, nil)
	if err != nil {
		t.Fatalf("dial format=%s: %v (%v)", format, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	b := &binClient{t: t, c: c, format: format}
	switch format {
	case "messagepack":
		b.format = "msgpack"
	case "proto":
		b.format = "protobuf"
	}
	est := b.expect("sockudo:connection_established")
	var d struct {
		SocketID        string `json:"socket_id"`
		ActivityTimeout int    `json:"activity_timeout"`
	}
	if est.DataKind != "string" || json.Unmarshal([]byte(est.Data), &d) != nil || d.SocketID == "" || d.ActivityTimeout == 0 || est.MessageID == "" {
		t.Fatalf("%s handshake %+v", format, est)
	}
	b.socket = d.SocketID
	return b
}

func (b *binClient) next() wireFrame {
	b.t.Helper()
	_ = b.c.SetReadDeadline(time.Now().Add(waitFor))
	typ, p, err := b.c.ReadMessage()
	if err != nil {
		b.t.Fatalf("%s read: %v", b.format, err)
	}
	if typ != websocket.BinaryMessage {
		b.t.Fatalf("%s: got a text frame %q, want binary", b.format, p)
	}
	if b.format == "msgpack" {
		return decodeMsgpackFrame(b.t, p)
	}
	return decodeProtobufFrame(b.t, p)
}

func (b *binClient) expect(event string) wireFrame {
	b.t.Helper()
	f := b.next()
	if f.Event != event {
		b.t.Fatalf("%s: got %+v, want %s", b.format, f, event)
	}
	return f
}

// send encodes a client frame the way the official client does:
// string data as "string", anything else as "json" text.
func (b *binClient) send(event, channel string, data any) {
	b.t.Helper()
	var p []byte
	if b.format == "msgpack" {
		f := make([]any, 15)
		f[0] = event
		if channel != "" {
			f[1] = channel
		}
		f[2] = msgpackData(data)
		var err error
		if p, err = msgpack.Marshal(f); err != nil {
			b.t.Fatal(err)
		}
	} else {
		p = protoClientFrame(event, channel, data)
	}
	b.sendRaw(p)
}

func (b *binClient) sendRaw(p []byte) {
	b.t.Helper()
	if err := b.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		b.t.Fatal(err)
	}
}

func msgpackData(data any) any {
	switch d := data.(type) {
	case nil:
		return nil
	case string:
		return []any{"string", d}
	}
	j, _ := json.Marshal(data)
	return []any{"json", string(j)}
}

func protoClientFrame(event, channel string, data any) []byte {
	p := protowire.AppendTag(nil, 1, protowire.BytesType)
	p = protowire.AppendString(p, event)
	if channel != "" {
		p = protowire.AppendTag(p, 2, protowire.BytesType)
		p = protowire.AppendString(p, channel)
	}
	if data != nil {
		var d []byte
		if s, ok := data.(string); ok {
			d = protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
		} else {
			j, _ := json.Marshal(data)
			d = protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), j)
		}
		p = protowire.AppendTag(p, 3, protowire.BytesType)
		p = protowire.AppendBytes(p, d)
	}
	return p
}

func decodeMsgpackFrame(t *testing.T, p []byte) wireFrame {
	t.Helper()
	var a []any
	if err := msgpack.Unmarshal(p, &a); err != nil || len(a) != 15 {
		t.Fatalf("msgpack frame % x: %v (len %d)", p, err, len(a))
	}
	var f wireFrame
	f.Event, _ = a[0].(string)
	f.Channel, _ = a[1].(string)
	f.MessageID, _ = a[8].(string)
	if d, ok := a[2].([]any); ok && len(d) == 2 {
		f.DataKind, _ = d[0].(string)
		f.Data, _ = d[1].(string)
	}
	if a[10] != nil {
		f.HasSerial = true
		switch v := a[10].(type) {
		case int8:
			f.Serial = uint64(v)
		case uint8:
			f.Serial = uint64(v)
		case uint16:
			f.Serial = uint64(v)
		case uint64:
			f.Serial = v
		default:
			t.Fatalf("serial %T", v)
		}
	}
	return f
}

func decodeProtobufFrame(t *testing.T, p []byte) wireFrame {
	t.Helper()
	var f wireFrame
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			t.Fatalf("protobuf tag: %v", protowire.ParseError(n))
		}
		p = p[n:]
		n = protowire.ConsumeFieldValue(num, typ, p)
		if n < 0 {
			t.Fatalf("protobuf field %d: %v", num, protowire.ParseError(n))
		}
		v := p[:n]
		p = p[n:]
		switch num {
		case 1, 2, 9:
			s, _ := protowire.ConsumeString(v)
			*[]*string{&f.Event, &f.Channel, &f.MessageID}[map[protowire.Number]int{1: 0, 2: 1, 9: 2}[num]] = s
		case 3:
			d, _ := protowire.ConsumeBytes(v)
			kn, _, m := protowire.ConsumeTag(d)
			s, _ := protowire.ConsumeString(d[m:])
			f.DataKind, f.Data = map[protowire.Number]string{1: "string", 3: "json"}[kn], s
		case 11:
			f.Serial, _ = protowire.ConsumeVarint(v)
			f.HasSerial = true
		}
	}
	return f
}

func TestBinaryFormatsEndToEnd(t *testing.T) {
	var cs codecs
	ts := startServerWith(t, withCodecs(&cs), nil)
	for _, format := range []string{"msgpack", "messagepack", "protobuf", "proto"} {
		t.Run(format, func(t *testing.T) {
			b := dialFormat(t, ts, format)
			ch := "private-wire-" + format
			auth := testKey + ":" + protocol.SignChannel(testSecret, b.socket, ch, "")
			b.send("sockudo:subscribe", "", map[string]string{"channel": ch, "auth": auth})
			sub := b.expect("sockudo_internal:subscription_succeeded")
			if sub.Channel != ch || !sub.HasSerial || sub.MessageID == "" {
				t.Fatalf("subscription_succeeded %+v", sub)
			}

			if r := ts.post(t, "/events", `{"name":"order.updated","channel":"`+ch+`","data":"{\"id\":1}"}`); r.status != 200 {
				t.Fatalf("publish: %d %s", r.status, r.body)
			}
			ev := b.expect("order.updated")
			if ev.Channel != ch || ev.DataKind != "string" || ev.Data != `{"id":1}` || !ev.HasSerial || ev.Serial != 1 || ev.MessageID == "" {
				t.Fatalf("broadcast %+v", ev)
			}

			// A client event with object ("json") data comes back (echo
			// is on) stringified once, as client events are relayed on
			// every connection (engine/clientevent.go).
			b.send("client-hi", ch, map[string]int{"a": 1})
			echo := b.expect("client-hi")
			if echo.Channel != ch || echo.DataKind != "string" || echo.Data != `{"a":1}` {
				t.Fatalf("client event echo %+v", echo)
			}

			// A malformed frame: sockudo:error 4000 in the connection's
			// format, and the connection goes on.
			b.sendRaw([]byte{0xc1, 0x00, 0x07})
			e := b.expect("sockudo:error")
			var ed struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if e.DataKind != "json" || json.Unmarshal([]byte(e.Data), &ed) != nil || ed.Code != 4000 ||
				!strings.HasPrefix(ed.Message, "Invalid message format: ") || e.MessageID == "" {
				t.Fatalf("error frame %+v", e)
			}
			b.send("sockudo:ping", "", map[string]any{})
			b.expect("sockudo:pong")

			// A JSON text frame is read too; the answer is still binary.
			if err := b.c.WriteMessage(websocket.TextMessage, []byte(`{"event":"sockudo:ping","data":{}}`)); err != nil {
				t.Fatal(err)
			}
			b.expect("sockudo:pong")
		})
	}
}

func TestBroadcastToThreeFormatsEncodesOncePerFormat(t *testing.T) {
	var cs codecs
	ts := startServerWith(t, withCodecs(&cs), nil)
	js := ts.dialV2(t, "")
	js.send(`{"event":"sockudo:subscribe","data":{"channel":"ticker"}}`)
	js.expect("sockudo_internal:subscription_succeeded")
	var bins []*binClient
	for _, f := range []string{"msgpack", "msgpack", "msgpack", "protobuf", "protobuf", "protobuf"} {
		b := dialFormat(t, ts, f)
		b.send("sockudo:subscribe", "", map[string]string{"channel": "ticker"})
		b.expect("sockudo_internal:subscription_succeeded")
		bins = append(bins, b)
	}
	mp0, pb0 := cs.mp.encodes.Load(), cs.pb.encodes.Load()
	const n = 5
	for i := range n {
		if r := ts.post(t, "/events", `{"name":"tick","channel":"ticker","data":"{\"px\":`+string(rune('0'+i))+`}"}`); r.status != 200 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
	}
	for i := range n {
		want := `{"px":` + string(rune('0'+i)) + `}`
		f := js.expect("tick")
		var s string
		if json.Unmarshal(f.Data, &s) != nil || s != want || f.Serial == nil || *f.Serial != uint64(i+1) {
			t.Fatalf("json subscriber got %s", f.raw)
		}
		for _, b := range bins {
			g := b.expect("tick")
			if g.Data != want || g.DataKind != "string" || g.Serial != uint64(i+1) || g.MessageID == "" {
				t.Fatalf("%s subscriber got %+v", b.format, g)
			}
		}
	}
	// Three subscribers of each format on two workers: still one encode
	// per publish per format.
	if mp, pb := cs.mp.encodes.Load()-mp0, cs.pb.encodes.Load()-pb0; mp != n || pb != n {
		t.Fatalf("%d publishes encoded %d times in msgpack and %d in protobuf, want %d each", n, mp, pb, n)
	}
}

func TestBinaryFormatsNotWiredAnswer400(t *testing.T) {
	ts := startServer(t, nil)
	for _, q := range []string{"msgpack", "protobuf"} {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/"+testKey+"?protocol=2&format="+q, nil)
		if err == nil || resp == nil || resp.StatusCode != 400 {
			t.Fatalf("%s without a codec: want HTTP 400, got %v %v", q, resp, err)
		}
	}
}

// A resume's replay and resume_success reach a binary-format connection
// in its format (they are direct frames, transcoded per connection), with
// the resume request sent as the official client sends it: data a JSON
// string.
func TestBinaryFormatsResume(t *testing.T) {
	var cs codecs
	ts := startServerWith(t, withCodecs(&cs), nil)
	for _, format := range []string{"msgpack", "protobuf"} {
		t.Run(format, func(t *testing.T) {
			room := "room-" + format
			a := ts.dialV2(t, "")
			a.send(`{"event":"sockudo:subscribe","data":{"channel":"` + room + `"}}`)
			stream := *a.expect("sockudo_internal:subscription_succeeded").StreamID
			requireStatus(t, ts.post(t, "/events", `{"name":"ev","channel":"`+room+`","data":"1"}`), 200)
			a.expect("ev")
			_ = a.c.NetConn().Close()
			for i := 2; i <= 4; i++ {
				requireStatus(t, ts.post(t, "/events", fmt.Sprintf(`{"name":"ev","channel":%q,"data":"%d"}`, room, i)), 200)
			}
			b := dialFormat(t, ts, format)
			b.send("sockudo:subscribe", "", map[string]string{"channel": room})
			b.send("sockudo:resume", "", fmt.Sprintf(`{"channel_positions":{%q:{"stream_id":%q,"serial":1}}}`, room, stream))
			b.expect("sockudo_internal:subscription_succeeded")
			for want := uint64(2); want <= 4; want++ {
				f := b.expect("ev")
				if f.Serial != want || f.Channel != room || f.Data != fmt.Sprint(want) {
					t.Fatalf("replayed %+v, want serial %d", f, want)
				}
			}
			ok := b.expect("sockudo:resume_success")
			if ok.DataKind != "string" || !strings.Contains(ok.Data, `"replayed":3`) {
				t.Fatalf("resume_success %+v", ok)
			}
		})
	}
}

// A refused binary-format connection reads why in its format, then the
// close code.
func TestBinaryFormatsRefusal(t *testing.T) {
	var cs codecs
	ts := startServerWith(t, withCodecs(&cs), nil)
	for _, format := range []string{"msgpack", "protobuf"} {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/app/no-such-key?protocol=2&format="+format, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := &binClient{t: t, c: c, format: format}
		e := b.expect("sockudo:error")
		var d struct {
			Code int `json:"code"`
		}
		if e.DataKind != "json" || json.Unmarshal([]byte(e.Data), &d) != nil || d.Code != 4001 {
			t.Fatalf("%s refusal %+v", format, e)
		}
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("%s: close %v, want 4001", format, err)
		}
		_ = c.Close()
	}
}
