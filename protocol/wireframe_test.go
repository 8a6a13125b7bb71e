package protocol

import (
	"encoding/json"
	"testing"
)

func TestParseWireFrame(t *testing.T) {
	var f WireFrame
	in := `{"event":"a\u0062","channel":null,"data":"x\"y","serial":18446744073709551615,"__delta_seq":0,` +
		`"tags":{"k":"v"},"extras":null,"unknown":{"data":"inner"},"message_id":"m"}`
	if err := ParseWireFrame([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	if f.Event != "ab" || f.Channel != "" || !f.DataIsString || f.DataText != `x"y` || string(f.Data) != `"x\"y"` ||
		!f.HasSerial || f.Serial != 1<<64-1 || !f.HasDeltaSeq || f.DeltaSeq != 0 || f.HasSequence ||
		string(f.Tags) != `{"k":"v"}` || f.Extras != nil || f.MessageID != "m" {
		t.Fatalf("%+v", f)
	}
	if err := ParseWireFrame([]byte(`{"event":"e","data":{"a":[1,2]}}`), &f); err != nil || f.DataIsString || string(f.Data) != `{"a":[1,2]}` || f.HasSerial {
		t.Fatalf("object data: %+v %v", f, err)
	}
	for _, bad := range []string{`{"serial":-1}`, `{"serial":1.5}`, `{"serial":"1"}`, `{"event":"e"} x`, `[1]`, `{"event":}`} {
		if err := ParseWireFrame([]byte(bad), &f); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestParseWireExtras(t *testing.T) {
	x, err := ParseWireExtras([]byte(`{"headers":{"z":"s","a":2.5,"m":false,"o":[1]},"ephemeral":false,"idempotencyKey":"k","ai":{"codec":{"c":"1"}},"push":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []WireHeader{{Key: "a", Kind: HeaderNumber, Num: 2.5}, {Key: "m", Kind: HeaderBool}, {Key: "o", Kind: HeaderString, Str: "[1]"}, {Key: "z", Kind: HeaderString, Str: "s"}}
	if len(x.Headers) != len(want) {
		t.Fatalf("%+v", x.Headers)
	}
	for i := range want {
		if x.Headers[i] != want[i] {
			t.Errorf("header %d: %+v, want %+v", i, x.Headers[i], want[i])
		}
	}
	if !x.HasEphemeral || x.Ephemeral || x.HasEcho || !x.HasIdempotencyKey || x.IdempotencyKey != "k" ||
		!x.HasAI || x.HasTransport || !x.HasCodec || len(x.AICodec) != 1 {
		t.Fatalf("%+v", x)
	}
}

// FuzzParseWireFrame: any input parses or fails cleanly; a parsed frame's
// data is valid JSON (what the binary formats carry as "json" text).
func FuzzParseWireFrame(f *testing.F) {
	f.Add([]byte(`{"event":"e","channel":"c","data":"{\"a\":1}","serial":3,"tags":{"k":"v"}}`))
	f.Add([]byte(`{"event":"e","data":{"x":[1,{"y":null}]},"extras":{"headers":{"h":1}}}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		var w WireFrame
		if ParseWireFrame(p, &w) != nil {
			return
		}
		if w.Data != nil && !json.Valid(w.Data) {
			t.Fatalf("data %q is not JSON", w.Data)
		}
	})
}
