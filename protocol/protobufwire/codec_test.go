package protobufwire

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

// field is one decoded top-level field: its number and its raw value
// (bytes for length-delimited, the varint otherwise).
type field struct {
	num protowire.Number
	b   []byte
	v   uint64
}

func fields(t *testing.T, p []byte) []field {
	t.Helper()
	var out []field
	for len(p) > 0 {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		p = p[n:]
		f := field{num: num}
		switch typ {
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(p)
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(p)
		case protowire.Fixed64Type:
			f.v, n = protowire.ConsumeFixed64(p)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		p = p[n:]
		out = append(out, f)
	}
	return out
}

func TestEncodeFieldNumbers(t *testing.T) {
	b, err := Codec{}.Encode(nil, []byte(codectest.FullFrame))
	if err != nil {
		t.Fatal(err)
	}
	fs := fields(t, b)
	var nums []protowire.Number
	for _, f := range fs {
		nums = append(nums, f.num)
	}
	// tags (6) is a map: one entry per tag, in key order.
	want := []protowire.Number{1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if !reflect.DeepEqual(nums, want) {
		t.Fatalf("field numbers %v, want %v", nums, want)
	}
	str := func(i int) string { return string(fs[i].b) }
	if str(0) != "order.updated" || str(1) != "orders" || str(3) != "n" || str(4) != "u1" ||
		str(8) != "ck" || str(9) != "m1" || str(10) != "s1" || str(12) != "ik" || str(15) != "btc" {
		t.Errorf("string fields wrong: %+v", fs)
	}
	if fs[7].v != 7 || fs[11].v != 42 || fs[14].v != 3 {
		t.Errorf("sequence/serial/delta_sequence %d %d %d", fs[7].v, fs[11].v, fs[14].v)
	}
	data := fields(t, fs[2].b)
	if len(data) != 1 || data[0].num != 1 || string(data[0].b) != `{"id":"ord_1"}` {
		t.Errorf("data %+v, want string_value (1)", data)
	}
	for i, kv := range [][2]string{{"region", "eu"}, {"tier", "gold"}} {
		e := fields(t, fs[5+i].b)
		if len(e) != 2 || string(e[0].b) != kv[0] || string(e[1].b) != kv[1] {
			t.Errorf("tag entry %d: %+v", i, e)
		}
	}
	x := fields(t, fs[13].b)
	var xn []protowire.Number
	for _, f := range x {
		xn = append(xn, f.num)
	}
	if !reflect.DeepEqual(xn, []protowire.Number{1, 1, 1, 2, 3, 4, 5}) {
		t.Fatalf("extras fields %v", xn)
	}
	hdr := func(i int) field { e := fields(t, x[i].b); return fields(t, e[1].b)[0] }
	if h := hdr(0); h.num != 3 || h.v != 1 {
		t.Errorf("bool header %+v", h)
	}
	if h := hdr(1); h.num != 2 || math.Float64frombits(h.v) != 5 {
		t.Errorf("number header %+v", h)
	}
	if h := hdr(2); h.num != 1 || string(h.b) != "x" {
		t.Errorf("string header %+v", h)
	}
	if x[3].v != 1 || string(x[4].b) != "xk" || x[5].v != 0 {
		t.Errorf("ephemeral/idempotency/echo %+v", x[3:6])
	}
	ai := fields(t, x[6].b)
	if len(ai) != 1 || ai[0].num != 1 {
		t.Errorf("ai %+v", ai)
	}
}

func TestEncodeGoldenBytes(t *testing.T) {
	b, err := Codec{}.Encode([]byte{0xff}, []byte(`{"event":"e","data":{"a":1},"serial":300}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0xff, 0x0a, 0x01, 'e', 0x1a, 0x09, 0x1a, 0x07, '{', '"', 'a', '"', ':', '1', '}', 0x58, 0xac, 0x02}
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
}

func TestEncodeRejectsNonJSON(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"event":"e"`, `{"event":"e","serial":1.5}`, `{"event":"e","extras":[1]}`} {
		if _, err := (Codec{}).Encode(nil, []byte(in)); err == nil {
			t.Errorf("%q encoded", in)
		}
	}
}

// client builds a frame the way the official client's protobufjs does.
func client(event, channel string, data []byte) []byte {
	var b []byte
	if event != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, event)
	}
	if channel != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, channel)
	}
	// extras with a header, as the client sends them; dropped.
	b = protowire.AppendTag(b, 13, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0x20, 0x00})
	if data != nil {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, data)
	}
	return b
}

func oneof(n protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func TestDecodeClientFrames(t *testing.T) {
	structured := append(append(oneof(1, "cd"), oneof(3, "ud")...),
		protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), append(oneof(1, "n"), oneof(2, "5")...))...)
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{client("client-x", "private-a", oneof(3, `{"k":1}`)), `{"event":"client-x","channel":"private-a","data":{"k":1}}`},
		{client("client-x", "private-a", oneof(1, `hi "you"`)), `{"event":"client-x","channel":"private-a","data":"hi \"you\""}`},
		{client("sockudo:ping", "", nil), `{"event":"sockudo:ping"}`},
		{client("e", "", []byte{}), `{"event":"e","data":null}`},
		{client("e", "c", oneof(3, "not json")), `{"event":"e","channel":"c","data":"not json"}`},
		{client("e", "", protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), structured)),
			`{"event":"e","data":{"channel_data":"cd","user_data":"ud","n":5}}`},
	} {
		codectest.DecodesTo(t, Codec{}, c.in, c.want)
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	ok := client("e", "c", oneof(1, "x"))
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"truncated":  {ok[:len(ok)-1], "unexpected EOF"},
		"no event":   {client("", "c", nil), "no event"},
		"varint evt": {[]byte{0x08, 0x01}, "wire type"},
		"bad utf8":   {client("e\xff", "c", nil), "UTF-8"},
		"binary":     {client("e", "c", oneof(4, "\x01")), "binary"},
		"huge len":   {[]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "unexpected EOF"},
		"field zero": {[]byte{0x02, 0x00}, "invalid field number"},
		"bad data":   {client("e", "c", []byte{0x0a}), "unexpected EOF"},
	} {
		_, err := Codec{}.Decode(nil, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "Protobuf: ") {
			t.Errorf("%s: error %v, want one naming %q", name, err, c.want)
		}
	}
}

func TestRoundTripServerFrameAsClientFrame(t *testing.T) {
	codectest.RoundTripServerFrameAsClientFrame(t, Codec{})
}
