package filter_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/engine/filter/jmes"
)

func propCfg() filter.Config {
	c := filter.DefaultConfig()
	c.TagFiltering = true
	c.Expressions = jmes.Compiler{}
	return c
}

var (
	keys   = []string{"a", "b", "c"}
	values = []string{"1", "2", "10", "x", "-1.5"}
	events = []string{"e1", "e2", "e3"}
	exprs  = []string{"tags.a == '1'", "data.n > `1`", "event == 'e2'", "headers.h == 'y'"}
	cmps   = []string{"eq", "neq", "in", "nin", "ex", "nex", "sw", "ew", "ct", "gt", "gte", "lt", "lte"}
)

// randTree builds a random valid tag tree, biased towards the eq/in leaves
// and and/or shapes the index files by value.
func randTree(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) == 0 {
		switch r.IntN(3) {
		case 0:
			return `{"op":"not","nodes":[` + randTree(r, depth-1) + `]}`
		default:
			op := []string{"and", "or"}[r.IntN(2)]
			n := 1 + r.IntN(3)
			kids := make([]string, n)
			for i := range kids {
				kids[i] = randTree(r, depth-1)
			}
			return `{"op":"` + op + `","nodes":[` + strings.Join(kids, ",") + `]}`
		}
	}
	key := keys[r.IntN(len(keys))]
	cmp := cmps[r.IntN(len(cmps))]
	if r.IntN(2) == 0 {
		cmp = []string{"eq", "in"}[r.IntN(2)]
	}
	switch cmp {
	case "in", "nin":
		n := 1 + r.IntN(3)
		vs := make([]string, n)
		for i := range vs {
			vs[i] = `"` + values[r.IntN(len(values))] + `"`
		}
		return fmt.Sprintf(`{"key":%q,"cmp":%q,"vals":[%s]}`, key, cmp, strings.Join(vs, ","))
	case "ex", "nex":
		return fmt.Sprintf(`{"key":%q,"cmp":%q}`, key, cmp)
	}
	return fmt.Sprintf(`{"key":%q,"cmp":%q,"val":%q}`, key, cmp, values[r.IntN(len(values))])
}

func randPredicate(t *testing.T, r *rand.Rand) *filter.Predicate {
	var f string
	switch r.IntN(8) {
	case 0:
		return nil
	case 1:
		f = randTree(r, 3) // bare tree
	default:
		var parts []string
		if r.IntN(2) == 0 {
			n := 1 + r.IntN(2)
			ev := make([]string, n)
			for i := range ev {
				ev[i] = `"` + events[r.IntN(len(events))] + `"`
			}
			parts = append(parts, `"events":[`+strings.Join(ev, ",")+`]`)
		}
		if r.IntN(3) > 0 {
			parts = append(parts, `"tags":`+randTree(r, 3))
		}
		if r.IntN(5) == 0 {
			s, _ := json.Marshal(exprs[r.IntN(len(exprs))])
			parts = append(parts, `"expression":`+string(s))
		}
		if len(parts) == 0 {
			parts = append(parts, `"events":["e1"]`)
		}
		f = "{" + strings.Join(parts, ",") + "}"
	}
	p, err := filter.Parse([]byte(f), nil, propCfg())
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return p
}

func randMessage(r *rand.Rand) *filter.Message {
	m := &filter.Message{Channel: "ch", Data: []byte(fmt.Sprintf(`{"n":%d}`, r.IntN(3)))}
	if r.IntN(6) > 0 {
		m.Event = events[r.IntN(len(events))]
	}
	if r.IntN(6) > 0 {
		m.Tags = map[string]string{}
		for _, k := range keys {
			if r.IntN(3) > 0 {
				m.Tags[k] = values[r.IntN(len(values))]
			}
		}
	}
	if r.IntN(2) == 0 {
		m.Extras = []byte(`{"headers":{"h":"y"}}`)
	}
	return m
}

// TestIndexMatchesBruteForce is the property that makes the index safe:
// for random predicates, registrations, removals and messages, Match
// delivers exactly the subscribers whose predicate accepts the message,
// each once.
func TestIndexMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		x := filter.NewIndex[int]()
		preds := map[int]*filter.Predicate{}
		for op := range 400 {
			sub := r.IntN(150)
			if r.IntN(4) == 0 {
				x.Remove(sub)
				delete(preds, sub)
			} else {
				p := randPredicate(t, r)
				x.Add(sub, p)
				preds[sub] = p
			}
			if x.Len() != len(preds) {
				t.Fatalf("round %d op %d: Len %d want %d", round, op, x.Len(), len(preds))
			}
			if op%20 != 19 {
				continue
			}
			for range 10 {
				m := randMessage(r)
				got := map[int]int{}
				x.Match(m, func(s int) { got[s]++ })
				for s, n := range got {
					if n != 1 {
						t.Fatalf("subscriber %d delivered %d times", s, n)
					}
				}
				for s, p := range preds {
					if want := p.Match(m); want != (got[s] == 1) {
						t.Fatalf("round %d: subscriber %d: index says %v, predicate says %v (msg %+v)",
							round, s, got[s] == 1, want, describe(m))
					}
				}
				for s := range got {
					if _, ok := preds[s]; !ok {
						t.Fatalf("removed subscriber %d delivered", s)
					}
				}
			}
		}
	}
}

// TestIndexFilesByValue: the common shapes land in a bucket, not in the
// list every publish walks.
func TestIndexFilesByValue(t *testing.T) {
	cfg := propCfg()
	indexed := []string{
		`{"key":"region","cmp":"eq","val":"eu"}`,
		`{"key":"region","cmp":"in","vals":["eu","us"]}`,
		`{"op":"and","nodes":[{"key":"kind","cmp":"ex"},{"key":"region","cmp":"eq","val":"eu"}]}`,
		`{"op":"or","nodes":[{"key":"region","cmp":"eq","val":"eu"},{"key":"region","cmp":"in","vals":["us"]}]}`,
		`{"events":["a"],"expression":"data.x"}`,
		`{"events":["a"],"tags":{"key":"k","cmp":"neq","val":"1"}}`,
	}
	scanned := []string{
		`{"key":"region","cmp":"neq","val":"eu"}`,
		`{"op":"or","nodes":[{"key":"region","cmp":"eq","val":"eu"},{"key":"zone","cmp":"eq","val":"1"}]}`,
		`{"expression":"data.x"}`,
	}
	x := filter.NewIndex[int]()
	for i, f := range append(indexed, scanned...) {
		p, err := filter.Parse([]byte(f), nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		x.Add(i, p)
	}
	x.Add(100, nil)
	if x.Indexed() != len(indexed) {
		t.Fatalf("Indexed %d, want %d", x.Indexed(), len(indexed))
	}
	for i := range len(indexed) + len(scanned) {
		x.Remove(i)
	}
	if x.Indexed() != 0 || x.Len() != 1 {
		t.Fatalf("after removal: Indexed %d Len %d", x.Indexed(), x.Len())
	}
}

func describe(m *filter.Message) string {
	return fmt.Sprintf("event %q tags %v data %s extras %s", m.Event, m.Tags, m.Data, m.Extras)
}
