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
	}
	if len(x.byTag) != 7 || len(x.byEvent) != 1000 {
		t.Fatalf("byTag %d byEvent %d", len(x.byTag), len(x.byEvent))
	}
	for i := range 1000 {
		x.Remove(i)
		x.Add(i+5000, nil) // replacing moves it out of its bucket
	}
	if len(x.byTag) != 0 || len(x.byEvent) != 0 || len(x.scan.regs) != 0 || len(x.always.regs) != 1000 {
		t.Fatalf("left behind: byTag %d byEvent %d scan %d always %d",
			len(x.byTag), len(x.byEvent), len(x.scan.regs), len(x.always.regs))
	}
}
