package hist

import (
	"encoding/json"
	"testing"
)

func TestMergeAcrossJSON(t *testing.T) {
	a, b := New(), New()
	for i := int64(1); i <= 1000; i++ {
		a.Record(i)
	}
	for i := int64(1001); i <= 2000; i++ {
		b.Record(i)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var c H
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Count() != 1000 || c.Max() < 1999 || c.Max() > 2001 {
		t.Fatalf("round trip: count %d max %d", c.Count(), c.Max())
	}
	a.Merge(&c)
	if a.Count() != 2000 {
		t.Fatalf("merged count %d", a.Count())
	}
	if p := a.Quantile(50); p < 995 || p > 1005 {
		t.Fatalf("p50 %d", p)
	}
	if p := a.Quantile(99); p < 1975 || p > 1985 {
		t.Fatalf("p99 %d", p)
	}
}

func TestClamp(t *testing.T) {
	h := New()
	h.Record(-5)
	h.Record(1 << 40)
	if h.Count() != 2 || h.Quantile(0) != 1 {
		t.Fatalf("count %d min %d", h.Count(), h.Quantile(0))
	}
}

func TestBadJSON(t *testing.T) {
	var h H
	if err := json.Unmarshal([]byte(`{"LowestTrackableValue":0,"HighestTrackableValue":1,"SignificantFigures":9,"Counts":[1]}`), &h); err == nil {
		t.Fatal("invalid snapshot accepted")
	}
}
