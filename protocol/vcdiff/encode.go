package vcdiff

import "sync"

// RFC 3284 constants shared by the encoder and decoder.
const (
	magic0, magic1, magic2, magic3 = 0xD6, 0xC3, 0xC4, 0x00

	winSource  = 0x01 // VCD_SOURCE: the window copies from the source file
	winTarget  = 0x02 // VCD_TARGET: the window copies from earlier target output
	winAdler32 = 0x04 // xdelta3 extension: a 4-byte Adler-32 of the target window

	hdrDecompress = 0x01 // VCD_DECOMPRESS: secondary compressor id follows
	hdrCodeTable  = 0x02 // VCD_CODETABLE: application-defined code table follows
	hdrAppHeader  = 0x04 // xdelta3 extension: application header follows

	nearSize = 4 // default address cache: s_near
	sameSize = 3 // default address cache: s_same

	modeSelf = 0
	modeHere = 1
)

// Tuning of the matcher.
const (
	minMatch   = 4  // the shortest COPY the default code table sizes (4)
	minRun     = 8  // a literal run of one byte this long becomes a RUN
	minHashLog = 8  // smallest hash table: 256 slots
	maxHashLog = 16 // largest hash table: 64 Ki slots (256 KiB)
)

// encoder holds the scratch state of one Encode call; it is pooled so a
// steady stream of deltas allocates only the result.
type encoder struct {
	data, inst, addr []byte
	table            []int32 // hash of 4 source bytes -> position+1 (0 = empty)

	near     [nearSize]uint64
	nextNear int
	same     [sameSize * 256]uint64

	// last single-code instruction, for the default table's double codes
	lastIdx  int // index in inst of its code, -1 if it may not be merged
	lastAdd  int // size of that ADD (1..4), 0 if it is not a small ADD
	lastCopy int // mode+1 of that COPY of size 4, 0 if it is not one
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

// Encode returns the VCDIFF delta that turns source into target.
func Encode(source, target []byte) []byte {
	return AppendEncode(nil, source, target)
}

// AppendEncode appends to dst the VCDIFF delta that turns source into
// target: the file header and one window. Neither input is modified.
func AppendEncode(dst, source, target []byte) []byte {
	e := encoderPool.Get().(*encoder)
	defer encoderPool.Put(e)
	e.reset()
	e.match(source, target)
	return e.write(dst, len(source), len(target))
}

func (e *encoder) reset() {
	e.data, e.inst, e.addr = e.data[:0], e.inst[:0], e.addr[:0]
	e.near = [nearSize]uint64{}
	e.nextNear = 0
	e.same = [sameSize * 256]uint64{}
	e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
}

// write assembles the header and the single window around the sections.
func (e *encoder) write(dst []byte, srcLen, tgtLen int) []byte {
	dst = append(dst, magic0, magic1, magic2, magic3, 0)
	if srcLen > 0 {
		dst = append(dst, winSource)
		dst = appendInt(dst, uint64(srcLen))
		dst = appendInt(dst, 0)
	} else {
		dst = append(dst, 0)
	}
	body := intLen(uint64(tgtLen)) + 1 +
		intLen(uint64(len(e.data))) + intLen(uint64(len(e.inst))) + intLen(uint64(len(e.addr))) +
		len(e.data) + len(e.inst) + len(e.addr)
	dst = appendInt(dst, uint64(body))
	dst = appendInt(dst, uint64(tgtLen))
	dst = append(dst, 0) // Delta_Indicator: no secondary compression
	dst = appendInt(dst, uint64(len(e.data)))
	dst = appendInt(dst, uint64(len(e.inst)))
	dst = appendInt(dst, uint64(len(e.addr)))
	dst = append(dst, e.data...)
	dst = append(dst, e.inst...)
	return append(dst, e.addr...)
}

// match walks target, emitting COPY for runs found in source and ADD/RUN
// for the bytes between them. Each position tries two candidates: the
// diagonal of the previous COPY (same-length edits keep it aligned, which
// a JSON ticker update nearly always is) and the hash table's entry.
func (e *encoder) match(src, tgt []byte) {
	e.index(src)
	mask := uint32(len(e.table) - 1)
	lit := 0
	diag := 0 // src position minus tgt position of the last COPY's end
	for p := 0; p+minMatch <= len(tgt); {
		bestPos, bestLen := 0, 0
		if c := p + diag; c >= 0 && c < len(src) {
			bestPos, bestLen = c, matchLen(src[c:], tgt[p:])
		}
		if len(e.table) > 0 {
			if c := int(e.table[hash4(tgt[p:])&mask]) - 1; c >= 0 && c != bestPos {
				if n := matchLen(src[c:], tgt[p:]); n > bestLen {
					bestPos, bestLen = c, n
				}
			}
		}
		if bestLen < minMatch {
			p++
			continue
		}
		for p > lit && bestPos > 0 && src[bestPos-1] == tgt[p-1] {
			p, bestPos, bestLen = p-1, bestPos-1, bestLen+1
		}
		e.literal(tgt[lit:p])
		e.copy(uint64(bestPos), bestLen, uint64(len(src)+p))
		p += bestLen
		lit = p
		diag = bestPos + bestLen - p
	}
	e.literal(tgt[lit:])
}

// index fills the hash table with every 4-byte block of src; the first
// occurrence wins, so repeated keys point at the earliest copy.
func (e *encoder) index(src []byte) {
	if len(src) < minMatch {
		e.table = e.table[:0]
		return
	}
	bits := minHashLog
	for bits < maxHashLog && 1<<bits < len(src) {
		bits++
	}
	n := 1 << bits
	if cap(e.table) < n {
		e.table = make([]int32, n)
	} else {
		e.table = e.table[:n]
		clear(e.table)
	}
	mask := uint32(n - 1)
	for i := len(src) - minMatch; i >= 0; i-- {
		e.table[hash4(src[i:])&mask] = int32(i + 1)
	}
}

func hash4(b []byte) uint32 {
	v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	return (v * 2654435761) >> 16
}

func matchLen(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// literal emits bytes not found in the source: ADD, with long runs of one
// byte as RUN.
func (e *encoder) literal(b []byte) {
	start := 0
	for i := 0; i < len(b); {
		j := i + 1
		for j < len(b) && b[j] == b[i] {
			j++
		}
		if j-i >= minRun {
			e.add(b[start:i])
			e.run(b[i], j-i)
			start = j
		}
		i = j
	}
	e.add(b[start:])
}

func (e *encoder) add(b []byte) {
	if len(b) == 0 {
		return
	}
	e.data = append(e.data, b...)
	n := len(b)
	if n == 1 && e.lastCopy > 0 {
		// COPY 4 mode m + ADD 1: codes 247..255
		e.inst[e.lastIdx] = byte(247 + e.lastCopy - 1)
		e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
		return
	}
	e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
	if n <= 17 {
		e.lastIdx = len(e.inst)
		if n <= 4 {
			e.lastAdd = n
		}
		e.inst = append(e.inst, byte(1+n)) // ADD sizes 1..17: codes 2..18
		return
	}
	e.inst = append(e.inst, 1) // ADD, size follows
	e.inst = appendInt(e.inst, uint64(n))
}

func (e *encoder) run(c byte, n int) {
	e.data = append(e.data, c)
	e.inst = append(e.inst, 0) // RUN, size follows
	e.inst = appendInt(e.inst, uint64(n))
	e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
}

// copy emits a COPY of n bytes from address addr, here being the current
// position in the source+target address space.
func (e *encoder) copy(addr uint64, n int, here uint64) {
	mode, enc, isByte := e.address(addr, here)
	e.remember(addr)
	if isByte {
		e.addr = append(e.addr, byte(enc))
	} else {
		e.addr = appendInt(e.addr, enc)
	}
	if e.lastAdd > 0 {
		switch {
		case mode <= 5 && n >= 4 && n <= 6: // ADD 1..4 + COPY 4..6, modes 0..5
			e.inst[e.lastIdx] = byte(163 + mode*12 + (e.lastAdd-1)*3 + (n - 4))
			e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
			return
		case mode >= 6 && n == 4: // ADD 1..4 + COPY 4, modes 6..8
			e.inst[e.lastIdx] = byte(235 + (mode-6)*4 + (e.lastAdd - 1))
			e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
			return
		}
	}
	e.lastIdx, e.lastAdd, e.lastCopy = -1, 0, 0
	base := 19 + mode*16
	if n <= 18 {
		e.lastIdx = len(e.inst)
		if n == 4 {
			e.lastCopy = mode + 1
		}
		e.inst = append(e.inst, byte(base+n-3)) // sizes 4..18
		return
	}
	e.inst = append(e.inst, byte(base)) // size follows
	e.inst = appendInt(e.inst, uint64(n))
}

// address picks the cheapest of the default cache's modes for addr.
func (e *encoder) address(addr, here uint64) (mode int, enc uint64, isByte bool) {
	slot := addr % (sameSize * 256)
	if e.same[slot] == addr {
		return 2 + nearSize + int(slot/256), slot % 256, true
	}
	mode, enc = modeSelf, addr
	best := intLen(addr)
	if d := here - addr; intLen(d) < best {
		mode, enc, best = modeHere, d, intLen(d)
	}
	for i, n := range e.near {
		if addr >= n {
			if d := addr - n; intLen(d) < best {
				mode, enc, best = 2+i, d, intLen(d)
			}
		}
	}
	return mode, enc, false
}

func (e *encoder) remember(addr uint64) {
	e.near[e.nextNear] = addr
	e.nextNear = (e.nextNear + 1) % nearSize
	e.same[addr%(sameSize*256)] = addr
}
