//go:build !race

package delta

import "testing"

// TestForNoAllocs: once a publication's delta is encoded, serving every
// further subscriber that holds the same base allocates nothing, with or
// without conflation keys.
func TestForNoAllocs(t *testing.T) {
	for _, path := range []string{"", "symbol"} {
		o := testOptions()
		o.ConflationKeyPath = path
		ch := NewChannel("c", o)
		tk := newTicker(1, "X")
		subs := make([]Sub, 600)
		for round := 0; round < 2; round++ {
			p := ch.Publish(Message{Event: "e", Frame: v2Frame("e", "c", tk.next(), "")}, t0)
			for i := range subs[:1] {
				p.For(&subs[i], Fossil)
			}
			if round == 0 {
				for i := range subs {
					p.For(&subs[i], Fossil)
				}
				continue
			}
			i := 1
			if n := testing.AllocsPerRun(500, func() { p.For(&subs[i], Fossil); i++ }); n != 0 {
				t.Fatalf("key path %q: For allocates %.1f per subscriber", path, n)
			}
		}
	}
}
