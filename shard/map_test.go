package shard

import (
	"sync"
	"testing"
)

func TestMapUpdateLoadDelete(t *testing.T) {
	m := NewMap[string, int](3)
	if len(m.shards) != 4 {
		t.Fatalf("shards = %d, want 4 (rounded to a power of two)", len(m.shards))
	}
	inc := func(k string) {
		m.Update(k, func(v int, _ bool) (int, bool) { return v + 1, true })
	}
	dec := func(k string) {
		m.Update(k, func(v int, _ bool) (int, bool) { return v - 1, v-1 > 0 })
	}
	inc("a")
	inc("a")
	inc("b")
	if v, ok := m.Load("a"); !ok || v != 2 {
		t.Fatalf("a = %d %v, want 2 true", v, ok)
	}
	dec("a")
	dec("a")
	if _, ok := m.Load("a"); ok {
		t.Fatal("a still present after reaching zero")
	}
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
	seen := 0
	m.Range(func(k string, v int) bool { seen++; return true })
	if seen != 1 {
		t.Fatalf("Range saw %d entries, want 1", seen)
	}
	if m.View("zz", func(int) { t.Fatal("View called fn for an absent key") }) {
		t.Fatal("View reported an absent key as present")
	}
}

func TestMapConcurrentCounts(t *testing.T) {
	m := NewMap[int, int](8)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				m.Update(i%10, func(v int, _ bool) (int, bool) { return v + 1, true })
			}
		}()
	}
	wg.Wait()
	total := 0
	m.Range(func(_ int, v int) bool { total += v; return true })
	if total != 8000 {
		t.Fatalf("total = %d, want 8000", total)
	}
}

func TestRangeStopsEarly(t *testing.T) {
	m := NewMap[int, int](4)
	for i := 0; i < 100; i++ {
		m.Update(i, func(int, bool) (int, bool) { return i, true })
	}
	n := 0
	m.Range(func(int, int) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Range continued after false: %d calls", n)
	}
}
