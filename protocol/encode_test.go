package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

// trickyStrings are inputs that break naive JSON encoders.
var trickyStrings = []string{
	"", "plain", `"`, `\`, `\"`, `"\"`, "\x00", "\x01\x1f", "\x7f", "\b\f\n\r\t",
	"\u2028", "\u2029", "a\u2028b\u2029c", "<script>&amp;</script>", "é", "日本語", "😀",
	"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "a\xffb", "\xf4\x90\x80\x80",
	"\ufffd", "{\"some\":\"data\"}", `{"nested":"{\"a\":1}"}`, "\\u0000", "/",
	strings.Repeat("x", 300) + "\x00",
}

// wantDecoded is what JSON.parse gives back for AppendJSONString(s): s with
// every invalid UTF-8 byte replaced by U+FFFD.
func wantDecoded(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

func checkJSONString(t *testing.T, s string) bool {
	t.Helper()
	out := AppendJSONString(nil, s)
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Errorf("AppendJSONString(%q) = %s: %v", s, out, err)
		return false
	}
	if got != wantDecoded(s) {
		t.Errorf("AppendJSONString(%q) = %s decodes to %q", s, out, got)
		return false
	}
	// JavaScript-safe: no raw control bytes or line/paragraph separators.
	if strings.ContainsAny(string(out), "\u2028\u2029") || strings.IndexFunc(string(out), func(r rune) bool { return r < 0x20 }) >= 0 {
		t.Errorf("AppendJSONString(%q) = %q has raw separators or controls", s, out)
		return false
	}
	return true
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range trickyStrings {
		checkJSONString(t, s)
	}
	for c := 0; c < 256; c++ {
		checkJSONString(t, string([]byte{byte(c)}))
	}
	f := func(s string, want string) {
		t.Helper()
		if got := string(AppendJSONString(nil, s)); got != want {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	f("a\"b\\c", `"a\"b\\c"`)
	f("\n\r\t\b\f", `"\n\r\t\b\f"`)
	f("\x00\x1f", `"\u0000\u001f"`)
	f("\u2028", `"\u2028"`)
	f("<&>", `"<&>"`)
	f("\xff", "\"\ufffd\"")
}

func TestAppendJSONStringQuick(t *testing.T) {
	if err := quick.Check(func(s string) bool { return checkJSONString(t, s) }, nil); err != nil {
		t.Fatal(err)
	}
	if err := quick.Check(func(b []byte) bool { return checkJSONString(t, string(b)) }, nil); err != nil {
		t.Fatal(err)
	}
}

// eventJSON is the decoded shape of an event frame.
type eventJSON struct {
	Event   *string         `json:"event"`
	Channel *string         `json:"channel"`
	Data    json.RawMessage `json:"data"`
	UserID  *string         `json:"user_id"`
}

func decodeEvent(t *testing.T, frame []byte) eventJSON {
	t.Helper()
	var e eventJSON
	dec := json.NewDecoder(strings.NewReader(string(frame)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("frame %s: %v", frame, err)
	}
	return e
}

func TestAppendEventRoundTrip(t *testing.T) {
	check := func(event, channel, data, userID string) bool {
		frame := AppendEvent(nil, event, channel, data, userID)
		e := decodeEvent(t, frame)
		var gotData string
		if err := json.Unmarshal(e.Data, &gotData); err != nil {
			t.Errorf("data of %s: %v", frame, err)
			return false
		}
		ok := e.Event != nil && *e.Event == wantDecoded(event) && gotData == wantDecoded(data) &&
			(channel == "") == (e.Channel == nil) && (channel == "" || *e.Channel == wantDecoded(channel)) &&
			(userID == "") == (e.UserID == nil) && (userID == "" || *e.UserID == wantDecoded(userID))
		if !ok {
			t.Errorf("AppendEvent(%q, %q, %q, %q) = %s", event, channel, data, userID, frame)
		}
		return ok
	}
	for i, s := range trickyStrings {
		other := trickyStrings[(i+7)%len(trickyStrings)]
		check("client-"+s, s, other, s)
		check(s+"x", "", s, "")
		check("e", other, s, other)
	}
	if err := quick.Check(check, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAppendEventExact(t *testing.T) {
	f := func(got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	f(AppendEvent(nil, "my-event", "my-channel", `{"some":"data"}`, ""),
		`{"event":"my-event","channel":"my-channel","data":"{\"some\":\"data\"}"}`)
	f(AppendEvent(nil, "client-typing", "presence-room", `{"t":1}`, "u1"),
		`{"event":"client-typing","channel":"presence-room","data":"{\"t\":1}","user_id":"u1"}`)
	f(AppendEvent([]byte("x"), EventSubscriptionSucceeded, "c", "{}", ""),
		`x{"event":"pusher_internal:subscription_succeeded","channel":"c","data":"{}"}`)
	f(AppendEventObject(nil, EventPong, "", []byte("{}")), `{"event":"pusher:pong","data":{}}`)
	f(AppendEventObject(nil, EventCacheMiss, "cache-x", nil), `{"event":"pusher:cache_miss","channel":"cache-x"}`)
	f(AppendEventObject(nil, EventSigninSuccess, "", []byte(`{"user_data":"{\"id\":\"1\"}"}`)),
		`{"event":"pusher:signin_success","data":{"user_data":"{\"id\":\"1\"}"}}`)
	f(AppendError(nil, CodeAppNotFound, "App key x does not exist", ""),
		`{"event":"pusher:error","data":{"code":4001,"message":"App key x does not exist"}}`)
	f(AppendError(nil, CodeClientEventRejected, `rate "limit"`, "private-a"),
		`{"event":"pusher:error","channel":"private-a","data":{"code":4301,"message":"rate \"limit\""}}`)
	f(AppendConnectionEstablished(nil, "123.456", 120),
		`{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}`)
	f(AppendSubscriptionError(nil, "private-a", "AuthError", "Invalid signature", 401),
		`{"event":"pusher:subscription_error","channel":"private-a","data":{"type":"AuthError","error":"Invalid signature","status":401}}`)
}

// TestAppendConnectionEstablishedDoubleEncoding decodes the data string
// and then the JSON inside it, for socket ids that need escaping twice.
func TestAppendConnectionEstablishedDoubleEncoding(t *testing.T) {
	for _, id := range append([]string{"1.2"}, trickyStrings...) {
		frame := AppendConnectionEstablished(nil, id, 30)
		e := decodeEvent(t, frame)
		var data string
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		var inner struct {
			SocketID        *string `json:"socket_id"`
			ActivityTimeout int     `json:"activity_timeout"`
		}
		if err := json.Unmarshal([]byte(data), &inner); err != nil {
			t.Fatalf("inner %q of %s: %v", data, frame, err)
		}
		if inner.SocketID == nil || *inner.SocketID != wantDecoded(id) || inner.ActivityTimeout != 30 {
			t.Fatalf("socket id %q: frame %s", id, frame)
		}
	}
}

func TestAppendErrorAndSubscriptionErrorJSON(t *testing.T) {
	for _, s := range trickyStrings {
		var e struct {
			Event string
			Data  struct {
				Code    int
				Message string
			}
		}
		frame := AppendError(nil, CodeOverCapacity, s, s)
		if err := json.Unmarshal(frame, &e); err != nil || e.Data.Message != wantDecoded(s) || e.Data.Code != 4100 {
			t.Fatalf("AppendError(%q) = %s (%v)", s, frame, err)
		}
		var se struct {
			Data struct {
				Type, Error string
				Status      int
			}
		}
		frame = AppendSubscriptionError(nil, s, s, s, 403)
		if err := json.Unmarshal(frame, &se); err != nil || se.Data.Error != wantDecoded(s) || se.Data.Status != 403 {
			t.Fatalf("AppendSubscriptionError(%q) = %s (%v)", s, frame, err)
		}
	}
}
