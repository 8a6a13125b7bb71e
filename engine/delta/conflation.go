package delta

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// ConflationKey extracts the conflation value at the dotted path from a
// serialised V2 frame, with Sockudo's rules (delta/conflation.rs): strings
// give their text, numbers, booleans and null their JSON text, objects and
// arrays their compact JSON text; a single-segment path that misses at the
// root is retried inside `data` (an object, or a JSON string holding one);
// a miss gives "". A key present twice counts with its last value.
//
// One difference: a segment that lands on a JSON string holding an object
// continues inside it, so "data.symbol" works for HTTP publishes, whose
// `data` is always a string (Sockudo returns "" there).
//
// It scans the frame without decoding it: one publish costs a walk over
// the frame and, for a `data` string, one unescaped copy of it.
func ConflationKey(frame []byte, path string) string {
	if path == "" {
		return ""
	}
	rest, cur := path, frame
	for {
		seg, more, hasMore := strings.Cut(rest, ".")
		v, ok := field(cur, seg)
		if !ok {
			break
		}
		if !hasMore {
			return stringify(v)
		}
		rest, cur = more, v
	}
	if !strings.Contains(path, ".") {
		if data, ok := field(frame, "data"); ok {
			if v, ok := field(data, path); ok {
				return stringify(v)
			}
		}
	}
	return ""
}

// field returns the raw value of name in doc, a JSON object or a JSON
// string holding one.
func field(doc []byte, name string) ([]byte, bool) {
	doc = bytes.TrimLeft(doc, " \t\r\n")
	if len(doc) > 0 && doc[0] == '"' {
		var s string
		if json.Unmarshal(doc, &s) != nil {
			return nil, false
		}
		// The frame is the server's own JSON; a string's content is the
		// publisher's and may be anything: the lenient scanner would take
		// `{"symbol":A}` for an object.
		if doc = []byte(s); !json.Valid(doc) {
			return nil, false
		}
	}
	return lookup(doc, name)
}

// lookup scans the JSON object doc for the member name and returns its
// raw value (the last one if repeated); false for a miss or a document
// that is not an object.
func lookup(doc []byte, name string) (found []byte, ok bool) {
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	i = skipWS(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return nil, false
	}
	for i < len(doc) {
		if doc[i] != '"' {
			return nil, false
		}
		kend := skipString(doc, i)
		if kend < 0 {
			return nil, false
		}
		key := doc[i:kend]
		i = skipWS(doc, kend)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		vstart := skipWS(doc, i+1)
		vend := skipValue(doc, vstart)
		if vend < 0 {
			return nil, false
		}
		if keyIs(key, name) {
			found, ok = doc[vstart:vend], true
		}
		i = skipWS(doc, vend)
		if i >= len(doc) {
			return nil, false
		}
		switch doc[i] {
		case '}':
			return found, ok
		case ',':
			i = skipWS(doc, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

// keyIs compares a quoted raw key with name, unescaping only if needed.
func keyIs(raw []byte, name string) bool {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in) == name
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == name
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

func stringify(v []byte) string {
	if len(v) >= 2 && v[0] == '"' {
		in := v[1 : len(v)-1]
		if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return string(in)
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			return buf.String()
		}
	}
	return string(v)
}
