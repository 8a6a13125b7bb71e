package jmes

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
)

// BenchmarkExpression: "shared" is the steady state of a publish to many
// expression subscribers (the document is built once per message);
// "perMessage" includes building the document, paid once per publish.
func BenchmarkExpression(b *testing.B) {
	p := compileFilter(b, "data.total >= `100` && headers.tenant == 'acme'")
	shared := order(`{"total":125,"items":[1,2,3],"note":"x"}`)
	if !p.Match(shared) {
		b.Fatal("no match")
	}
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Match(shared)
		}
	})
	b.Run("perMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Match(order(`{"total":125,"items":[1,2,3],"note":"x"}`))
		}
	})
}

var _ = filter.MaxDocumentBytes
