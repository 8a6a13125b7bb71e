package jmes

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
)

// FuzzExpression: any expression over any message data either is refused
// at compile or evaluates to a bool without panicking (the library runs
// on client input on the publish path).
func FuzzExpression(f *testing.F) {
	f.Add("data.total >= `100`", []byte(`{"total":125}`))
	f.Add("data[?a > `1`] | [0].b", []byte(`[{"a":2,"b":"x"}]`))
	f.Add("sort_by(data, &a)[-1]", []byte(`[{"a":1},{"a":"s"}]`))
	f.Add("length(data) > `2` || headers.h", []byte(`"str"`))
	f.Add("data.a.b.c[::-1]", []byte(`{"a":{"b":{"c":[1,2,3]}}}`))
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		lim := filter.DefaultLimits()
		if len(src) > lim.MaxExpressionBytes {
			return
		}
		e, err := Compiler{}.CompileExpr(src, lim.MaxExpressionNodes, lim.MaxExpressionDepth)
		if err != nil {
			return
		}
		m := &filter.Message{Event: "e", Data: data, Extras: []byte(`{"headers":{"h":"v"}}`)}
		if doc, ok := m.Document(); ok {
			e.Match(doc)
		}
		e.Match(nil)
	})
}
