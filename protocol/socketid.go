package protocol

import "strconv"

// ValidSocketID reports whether s matches ^\d+\.\d+$ (what both server SDKs
// demand).
func ValidSocketID(s string) bool {
	dot := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && dot < 0:
			dot = i
		default:
			return false
		}
	}
	// Digits are required on both sides of the one dot.
	return dot > 0 && dot < len(s)-1
}

// AppendSocketID appends a socket id "A.B" built from two numbers; callers
// pass unique (a, b), e.g. a node-random prefix and a counter.
func AppendSocketID(dst []byte, a, b uint64) []byte {
	dst = strconv.AppendUint(dst, a, 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, b, 10)
}
