package msgpackwire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

func decodeAny(t *testing.T, b []byte) []any {
	t.Helper()
	var v any
	if err := msgpack.Unmarshal(b, &v); err != nil {
		t.Fatalf("library cannot read our frame: %v", err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 15 {
		t.Fatalf("frame is %#v, want a 15-element array", v)
	}
	return a
}

func TestEncodePositionalLayout(t *testing.T) {
	b, err := Codec{}.Encode(nil, []byte(codectest.FullFrame))
	if err != nil {
		t.Fatal(err)
	}
	a := decodeAny(t, b)
	want := []any{
		"order.updated", "orders", []any{"string", `{"id":"ord_1"}`}, "n", "u1",
		map[string]any{"region": "eu", "tier": "gold"}, int8(7), "ck", "m1", "s1", int8(42), "ik",
		[]any{
			map[string]any{"b": []any{"bool", true}, "n": []any{"number", 5.0}, "s": []any{"string", "x"}},
			true, "xk", false, []any{map[string]any{"t": "1"}, nil},
		},
		int8(3), "btc",
	}
	for i := range want {
		if !reflect.DeepEqual(a[i], want[i]) {
			t.Errorf("position %d: %#v, want %#v", i, a[i], want[i])
		}
	}
}

func TestEncodeGoldenBytes(t *testing.T) {
	// {"event":"e","data":{"a":1},"serial":300}: absent fields are nil,
	// object data is ["json", text], serials use the smallest uint.
	b, err := Codec{}.Encode([]byte{0xff}, []byte(`{"event":"e","data":{"a":1},"serial":300}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xff, 0x9f, 0xa1, 'e', 0xc0, 0x92, 0xa4, 'j', 's', 'o', 'n', 0xa7, '{', '"', 'a', '"', ':', '1', '}',
		0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xcd, 0x01, 0x2c, 0xc0, 0xc0, 0xc0, 0xc0}
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
}

func TestEncodeDataVariants(t *testing.T) {
	for in, want := range map[string]any{
		`"plain"`:      []any{"string", "plain"},
		`"a\"b\u00e9"`: []any{"string", "a\"bé"},
		`{"x":[1,2]}`:  []any{"json", `{"x":[1,2]}`},
		`[1,"2"]`:      []any{"json", `[1,"2"]`},
		`12.5`:         []any{"json", `12.5`},
		`null`:         nil,
	} {
		b, err := Codec{}.Encode(nil, []byte(`{"event":"e","data":`+in+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeAny(t, b)[2]; !reflect.DeepEqual(got, want) {
			t.Errorf("data %s: %#v, want %#v", in, got, want)
		}
	}
}

func TestEncodeRejectsNonJSON(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"event":"e"`, `{"event":"e","serial":-1}`, `{"event":"e","tags":[1]}`} {
		if _, err := (Codec{}).Encode(nil, []byte(in)); err == nil {
			t.Errorf("%q encoded", in)
		}
	}
}

func encodeClient(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clientFrame builds what the official client sends: 15 positions.
func clientFrame(event, channel any, data any) []any {
	f := make([]any, 15)
	f[0], f[1], f[2] = event, channel, data
	f[12] = map[string]any{"headers": map[string]any{"h": []any{"string", "v"}}, "echo": false}
	return f
}

func TestDecodeClientFrames(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{clientFrame("client-x", "private-a", []any{"json", `{"k":1}`}), `{"event":"client-x","channel":"private-a","data":{"k":1}}`},
		{clientFrame("client-x", "private-a", []any{"string", "hi \"you\""}), `{"event":"client-x","channel":"private-a","data":"hi \"you\""}`},
		{clientFrame("sockudo:ping", nil, nil), `{"event":"sockudo:ping"}`},
		{clientFrame("e", "c", []any{"json", `not json`}), `{"event":"e","channel":"c","data":"not json"}`},
		{clientFrame("e", nil, []any{"structured", []any{"cd", nil, "ud", map[string]string{"n": "5", "s": "txt"}}}),
			`{"event":"e","data":{"channel_data":"cd","user_data":"ud","n":5,"s":"txt"}}`},
		{map[string]any{"event": "sockudo:subscribe", "data": []any{"json", `{"channel":"a"}`}, "x": 1},
			`{"event":"sockudo:subscribe","data":{"channel":"a"}}`},
		{[]any{"short"}, `{"event":"short"}`},
	} {
		codectest.DecodesTo(t, Codec{}, encodeClient(t, c.in), c.want)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	ok := encodeClient(t, clientFrame("e", "c", nil))
	deep := bytes.Repeat([]byte{0x91}, 40)
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":      {nil, "truncated"},
		"trailing":   {append(ok[:len(ok):len(ok)], 0xc0), "trailing"},
		"truncated":  {ok[:len(ok)-1], "truncated"},
		"huge str":   {[]byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}, "truncated"},
		"huge array": {[]byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, "truncated"},
		"deep":       {append(deep, 0xc0), "nesting"},
		"scalar":     {[]byte{0x05}, "15-element"},
		"16 fields":  {encodeClient(t, make([]any, 16)), "15-element"},
		"no event":   {encodeClient(t, clientFrame(nil, "c", nil)), "no event"},
		"int event":  {encodeClient(t, clientFrame(5, "c", nil)), "event"},
		"bad utf8":   {encodeClient(t, clientFrame("e\xff", "c", nil)), "UTF-8"},
		"data shape": {encodeClient(t, clientFrame("e", "c", "bare")), "[kind, value]"},
		"data kind":  {encodeClient(t, clientFrame("e", "c", []any{"xml", "x"})), "[kind, value]"},
		"binary":     {encodeClient(t, clientFrame("e", "c", []any{"binary", []byte{1}})), "binary"},
		"reserved":   {[]byte{0x91, 0xc1}, "0xc1"},
	} {
		_, err := Codec{}.Decode(nil, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "MessagePack: ") {
			t.Errorf("%s: error %v, want one naming %q", name, err, c.want)
		}
	}
}

func TestRoundTripServerFrameAsClientFrame(t *testing.T) {
	codectest.RoundTripServerFrameAsClientFrame(t, Codec{})
}
