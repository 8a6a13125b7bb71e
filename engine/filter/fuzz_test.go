package filter_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
)

// FuzzParse: any bytes as `filter` and `tags_filter` either compile or are
// refused with a 4000 *Error carrying Sockudo's prefix; a compiled
// predicate evaluates without panicking and the index agrees with it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"key":"region","cmp":"eq","val":"eu"}`,
		`{"events":["a","b"],"tags":{"op":"or","nodes":[{"key":"p","cmp":"gt","val":1.5},{"key":"r","cmp":"in","vals":["x",2,true]}]}}`,
		`{"op":"not","nodes":[{"key":"k","cmp":"nex"}]}`,
		`{"expression":"data.total >= ` + "`100`" + `"}`,
		`{"expression":{"language":"jmespath","source":"tags.a"}}`,
		`{"events":null}`, `[]`, `null`, `"x"`, `{"tags":{}}`, `{"op":"and","key":"k","nodes":[]}`,
	} {
		f.Add([]byte(s), []byte(nil))
	}
	f.Add([]byte(nil), []byte(`{"key":"k","cmp":"sw","val":"a"}`))
	msgs := []*filter.Message{
		{Event: "a", Tags: map[string]string{"region": "eu", "p": "2", "r": "x", "k": "abc"}, Data: []byte(`{"total":150}`)},
		{Event: "b"},
		{},
	}
	f.Fuzz(func(t *testing.T, fl, tf []byte) {
		p, err := filter.Parse(fl, tf, propCfg())
		if err != nil {
			var fe *filter.Error
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "Invalid message format: ") {
				t.Fatalf("error %T %q is not a filter.Error", err, err)
			}
			return
		}
		x := filter.NewIndex[int]()
		x.Add(1, p)
		for _, m := range msgs {
			want := p.Match(m)
			got := false
			x.Match(m, func(int) { got = true })
			if got != want {
				t.Fatalf("index %v, predicate %v", got, want)
			}
		}
	})
}

// FuzzDocument: the JMESPath input document never panics, never shows a
// sockudo_ header or anything of extras but headers, and is within the
// byte limit whenever it is reported usable.
func FuzzDocument(f *testing.F) {
	f.Add([]byte(`{"total":125}`), []byte(`{"headers":{"a":"b","sockudo_x":"y"},"idempotencyKey":"k"}`), "eu")
	f.Add([]byte(`"{\"total\":125}"`), []byte(nil), "")
	f.Add([]byte(`[1,2,{"a":null}]`), []byte(`{"headers":null}`), "x")
	f.Add([]byte(`{`), []byte(`{"headers":[1]}`), "")
	f.Fuzz(func(t *testing.T, data, extras []byte, tag string) {
		m := &filter.Message{Event: "e", Channel: "c", Data: data, Extras: extras, Tags: map[string]string{"t": tag}}
		doc, ok := m.Document()
		if !ok {
			return
		}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			t.Fatalf("document does not marshal: %v", err)
		}
		if out.Len() > filter.MaxDocumentBytes+1 { // + the encoder's newline
			t.Fatalf("document of %d bytes accepted", out.Len())
		}
		d := doc.(map[string]any)
		if len(d) != 11 {
			t.Fatalf("document has %d keys", len(d))
		}
		if h, ok := d["headers"].(map[string]any); ok {
			for k := range h {
				if strings.HasPrefix(k, "sockudo_") {
					t.Fatalf("internal header %q visible", k)
				}
			}
		}
		var want any
		if len(strings.TrimSpace(string(data))) > 0 {
			if json.Unmarshal(data, &want) != nil {
				t.Fatal("malformed data accepted")
			}
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(d["data"])
		if string(a) != string(b) {
			t.Fatalf("data %s became %s", a, b)
		}
	})
}
