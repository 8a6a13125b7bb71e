package vcdiff

// Instruction types of RFC 3284 section 5.4.
const (
	instNoop = 0
	instAdd  = 1
	instRun  = 2
	instCopy = 3
)

// halfInst is one half of a code table entry: a type, a size (0 = the size
// follows in the instructions section) and, for COPY, the address mode.
type halfInst struct {
	typ, size, mode byte
}

// codeEntry is one of the 256 entries: up to two instructions.
type codeEntry [2]halfInst

// defaultCodeTable builds the table of RFC 3284 section 5.6 row by row, as
// the RFC lists it; the decoder looks every instruction byte up here.
func defaultCodeTable() *[256]codeEntry {
	var t [256]codeEntry
	i := 0
	put := func(a, b halfInst) { t[i] = codeEntry{a, b}; i++ }
	none := halfInst{}
	put(halfInst{instRun, 0, 0}, none)  // 0
	for size := 0; size <= 17; size++ { // 1..18
		put(halfInst{instAdd, byte(size), 0}, none)
	}
	for mode := 0; mode <= 8; mode++ { // 19..162
		put(halfInst{instCopy, 0, byte(mode)}, none)
		for size := 4; size <= 18; size++ {
			put(halfInst{instCopy, byte(size), byte(mode)}, none)
		}
	}
	for mode := 0; mode <= 5; mode++ { // 163..234
		for add := 1; add <= 4; add++ {
			for cp := 4; cp <= 6; cp++ {
				put(halfInst{instAdd, byte(add), 0}, halfInst{instCopy, byte(cp), byte(mode)})
			}
		}
	}
	for mode := 6; mode <= 8; mode++ { // 235..246
		for add := 1; add <= 4; add++ {
			put(halfInst{instAdd, byte(add), 0}, halfInst{instCopy, 4, byte(mode)})
		}
	}
	for mode := 0; mode <= 8; mode++ { // 247..255
		put(halfInst{instCopy, 4, byte(mode)}, halfInst{instAdd, 1, 0})
	}
	if i != 256 {
		panic("vcdiff: default code table has the wrong size")
	}
	return &t
}

var codeTable = defaultCodeTable()
