package protocol

import (
	"encoding/json"
	"regexp"
	"testing"
)

func TestCanonicalEvent(t *testing.T) {
	for in, want := range map[string]string{
		"pusher:subscribe": "subscribe", "sockudo:subscribe": "subscribe",
		"pusher_internal:x": "x", "sockudo_internal:ping": "ping",
	} {
		if got, ok := CanonicalEvent(in); !ok || got != want {
			t.Errorf("%s → %q %v", in, got, ok)
		}
	}
	if got, ok := CanonicalEvent("client-x"); ok || got != "client-x" {
		t.Errorf("client event %q %v", got, ok)
	}
}

func TestAppendV2Message(t *testing.T) {
	cases := []struct{ in, id, want string }{
		{`{"event":"pusher:error","data":{"code":1}}`, "", `{"event":"sockudo:error","data":{"code":1}}`},
		{`{"event":"pusher_internal:member_added","channel":"p","data":"{}"}`, "m", `{"event":"sockudo_internal:member_added","channel":"p","data":"{}","message_id":"m"}`},
		{`{"event":"custom","data":"x"}`, "m", `{"event":"custom","data":"x","message_id":"m"}`},
	}
	for _, c := range cases {
		if got := string(AppendV2Message(nil, []byte(c.in), c.id)); got != c.want {
			t.Errorf("got %s want %s", got, c.want)
		}
	}
	if NeedsV2Rewrite([]byte(`{"event":"custom"}`)) || !NeedsV2Rewrite([]byte(`{"event":"pusher_internal:x"}`)) {
		t.Error("NeedsV2Rewrite")
	}
}

func TestAppendV2BroadcastAndErrors(t *testing.T) {
	m := &V2Meta{Tags: []byte(`{"a":"b"}`), MessageID: "id", StreamID: "s", Serial: 0, HasSerial: true, Extras: []byte(`{"echo":true}`)}
	got := string(AppendV2Broadcast(nil, "pusher:e", "ch", `q"`, "u", m))
	want := `{"event":"sockudo:e","channel":"ch","data":"q\"","user_id":"u","tags":{"a":"b"},"message_id":"id","stream_id":"s","serial":0,"extras":{"echo":true}}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if got := string(AppendV2Error(nil, 4301, "no", "x")); got != `{"event":"sockudo:error","data":{"code":4301,"message":"no"},"message_id":"x"}` {
		t.Fatal(got)
	}
	if got := string(AppendV2SubscriptionSucceeded(nil, "c", "{}", true, "s", 3, "i")); got !=
		`{"event":"sockudo_internal:subscription_succeeded","channel":"c","data":"{}","message_id":"i","stream_id":"s","serial":3}` {
		t.Fatal(got)
	}
}

func TestUUIDv4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewMessageID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	var b [36]byte
	if n := testing.AllocsPerRun(100, func() { _ = AppendUUIDv4(b[:0]) }); n != 0 {
		t.Fatalf("AppendUUIDv4 allocates %.0f", n)
	}
}

func TestParseWireFormat(t *testing.T) {
	for _, ok := range []string{"", "json", " JSON ", "Json"} {
		if f, err := ParseWireFormat(ok); err != nil || f != FormatJSON {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for in, want := range map[string]WireFormat{"msgpack": FormatMessagePack, " MessagePack": FormatMessagePack,
		"protobuf": FormatProtobuf, "PROTO ": FormatProtobuf} {
		if f, err := ParseWireFormat(in); err != nil || f != want {
			t.Errorf("%q: %v %v", in, f, err)
		}
	}
	for _, bad := range []string{"xml", "cbor", "msg pack"} {
		if _, err := ParseWireFormat(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseEchoMessages("yes", true); err == nil {
		t.Error("echo_messages=yes accepted")
	}
}

func TestDecodeResume(t *testing.T) {
	str, _ := json.Marshal(`{"channel_positions":{"b":{"stream_id":"s","serial":"18446744073709551615","last_message_id":"m"},"a":{"serial":2}}}`)
	ps, err := DecodeResume(str, 10)
	if err != nil || len(ps) != 2 || ps[0].Channel != "a" || ps[0].Serial != 2 || ps[0].StreamID != "" ||
		ps[1].StreamID != "s" || ps[1].Serial != 1<<64-1 || ps[1].LastMessageID != "m" {
		t.Fatalf("%+v %v", ps, err)
	}
	ps, err = DecodeResume([]byte(`{"channel_serials":{"x":5}}`), 10)
	if err != nil || len(ps) != 1 || ps[0].Serial != 5 || ps[0].StreamID != "" {
		t.Fatalf("legacy %+v %v", ps, err)
	}
	if _, err := DecodeResume([]byte(`{"channel_positions":{}}`), 10); err != ErrResumeEmpty {
		t.Fatalf("empty: %v", err)
	}
	for _, bad := range []string{`[]`, `"{x"`, `{"channel_positions":{"a":{"serial":-1}}}`, `{"channel_positions":{"a":{}}}`,
		`{"channel_positions":{"a":{"serial":1.5}}}`, `{"channel_serials":{"":1}}`, `{"channel_positions":{"a":{"serial":1},"b":{"serial":1}}}`} {
		if _, err := DecodeResume([]byte(bad), 1); err == nil || err == ErrResumeEmpty {
			t.Errorf("%s accepted: %v", bad, err)
		}
	}
}

// FuzzDecodeResume: any input decodes or fails cleanly, and what decodes
// names non-empty channels, sorted, within the bound.
func FuzzDecodeResume(f *testing.F) {
	f.Add([]byte(`{"channel_positions":{"a":{"stream_id":"s","serial":1}}}`))
	f.Add([]byte(`"{\"channel_serials\":{\"a\":3}}"`))
	f.Add([]byte(`{"channel_positions":{"a":{"serial":"99"}},"channel_serials":{"a":1,"b":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := DecodeResume(data, 8)
		if err != nil {
			return
		}
		if len(ps) == 0 || len(ps) > 8 {
			t.Fatalf("%d positions", len(ps))
		}
		for i, p := range ps {
			if p.Channel == "" || i > 0 && ps[i-1].Channel >= p.Channel {
				t.Fatalf("positions %+v", ps)
			}
		}
	})
}
