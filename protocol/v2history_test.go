package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestHistoryCursorRoundTrip(t *testing.T) {
	s, e := uint64(3), int64(99)
	c := HistoryCursor{Version: 1, AppID: "1", Channel: "orders", StreamID: "st", Serial: 41, Direction: HistoryNewestFirst,
		Bounds: HistoryBounds{StartSerial: &s, EndTimeMS: &e}}
	enc := EncodeCursor(&c)
	if strings.ContainsAny(enc, "=+/") {
		t.Fatalf("not unpadded base64url: %s", enc)
	}
	got, err := DecodeCursor(enc)
	if err != nil || got.Serial != 41 || got.StreamID != "st" || *got.Bounds.StartSerial != 3 || *got.Bounds.EndTimeMS != 99 || got.Bounds.EndSerial != nil {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", strings.Repeat("A", MaxCursorLen+1),
		EncodeCursor(&HistoryCursor{Version: 2, StreamID: "s", Serial: 1, Direction: HistoryNewestFirst}),
		EncodeCursor(&HistoryCursor{Version: 1, StreamID: "s", Serial: 1, Direction: "sideways"}),
		EncodeCursor(&HistoryCursor{Version: 1, Serial: 1, Direction: HistoryOldestFirst})} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrCursor) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// FuzzDecodeCursor: any string is refused with ErrCursor or decodes to a
// cursor that encodes back to one decoding the same.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(&HistoryCursor{Version: 1, AppID: "1", Channel: "c", StreamID: "s", Serial: 9, Direction: HistoryOldestFirst}))
	f.Add("eyJ2ZXJzaW9uIjoxfQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrCursor) {
				t.Fatalf("error not ErrCursor: %v", err)
			}
			return
		}
		c2, err := DecodeCursor(EncodeCursor(&c))
		if err != nil || c2.Serial != c.Serial || c2.StreamID != c.StreamID || c2.Direction != c.Direction {
			t.Fatalf("re-encoded cursor differs: %+v %+v %v", c, c2, err)
		}
	})
}
