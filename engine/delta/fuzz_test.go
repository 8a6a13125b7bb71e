package delta

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip: any two payloads, published in turn on a channel with or
// without a conflation key, reach a delta subscriber as frames the
// JS-like client turns back into exactly the published frames.
func FuzzRoundTrip(f *testing.F) {
	tk := newTicker(1, "BTC")
	f.Add(tk.next(), tk.next(), "quote", false, false)
	f.Add(`{"symbol":"A","p":1}`, `{"symbol":"B","p":2}`, "e", true, true)
	f.Add(`"quote\" inside"`, `\u2028 é`, "client-x", false, true)
	f.Add("", "", "sockudo:x", true, false)
	f.Fuzz(func(t *testing.T, a, b, event string, xdelta, conflate bool) {
		o := testOptions()
		if conflate {
			o.ConflationKeyPath = "symbol"
		}
		algo := Fossil
		if xdelta {
			algo = Xdelta3
		}
		ch := NewChannel("fuzz", o)
		s := newSubscriber(algo)
		for _, data := range []string{a, b, a} {
			frame := v2Frame(event, "fuzz", data, "")
			p := ch.Publish(Message{Event: event, Frame: frame}, t0)
			s.deliver(t, p, frame, -1)
		}
	})
}

// FuzzConflationKey: the scanner agrees with a reference built on
// encoding/json for every valid frame and path, and never panics.
func FuzzConflationKey(f *testing.F) {
	f.Add([]byte(`{"event":"e","data":"{\"symbol\":\"X\"}"}`), "symbol")
	f.Add([]byte(`{"a":{"b":[1,2]}}`), "a.b")
	f.Add([]byte(`{"a":1,"a":{"x":"\u00e9"}}`), "a.x")
	f.Add([]byte(`{"d\u0061ta":" {\"k\" : true} "}`), "k")
	f.Fuzz(func(t *testing.T, frame []byte, path string) {
		got := ConflationKey(frame, path)
		if !json.Valid(frame) || !utf8.ValidString(path) {
			return
		}
		if want := conflationKeyReference(frame, path); got != want {
			t.Fatalf("%s at %q: %q, reference %q", frame, path, got, want)
		}
	})
}

// conflationKeyReference is ConflationKey written over encoding/json.
func conflationKeyReference(frame []byte, path string) string {
	if path == "" {
		return ""
	}
	parts := strings.Split(path, ".")
	cur := json.RawMessage(frame)
	ok := true
	for _, p := range parts {
		if cur, ok = refField(cur, p); !ok {
			break
		}
	}
	if ok {
		return refStringify(cur)
	}
	if len(parts) == 1 {
		if data, ok := refField(frame, "data"); ok {
			if v, ok := refField(data, parts[0]); ok {
				return refStringify(v)
			}
		}
	}
	return ""
}

func refField(doc []byte, name string) (json.RawMessage, bool) {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '"' {
		var s string
		if json.Unmarshal(doc, &s) != nil {
			return nil, false
		}
		doc = bytes.TrimSpace([]byte(s))
	}
	var m map[string]json.RawMessage
	if len(doc) == 0 || doc[0] != '{' || json.Unmarshal(doc, &m) != nil {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

func refStringify(v json.RawMessage) string {
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
