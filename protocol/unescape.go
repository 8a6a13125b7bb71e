package protocol

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// keyBuf is the stack buffer for escaped member names: longer names are
// never one of ours, so they are not unescaped.
const keyBuf = 64

// unescapeKey unescapes raw into kbuf when it fits.
func unescapeKey(kbuf *[keyBuf]byte, raw []byte) (n int, fits bool) {
	if len(raw) > keyBuf {
		return 0, false
	}
	// Unescaping never grows the text, so append stays inside kbuf.
	return len(unescapeAppend(kbuf[:0], raw)), true
}

// unescapeAppend appends the value of the raw content of a JSON string
// that the scanner has validated. Lone surrogates become U+FFFD, as
// encoding/json does (Go strings cannot hold them).
func unescapeAppend(dst, raw []byte) []byte {
	for len(raw) > 0 {
		j := bytes.IndexByte(raw, '\\')
		if j < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:j]...)
		raw = raw[j:]
		if raw[1] != 'u' {
			dst = append(dst, unescapeByte(raw[1]))
			raw = raw[2:]
			continue
		}
		r := hex4(raw[2:])
		raw = raw[6:]
		if utf16.IsSurrogate(r) {
			r, raw = lowSurrogate(r, raw)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// lowSurrogate completes the surrogate pair started by hi from a following
// \uDC00–\uDFFF escape in raw, or returns U+FFFD for a lone surrogate.
func lowSurrogate(hi rune, raw []byte) (rune, []byte) {
	if hi < 0xDC00 && len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
		if lo := hex4(raw[2:]); lo >= 0xDC00 && lo <= 0xDFFF {
			return utf16.DecodeRune(hi, lo), raw[6:]
		}
	}
	return utf8.RuneError, raw
}

// unescapeByte maps the letter of a one-character escape to its byte.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\', '/'
}

// aliasString returns b as a string without copying. The caller documents
// that the string is valid only while b is not modified.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// aliasBytes returns the bytes of s without copying; they must not be
// modified.
func aliasBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// stringValue returns the value of a string's raw content: aliasing the
// input when it has no escapes, else a fresh string.
func stringValue(raw []byte, esc bool, alias bool) string {
	switch {
	case esc:
		b := unescapeAppend(make([]byte, 0, len(raw)), raw)
		return aliasString(b) // b is ours and never modified again
	case alias:
		return aliasString(raw)
	}
	return string(raw)
}

// numberString renders a JSON number the way JavaScript's String(n) does
// for the ids clients send: integer literals are kept as written, other
// forms go through float64.
func numberString(raw []byte) string {
	if !bytes.ContainsAny(raw, ".eE") {
		if string(raw) == "-0" {
			return "0"
		}
		return string(raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // out of range: keep what the client wrote
		return string(raw)
	}
	if f == 0 {
		return "0" // JavaScript prints -0 as 0
	}
	if a := max(f, -f); a >= 1e21 || a < 1e-6 {
		// Go pads the exponent to two digits, JavaScript does not.
		e := strconv.FormatFloat(f, 'e', -1, 64)
		return strings.NewReplacer("e+0", "e+", "e-0", "e-").Replace(e)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
