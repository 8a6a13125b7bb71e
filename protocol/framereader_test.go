package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testMaskKey = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

// clientFrame builds a masked client frame the way a browser does, with
// its own byte-by-byte masking so it does not share code with the reader.
func clientFrame(fin bool, op Opcode, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, testMaskKey[:]...)
	for i, c := range payload {
		f = append(f, c^testMaskKey[i%4])
	}
	return f
}

// rawHeader builds a header from b0, a 7-bit length code and its extended
// length bytes, masked unless unmasked is set, without any payload.
func rawHeader(b0, len7 byte, ext []byte, unmasked bool) []byte {
	b1 := len7
	if !unmasked {
		b1 |= 0x80
	}
	h := append([]byte{b0, b1}, ext...)
	if !unmasked {
		h = append(h, testMaskKey[:]...)
	}
	return h
}

// recorder collects what Feed delivers as "op:payload" lines.
type recorder struct{ got []string }

func (rec *recorder) fn(op Opcode, payload []byte) error {
	rec.got = append(rec.got, fmt.Sprintf("%d:%s", op, payload))
	return nil
}

// feedAll feeds the chunks in order and returns the deliveries, the first
// error and the largest Buffered seen.
func feedAll(maxMessage int, chunks ...[]byte) ([]string, int, error) {
	r := FrameReader{MaxMessage: maxMessage}
	var rec recorder
	peak := 0
	for _, c := range chunks {
		orig := append([]byte(nil), c...)
		if err := r.Feed(c, rec.fn); err != nil {
			return rec.got, peak, err
		}
		if !bytes.Equal(orig, c) {
			panic("Feed modified its input")
		}
		peak = max(peak, r.Buffered())
	}
	return rec.got, peak, nil
}

// stream is a sequence of frames exercising reassembly with interleaved
// control frames, empty payloads and, with huge, every length encoding.
func stream(huge bool) ([]byte, []string) {
	var s []byte
	var want []string
	add := func(frame []byte, deliveries ...string) {
		s = append(s, frame...)
		want = append(want, deliveries...)
	}
	big := strings.Repeat("x", 300)
	add(clientFrame(true, OpText, []byte(`{"event":"pusher:ping","data":{}}`)), `1:{"event":"pusher:ping","data":{}}`)
	add(clientFrame(true, OpText, nil), "1:")
	add(clientFrame(false, OpText, []byte("frag-")))
	add(clientFrame(true, OpPing, []byte("p1")), "9:p1")
	add(clientFrame(false, OpContinuation, []byte("ment€"[:5])))
	add(clientFrame(false, OpContinuation, nil))
	add(clientFrame(true, OpPong, nil), "10:")
	add(clientFrame(true, OpContinuation, []byte("ment€"[5:]+"ed")), "1:frag-ment€ed")
	add(clientFrame(true, OpBinary, []byte{0xff, 0x00}), "2:\xff\x00")
	add(clientFrame(true, OpText, []byte(big)), "1:"+big)
	add(clientFrame(false, OpBinary, []byte("a")))
	add(clientFrame(true, OpContinuation, []byte("b")), "2:ab")
	if huge {
		y := strings.Repeat("y", 70000)
		add(clientFrame(true, OpText, []byte(y)), "1:"+y)
	}
	add(clientFrame(true, OpClose, []byte("\x03\xe8bye")), "8:\x03\xe8bye")
	return s, want
}

func TestFrameReaderStream(t *testing.T) {
	s, want := stream(false)
	check := func(name string, chunks ...[]byte) {
		t.Helper()
		got, _, err := feedAll(1<<17, chunks...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: got %d deliveries, want %d\n%.300q\n%.300q", name, len(got), len(want), got, want)
		}
	}
	check("whole", s)
	for i := 0; i <= len(s); i++ {
		check(fmt.Sprintf("split at %d", i), s[:i], s[i:])
	}
	var bytewise [][]byte
	for i := range s {
		bytewise = append(bytewise, s[i:i+1])
	}
	check("byte by byte", bytewise...)
	// The 64-bit length encoding, split around its header and payload.
	s, want = stream(true)
	for _, i := range []int{len(s) - 70020, len(s) - 70010, len(s) - 70005, len(s) - 40000, len(s) - 5} {
		check(fmt.Sprintf("huge split at %d", i), s[:i], s[i:])
	}
	var chunks [][]byte
	for i := 0; i < len(s); i += 1000 {
		chunks = append(chunks, s[i:min(i+1000, len(s))])
	}
	check("huge in 1000-byte chunks", chunks...)
}

