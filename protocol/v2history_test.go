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

func TestDecodeRewind(t *testing.T) {
	for in, want := range map[string]Rewind{
		`{"channel":"c","rewind":5}`: {Count: 5}, `{"rewind":"7"}`: {Count: 7}, `{"rewind":{"count":3}}`: {Count: 3},
		`{"rewind":{"seconds":60}}`: {Seconds: 60}, `{"rewind":{"duration_seconds":"9"}}`: {Seconds: 9},
	} {
		r, ok, err := DecodeRewind([]byte(in))
		if !ok || err != nil || r != want {
			t.Fatalf("%s: %+v %v %v", in, r, ok, err)
		}
	}
	for _, in := range []string{`{"rewind":0}`, `{"rewind":-1}`, `{"rewind":"x"}`, `{"rewind":{}}`, `{"rewind":{"count":0}}`, `{"rewind":true}`, `{"rewind":1.5}`} {
		if _, ok, err := DecodeRewind([]byte(in)); !ok || err != ErrRewind {
			t.Fatalf("%s: %v %v", in, ok, err)
		}
	}
	if _, ok, _ := DecodeRewind([]byte(`{"channel":"c"}`)); ok {
		t.Fatal("no rewind reported as one")
	}
}

// FuzzDecodeRewind: any subscribe data gives a positive count or seconds,
// ErrRewind, or no rewind.
func FuzzDecodeRewind(f *testing.F) {
	f.Add([]byte(`{"channel":"c","rewind":{"count":3}}`))
	f.Add([]byte(`{"rewind":"12"}`))
	f.Add([]byte(`{"rewind":{"seconds":-4}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, ok, err := DecodeRewind(data)
		if !ok || err != nil {
			if err != nil && err != ErrRewind {
				t.Fatalf("error %v", err)
			}
			return
		}
		if (r.Count > 0) == (r.Seconds > 0) || r.Count < 0 || r.Seconds < 0 {
			t.Fatalf("rewind %+v from %s", r, data)
		}
	})
}

func TestDecodeChannelHistory(t *testing.T) {
	r, err := DecodeChannelHistory([]byte(`{"channel":"c","params":{"limit":5000,"direction":"oldest_first","start":2,"end_serial":9,"untilAttach":true,"attach_serial":99}}`))
	if err != nil || r.Channel != "c" || r.Limit != MaxWSHistoryLimit || r.NewestFirst || *r.Bounds.StartSerial != 2 || *r.Bounds.EndSerial != 9 || !r.UntilAttach {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeChannelHistory([]byte(`"{\"channel\":\"d\",\"limit\":\"3\"}"`))
	if err != nil || r.Channel != "d" || r.Limit != 3 || !r.NewestFirst {
		t.Fatalf("string data %+v %v", r, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"channel":"c","limit":0}`, `{"channel":"c","direction":"up"}`, `{"channel":"c","start":5,"end":1}`, `{"channel":"c","start":-1}`} {
		if _, err := DecodeChannelHistory([]byte(bad)); err == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
}

// FuzzDecodeChannelHistory: any data is refused or names a channel with
// a limit within bounds and ordered bounds.
func FuzzDecodeChannelHistory(f *testing.F) {
	f.Add([]byte(`{"channel":"c","params":{"limit":5,"until_attach":true}}`))
	f.Add([]byte(`"{\"channel\":\"c\"}"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeChannelHistory(data)
		if err != nil {
			return
		}
		if r.Channel == "" || r.Limit < 0 || r.Limit > MaxWSHistoryLimit {
			t.Fatalf("%+v from %s", r, data)
		}
	})
}
