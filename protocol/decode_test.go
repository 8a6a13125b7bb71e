package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// Frames as pusher-js 8 sends them (pusher-protocol.md §1.5, §1.9, §1.10).
var pusherJSFrames = []string{
	`{"event":"pusher:subscribe","data":{"auth":"","channel":"plain"}}`,
	`{"event":"pusher:subscribe","data":{"auth":"app-key:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","channel":"private-a"}}`,
	`{"event":"pusher:subscribe","data":{"auth":"app-key:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","channel_data":"{\"user_id\":\"u1\",\"user_info\":{\"name\":\"Me\"}}","channel":"presence-room"}}`,
	`{"event":"pusher:unsubscribe","data":{"channel":"x"}}`,
	`{"event":"pusher:signin","data":{"auth":"app-key:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","user_data":"{\"id\":\"u1\",\"watchlist\":[\"u2\"]}"}}`,
	`{"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-u1"}}`,
	`{"event":"pusher:ping","data":{}}`,
	`{"event":"pusher:pong","data":{}}`,
	`{"event":"client-typing","data":{"t":1},"channel":"presence-room"}`,
}

func TestDecodeClientMessage(t *testing.T) {
	f := func(in, event, channel, data string) {
		t.Helper()
		var m ClientMessage
		if err := DecodeClientMessage([]byte(in), &m); err != nil {
			t.Fatalf("DecodeClientMessage(%s): %v", in, err)
		}
		if m.Event != event || m.Channel != channel || string(m.Data) != data {
			t.Fatalf("DecodeClientMessage(%s) = %q %q %q", in, m.Event, m.Channel, m.Data)
		}
		if (data == "") != (m.Data == nil) {
			t.Fatalf("DecodeClientMessage(%s): Data nil = %v", in, m.Data == nil)
		}
	}
	f(pusherJSFrames[0], "pusher:subscribe", "", `{"auth":"","channel":"plain"}`)
	f(pusherJSFrames[6], "pusher:ping", "", `{}`)
	f(pusherJSFrames[8], "client-typing", "presence-room", `{"t":1}`)
	f(`{"event":"e"}`, "e", "", "")
	f(` { "event" : "e" , "channel" : "c" , "data" : [ 1 , 2 ] } `, "e", "c", "[ 1 , 2 ]")
	f("\t\r\n{\"event\":\"e\"}\n", "e", "", "")
	f(`{"data":{"channel":"inner","event":"inner"},"event":"e","channel":"outer"}`, "e", "outer", `{"channel":"inner","event":"inner"}`)
	f(`{"event":"e","data":"{\"channel\":\"x\"}"}`, "e", "", `"{\"channel\":\"x\"}"`)
	f(`{"event":"e","channel":null}`, "e", "", "")
	f(`{"event":"e","data":null}`, "e", "", "null")
	f(`{"event":"first","event":"last"}`, "last", "", "")
	f(`{"ev\u0065nt":"e","\u0063hannel":"c"}`, "e", "c", "")
	f(`{"event":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, "a\"b\\c/d\b\f\n\r\té😀", "", "")
	f(`{"event":"lone \ud800 and \udc00 and \ud800\u0041"}`, "lone \ufffd and \ufffd and \ufffdA", "", "")
	f(`{"event":"e","x":{"a":[1,-2.5e+3,0,true,false,null,"s",{},[]]},"y":[],"z":-0.0E-1}`, "e", "", "")
	f(`{"event":"e","`+strings.Repeat("k", 100)+`":1}`, "e", "", "")
	f(`{"event":"e","data":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`}`, "e", "",
		strings.Repeat("[", 1000)+strings.Repeat("]", 1000))
}

func TestDecodeClientMessageErrors(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		var m ClientMessage
		if err := DecodeClientMessage([]byte(in), &m); !errors.Is(err, want) {
			t.Fatalf("DecodeClientMessage(%q) = %v, want %v", in, err, want)
		}
	}
	for _, in := range []string{
		"", " ", "[]", "null", `"s"`, "{", "}", `{"event"}`, `{"event":}`, `{"event":"e"`,
		`{"event":"e"}x`, `{"event":"e"} {}`, `{"event":"e",}`, `{,"event":"e"}`, `{"event" "e"}`,
		`{event:"e"}`, `{'event':'e'}`, `{"event":"e\x"}`, `{"event":"e\u12"}`, `{"event":"e\u12g4"}`,
		"{\"event\":\"e\x01\"}", "{\"event\":\"e\n\"}", `{"event":"e","data":01}`, `{"event":"e","data":1.}`,
		`{"event":"e","data":-}`, `{"event":"e","data":1e}`, `{"event":"e","data":.5}`, `{"event":"e","data":+1}`,
		`{"event":"e","data":[1,]}`, `{"event":"e","data":[,1]}`, `{"event":"e","data":{"a":1,}}`,
		`{"event":"e","data":{"a"}}`, `{"event":"e","data":{1:2}}`, `{"event":"e","data":tru}`,
		`{"event":"e","data":nul}`, `{"event":"e","data":NaN}`, `{"event":"e","data":[}`, `{"event":"e","data":[1}`,
		`{"event":"e","data":{"a":1]}`, `{"event":"e","data":` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`,
		"{\"event\":\"e\"}\x00", `{"event":"e"`,
	} {
		f(in, ErrNotJSONObject)
	}
	f(`{}`, ErrNoEvent)
	f(`{"channel":"c"}`, ErrNoEvent)
	f(`{"event":""}`, ErrNoEvent)
	f(`{"event":1}`, ErrNoEvent)
	f(`{"event":null}`, ErrNoEvent)
	f(`{"event":{"a":"b"}}`, ErrNoEvent)
	f(`{"event":"e","event":2}`, ErrNoEvent)
	f(`{"event":"e","channel":1}`, ErrBadData)
	f(`{"event":"e","channel":["c"]}`, ErrBadData)
}

// TestDecodeClientMessageMatchesEncodingJSON checks the scanner against
// encoding/json on validity and on the decoded strings.
func TestDecodeClientMessageMatchesEncodingJSON(t *testing.T) {
	inputs := append([]string{}, pusherJSFrames...)
	for _, s := range trickyStrings {
		inputs = append(inputs, string(AppendEvent(nil, "e"+s, s, s, s)))
	}
	for _, in := range inputs {
		compareWithEncodingJSON(t, []byte(in))
	}
}

// compareWithEncodingJSON fails t when DecodeClientMessage and
// encoding/json disagree on in.
func compareWithEncodingJSON(t testing.TB, in []byte) {
	var m ClientMessage
	err := DecodeClientMessage(in, &m)
	var ref map[string]json.RawMessage
	refErr := json.Unmarshal(in, &ref)
	if ref == nil && refErr == nil { // "null"
		refErr = errors.New("null")
	}
	if json.Valid(in) && strings.HasPrefix(strings.TrimLeft(string(in), " \t\r\n"), "{") {
		if errors.Is(err, ErrNotJSONObject) {
			t.Fatalf("valid object %q refused: %v", in, err)
		}
	} else if !errors.Is(err, ErrNotJSONObject) {
		t.Fatalf("invalid input %q accepted: %v", in, err)
	}
	// Invalid UTF-8 never reaches the decoder (FrameReader refuses such
	// text), and encoding/json would replace it while we pass it through.
	if err != nil || refErr != nil || !utf8.Valid(in) {
		return
	}
	// encoding/json matches keys exactly here (a map), the last duplicate wins.
	var event string
	if json.Unmarshal(ref["event"], &event) != nil || event != m.Event {
		t.Fatalf("%q: event %q, encoding/json %q", in, m.Event, event)
	}
	var channel string
	if raw, ok := ref["channel"]; ok {
		if json.Unmarshal(raw, &channel) != nil || channel != m.Channel {
			t.Fatalf("%q: channel %q, encoding/json %q", in, m.Channel, channel)
		}
	}
	if raw, ok := ref["data"]; ok != (m.Data != nil) || ok && string(raw) != string(m.Data) {
		t.Fatalf("%q: data %q, encoding/json %q", in, m.Data, raw)
	}
}

func TestDecodeClientMessageAliases(t *testing.T) {
	in := []byte(`{"event":"client-x","channel":"private-a","data":{}}`)
	var m ClientMessage
	if err := DecodeClientMessage(in, &m); err != nil {
		t.Fatal(err)
	}
	copy(in[10:], "CLIENT")
	if m.Event != "CLIENT-x" {
		t.Fatalf("Event %q does not alias the input", m.Event)
	}
}

func TestDecodeSubscribe(t *testing.T) {
	f := func(in string, want Subscribe) {
		t.Helper()
		var s Subscribe
		if err := DecodeSubscribe([]byte(in), &s); err != nil {
			t.Fatalf("DecodeSubscribe(%s): %v", in, err)
		}
		if s != want {
			t.Fatalf("DecodeSubscribe(%s) = %+v, want %+v", in, s, want)
		}
	}
	f(`{"auth":"","channel":"plain"}`, Subscribe{Channel: "plain"})
	f(`{"channel":"x"}`, Subscribe{Channel: "x"})
	f(`{"auth":"k:s","channel":"private-a","extra":[1]}`, Subscribe{Channel: "private-a", Auth: "k:s"})
	f(`{"auth":"k:s","channel_data":"{\"user_id\":\"u1\",\"user_info\":{\"name\":\"Me\"}}","channel":"presence-room"}`,
		Subscribe{Channel: "presence-room", Auth: "k:s", ChannelData: `{"user_id":"u1","user_info":{"name":"Me"}}`, HasChannelData: true})
	f(`{"channel":"presence-x","channel_data":""}`, Subscribe{Channel: "presence-x", HasChannelData: true})
	f(`{"channel":"presence-x","channel_data":null,"auth":null}`, Subscribe{Channel: "presence-x"})
	f(`{"channel":"a\u0062"}`, Subscribe{Channel: "ab"})

	for _, in := range []string{
		``, `[]`, `"x"`, `{}`, `{"auth":""}`, `{"channel":1}`, `{"channel":null}`, `{"channel":"x","auth":1}`,
		`{"channel":"x","channel_data":{"user_id":"1"}}`, `{"channel":"x"`, `{"channel":"x"}}`,
	} {
		var s Subscribe
		if err := DecodeSubscribe([]byte(in), &s); !errors.Is(err, ErrBadData) || s != (Subscribe{}) {
			t.Fatalf("DecodeSubscribe(%s) = %+v, %v; want ErrBadData", in, s, err)
		}
	}
}

func TestDecodeSubscribeCopies(t *testing.T) {
	in := []byte(`{"channel":"private-a","auth":"k:s"}`)
	var s Subscribe
	if err := DecodeSubscribe(in, &s); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'x'
	}
	if s.Channel != "private-a" || s.Auth != "k:s" {
		t.Fatalf("strings alias the input: %+v", s)
	}
}

func TestDecodeSignin(t *testing.T) {
	f := func(in string, want Signin) {
		t.Helper()
		var s Signin
		if err := DecodeSignin([]byte(in), &s); err != nil {
			t.Fatalf("DecodeSignin(%s): %v", in, err)
		}
		if s != want {
			t.Fatalf("DecodeSignin(%s) = %+v", in, s)
		}
	}
	f(`{"auth":"k:s","user_data":"{\"id\":\"u1\",\"watchlist\":[\"u2\"]}"}`, Signin{Auth: "k:s", UserData: `{"id":"u1","watchlist":["u2"]}`})
	f(`{"user_data":"{}"}`, Signin{UserData: "{}"})
	for _, in := range []string{``, `{}`, `{"auth":"k:s"}`, `{"auth":"k:s","user_data":{"id":"1"}}`, `{"auth":1,"user_data":"{}"}`, `{"user_data":"{}"`} {
		var s Signin
		if err := DecodeSignin([]byte(in), &s); !errors.Is(err, ErrBadData) {
			t.Fatalf("DecodeSignin(%s) = %v", in, err)
		}
	}
}

func TestDecodePresenceMember(t *testing.T) {
	f := func(in, id, info string) {
		t.Helper()
		var m Member
		if err := DecodePresenceMember(in, &m); err != nil {
			t.Fatalf("DecodePresenceMember(%s): %v", in, err)
		}
		if m.UserID != id || string(m.UserInfo) != info {
			t.Fatalf("DecodePresenceMember(%s) = %q %s", in, m.UserID, m.UserInfo)
		}
	}
	f(`{"user_id":"u1","user_info":{"name":"Me"}}`, "u1", `{"name":"Me"}`)
	f(`{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`, "10", `{"name":"Mr. Pusher"}`)
	f(`{"user_id":"u1"}`, "u1", `{}`)
	f(`{"user_id":"u1","user_info":null}`, "u1", `{}`)
	f(`{"user_info":{ "a" : [1] },"user_id":"\u00e9"}`, "é", `{ "a" : [1] }`)
	f(`{"user_id":-3}`, "-3", `{}`)
	f(`{"user_id":1.5}`, "1.5", `{}`)
	f(`{"user_id":1e3}`, "1000", `{}`)
	f(`{"user_id":1.0}`, "1", `{}`)
	f(`{"user_id":-0}`, "0", `{}`)
	f(`{"user_id":1e21}`, "1e+21", `{}`)
	f(`{"user_id":1.5e-7}`, "1.5e-7", `{}`)
	f(`{"user_id":12345678901234567890}`, "12345678901234567890", `{}`)
	f(`{"user_id":"u1","USER_ID":"other"}`, "u1", `{}`)
	for _, in := range []string{
		``, `{}`, `[]`, `{"user_id":""}`, `{"user_id":null}`, `{"user_id":true}`, `{"user_id":{"a":1}}`,
		`{"user_id":"u1"`, `{"user_id":"u1"}x`, `{"USER_ID":"u1"}`, `{"user_id":"u1","user_info":{}`,
	} {
		var m Member
		if err := DecodePresenceMember(in, &m); !errors.Is(err, ErrBadData) || m.UserID != "" || m.UserInfo != nil {
			t.Fatalf("DecodePresenceMember(%s) = %+v, %v; want ErrBadData", in, m, err)
		}
	}
}

func TestDecodeUserData(t *testing.T) {
	f := func(in, id, info string, watchlist ...string) {
		t.Helper()
		var u UserData
		if err := DecodeUserData(in, &u); err != nil {
			t.Fatalf("DecodeUserData(%s): %v", in, err)
		}
		if u.ID != id || string(u.UserInfo) != info || strings.Join(u.Watchlist, ",") != strings.Join(watchlist, ",") ||
			len(u.Watchlist) != len(watchlist) {
			t.Fatalf("DecodeUserData(%s) = %+v", in, u)
		}
	}
	f(`{"id":"12345"}`, "12345", "{}")
	f(`{"id":"u1","watchlist":["u2"]}`, "u1", "{}", "u2")
	f(`{"id":7,"user_info":{"n":1},"watchlist":["a",2,"c\u0064"]}`, "7", `{"n":1}`, "a", "2", "cd")
	f(`{"id":"u1","watchlist":null,"user_info":null}`, "u1", "{}")
	f(`{"id":"u1","watchlist":[]}`, "u1", "{}")
	f(`{"id":"u1","other":{"id":"x"}}`, "u1", "{}")
	for _, in := range []string{
		``, `{}`, `{"id":""}`, `{"id":null}`, `{"id":false}`, `{"id":"u1","watchlist":"u2"}`,
		`{"id":"u1","watchlist":[null]}`, `{"id":"u1","watchlist":[["a"]]}`, `{"id":"u1","watchlist":[1,]}`,
		`{"id":"u1"`, `{"id":"u1"} {}`,
	} {
		var u UserData
		if err := DecodeUserData(in, &u); !errors.Is(err, ErrBadData) {
			t.Fatalf("DecodeUserData(%s) = %+v, %v; want ErrBadData", in, u, err)
		}
	}
}