// TestFrameReaderEverySplitSmall splits a stream of small frames at every
// pair of boundaries.
func TestFrameReaderEverySplitSmall(t *testing.T) {
	var s []byte
	s = append(s, clientFrame(false, OpText, []byte("ab"))...)
	s = append(s, clientFrame(true, OpPing, []byte("ping"))...)
	s = append(s, clientFrame(true, OpContinuation, []byte("cd"))...)
	s = append(s, clientFrame(true, OpText, []byte(strings.Repeat("z", 130)))...)
	want := "9:ping|1:abcd|1:" + strings.Repeat("z", 130)
	for i := 0; i <= len(s); i++ {
		for j := i; j <= len(s); j++ {
			got, _, err := feedAll(1000, s[:i], s[i:j], s[j:])
			if err != nil || strings.Join(got, "|") != want {
				t.Fatalf("split %d,%d: %q %v", i, j, got, err)
			}
		}
	}
}

func TestFrameReaderViolations(t *testing.T) {
	f := func(name string, code Code, maxMessage int, chunks ...[]byte) {
		t.Helper()
		_, peak, err := feedAll(maxMessage, chunks...)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != code {
			t.Fatalf("%s: error %v, want code %d", name, err, code)
		}
		if peak > maxMessage+14 {
			t.Fatalf("%s: buffered %d", name, peak)
		}
	}
	text := clientFrame(true, OpText, []byte("hi"))
	f("unmasked", CodeProtocolError, 100, rawHeader(0x81, 2, nil, true), []byte("hi"))
	f("unmasked 2 bytes", CodeProtocolError, 100, rawHeader(0x81, 127, nil, true))
	for _, rsv := range []byte{0x40, 0x20, 0x10} {
		f("rsv", CodeProtocolError, 100, rawHeader(0x81|rsv, 0, nil, false))
	}
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		f(fmt.Sprintf("opcode %x", op), CodeProtocolError, 100, rawHeader(0x80|op, 0, nil, false))
	}
	f("ping 126", CodeProtocolError, 1000, rawHeader(0x89, 126, []byte{0, 126}, false))
	f("fragmented ping", CodeProtocolError, 100, rawHeader(0x09, 0, nil, false))
	f("fragmented close", CodeProtocolError, 100, rawHeader(0x08, 0, nil, false))
	f("lone continuation", CodeProtocolError, 100, clientFrame(true, OpContinuation, []byte("x")))
	f("text inside fragments", CodeProtocolError, 100, clientFrame(false, OpText, []byte("a")), text)
	f("binary inside fragments", CodeProtocolError, 100, clientFrame(false, OpText, []byte("a")), clientFrame(true, OpBinary, nil))
	f("invalid utf-8", CodeInvalidPayload, 100, clientFrame(true, OpText, []byte("a\xffb")))
	f("invalid utf-8 split", CodeInvalidPayload, 100, clientFrame(true, OpText, []byte("a\xffb"))[:7], clientFrame(true, OpText, []byte("a\xffb"))[7:])
	f("truncated utf-8 at end of message", CodeInvalidPayload, 100,
		clientFrame(false, OpText, []byte("€"[:2])), clientFrame(true, OpContinuation, nil))
	f("surrogate utf-8", CodeInvalidPayload, 100, clientFrame(true, OpText, []byte("\xed\xa0\x80")))
	f("too big", CodeTooBig, 100, clientFrame(true, OpText, bytes.Repeat([]byte("a"), 101)))
	f("too big 16-bit", CodeTooBig, 100, rawHeader(0x81, 126, []byte{0xff, 0xff}, false))
	f("too big reassembled", CodeTooBig, 100,
		clientFrame(false, OpText, bytes.Repeat([]byte("a"), 60)), clientFrame(true, OpContinuation, bytes.Repeat([]byte("a"), 41)))
	f("too big binary", CodeTooBig, 100, clientFrame(true, OpBinary, bytes.Repeat([]byte("a"), 101)))
	f("2^63 length", CodeProtocolError, 100, rawHeader(0x81, 127, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, false))
	f("2^63-1 length", CodeTooBig, 100, rawHeader(0x82, 127, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false))
	f("close 1 byte", CodeProtocolError, 100, clientFrame(true, OpClose, []byte{3}))
	f("close code 1005", CodeProtocolError, 100, clientFrame(true, OpClose, []byte{3, 0xed}))
	f("close code 999 split", CodeProtocolError, 100, clientFrame(true, OpClose, []byte{3, 0xe7})[:7], clientFrame(true, OpClose, []byte{3, 0xe7})[7:])
	f("close bad reason", CodeInvalidPayload, 100, clientFrame(true, OpClose, []byte{3, 0xe8, 0xc0}))
}

