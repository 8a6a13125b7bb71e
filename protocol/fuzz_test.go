package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range pusherJSFrames {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"ev\u0065nt":"a\ud83d\ude00","channel":null,"data":[1,-2.5e3,{"x":[true,false,null]}]}`))
	f.Add([]byte(`{"event":"e"} x`))
	f.Fuzz(func(t *testing.T, in []byte) {
		compareWithEncodingJSON(t, in)
		var m ClientMessage
		if DecodeClientMessage(in, &m) != nil {
			return
		}
		if m.Data != nil && !json.Valid(m.Data) {
			t.Fatalf("%q: invalid data %q", in, m.Data)
		}
		var s Subscribe
		if DecodeSubscribe(m.Data, &s) == nil && !json.Valid(m.Data) {
			t.Fatalf("DecodeSubscribe accepted %q", m.Data)
		}
		var sg Signin
		_ = DecodeSignin(m.Data, &sg)
	})
}

var channelNameRE = regexp.MustCompile(`^[A-Za-z0-9_\-=@,.;]{1,200}$`)

func FuzzValidChannelName(f *testing.F) {
	for _, s := range []string{"private-a", "presence-cache-x", "#server-to-user-1", "a b", "", "é", strings.Repeat("a", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ValidChannelName(name, DefaultMaxChannelNameLength), channelNameRE.MatchString(name); got != want {
			t.Fatalf("ValidChannelName(%q) = %v, regexp says %v", name, got, want)
		}
		kind, _ := ParseChannel(name)
		if id, ok := ServerToUserID(name); ok != (kind == KindServerToUser && id != "") || ok && ServerToUserPrefix+id != name {
			t.Fatalf("ServerToUserID(%q) = %q %v with kind %d", name, id, ok, kind)
		}
	})
}

func FuzzVerifyRequest(f *testing.F) {
	now := time.Unix(docsTS, 0)
	f.Add("POST", "/apps/3/events", docsQuery(), []byte(docsBody))
	f.Add("GET", "/apps/1/channels", SignRequest("GET", "/apps/1/channels",
		map[string]string{"filter_by_prefix": "a;b", "info": "user_count"}, nil, vecKey, vecSecret, now), []byte(nil))
	f.Add("GET", "/a%zz", "a=%&b==&&=&%41=%4", []byte(nil))
	f.Add("GET", "/a", "Auth_Key=x+y&%C3%89T%c3%a9=%E2%82%AC&\xc3=1&K\xff=2", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte) {
		err := VerifyRequest(method, path, rawQuery, body, vecKey, vecSecret, now)
		var rae *RequestAuthError
		if err != nil && !errors.As(err, &rae) {
			t.Fatalf("error %T %v", err, err)
		}
		QueryValue(rawQuery, "auth_key")
		QueryValue(rawQuery, rawQuery)
		checkParseQuery(t, rawQuery)
		// What SignRequest builds from the fuzzed input must verify.
		params := map[string]string{path: rawQuery, "m": method}
		q := SignRequest(method, path, params, body, vecKey, vecSecret, now)
		if err := VerifyRequest(method, path, q, body, vecKey, vecSecret, now); err != nil {
			t.Fatalf("SignRequest(%q, %q, %q) = %q refused: %v", method, path, params, q, err)
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	s, _ := stream(false)
	f.Add(s, uint64(7), uint16(1000))
	var small []byte
	small = append(small, clientFrame(false, OpText, []byte("ab"))...)
	small = append(small, clientFrame(true, OpPing, []byte("ping"))...)
	small = append(small, clientFrame(true, OpContinuation, []byte("cd"))...)
	small = append(small, clientFrame(true, OpClose, []byte("\x03\xe8"))...)
	f.Add(small, uint64(0x0102030405), uint16(10))
	f.Add(rawHeader(0x81, 127, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, false), uint64(1), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, splits uint64, maxMessage uint16) {
		whole, wholeErr := fuzzFeed(t, data, 0, int(maxMessage))
		split, splitErr := fuzzFeed(t, data, splits, int(maxMessage))
		if whole != split || fmt.Sprint(wholeErr) != fmt.Sprint(splitErr) {
			t.Fatalf("whole and split disagree:\n%q %v\n%q %v", whole, wholeErr, split, splitErr)
		}
	})
}

// fuzzFeed feeds data cut at the positions encoded in splits (each byte a
// chunk length) and checks the buffering bound after every call.
func fuzzFeed(t *testing.T, data []byte, splits uint64, maxMessage int) (string, error) {
	r := FrameReader{MaxMessage: maxMessage}
	limit := r.maxMessage() + maxClientHeader
	var out strings.Builder
	fn := func(op Opcode, p []byte) error {
		fmt.Fprintf(&out, "%d:%q|", op, p)
		return nil
	}
	var cuts [8]byte
	binary.LittleEndian.PutUint64(cuts[:], splits)
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if splits != 0 {
			n = min(n, int(cuts[i%8])+1)
		}
		if err := r.Feed(data[:n], fn); err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("non-protocol error %v", err)
			}
			return out.String(), err
		}
		// A control frame split inside a fragmented message may add up
		// to 124 bytes to a message at MaxMessage.
		if b := r.Buffered(); b > limit && (len(r.ctrl) == 0 || b > r.maxMessage()+maxControlPayload-1) {
			t.Fatalf("buffered %d > %d", b, limit)
		}
		data = data[n:]
	}
	return out.String(), nil
}

func FuzzDecodePresenceMember(f *testing.F) {
	f.Add(`{"user_id":"u1","user_info":{"name":"Me"}}`)
	f.Add(`{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`)
	f.Add(`{"user_id":1.5e-7,"user_info":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		var m Member
		err := DecodePresenceMember(in, &m)
		if err != nil {
			return
		}
		if !json.Valid([]byte(in)) || m.UserID == "" || !json.Valid(m.UserInfo) {
			t.Fatalf("DecodePresenceMember(%q) = %+v", in, m)
		}
	})
}

func FuzzDecodeUserData(f *testing.F) {
	f.Add(`{"id":"u1","watchlist":["u2"]}`)
	f.Add(`{"id":12345,"user_info":{"a":[1]},"watchlist":[1,"x"]}`)
	f.Add(`{"id":"12345"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var u UserData
		if DecodeUserData(in, &u) != nil {
			return
		}
		if !json.Valid([]byte(in)) || u.ID == "" || !json.Valid(u.UserInfo) {
			t.Fatalf("DecodeUserData(%q) = %+v", in, u)
		}
	})
}

// checkParseQuery compares parseQuery with net/url's decoding and
// strings.ToLower, which it replaces without allocating.
func checkParseQuery(t *testing.T, rawQuery string) {
	t.Helper()
	got, err := parseQuery(nil, rawQuery)
	var want []queryPair
	wantErr := false
	for q := rawQuery; q != "" && !wantErr; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		wantErr = err1 != nil || err2 != nil
		want = append(want, queryPair{strings.ToLower(k), v})
	}
	if (err != nil) != wantErr {
		t.Fatalf("parseQuery(%q) error %v, net/url error %v", rawQuery, err, wantErr)
	}
	if err == nil && !slices.Equal(got, want) {
		t.Fatalf("parseQuery(%q) = %q, want %q", rawQuery, got, want)
	}
}
