package delta

import (
	"bytes"
	"encoding/json"
	"strings"
)

// ConflationKey extracts the conflation value at the dotted path from a
// serialised V2 frame, with Sockudo's rules (delta/conflation.rs): strings
// give their text, numbers, booleans and null their JSON text, objects and
// arrays their JSON text; a single-segment path that misses at the root is
// retried inside `data` (an object, or a JSON string holding one); a miss
// gives "".
//
// One difference: a segment that lands on a JSON string holding an object
// continues inside it, so "data.symbol" works for HTTP publishes, whose
// `data` is always a string (Sockudo returns "" there).
func ConflationKey(frame []byte, path string) string {
	if path == "" {
		return ""
	}
	parts := strings.Split(path, ".")
	if v, ok := walk(frame, parts); ok {
		return stringify(v)
	}
	if len(parts) == 1 {
		if data, ok := field(frame, "data"); ok {
			if v, ok := field(data, parts[0]); ok {
				return stringify(v)
			}
		}
	}
	return ""
}

func walk(doc []byte, parts []string) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, p := range parts {
		v, ok := field(cur, p)
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// field looks name up in doc, an object or a JSON string holding one.
func field(doc []byte, name string) (json.RawMessage, bool) {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '"' {
		var s string
		if json.Unmarshal(doc, &s) != nil {
			return nil, false
		}
		doc = []byte(s)
	}
	var m map[string]json.RawMessage
	if len(doc) == 0 || doc[0] != '{' || json.Unmarshal(doc, &m) != nil {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

func stringify(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
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
