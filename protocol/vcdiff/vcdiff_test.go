package vcdiff

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// handWindow frames one window the way RFC 3284 section 4.2 lays it out.
func handWindow(ind byte, segLen, segPos int, tgtLen int, data, inst, addr []byte) []byte {
	var enc []byte
	enc = appendInt(enc, uint64(tgtLen))
	enc = append(enc, 0)
	enc = appendInt(enc, uint64(len(data)))
	enc = appendInt(enc, uint64(len(inst)))
	enc = appendInt(enc, uint64(len(addr)))
	enc = append(append(append(enc, data...), inst...), addr...)
	w := []byte{ind}
	if ind&(winSource|winTarget) != 0 {
		w = appendInt(appendInt(w, uint64(segLen)), uint64(segPos))
	}
	return append(appendInt(w, uint64(len(enc))), enc...)
}

// TestDecodeHandBuilt decodes a delta assembled byte by byte from the RFC,
// not by the encoder: every address mode (SELF, HERE, NEAR, SAME), both
// kinds of double instruction, RUN, a COPY overlapping its own output and
// a second window reading earlier target output (VCD_TARGET).
func TestDecodeHandBuilt(t *testing.T) {
	source := []byte("abcdefghijklmnop")
	data := []byte("wxyzqrstuvz!")
	inst := []byte{
		20,    // COPY 4 mode SELF
		5,     // ADD 4
		60,    // COPY 12 mode NEAR0 (+4 from 0)
		7,     // ADD 6
		36,    // COPY 4 mode HERE
		0, 15, // RUN, size 15
		247, // COPY 4 mode SELF + ADD 1
		116, // COPY 4 mode SAME0
	}
	addr := []byte{0, 4, 22, 60, 4}
	want1 := "abcdwxyzefghijklmnopqrstuvwxyz" + strings.Repeat("z", 15) + "zzzz!" + "efgh"
	delta := []byte{0xD6, 0xC3, 0xC4, 0x00, 0x00}
	delta = append(delta, handWindow(winSource, 16, 0, len(want1), data, inst, addr)...)
	delta = append(delta, handWindow(winTarget, 4, 0, 5, []byte("-"), []byte{163}, []byte{0})...)
	got, err := Decode(source, delta)
	if err != nil {
		t.Fatal(err)
	}
	if want := want1 + "-abcd"; string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestDecodeRefusals(t *testing.T) {
	src := []byte("0123456789")
	good := Encode(src, []byte("0123456789abc"))
	cases := map[string]struct {
		delta []byte
		want  error
	}{
		"empty":       {nil, ErrInvalid},
		"bad magic":   {[]byte{0xD6, 0xC3, 0xC4, 0x01, 0}, ErrInvalid},
		"secondary":   {[]byte{0xD6, 0xC3, 0xC4, 0x00, hdrDecompress, 1}, ErrUnsupported},
		"code table":  {[]byte{0xD6, 0xC3, 0xC4, 0x00, hdrCodeTable}, ErrUnsupported},
		"truncated":   {good[:len(good)-1], ErrInvalid},
		"trailing":    {append(append([]byte{}, good...), 7), ErrInvalid},
		"both":        {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0}, winSource|winTarget, 0, 0, 0), ErrInvalid},
		"seg outside": {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0}, handWindow(winSource, 11, 0, 0, nil, nil, nil)...), ErrInvalid},
		"compressed":  {[]byte{0xD6, 0xC3, 0xC4, 0x00, 0, 0, 5, 0, 1, 0, 0, 0}, ErrUnsupported},
		"copy ahead":  {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0}, handWindow(winSource, 10, 0, 4, nil, []byte{20}, []byte{10})...), ErrInvalid},
		"overrun":     {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0}, handWindow(0, 0, 0, 2, []byte("abc"), []byte{4}, nil)...), ErrInvalid},
		"short":       {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0}, handWindow(0, 0, 0, 4, []byte("abc"), []byte{4}, nil)...), ErrInvalid},
		"huge":        {append([]byte{0xD6, 0xC3, 0xC4, 0x00, 0, 0, 6}, appendInt(nil, 1<<40)...), ErrInvalid},
	}
	for name, c := range cases {
		if _, err := Decode(src, c.delta); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
}

// TestDecodeXdelta3Extensions: an application header is skipped and an
// Adler-32 checksum checked, as xdelta3 writes them.
func TestDecodeXdelta3Extensions(t *testing.T) {
	src, tgt := []byte("hello world"), []byte("hello there world")
	d := Encode(src, tgt)
	// header with an application header, window with a checksum
	x := []byte{0xD6, 0xC3, 0xC4, 0x00, hdrAppHeader, 3, 'a', 'p', 'p'}
	r := &reader{b: d, off: 5}
	ind, _ := r.byte1("")
	segLen, _ := r.integer("")
	segPos, _ := r.integer("")
	_, _ = r.integer("")
	w := &window{}
	if err := w.readEncoding(&reader{b: d[r.off:]}, false); err != nil {
		t.Fatal(err)
	}
	sum := adlerBytes(tgt) // written here from the Adler-32 definition, not hash/adler32
	var enc []byte
	enc = appendInt(enc, w.targetLen)
	enc = append(enc, 0)
	enc = appendInt(appendInt(appendInt(enc, uint64(len(w.data))), uint64(len(w.inst))), uint64(len(w.addr)))
	enc = append(enc, sum...)
	enc = append(append(append(enc, w.data...), w.inst...), w.addr...)
	x = append(x, ind|winAdler32)
	x = appendInt(appendInt(x, segLen), segPos)
	x = append(appendInt(x, uint64(len(enc))), enc...)
	got, err := Decode(src, x)
	if err != nil || string(got) != string(tgt) {
		t.Fatalf("got %q, %v", got, err)
	}
	enc[len(enc)-len(w.data)-len(w.inst)-len(w.addr)-1] ^= 1
	bad := append(x[:len(x)-len(enc)], enc...)
	if _, err := Decode(src, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("corrupt checksum accepted: %v", err)
	}
}

