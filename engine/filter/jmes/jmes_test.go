package jmes

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
)

func cfg() filter.Config {
	c := filter.DefaultConfig()
	c.TagFiltering = true
	c.Expressions = Compiler{}
	return c
}

func compileFilter(t testing.TB, source string) *filter.Predicate {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"expression": source})
	p, err := filter.Parse(raw, nil, cfg())
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	return p
}

// order is a V2 frame as the engine would describe it to the filter.
func order(data string) *filter.Message {
	return &filter.Message{
		Event: "order.updated", Channel: "orders", Data: []byte(data),
		Tags:      map[string]string{"region": "eu"},
		MessageID: "m-1", StreamID: "s-1", Serial: 42, HasSerial: true,
		Extras: []byte(`{"headers":{"tenant":"acme","priority":3,"sockudo_internal":"x"},"idempotencyKey":"k1","ephemeral":false}`),
	}
}

// TestDocumentShape is the §7.2 input document: every documented key,
// absent ones null, sockudo_ headers, extras and idempotencyKey hidden.
func TestDocumentShape(t *testing.T) {
	doc, ok := order(`{"total":125}`).Document()
	if !ok {
		t.Fatal("document not built")
	}
	got, _ := json.Marshal(doc)
	want := `{"action":null,"channel":"orders","data":{"total":125},"event":"order.updated",` +
		`"headers":{"priority":3,"tenant":"acme"},"messageId":"m-1","name":null,"serial":42,` +
		`"streamId":"s-1","tags":{"region":"eu"},"userId":null}`
	if string(got) != want {
		t.Fatalf("document\n got %s\nwant %s", got, want)
	}
	empty, ok := (&filter.Message{}).Document()
	got, _ = json.Marshal(empty)
	if !ok || string(got) != `{"action":null,"channel":null,"data":null,"event":null,"headers":null,"messageId":null,"name":null,"serial":null,"streamId":null,"tags":null,"userId":null}` {
		t.Fatalf("empty message document %s (ok %v)", got, ok)
	}
}

// TestExpressions evaluates over the documented document, including the
// code-read trap: HTTP publishes carry data as a JSON string, so
// data.total is null and the filter is false; object data works.
func TestExpressions(t *testing.T) {
	cases := []struct {
		expr, data string
		want       bool
	}{
		{"data.total >= `100`", `{"total":125}`, true},
		{"data.total >= `100`", `{"total":99}`, false},
		{"data.total >= `100`", `"{\"total\":125}"`, false}, // HTTP publish: data is a string
		{"data == '{\"total\":125}'", `"{\"total\":125}"`, true},
		{"event == 'order.updated' && channel == 'orders'", `1`, true},
		{"tags.region == 'eu'", `1`, true},
		{"headers.tenant == 'acme' && headers.priority > `2`", `1`, true},
		{"headers.sockudo_internal", `1`, false},
		{"extras", `1`, false},
		{"idempotencyKey", `1`, false},
		{"serial == `42` && messageId == 'm-1' && streamId == 's-1'", `1`, true},
		{"name || userId || action", `1`, false},
		{"data.items[?price > `10`] | length(@) == `2`", `{"items":[{"price":5},{"price":11},{"price":12}]}`, true},
		{"data.tags", `{"tags":[]}`, false}, // empty array is falsy
		{"data.n", `{"n":0}`, true},         // numbers are truthy
		{"contains(data.list, 'x')", `{"list":["a","x"]}`, true},
		{"abs(data.s)", `{"s":"text"}`, false}, // evaluation error fails closed
		{"data.total", `{"total":`, false},     // malformed data fails closed
	}
	for _, c := range cases {
		p := compileFilter(t, c.expr)
		if got := p.Match(order(c.data)); got != c.want {
			t.Errorf("%s over %s: got %v want %v", c.expr, c.data, got, c.want)
		}
	}
}

// TestExpressionObjectForm: {"language":"jmespath","source":…} and the
// language defaulting to jmespath.
func TestExpressionObjectForm(t *testing.T) {
	for _, f := range []string{
		`{"expression":{"language":"jmespath","source":"data.total > ` + "`1`" + `"}}`,
		`{"expression":{"source":"data.total > ` + "`1`" + `"}}`,
	} {
		p, err := filter.Parse([]byte(f), nil, cfg())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !p.Match(order(`{"total":2}`)) || p.Match(order(`{"total":0}`)) {
			t.Fatalf("%s: wrong result", f)
		}
		if p.Expression() == "" {
			t.Fatal("expression source not kept")
		}
	}
}

