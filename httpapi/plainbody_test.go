package httpapi

import (
	"reflect"
	"testing"

	"github.com/goccy/go-json"

	"github.com/sockudo/sockudo-go/protocol"
)

// plainSeeds are publish bodies in and near the plain form.
var plainSeeds = []string{
	`{"name":"e","channel":"a","data":"x"}`,
	` { "name" : "e" , "channels" : [ "a" , "b", "a" ] , "data" : "{\"n\":1}" , "socket_id":"1.2", "info":"user_count" } `,
	`{"name":"caf\u00e9 \/ \\ \n","channel":"a","data":"日本語"}`,
	`{"name":"e","channel":"a","data":"\ud83d\ude00"}`,
	`{"name":"e","channel":"a","data":"\udc00"}`,
	`{"name":"e","channel":"a","data":"` + "\xff" + `"}`,
	`{"name":"e","channels":[],"channel":"a","data":"x"}`,
	`{"name":"e","channel":"a","data":"x","Name":"f"}`,
	`{"name":"e","channel":"a","data":"x","name":"f"}`,
	`{"n\u0061me":"e","channel":"a","data":"x"}`,
	`{"name":"e","channel":"a","data":null}`,
	`{"name":"e","channel":"a","data":{"n":1}}`,
	`{"name":"e","channel":"a","data":"x","tags":{"k":"v"}}`,
	`{"name":"e","channel":"a","data":"x"} x`,
	`{"name":"e","channel":"a","data":"x",}`,
	`{"name":"e","channel":"a"}`,
	`{"batch":[{"name":"e","channel":"a","data":"x"},{"name":"f","channel":"b","data":"y","socket_id":"1.2"}]}`,
	`{"batch":[]}`,
	`{"batch":null}`,
	`{"batch":[{"name":"e","channel":"a","data":"x"}],"batch":[]}`,
	`[]`, ``, `{`, `"x"`,
	// Long strings, read eight bytes at a time: stops at every offset.
	`{"name":"abcdefghijklmnop","channel":"a","data":"0123456\"89abcdef\\0123456789abcdé0123456789abcd\u00e9"}`,
	`{"name":"abcdefghijklmnop","channel":"a","data":"01234567` + "\x01" + `89abcdef"}`,
	`{"name":"abcdefghijklmnop","channel":"a","data":"01234567` + "\x7f\xc3\xa9" + `ABCDEFGH~~~~~~~~"}`,
	`{"name":"abcdefghijklmnop","channel":"a","data":"01234567` + "\x7f\xc3\xa9" + `ABCDEFGH~~~~~~~~` + "\xc3" + `"}`,
}

// checkPlainAgrees fails t when the plain decoder accepts body and the
// general decoder reads it differently (or refuses it).
func checkPlainAgrees(t *testing.T, body string) {
	t.Helper()
	var p protocol.PublishEvent
	if protocol.DecodePublishEvent([]byte(body), &p) {
		var want eventBody
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("plain decoder accepts %q, general decoder refuses it: %v", body, err)
		}
		var got eventBody
		got.fromPlain(&p)
		compareBodies(t, body, &got, &want)
	}
	items, ok := protocol.DecodePublishBatch([]byte(body), nil)
	if !ok {
		return
	}
	var want batchBody
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("plain decoder accepts batch %q, general decoder refuses it: %v", body, err)
	}
	if len(items) != len(want.Batch) {
		t.Fatalf("batch %q: plain %d items, general %d", body, len(items), len(want.Batch))
	}
	for i := range items {
		var got eventBody
		got.fromPlain(&items[i])
		compareBodies(t, body, &got, &want.Batch[i])
	}
}

// compareBodies compares what validation reads of two decoded events.
func compareBodies(t *testing.T, body string, got, want *eventBody) {
	t.Helper()
	var gotData any
	if got.plain {
		gotData = got.plainData
	}
	if !reflect.DeepEqual(gotData, want.Data) {
		t.Fatalf("%q: data plain %#v, general %#v", body, gotData, want.Data)
	}
	got.plainData, got.plain = "", false
	want.Data = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nplain   %#v\ngeneral %#v", body, got, want)
	}
}

// TestPlainDecoderAgreesWithGeneral: every body the plain decoder takes
// decodes the same with the general one, and the forms it must leave to
// the general decoder (V2 members, other case, duplicates, null, other
// types, lone surrogates, invalid UTF-8, trailing bytes) are left to it.
func TestPlainDecoderAgreesWithGeneral(t *testing.T) {
	for _, body := range plainSeeds {
		checkPlainAgrees(t, body)
	}
	var p protocol.PublishEvent
	for _, body := range []string{plainSeeds[0], plainSeeds[1], plainSeeds[2], plainSeeds[3]} {
		if !protocol.DecodePublishEvent([]byte(body), &p) {
			t.Errorf("plain decoder refuses %q", body)
		}
	}
	for _, body := range plainSeeds[4:15] {
		if protocol.DecodePublishEvent([]byte(body), &p) {
			t.Errorf("plain decoder takes %q, which it must leave to the general decoder", body)
		}
	}
	if items, ok := protocol.DecodePublishBatch([]byte(plainSeeds[16]), nil); !ok || len(items) != 2 || items[1].SocketID != "1.2" {
		t.Errorf("plain batch decoder: %v %+v", ok, items)
	}
	for _, body := range plainSeeds[18:20] {
		if _, ok := protocol.DecodePublishBatch([]byte(body), nil); ok {
			t.Errorf("plain batch decoder takes %q", body)
		}
	}
}

// FuzzPlainPublishDecoder: on any input, the plain decoder either leaves
// the body to the general decoder or reads it exactly as that does.
func FuzzPlainPublishDecoder(f *testing.F) {
	for _, s := range plainSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkPlainAgrees(t, body)
	})
}

// TestPlainDecoderLongStrings: strings read eight bytes at a time stop at
// a quote, backslash, control or non-ASCII byte wherever it falls.
func TestPlainDecoderLongStrings(t *testing.T) {
	var p protocol.PublishEvent
	for _, tc := range []struct {
		body, data string
		ok         bool
	}{
		{plainSeeds[len(plainSeeds)-4], "0123456\"89abcdef\\0123456789abcdé0123456789abcdé", true},
		{plainSeeds[len(plainSeeds)-3], "", false},
		{plainSeeds[len(plainSeeds)-2], "01234567\x7fé" + "ABCDEFGH~~~~~~~~", true},
		{plainSeeds[len(plainSeeds)-1], "", false},
	} {
		ok := protocol.DecodePublishEvent([]byte(tc.body), &p)
		if ok != tc.ok || ok && p.Data != tc.data {
			t.Errorf("%q: ok %v data %q, want %v %q", tc.body, ok, p.Data, tc.ok, tc.data)
		}
		checkPlainAgrees(t, tc.body)
	}
}
