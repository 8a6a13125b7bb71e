package msgpackwire

import "errors"

// maxDepth bounds container nesting in a client frame; the layout itself
// needs 4 levels (frame, data, structured, extra map).
const maxDepth = 32

var (
	errTruncated = errors.New("truncated or oversized value")
	errTooDeep   = errors.New("nesting deeper than 32")
	errBadCode   = errors.New("reserved type byte 0xc1")
	errTrailing  = errors.New("trailing bytes after the frame")
)

// check walks one MessagePack value without recursion and rejects what
// could make the library's decoder allocate beyond the input or recurse
// without bound: every declared length must fit in the bytes left (each
// container element takes at least one byte), nesting is bounded, and
// nothing may follow the value (Sockudo rejects trailing bytes).
func check(b []byte) error {
	var stack [maxDepth]int // elements still to read per open container
	depth, i := 0, 0
	pending := 1
	for pending > 0 || depth > 0 {
		if pending == 0 {
			depth--
			pending = stack[depth]
			continue
		}
		pending--
		n, elems, err := head(b[i:])
		if err != nil {
			return err
		}
		i += n
		if elems > 0 {
			if elems > len(b)-i {
				return errTruncated
			}
			if depth == maxDepth {
				return errTooDeep
			}
			stack[depth] = pending
			depth++
			pending = elems
		}
	}
	if i != len(b) {
		return errTrailing
	}
	return nil
}

// head reads the value starting b: n is the bytes of its header and
// payload (for scalars, strings, binaries and extensions the whole
// value), elems how many values a container holds.
func head(b []byte) (n, elems int, err error) {
	if len(b) == 0 {
		return 0, 0, errTruncated
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, 0, nil
	case c >= 0x80 && c <= 0x8f:
		return 1, 2 * int(c&0x0f), nil
	case c >= 0x90 && c <= 0x9f:
		return 1, int(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf:
		return sized(b, 1, int(c&0x1f))
	}
	switch c {
	case 0xc1:
		return 0, 0, errBadCode
	case 0xc4, 0xd9:
		return lenPrefixed(b, 1, 0)
	case 0xc5, 0xda:
		return lenPrefixed(b, 2, 0)
	case 0xc6, 0xdb:
		return lenPrefixed(b, 4, 0)
	case 0xc7:
		return lenPrefixed(b, 1, 1)
	case 0xc8:
		return lenPrefixed(b, 2, 1)
	case 0xc9:
		return lenPrefixed(b, 4, 1)
	case 0xca, 0xce, 0xd2:
		return sized(b, 1, 4)
	case 0xcb, 0xcf, 0xd3:
		return sized(b, 1, 8)
	case 0xcc, 0xd0:
		return sized(b, 1, 1)
	case 0xcd, 0xd1:
		return sized(b, 1, 2)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return sized(b, 2, 1<<(c-0xd4))
	case 0xdc, 0xdd:
		w := 2 << (c - 0xdc)
		if len(b) < 1+w {
			return 0, 0, errTruncated
		}
		return 1 + w, int(be(b[1 : 1+w])), nil
	}
	// 0xde, 0xdf: map16, map32
	w := 2 << (c - 0xde)
	if len(b) < 1+w {
		return 0, 0, errTruncated
	}
	return 1 + w, 2 * int(be(b[1:1+w])), nil
}

// sized is a value of hdr header bytes and payload bytes, all present.
func sized(b []byte, hdr, payload int) (int, int, error) {
	if len(b) < hdr+payload {
		return 0, 0, errTruncated
	}
	return hdr + payload, 0, nil
}

// lenPrefixed is a str, bin or ext value with a w-byte big-endian length
// (and extra type bytes after it).
func lenPrefixed(b []byte, w, extra int) (int, int, error) {
	if len(b) < 1+w {
		return 0, 0, errTruncated
	}
	n := int(be(b[1 : 1+w]))
	return sized(b, 1+w+extra, n)
}

func be(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
