package protocol

// scanner is a minimal JSON reader for the few client payloads the server
// decodes on every frame. It validates as it goes (RFC 8259, what
// JSON.parse accepts), never allocates and never recurses, so hostile
// nesting costs a bounded bitmap, not stack. A failed read sets bad and
// leaves i where the problem was; callers check bad once at the end.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

// maxDepth bounds array/object nesting in skipped values.
const maxDepth = 1024

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the current byte, 0 at the end of input.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// consume skips c or marks the input bad.
func (s *scanner) consume(c byte) bool {
	if s.peek() != c {
		s.bad = true
		return false
	}
	s.i++
	return true
}

// open reads optional whitespace and the opening c ('{' or '[').
func (s *scanner) open(c byte) bool {
	s.ws()
	return s.consume(c)
}

// next advances to the next member or element of the container opened
// with open; n counts those read so far and starts at 0. It returns false
// at the closing byte (end, '}' or ']') or on bad input.
func (s *scanner) next(n *int, end byte) bool {
	s.ws()
	if s.peek() == end {
		s.i++
		return false
	}
	if *n > 0 && !s.consume(',') {
		return false
	}
	*n++
	s.ws()
	return !s.bad
}

// member advances to the next member of an object opened with open and
// returns its key, unescaped into kbuf when it has escapes (a key longer
// than kbuf comes back escaped: it cannot equal any key we look for). ok is
// false at the closing brace or on bad input. The caller must read the
// value before calling member again.
func (s *scanner) member(n *int, kbuf *[keyBuf]byte) (key []byte, ok bool) {
	if !s.next(n, '}') {
		return nil, false
	}
	raw, esc := s.str()
	key = raw
	if esc {
		if n, fits := unescapeKey(kbuf, raw); fits {
			key = kbuf[:n]
		}
	}
	s.ws()
	s.consume(':')
	s.ws()
	return key, !s.bad
}

// valueKind is what kind of JSON value a string read found.
type valueKind uint8

const (
	kindString valueKind = iota
	kindNull
	kindOther
)

// stringOrSkip reads a string value (aliasing the input when alias is set
// and it has no escapes); any other value is read and skipped.
func (s *scanner) stringOrSkip(alias bool) (string, valueKind) {
	if s.peek() == '"' {
		raw, esc := s.str()
		return stringValue(raw, esc, alias), kindString
	}
	if raw := s.value(); string(raw) == "null" {
		return "", kindNull
	}
	return "", kindOther
}

// str reads a string at s.i and returns its raw content (between the
// quotes) and whether it contains escapes. Escapes are validated here, so
// unescape cannot fail afterwards.
func (s *scanner) str() (raw []byte, esc bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, esc
		case c < 0x20:
			s.bad = true
			return nil, false
		case c == '\\':
			esc = true
			if !s.escape() {
				return nil, false
			}
		default:
			s.i++
		}
	}
	s.bad = true
	return nil, false
}

// escape validates one escape sequence at s.i (the backslash).
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		s.bad = true
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 <= len(s.b) && hex4(s.b[s.i+2:s.i+6]) >= 0 {
			s.i += 6
			return true
		}
	}
	s.bad = true
	return false
}

// hex4 decodes four hex digits, -1 when they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// literal reads the exact bytes of lit (true, false, null).
func (s *scanner) literal(lit string) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.bad = true
		return
	}
	s.i += len(lit)
}

// number reads -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (s *scanner) number() {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		s.bad = true
		return
	}
	if s.peek() == '.' {
		s.i++
		s.requireDigits()
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		s.requireDigits()
	}
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *scanner) requireDigits() {
	if s.digits() == 0 {
		s.bad = true
	}
}

// scalar reads a value that is not an array or object.
func (s *scanner) scalar() {
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	default:
		s.bad = true
	}
}

// value reads any JSON value at s.i (after whitespace) and returns its raw
// bytes, nil when bad. Nesting is tracked in a bitmap (1 = object) instead
// of recursion, so the loop alternates between starting a value and
// finishing containers after a complete value.
func (s *scanner) value() []byte {
	var objects [maxDepth / 64]uint64
	depth := 0
	s.ws()
	start := s.i
	for !s.bad {
		if c := s.peek(); c == '{' || c == '[' {
			s.i++
			s.ws()
			if s.peek() != c+2 { // '{'+2 == '}', '['+2 == ']'
				if depth == maxDepth {
					s.bad = true
					break
				}
				objects[depth/64] &^= 1 << (depth % 64)
				if c == '{' {
					objects[depth/64] |= 1 << (depth % 64)
					s.objectKey()
				}
				depth++
				continue // read the first element
			}
			s.i++ // empty container: a complete value
		} else {
			s.scalar()
		}
		for !s.bad { // a value is complete: close containers or go on
			if depth == 0 {
				return s.b[start:s.i]
			}
			s.ws()
			inObject := objects[(depth-1)/64]>>((depth-1)%64)&1 == 1
			c := s.peek()
			if c == ',' {
				s.i++
				s.ws()
				if inObject {
					s.objectKey()
				}
				break
			}
			if (inObject && c != '}') || (!inObject && c != ']') {
				s.bad = true
				break
			}
			s.i++
			depth--
		}
	}
	return nil
}

// objectKey reads a member name and its colon, leaving s.i at the value.
func (s *scanner) objectKey() {
	s.str()
	s.ws()
	s.consume(':')
	s.ws()
}

// end reports whether only whitespace is left; JSON.parse rejects
// trailing garbage and so do we.
func (s *scanner) end() bool {
	s.ws()
	return !s.bad && s.i == len(s.b)
}
