package wire

import (
	"bytes"
	"testing"
)

func serverFrame(op byte, payload []byte) []byte {
	out := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, payload...)
}

func TestNextFrameSizes(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		p := bytes.Repeat([]byte{'a'}, n)
		f := serverFrame(OpText, p)
		// Every strict prefix is incomplete.
		for _, cut := range []int{0, 1, 2, 3, 9, len(f) - 1} {
			if cut < 0 || cut >= len(f) {
				continue
			}
			if _, _, k, err := NextFrame(f[:cut]); k != 0 || err != nil {
				t.Fatalf("n=%d cut=%d: consumed %d err %v", n, cut, k, err)
			}
		}
		op, pl, k, err := NextFrame(append(f, 0x81))
		if err != nil || op != OpText || k != len(f) || !bytes.Equal(pl, p) {
			t.Fatalf("n=%d: op %d len %d k %d err %v", n, op, len(pl), k, err)
		}
	}
}

func TestNextFrameRejects(t *testing.T) {
	for _, f := range [][]byte{
		{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}, // masked
		{0xC1, 0x00},                           // RSV1
		{0x81, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0}, // huge
	} {
		if _, _, _, err := NextFrame(f); err == nil {
			t.Fatalf("% x accepted", f)
		}
	}
}

func TestStampRoundTrip(t *testing.T) {
	const ts = int64(1763935000123456789)
	data := AppendPayload(nil, ts, 100)
	if len(data) != 100 || data[20] != '|' {
		t.Fatalf("payload %q", data)
	}
	if short := AppendPayload(nil, 5, 3); len(short) != 21 {
		t.Fatalf("short payload %q", short)
	}
	frame := []byte(`{"event":"bench-event","channel":"bench-7","data":"` + string(data) + `"}`)
	got, ok := ParseStamp(frame)
	if !ok || got != ts {
		t.Fatalf("ParseStamp = %d %v", got, ok)
	}
	if got, ok := ParseDataStamp(data); !ok || got != ts {
		t.Fatalf("ParseDataStamp = %d %v", got, ok)
	}
	if _, ok := ParseStamp([]byte(`{"event":"pusher:pong","data":{}}`)); ok {
		t.Fatal("stamp found in pong")
	}
	if _, ok := ParseStamp([]byte(`{"data":"T12345"}`)); ok {
		t.Fatal("short stamp accepted")
	}
	if _, ok := ParseStamp([]byte(`{"data":"T12345678901234567x9|"}`)); ok {
		t.Fatal("non-digit accepted")
	}
}

func TestClientFrameMasking(t *testing.T) {
	msg := SubscribeMessage("bench-1")
	mask := [4]byte{1, 2, 3, 4}
	f := AppendClientFrame(nil, OpText, msg, mask)
	if f[0] != 0x81 || f[1] != 0x80|byte(len(msg)) {
		t.Fatalf("header % x", f[:2])
	}
	got := f[6:]
	for i := range got {
		got[i] ^= mask[i&3]
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("unmasked %q", got)
	}
	long := AppendClientFrame(nil, OpText, bytes.Repeat([]byte{'x'}, 300), mask)
	if long[1] != 0x80|126 || len(long) != 2+2+4+300 {
		t.Fatalf("long header % x len %d", long[:4], len(long))
	}
}

func TestEventAndSocketID(t *testing.T) {
	f := []byte(`{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}`)
	if string(Event(f)) != "pusher:connection_established" {
		t.Fatalf("event %q", Event(f))
	}
	if SocketID(f) != "123.456" {
		t.Fatalf("socket id %q", SocketID(f))
	}
	if SocketID([]byte(`{"event":"x","data":{"socket_id":"1.2"}}`)) != "1.2" {
		t.Fatal("object form")
	}
}
