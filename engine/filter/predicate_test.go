package filter

import "testing"

// countingCompiler stands in for JMESPath to observe when expressions run.
type countingCompiler struct{ calls *int }

func (c countingCompiler) CompileExpr(string, int, int) (Expr, error) { return c, nil }

func (c countingCompiler) Match(doc any) bool {
	*c.calls++
	return doc != nil
}

// TestCheapPartsFirst: events and tags reject before any expression runs
// or any document is built, as in Sockudo's matches_projected.
func TestCheapPartsFirst(t *testing.T) {
	calls := 0
	cfg := onCfg()
	cfg.Expressions = countingCompiler{&calls}
	p, err := Parse([]byte(`{"events":["a"],"tags":{"key":"k","cmp":"ex"},"expression":"x"}`), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wrongEvent := &Message{Event: "b", Tags: map[string]string{"k": "1"}}
	noTag := &Message{Event: "a"}
	if p.Match(wrongEvent) || p.Match(noTag) || calls != 0 || wrongEvent.doc.v != nil || noTag.doc.v != nil {
		t.Fatalf("expression ran (%d calls) or a document was built for a cheap rejection", calls)
	}
	ok := &Message{Event: "a", Tags: map[string]string{"k": "1"}}
	if !p.Match(ok) || calls != 1 {
		t.Fatalf("expression calls %d, want 1", calls)
	}
	bad := &Message{Event: "a", Tags: map[string]string{"k": "1"}, Data: []byte(`{`)}
	if p.Match(bad) || calls != 1 {
		t.Fatalf("a message without a document must fail closed before the expression (calls %d)", calls)
	}
	if p.Expression() != "x" || !p.HasTags() || len(p.Events()) != 1 {
		t.Fatal("accessors")
	}
}