func TestFrameReaderExactMax(t *testing.T) {
	payload := bytes.Repeat([]byte("a"), 100)
	got, _, err := feedAll(100, clientFrame(true, OpText, payload))
	if err != nil || len(got) != 1 {
		t.Fatalf("message of exactly MaxMessage: %v %d", err, len(got))
	}
	frame := append(clientFrame(false, OpText, payload[:50]), clientFrame(true, OpContinuation, payload[50:])...)
	if got, _, err = feedAll(100, frame); err != nil || len(got) != 1 {
		t.Fatalf("reassembled exactly MaxMessage: %v %d", err, len(got))
	}
}

func TestFrameReaderDefaultMax(t *testing.T) {
	var r FrameReader
	err := r.Feed(rawHeader(0x81, 127, []byte{0, 0, 0, 0, 0, 1, 0, 1}, false), func(Opcode, []byte) error { return nil })
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeTooBig {
		t.Fatalf("64 KiB + 1 with default MaxMessage: %v", err)
	}
}

func TestFrameReaderHugeLengthNotBuffered(t *testing.T) {
	r := FrameReader{MaxMessage: 1 << 20}
	h := rawHeader(0x81, 127, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, false)
	for i := 0; i < len(h)-1; i++ {
		if err := r.Feed(h[i:i+1], (&recorder{}).fn); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if r.Buffered() != i+1 {
			t.Fatalf("byte %d: buffered %d", i, r.Buffered())
		}
	}
	if err := r.Feed(h[len(h)-1:], (&recorder{}).fn); err == nil {
		t.Fatal("2^63 length accepted")
	}
	if r.Buffered() != 0 {
		t.Fatalf("buffered %d after error", r.Buffered())
	}
}

func TestFrameReaderHalfFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("q"), 1000)
	frame := clientFrame(true, OpText, payload)
	for _, cut := range []int{1, 2, 5, 8, 9, 100, len(frame) - 1} {
		r := FrameReader{MaxMessage: 4096}
		if err := r.Feed(frame[:cut], (&recorder{}).fn); err != nil {
			t.Fatal(err)
		}
		if r.Buffered() > cut {
			t.Fatalf("cut %d: buffered %d", cut, r.Buffered())
		}
		if c := cap(r.msg); c > len(payload) {
			t.Fatalf("cut %d: message buffer capacity %d beyond the frame", cut, c)
		}
		var rec recorder
		if err := r.Feed(frame[cut:], rec.fn); err != nil || len(rec.got) != 1 || rec.got[0] != "1:"+string(payload) {
			t.Fatalf("cut %d: completion %v %d", cut, err, len(rec.got))
		}
		r.checkIdle(t)
	}
}

