package httpapi

import (
	"testing"
)

// FuzzHistoryQuery: any query string is either refused or gives bounds
// in order and a positive limit.
func FuzzHistoryQuery(f *testing.F) {
	f.Add("limit=10&direction=oldest_first&start_serial=1&end_serial=9")
	f.Add("start=1&end=2&cursor=abc")
	f.Add("limit=0&start_serial=-1&%zz")
	f.Fuzz(func(t *testing.T, q string) {
		r, err := decodeHistoryQuery(q)
		if err != nil {
			return
		}
		if r.Limit < 0 {
			t.Fatalf("limit %d", r.Limit)
		}
		b := r.Bounds
		if b.StartSerial != nil && b.EndSerial != nil && *b.StartSerial > *b.EndSerial ||
			b.StartTimeMS != nil && b.EndTimeMS != nil && *b.StartTimeMS > *b.EndTimeMS {
			t.Fatalf("bounds out of order accepted: %q", q)
		}
	})
}

// FuzzHistoryOp: any reset/purge body is refused or confirms the channel
// and operation and selects exactly one purge mode.
func FuzzHistoryOp(f *testing.F) {
	f.Add([]byte(`{"confirm_channel":"c","confirm_operation":"purge","mode":"before_serial","before_serial":3,"reason":"r"}`), "purge")
	f.Add([]byte(`{"confirm_channel":"c","confirm_operation":"reset","reason":"r","requested_by":null}`), "reset")
	f.Add([]byte(`{"mode":"all"`), "purge")
	f.Fuzz(func(t *testing.T, body []byte, op string) {
		b, p, err := decodeHistoryOp(body, "c", op)
		if err != nil {
			return
		}
		if b.ConfirmChannel != "c" || b.ConfirmOperation != op || b.Reason == "" {
			t.Fatalf("accepted %s", body)
		}
		if op == "purge" {
			n := 0
			for _, set := range []bool{p.All, p.BeforeSerial > 0, p.BeforeTimeMS > 0} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("purge %+v from %s", p, body)
			}
		}
	})
}