// TestExpressionErrors: limits and syntax, with Sockudo's texts, and the
// community-only language refused.
func TestExpressionErrors(t *testing.T) {
	const pre = "Invalid message format: Invalid subscription filter: "
	deep := strings.Repeat("!", 40) + "a"
	wide := "[" + strings.TrimSuffix(strings.Repeat("a,", 300), ",") + "]"
	cases := []struct{ src, want string }{
		{deep, "JMESPath expression exceeds the AST depth limit of 32"},
		{wide, "JMESPath expression exceeds the AST node limit of 256"},
		{"a + b", "invalid JMESPath expression: arithmetic is not standard JMESPath"},
		{"$.a", "invalid JMESPath expression: the root node $ is not standard JMESPath"},
		{"let $x = a in $x", "invalid JMESPath expression: let expressions and variables are not standard JMESPath"},
		{"upper(a)", "invalid JMESPath expression: unknown function: upper()"},
		{"nosuch(a)", "invalid JMESPath expression: unknown function: nosuch()"},
	}
	for _, c := range cases {
		raw, _ := json.Marshal(map[string]any{"expression": c.src})
		_, err := filter.Parse(raw, nil, cfg())
		if err == nil || err.Error() != pre+c.want {
			t.Errorf("%.40s: got %v, want %q", c.src, err, pre+c.want)
		}
	}
	for _, src := range []string{"a.[", "data.total >=", "`{`", "a[?"} {
		raw, _ := json.Marshal(map[string]any{"expression": src})
		_, err := filter.Parse(raw, nil, cfg())
		if err == nil || !strings.HasPrefix(err.Error(), pre+"invalid JMESPath expression: ") {
			t.Errorf("%s: got %v, want a syntax error", src, err)
		}
	}
	// a.b.c is five AST nodes, as in Sockudo's test
	c := cfg()
	c.Limits.MaxExpressionNodes = 2
	if _, err := filter.Parse([]byte(`{"expression":"a.b.c"}`), nil, c); err == nil ||
		err.Error() != pre+"JMESPath expression exceeds the AST node limit of 2" {
		t.Errorf("node limit: %v", err)
	}
	c.Limits.MaxExpressionNodes = 5
	if _, err := filter.Parse([]byte(`{"expression":"a.b.c"}`), nil, c); err != nil {
		t.Errorf("a.b.c within 5 nodes: %v", err)
	}
}

// TestDocumentLimit: a message whose document is over 64 KiB fails every
// expression closed, while event and tag parts still decide alone.
func TestDocumentLimit(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", filter.MaxDocumentBytes) + `","total":500}`
	p := compileFilter(t, "data.total > `1`")
	if p.Match(order(big)) {
		t.Fatal("over-limit document must fail closed")
	}
	if _, ok := order(big).Document(); ok {
		t.Fatal("over-limit document reported ok")
	}
	justUnder := `{"pad":"` + strings.Repeat("x", filter.MaxDocumentBytes-400) + `","total":500}`
	if !p.Match(order(justUnder)) {
		t.Fatal("a document under the limit must evaluate")
	}
	// pretty-printed data is measured compact
	spaced := `{"total":500,` + strings.Repeat(" ", 2*filter.MaxDocumentBytes) + `"x":1}`
	if !p.Match(order(spaced)) {
		t.Fatal("whitespace in data must not count")
	}
	tagOnly, err := filter.Parse([]byte(`{"key":"region","cmp":"eq","val":"eu"}`), nil, cfg())
	if err != nil || !tagOnly.Match(order(big)) {
		t.Fatal("a tag filter ignores the document limit")
	}
	// headers count toward the document too
	m := order(`1`)
	m.Extras = []byte(`{"headers":{"h":"` + strings.Repeat("y", filter.MaxDocumentBytes) + `"}}`)
	if p2 := compileFilter(t, "event"); p2.Match(m) {
		t.Fatal("huge headers must fail closed")
	}
}

// TestDocumentBuiltOnceShared: one publish's document is built once and
// shared by every subscriber and every worker evaluating it.
func TestDocumentBuiltOnceShared(t *testing.T) {
	m := order(`{"total":125}`)
	p := compileFilter(t, "data.total > `100`")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if !p.Match(m) {
					t.Error("match failed")
					return
				}
			}
		}()
	}
	wg.Wait()
	a, _ := m.Document()
	b, _ := m.Document()
	if a.(map[string]any)["data"] == nil {
		t.Fatal("no document")
	}
	am, bm := a.(map[string]any), b.(map[string]any)
	am["probe"] = 1
	if bm["probe"] != 1 {
		t.Fatal("Document must return the one shared document")
	}
}

// TestCompilerDirect: the port's contract for engine wiring.
func TestCompilerDirect(t *testing.T) {
	e, err := Compiler{}.CompileExpr("a == `1`", 256, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Match(map[string]any{"a": 1.0}) || e.Match(map[string]any{"a": 2.0}) || e.Match(nil) {
		t.Fatal("wrong result")
	}
}

// TestSharedDocumentNotModified: the library's sort_by sorts in place; one
// subscriber's expression must not reorder the document the next one
// reads (nor race with another worker).
func TestSharedDocumentNotModified(t *testing.T) {
	m := order(`{"items":[{"p":3},{"p":1},{"p":2}]}`)
	sorter := compileFilter(t, "sort_by(data.items, &p)[0].p == `1`")
	first := compileFilter(t, "data.items[0].p == `3`")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if !sorter.Match(m) || !first.Match(m) {
					t.Error("wrong result on the shared document")
					return
				}
			}
		}()
	}
	wg.Wait()
	doc, _ := m.Document()
	got, _ := json.Marshal(doc.(map[string]any)["data"])
	if string(got) != `{"items":[{"p":3},{"p":1},{"p":2}]}` {
		t.Fatalf("document modified: %s", got)
	}
}
