package filter

import "testing"

// Publish cost through the index: one matching subscriber out of 10,000
// against all 10,000 matching, and the 100 regions. Compare
// "match=1of10000" with "scan=1of10000", which is Sockudo's approach
// (every subscriber's filter evaluated per message).
func BenchmarkIndexPublish(b *testing.B) {
	deliver := func(int) {}
	m := &Message{Event: "tick", Tags: map[string]string{"region": "r5", "sym": "BTC"}}

	b.Run("match=1of10000", func(b *testing.B) {
		x := regionIndex(b, 10000, 10000)
		benchMatch(b, x, m, deliver, 1+regionExtras)
	})
	b.Run("match=100of10000", func(b *testing.B) {
		x := regionIndex(b, 10000, 100)
		benchMatch(b, x, m, deliver, 100+regionExtras)
	})
	b.Run("match=10000of10000", func(b *testing.B) {
		x := regionIndex(b, 10000, 1)
		benchMatch(b, x, &Message{Event: "tick", Tags: map[string]string{"region": "r0"}}, deliver, 10000+regionExtras)
	})
	// filters the index cannot file by value: 10,000 subscribers sharing
	// 10 distinct `not in` filters cost 10 evaluations, not 10,000
	b.Run("grouped=10filters/10000subs", func(b *testing.B) {
		x := NewIndex[int]()
		for s := range 10000 {
			p, _ := Parse([]byte(`{"key":"region","cmp":"nin","vals":["r`+itoa(s%10)+`","x"]}`), nil, onCfg())
			x.Add(s, p)
		}
		benchMatch(b, x, m, deliver, 9000)
	})
	b.Run("scan=1of10000", func(b *testing.B) {
		preds := make([]*Predicate, 10000)
		for i := range preds {
			preds[i], _ = Parse([]byte(`{"key":"region","cmp":"eq","val":"r`+itoa(i)+`"}`), nil, onCfg())
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			for s, p := range preds {
				if p.Match(m) {
					deliver(s)
				}
			}
		}
	})
}

func benchMatch(b *testing.B, x *Index[int], m *Message, deliver func(int), want int) {
	n := 0
	x.Match(m, func(int) { n++ })
	if n != want {
		b.Fatalf("matched %d, want %d", n, want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x.Match(m, deliver)
	}
}

// Evaluation of one compiled predicate.
func BenchmarkPredicate(b *testing.B) {
	m := &Message{Event: "trade", Tags: map[string]string{"region": "eu", "price": "150.25", "sym": "BTCUSD", "venue": "a"}}
	for _, c := range []struct{ name, filter string }{
		{"eq", `{"key":"region","cmp":"eq","val":"eu"}`},
		{"in8", `{"key":"region","cmp":"in","vals":["a","b","c","d","e","f","g","eu"]}`},
		{"gte", `{"key":"price","cmp":"gte","val":"100"}`},
		{"events", `{"events":["quote","trade","book"]}`},
		{"tree8", `{"events":["trade"],"tags":{"op":"and","nodes":[
			{"key":"region","cmp":"in","vals":["eu","us"]},{"op":"not","nodes":[{"key":"muted","cmp":"ex"}]},
			{"op":"or","nodes":[{"key":"price","cmp":"gte","val":"100"},{"key":"price","cmp":"lt","val":"1"}]},
			{"key":"sym","cmp":"sw","val":"BT"},{"key":"venue","cmp":"nin","vals":["x","y"]}]}}`},
	} {
		p, err := Parse([]byte(c.filter), nil, onCfg())
		if err != nil {
			b.Fatal(err)
		}
		if !p.Match(m) {
			b.Fatalf("%s does not match", c.name)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Match(m)
			}
		})
	}
}

// BenchmarkParse is the subscribe-time cost.
func BenchmarkParse(b *testing.B) {
	raw := []byte(`{"events":["trade"],"tags":{"op":"and","nodes":[{"key":"region","cmp":"in","vals":["eu","us"]},{"key":"price","cmp":"gte","val":"100"}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw, nil, onCfg()); err != nil {
			b.Fatal(err)
		}
	}
}

// regionExtras is how many of regionIndex's extra subscribers match a
// "tick" message without a "halted" tag.
const regionExtras = 3

// regionIndex registers subs subscribers filtering `region eq rN` over
// regions values, plus a few event-filtered and scanned ones.
func regionIndex(t testing.TB, subs, regions int) *Index[int] {
	cfg := onCfg()
	preds := make([]*Predicate, regions)
	for i := range preds {
		p, err := Parse([]byte(`{"key":"region","cmp":"eq","val":"r`+itoa(i)+`"}`), nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		preds[i] = p
	}
	x := NewIndex[int]()
	for s := range subs {
		x.Add(s, preds[s%regions])
	}
	ev, _ := Parse([]byte(`{"events":["tick"]}`), nil, cfg)
	nx, _ := Parse([]byte(`{"key":"halted","cmp":"nex"}`), nil, cfg)
	x.Add(-1, ev)
	x.Add(-2, nx)
	x.Add(-3, nil)
	return x
}
