package vcdiff

import (
	"errors"
	"fmt"
	"hash/adler32"
)

// MaxTargetSize bounds the output a delta may ask for, so a hostile or
// corrupt delta cannot make the decoder allocate without limit.
const MaxTargetSize = 64 << 20

// ErrInvalid is wrapped by every error Decode returns for a malformed delta.
var ErrInvalid = errors.New("vcdiff: invalid delta")

// ErrUnsupported is wrapped when a delta uses a feature this decoder does
// not implement: secondary compression or a custom code table.
var ErrUnsupported = errors.New("vcdiff: unsupported feature")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// reader consumes one section or the delta itself.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) byte1(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, invalid("%s: unexpected end", what)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// integer reads RFC 3284's base-128 integer (section 2), refusing values
// above 2^62 so sums of sizes cannot overflow.
func (r *reader) integer(what string) (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		c, err := r.byte1(what)
		if err != nil {
			return 0, err
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			if v > 1<<62 {
				return 0, invalid("%s: integer too large", what)
			}
			return v, nil
		}
	}
	return 0, invalid("%s: integer too long", what)
}

func (r *reader) bytes(n uint64, what string) ([]byte, error) {
	if n > uint64(len(r.b)-r.off) {
		return nil, invalid("%s: %d bytes announced, %d left", what, n, len(r.b)-r.off)
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// Decode applies delta to source and returns the target.
func Decode(source, delta []byte) ([]byte, error) {
	return AppendDecode(nil, source, delta)
}

// AppendDecode applies delta to source and appends the target to dst.
// Earlier target windows are addressed from the start of the appended
// output (VCD_TARGET), never from what dst held before.
func AppendDecode(dst, source, delta []byte) ([]byte, error) {
	r := &reader{b: delta}
	if err := readHeader(r); err != nil {
		return dst, err
	}
	start := len(dst)
	for !r.done() {
		var err error
		if dst, err = decodeWindow(r, source, dst, start); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

// readHeader checks the magic and Hdr_Indicator (RFC 3284 section 4.1).
func readHeader(r *reader) error {
	head, err := r.bytes(5, "header")
	if err != nil {
		return err
	}
	if head[0] != magic0 || head[1] != magic1 || head[2] != magic2 || head[3] != magic3 {
		return invalid("bad magic % x", head[:4])
	}
	ind := head[4]
	switch {
	case ind&hdrDecompress != 0:
		return fmt.Errorf("%w: secondary compression (VCD_DECOMPRESS)", ErrUnsupported)
	case ind&hdrCodeTable != 0:
		return fmt.Errorf("%w: application-defined code table (VCD_CODETABLE)", ErrUnsupported)
	case ind&^byte(hdrAppHeader) != 0:
		return invalid("unknown Hdr_Indicator bits %#x", ind)
	}
	if ind&hdrAppHeader != 0 {
		n, err := r.integer("application header length")
		if err != nil {
			return err
		}
		if _, err := r.bytes(n, "application header"); err != nil {
			return err
		}
	}
	return nil
}

// window is one parsed window (RFC 3284 section 4.2-4.3).
type window struct {
	segment          []byte // the source or earlier-target segment COPY reads
	targetLen        uint64
	data, inst, addr []byte
	checksum         uint32
	hasChecksum      bool
}

func decodeWindow(r *reader, source, out []byte, start int) ([]byte, error) {
	w, err := readWindow(r, source, out[start:])
	if err != nil {
		return out, err
	}
	if uint64(len(out)-start)+w.targetLen > MaxTargetSize {
		return out, invalid("target larger than %d bytes", MaxTargetSize)
	}
	at := len(out)
	out, err = execute(w, out)
	if err != nil {
		return out, err
	}
	if w.hasChecksum && adler32.Checksum(out[at:]) != w.checksum {
		return out, invalid("Adler-32 mismatch")
	}
	return out, nil
}

func readWindow(r *reader, source, earlier []byte) (*window, error) {
	ind, err := r.byte1("Win_Indicator")
	if err != nil {
		return nil, err
	}
	if ind&^byte(winSource|winTarget|winAdler32) != 0 {
		return nil, invalid("unknown Win_Indicator bits %#x", ind)
	}
	w := &window{}
	if ind&winSource != 0 && ind&winTarget != 0 {
		return nil, invalid("VCD_SOURCE and VCD_TARGET both set")
	}
	if ind&(winSource|winTarget) != 0 {
		from := source
		if ind&winTarget != 0 {
			from = earlier
		}
		n, err := r.integer("source segment size")
		if err != nil {
			return nil, err
		}
		pos, err := r.integer("source segment position")
		if err != nil {
			return nil, err
		}
		if pos > uint64(len(from)) || n > uint64(len(from))-pos {
			return nil, invalid("source segment [%d,+%d) outside %d bytes", pos, n, len(from))
		}
		w.segment = from[pos : pos+n]
	}
	n, err := r.integer("delta encoding length")
	if err != nil {
		return nil, err
	}
	enc, err := r.bytes(n, "delta encoding")
	if err != nil {
		return nil, err
	}
	return w, w.readEncoding(&reader{b: enc}, ind&winAdler32 != 0)
}

// readEncoding parses the delta encoding of a window (section 4.3).
func (w *window) readEncoding(r *reader, checksum bool) error {
	var err error
	if w.targetLen, err = r.integer("target window length"); err != nil {
		return err
	}
	if w.targetLen > MaxTargetSize {
		return invalid("target window of %d bytes", w.targetLen)
	}
	di, err := r.byte1("Delta_Indicator")
	if err != nil {
		return err
	}
	if di != 0 {
		return fmt.Errorf("%w: compressed sections (Delta_Indicator %#x)", ErrUnsupported, di)
	}
	var lens [3]uint64
	for i, what := range [3]string{"data section length", "instructions section length", "addresses section length"} {
		if lens[i], err = r.integer(what); err != nil {
			return err
		}
	}
	if checksum {
		sum, err := r.bytes(4, "Adler-32")
		if err != nil {
			return err
		}
		w.checksum = uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
		w.hasChecksum = true
	}
	if w.data, err = r.bytes(lens[0], "data section"); err != nil {
		return err
	}
	if w.inst, err = r.bytes(lens[1], "instructions section"); err != nil {
		return err
	}
	if w.addr, err = r.bytes(lens[2], "addresses section"); err != nil {
		return err
	}
	if !r.done() {
		return invalid("%d bytes after the addresses section", len(r.b)-r.off)
	}
	return nil
}

// addrCache is the address cache of section 5.1, reset for every window.
type addrCache struct {
	near     [nearSize]uint64
	nextSlot int
	same     [sameSize * 256]uint64
}

// decode reads one COPY address in mode m (section 5.3); here is the
// current position in the source+target address space.
func (c *addrCache) decode(addr *reader, here uint64, m byte) (uint64, error) {
	var a uint64
	switch {
	case m == modeSelf:
		v, err := addr.integer("COPY address")
		if err != nil {
			return 0, err
		}
		a = v
	case m == modeHere:
		v, err := addr.integer("COPY address")
		if err != nil {
			return 0, err
		}
		if v > here {
			return 0, invalid("HERE address %d before the start", v)
		}
		a = here - v
	case int(m) < 2+nearSize:
		v, err := addr.integer("COPY address")
		if err != nil {
			return 0, err
		}
		a = c.near[m-2] + v
	default:
		b, err := addr.byte1("COPY address")
		if err != nil {
			return 0, err
		}
		a = c.same[(int(m)-2-nearSize)*256+int(b)]
	}
	c.near[c.nextSlot] = a
	c.nextSlot = (c.nextSlot + 1) % nearSize
	c.same[a%(sameSize*256)] = a
	return a, nil
}

// execute runs the window's instructions, appending the target window to
// out (section 5).
func execute(w *window, out []byte) ([]byte, error) {
	at := len(out)
	data, inst, addr := &reader{b: w.data}, &reader{b: w.inst}, &reader{b: w.addr}
	var cache addrCache
	segLen := uint64(len(w.segment))
	for !inst.done() {
		code, _ := inst.byte1("instruction")
		for _, h := range codeTable[code] {
			if h.typ == instNoop {
				continue
			}
			size := uint64(h.size)
			if size == 0 {
				var err error
				if size, err = inst.integer("instruction size"); err != nil {
					return out, err
				}
			}
			produced := uint64(len(out) - at)
			if size > w.targetLen-produced {
				return out, invalid("instruction writes past the %d-byte target window", w.targetLen)
			}
			switch h.typ {
			case instAdd:
				b, err := data.bytes(size, "ADD data")
				if err != nil {
					return out, err
				}
				out = append(out, b...)
			case instRun:
				b, err := data.byte1("RUN byte")
				if err != nil {
					return out, err
				}
				for i := uint64(0); i < size; i++ {
					out = append(out, b)
				}
			case instCopy:
				here := segLen + produced
				a, err := cache.decode(addr, here, h.mode)
				if err != nil {
					return out, err
				}
				if a >= here {
					return out, invalid("COPY address %d not before %d", a, here)
				}
				// byte by byte: a copy from the target may overlap its own output
				for i := uint64(0); i < size; i++ {
					p := a + i
					if p < segLen {
						out = append(out, w.segment[p])
					} else {
						out = append(out, out[at+int(p-segLen)])
					}
				}
			}
		}
	}
	if uint64(len(out)-at) != w.targetLen {
		return out, invalid("target window is %d bytes, %d announced", len(out)-at, w.targetLen)
	}
	if !data.done() || !addr.done() {
		return out, invalid("unused data or addresses")
	}
	return out, nil
}
