package filter

import "testing"

// TestIndexForgetsEmptyBuckets: churn over many distinct values must not
// leave empty buckets behind.
func TestIndexForgetsEmptyBuckets(t *testing.T) {
	x := NewIndex[int]()
	for i := range 1000 {
		p, err := Parse([]byte(`{"events":["e`+itoa(i)+`"],"tags":{"key":"k`+itoa(i%7)+`","cmp":"in","vals":["a`+itoa(i)+`","b"]}}`), nil, onCfg())
		if err != nil {
			t.Fatal(err)
		}
		x.Add(i, p)
		q, _ := Parse([]byte(`{"events":["e`+itoa(i)+`"]}`), nil, onCfg())
		x.Add(i+5000, q)
		g, _ := Parse([]byte(`{"key":"k","cmp":"neq","val":"`+itoa(i%10)+`"}`), nil, onCfg())
		x.Add(i+9000, g)
	}
	if len(x.byTag) != 7 || len(x.byEvent) != 1000 || len(x.groups) != 10 || len(x.byKey) != 10 {
		t.Fatalf("byTag %d byEvent %d groups %d", len(x.byTag), len(x.byEvent), len(x.groups))
	}
	for i := range 1000 {
		x.Remove(i)
		x.Add(i+5000, nil) // replacing moves it out of its bucket
		x.Remove(i + 9000)
	}
	if len(x.byTag) != 0 || len(x.byEvent) != 0 || len(x.groups) != 0 || len(x.byKey) != 0 || len(x.always.regs) != 1000 {
		t.Fatalf("left behind: byTag %d byEvent %d groups %d always %d",
			len(x.byTag), len(x.byEvent), len(x.groups), len(x.always.regs))
	}
}

// TestPredicateKey: equal filters, however spelled, share a key; any
// difference gives another.
func TestPredicateKey(t *testing.T) {
	key := func(f string) string {
		p, err := Parse([]byte(f), nil, onCfg())
		if err != nil {
			t.Fatal(err)
		}
		return p.Key()
	}
	same := [][2]string{
		{`{"key":"k","cmp":"in","vals":["b","a","a"]}`, `{"cmp":"in","key":"k","vals":["a","b"]}`},
		{`{"events":["x","y"]}`, `{"events":["y","x","x"]}`},
		{`{"key":"k","cmp":"eq","val":5}`, `{"key":"k","cmp":"eq","val":"5"}`},
	}
	for _, c := range same {
		if key(c[0]) != key(c[1]) {
			t.Errorf("%s and %s: keys differ", c[0], c[1])
		}
	}
	diff := []string{
		`{"key":"k","cmp":"eq","val":"ab"}`, `{"key":"ka","cmp":"eq","val":"b"}`, `{"key":"k","cmp":"neq","val":"ab"}`,
		`{"key":"k","cmp":"in","vals":["ab"]}`, `{"key":"k","cmp":"in","vals":["a","b"]}`,
		`{"op":"not","nodes":[{"key":"k","cmp":"eq","val":"ab"}]}`, `{"events":["ab"]}`, `{"events":["a","b"]}`,
		`{"events":["ab"],"tags":{"key":"k","cmp":"ex"}}`,
	}
	seen := map[string]string{}
	for _, f := range diff {
		k := key(f)
		if prev, ok := seen[k]; ok {
			t.Errorf("%s and %s share key %q", prev, f, k)
		}
		seen[k] = f
	}
}