func adlerBytes(b []byte) []byte {
	const mod = 65521
	a, s := uint32(1), uint32(0)
	for _, c := range b {
		a = (a + uint32(c)) % mod
		s = (s + a) % mod
	}
	v := s<<16 | a
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func roundTrip(t testing.TB, src, tgt []byte) []byte {
	t.Helper()
	d := Encode(src, tgt)
	got, err := Decode(src, d)
	if err != nil {
		t.Fatalf("decode(%q -> %q): %v", src, tgt, err)
	}
	if !bytes.Equal(got, tgt) {
		t.Fatalf("round trip of %q -> %q gave %q", src, tgt, got)
	}
	return d
}

func TestRoundTripEdges(t *testing.T) {
	cases := [][2]string{
		{"", ""}, {"", "abc"}, {"abc", ""}, {"abc", "abc"}, {"abcd", "abcd"},
		{"0123456789", "0123456789"}, {"aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"xyz", strings.Repeat("q", 300)}, {strings.Repeat("ab", 500), strings.Repeat("ab", 499) + "c"},
	}
	for _, c := range cases {
		roundTrip(t, []byte(c[0]), []byte(c[1]))
	}
}

// TestRoundTripRandom mutates random and JSON-like inputs in every way the
// matcher has a branch for: insertions, deletions, replacements, moves.
func TestRoundTripRandom(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		var src []byte
		if i%2 == 0 {
			src = make([]byte, rnd.Intn(3000))
			for j := range src {
				src[j] = byte(rnd.Intn(4 + i%200))
			}
		} else {
			src = []byte(ticker(rnd.Intn(50), i))
		}
		roundTrip(t, src, mutate(rnd, src))
	}
}

func mutate(rnd *rand.Rand, src []byte) []byte {
	out := append([]byte{}, src...)
	for k := rnd.Intn(6); k >= 0; k-- {
		p := 0
		if len(out) > 0 {
			p = rnd.Intn(len(out))
		}
		switch rnd.Intn(4) {
		case 0: // insert
			ins := make([]byte, rnd.Intn(40))
			rnd.Read(ins)
			out = append(out[:p], append(ins, out[p:]...)...)
		case 1: // delete
			n := min(rnd.Intn(40), len(out)-p)
			out = append(out[:p], out[p+n:]...)
		case 2: // replace
			for j := p; j < len(out) && j < p+rnd.Intn(10); j++ {
				out[j] = byte(rnd.Intn(256))
			}
		case 3: // move a block to the front
			n := min(rnd.Intn(100), len(out)-p)
			blk := append([]byte{}, out[p:p+n]...)
			out = append(blk, append(out[:p], out[p+n:]...)...)
		}
	}
	return out
}

// ticker is a 20-field JSON quote whose fields move with v.
func ticker(seed, v int) string {
	var b strings.Builder
	b.WriteString(`{"event":"quote","channel":"ticker","data":"{`)
	for f := 0; f < 20; f++ {
		if f > 0 {
			b.WriteByte(',')
		}
		val, frac := 1000+seed*f, (seed+f)%100
		if f == v%20 || f == (v*7+3)%20 {
			val, frac = val+v, v%100
		}
		fmt.Fprintf(&b, `\"field_%02d\":%d.%02d`, f, val, frac)
	}
	b.WriteString(`}"}`)
	return b.String()
}

// TestDeltaSmallForTicker: a ticker update with two changed fields costs a
// small fraction of the frame.
func TestDeltaSmallForTicker(t *testing.T) {
	a, b := []byte(ticker(3, 100)), []byte(ticker(3, 101))
	d := roundTrip(t, a, b)
	if len(d)*5 > len(b) {
		t.Fatalf("delta %d bytes for a %d-byte frame", len(d), len(b))
	}
}

func BenchmarkEncodeTicker(b *testing.B) {
	x, y := []byte(ticker(3, 100)), []byte(ticker(3, 101))
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(y)))
	for b.Loop() {
		buf = AppendEncode(buf[:0], x, y)
	}
	b.ReportMetric(float64(len(buf)), "delta-bytes")
	b.ReportMetric(float64(len(y)), "full-bytes")
}

func BenchmarkDecodeTicker(b *testing.B) {
	x, y := []byte(ticker(3, 100)), []byte(ticker(3, 101))
	d := Encode(x, y)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendDecode(buf[:0], x, d)
	}
}
