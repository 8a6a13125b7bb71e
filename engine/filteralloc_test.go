//go:build !race

package engine

import (
	"strconv"
	"testing"
)

// TestFilteredFanoutAllocatesNothingPerSubscriber: a publish to a channel
// of filtered V2 subscribers costs a fixed number of allocations (the
// message's view: tags decoded once per publish) whatever the number of
// subscribers, matching or not, on the indexed path (eq) and on the
// evaluated one (numeric, prefix, negation): filter evaluation and the
// deliveries allocate nothing.
func TestFilteredFanoutAllocatesNothingPerSubscriber(t *testing.T) {
	perPublish := func(n int, filterOf func(i int) string, matches func(i int) bool) float64 {
		filters := make([]string, n)
		var want []int
		for i := range filters {
			filters[i] = filterOf(i)
			if matches(i) {
				want = append(want, i)
			}
		}
		r := newFilterRig(t, filters)
		ev := taggedEvent("r0")
		ev.V2.Tags = []byte(`{"price":"7","region":"r0"}`)
		for range 20 {
			r.publish(ev, want)
		}
		return testing.AllocsPerRun(200, func() { r.publish(ev, want) })
	}
	indexed := func(i int) string { return regionFilter("r" + strconv.Itoa(i%10)) }
	evaluated := func(i int) string {
		switch i % 3 {
		case 0:
			return `"tags_filter":{"key":"price","cmp":"gt","val":"` + strconv.Itoa(i%20) + `"}`
		case 1:
			return `"tags_filter":{"key":"region","cmp":"sw","val":"r` + strconv.Itoa(i%7) + `"}`
		}
		return `"tags_filter":{"op":"not","nodes":[{"key":"region","cmp":"eq","val":"r` + strconv.Itoa(i%5) + `"}]}`
	}
	evalMatch := func(i int) bool {
		switch i % 3 {
		case 0:
			return 7 > i%20
		case 1:
			return i%7 == 0
		}
		return i%5 != 0
	}
	for _, c := range []struct {
		name    string
		filter  func(int) string
		matches func(int) bool
	}{
		{"indexed eq", indexed, func(i int) bool { return i%10 == 0 }},
		{"evaluated", evaluated, evalMatch},
	} {
		few, many := perPublish(30, c.filter, c.matches), perPublish(3000, c.filter, c.matches)
		t.Logf("%s: %.1f allocations per publish with 30 subscribers, %.1f with 3,000", c.name, few, many)
		if many > few+0.5 || many > 8 {
			t.Fatalf("%s: allocations per publish %.1f with 30 filtered subscribers, %.1f with 3,000: want none per subscriber and a few per publish", c.name, few, many)
		}
	}
}
