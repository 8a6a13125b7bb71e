package protocol

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string literal (quoted, escaped per
// RFC 8259; invalid UTF-8 replaced by U+FFFD; <, >, & left as they are).
// U+2028 and U+2029 are escaped too, so the output is also a valid
// JavaScript string literal.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the escaped content of s without the quotes. Runs
// of bytes that need no escape are copied in one append.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = appendEscapedASCII(append(dst, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), `\u202`...)
			dst = append(dst, hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// appendEscapedASCII appends the escape of an ASCII byte that cannot stand
// in a JSON string as itself.
func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

// appendDoubleEscaped appends the content of a JSON string whose value is
// the JSON string literal of s without its quotes, i.e. s escaped twice.
// It serves the "data" strings that carry JSON inside JSON.
func appendDoubleEscaped(dst []byte, s string) []byte {
	var inner [8]byte
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && c >= 0x20 && c != '"' && c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		// The first escape yields only ASCII and valid UTF-8, so the
		// second one only has to double backslashes and quotes.
		for _, b := range appendEscaped(inner[:0], s[i:i+size]) {
			if b == '\\' || b == '"' {
				dst = append(dst, '\\')
			}
			dst = append(dst, b)
		}
		i += size
	}
	return dst
}