// checkIdle fails t when r holds memory beyond the small unmask scratch.
func (r *FrameReader) checkIdle(t *testing.T) {
	t.Helper()
	if r.Buffered() != 0 || r.msg != nil || r.ctrl != nil || cap(r.scratch) > scratchKeep {
		t.Fatalf("idle reader holds buffered %d msg %d ctrl %d scratch %d",
			r.Buffered(), cap(r.msg), cap(r.ctrl), cap(r.scratch))
	}
}

func TestFrameReaderReleasesMemory(t *testing.T) {
	s, _ := stream(true)
	r := FrameReader{MaxMessage: 1 << 17}
	for i := 0; i < len(s); i += 4000 {
		if err := r.Feed(s[i:min(i+4000, len(s))], (&recorder{}).fn); err != nil {
			t.Fatal(err)
		}
	}
	r.checkIdle(t)
	r = FrameReader{}
	if err := r.Feed(clientFrame(true, OpText, bytes.Repeat([]byte("a"), 3000)), (&recorder{}).fn); err != nil {
		t.Fatal(err)
	}
	r.checkIdle(t)
}

func TestFrameReaderFnError(t *testing.T) {
	stop := errors.New("stop")
	r := FrameReader{MaxMessage: 100}
	s := append(clientFrame(true, OpText, []byte("a")), clientFrame(true, OpText, []byte("b"))...)
	n := 0
	err := r.Feed(s, func(Opcode, []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("Feed = %v after %d deliveries", err, n)
	}
	if err := r.Feed(clientFrame(true, OpText, []byte("c")), (&recorder{}).fn); err != stop {
		t.Fatalf("error not sticky: %v", err)
	}
}

func TestFrameReaderStickyProtocolError(t *testing.T) {
	r := FrameReader{MaxMessage: 100}
	if err := r.Feed(rawHeader(0x81, 0, nil, true), (&recorder{}).fn); err == nil {
		t.Fatal("unmasked frame accepted")
	}
	var rec recorder
	if err := r.Feed(clientFrame(true, OpText, []byte("ok")), rec.fn); err == nil || len(rec.got) != 0 {
		t.Fatalf("reader went on after a protocol error: %v %q", err, rec.got)
	}
}

func TestFrameReaderPayloadScratchReuse(t *testing.T) {
	// Two frames in one Feed: the first payload must not be overwritten
	// before fn returns, and later frames may reuse the scratch.
	r := FrameReader{MaxMessage: 100}
	s := append(clientFrame(true, OpText, []byte("first")), clientFrame(true, OpText, []byte("second"))...)
	var got []string
	err := r.Feed(s, func(_ Opcode, p []byte) error { got = append(got, string(p)); return nil })
	if err != nil || strings.Join(got, ",") != "first,second" {
		t.Fatalf("%q %v", got, err)
	}
}

// TestFrameReaderSharedScratch: with a shared scratch the reader keeps no
// buffer of its own between Feeds, and messages are still right.
func TestFrameReaderSharedScratch(t *testing.T) {
	var shared []byte
	a, b := FrameReader{Scratch: &shared}, FrameReader{Scratch: &shared}
	var got []string
	fn := func(_ Opcode, p []byte) error { got = append(got, string(p)); return nil }
	for _, r := range []*FrameReader{&a, &b, &a} {
		if err := r.Feed(clientFrame(true, OpText, []byte(`{"event":"pusher:ping"}`)), fn); err != nil {
			t.Fatal(err)
		}
		if r.scratch != nil {
			t.Fatal("reader kept its own scratch despite a shared one")
		}
	}
	if len(got) != 3 || got[2] != `{"event":"pusher:ping"}` || cap(shared) == 0 {
		t.Fatalf("got %q, shared cap %d", got, cap(shared))
	}
}

// TestAppendClientFrame: the exported client frame encoder writes what a
// browser does, at every length encoding.
func TestAppendClientFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 0xFFFF, 0x10000} {
		p := bytes.Repeat([]byte{'x'}, n)
		if got, want := AppendClientFrame([]byte("prefix"), OpText, p, testMaskKey), append([]byte("prefix"), clientFrame(true, OpText, p)...); !bytes.Equal(got, want) {
			t.Errorf("%d-byte payload: frames differ", n)
		}
	}
}
