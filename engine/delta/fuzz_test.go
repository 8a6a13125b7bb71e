package delta

import (
	"testing"
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

// FuzzConflationKey: any frame and path give a value or "", never a panic.
func FuzzConflationKey(f *testing.F) {
	f.Add([]byte(`{"event":"e","data":"{\"symbol\":\"X\"}"}`), "symbol")
	f.Add([]byte(`{"a":{"b":[1,2]}}`), "a.b")
	f.Fuzz(func(t *testing.T, frame []byte, path string) {
		ConflationKey(frame, path)
	})
}
