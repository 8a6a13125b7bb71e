//go:build !race

package filter

import "testing"

// The gates below run in `make gates` (no race detector, which allocates).

func TestNoAllocsTagEvaluation(t *testing.T) {
	p, err := Parse([]byte(`{"events":["trade","quote"],"tags":{"op":"and","nodes":[
		{"key":"region","cmp":"in","vals":["eu","us","ap"]},
		{"op":"not","nodes":[{"key":"muted","cmp":"ex"}]},
		{"op":"or","nodes":[{"key":"price","cmp":"gte","val":"100.5"},{"key":"price","cmp":"lt","val":"-1e3"}]},
		{"key":"sym","cmp":"sw","val":"BT"},{"key":"sym","cmp":"ct","val":"C"},{"key":"sym","cmp":"ew","val":"D"},
		{"key":"venue","cmp":"neq","val":"x"},{"key":"venue","cmp":"nin","vals":["y","z"]}]}}`), nil, onCfg())
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*Message{
		{Event: "trade", Tags: map[string]string{"region": "eu", "price": "150", "sym": "BTCUSD"}},
		{Event: "trade", Tags: map[string]string{"region": "eu", "price": "12abc", "sym": "BTCUSD"}},
		{Event: "trade", Tags: map[string]string{"region": "eu", "price": "0x1p9", "sym": "BTCUSD"}},
		{Event: "quote", Tags: map[string]string{"region": "ap", "price": "nan"}},
		{Event: "other", Tags: map[string]string{"region": "eu"}},
		{Event: "trade"},
	}
	want := []bool{true, false, false, false, false, false}
	for i, m := range msgs {
		if got := p.Match(m); got != want[i] {
			t.Fatalf("message %d: got %v want %v", i, got, want[i])
		}
		if n := testing.AllocsPerRun(500, func() { p.Match(m) }); n != 0 {
			t.Errorf("message %d: %v allocations per evaluation, want 0", i, n)
		}
	}
}

func TestNoAllocsEventEvaluation(t *testing.T) {
	p, err := Parse([]byte(`{"events":["a","b","c","d","e","f"]}`), nil, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"d", "zz", ""} {
		m := &Message{Event: ev}
		if n := testing.AllocsPerRun(500, func() { p.Match(m) }); n != 0 {
			t.Errorf("event %q: %v allocations, want 0", ev, n)
		}
	}
}

func TestNoAllocsIndexMatch(t *testing.T) {
	x := regionIndex(t, 10000, 100)
	for _, m := range []*Message{
		{Event: "tick", Tags: map[string]string{"region": "r7", "other": "1"}},
		{Event: "tick", Tags: map[string]string{"region": "nowhere"}},
		{Event: "tick"},
	} {
		count := 0
		deliver := func(int) { count++ }
		if n := testing.AllocsPerRun(200, func() { x.Match(m, deliver) }); n != 0 {
			t.Errorf("tags %v: %v allocations per publish, want 0", m.Tags, n)
		}
	}
}
