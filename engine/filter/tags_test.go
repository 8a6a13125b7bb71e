package filter

import (
	"math"
	"testing"
)

// TestTagOperatorTruthTable is §7.2's table: every comparison against a
// present matching tag, a present non-matching tag and an absent tag.
func TestTagOperatorTruthTable(t *testing.T) {
	cases := []struct {
		leaf                   string
		tag                    string // value of k when present
		present, other, absent bool
		otherTag               string
	}{
		{`"cmp":"eq","val":"eu"`, "eu", true, false, false, "us"},
		{`"cmp":"neq","val":"eu"`, "us", true, false, true, "eu"},
		{`"cmp":"in","vals":["eu","us"]`, "us", true, false, false, "ap"},
		{`"cmp":"nin","vals":["eu","us"]`, "ap", true, false, true, "eu"},
		{`"cmp":"ex"`, "", true, true, false, "anything"},
		{`"cmp":"nex"`, "", false, false, true, "anything"},
		{`"cmp":"sw","val":"eu-"`, "eu-west", true, false, false, "us-eu-"},
		{`"cmp":"ew","val":"-1"`, "node-1", true, false, false, "node-10"},
		{`"cmp":"ct","val":"es"`, "west", true, false, false, "wets"},
		{`"cmp":"gt","val":"10"`, "10.5", true, false, false, "10"},
		{`"cmp":"gte","val":"10"`, "10", true, false, false, "9.99"},
		{`"cmp":"lt","val":"10"`, "-3", true, false, false, "10"},
		{`"cmp":"lte","val":"10"`, "1e1", true, false, false, "10.0001"},
		// numeric, never lexical: "9" > "10" lexically but not numerically
		{`"cmp":"gt","val":"10"`, "11", true, false, false, "9"},
		// an unparsable side is false for every numeric comparison
		{`"cmp":"lt","val":"10"`, "5", true, false, false, "five"},
		{`"cmp":"gte","val":"abc"`, "zzz", false, false, false, "0"},
		// byte-wise string comparisons
		{`"cmp":"sw","val":"É"`, "Éclair", true, false, false, "éclair"},
	}
	for _, c := range cases {
		p := mustParse(t, `{"key":"k",`+c.leaf+`}`, "", onCfg())
		check := func(what string, tags map[string]string, want bool) {
			if got := p.Match(&Message{Tags: tags}); got != want {
				t.Errorf("{%s} %s %v: got %v want %v", c.leaf, what, tags, got, want)
			}
		}
		check("present", map[string]string{"k": c.tag, "x": "y"}, c.present)
		check("other", map[string]string{"k": c.otherTag}, c.other)
		check("absent", map[string]string{"x": c.tag}, c.absent)
		check("no tags", nil, c.absent)
	}
}

// TestTagLogic covers and/or/not, including nesting and absent tags
// under not.
func TestTagLogic(t *testing.T) {
	tree := `{"op":"or","nodes":[
		{"op":"and","nodes":[{"key":"type","cmp":"eq","val":"goal"},{"key":"xg","cmp":"gte","val":"0.8"}]},
		{"op":"not","nodes":[{"key":"muted","cmp":"ex"}]}]}`
	p := mustParse(t, tree, "", onCfg())
	cases := []struct {
		tags map[string]string
		want bool
	}{
		{map[string]string{"type": "goal", "xg": "0.9", "muted": "1"}, true},
		{map[string]string{"type": "goal", "xg": "0.5", "muted": "1"}, false},
		{map[string]string{"type": "shot", "xg": "0.9", "muted": "1"}, false},
		{map[string]string{"type": "shot"}, true},
		{nil, true},
	}
	for _, c := range cases {
		if got := p.Match(&Message{Tags: c.tags}); got != c.want {
			t.Errorf("%v: got %v want %v", c.tags, got, c.want)
		}
	}
	not := mustParse(t, `{"op":"not","nodes":[{"key":"k","cmp":"eq","val":"a"}]}`, "", onCfg())
	if !not.Match(&Message{}) || not.Match(&Message{Tags: map[string]string{"k": "a"}}) {
		t.Error("not(eq) with the tag absent is true, with it equal false")
	}
}

// TestEventsAndAllParts: the parts of one filter are ANDed; an event
// list matches exact names only and a message without an event fails it.
func TestEventsAndAllParts(t *testing.T) {
	p := mustParse(t, `{"events":["b","a","a"],"tags":{"key":"k","cmp":"eq","val":"1"}}`, "", onCfg())
	if got := p.Events(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("events %v: want sorted, unique", got)
	}
	cases := []struct {
		ev   string
		tags map[string]string
		want bool
	}{
		{"a", map[string]string{"k": "1"}, true},
		{"b", map[string]string{"k": "1"}, true},
		{"c", map[string]string{"k": "1"}, false},
		{"A", map[string]string{"k": "1"}, false},
		{"", map[string]string{"k": "1"}, false},
		{"a", map[string]string{"k": "2"}, false},
	}
	for _, c := range cases {
		if got := p.Match(&Message{Event: c.ev, Tags: c.tags}); got != c.want {
			t.Errorf("event %q tags %v: got %v want %v", c.ev, c.tags, got, c.want)
		}
	}
}

// TestParseF64 is Rust's f64 grammar: what it accepts, Go's ParseFloat
// extras it refuses (hex, underscores, spaces), and range behaviour.
func TestParseF64(t *testing.T) {
	ok := map[string]float64{
		"0": 0, "-0": 0, "+1": 1, "1.": 1, ".5": 0.5, "1e3": 1000, "1E+3": 1000, "1.5e-3": 0.0015,
		"007": 7, "inf": math.Inf(1), "-Infinity": math.Inf(-1), "+INF": math.Inf(1),
		"1e400": math.Inf(1), "-1e400": math.Inf(-1), "1e-400": 0,
	}
	for s, want := range ok {
		got, valid := parseF64(s)
		if !valid || got != want {
			t.Errorf("parseF64(%q) = %v, %v; want %v", s, got, valid, want)
		}
	}
	for _, s := range []string{"nan", "NaN", "-nan", "+NAN"} {
		if got, valid := parseF64(s); !valid || !math.IsNaN(got) {
			t.Errorf("parseF64(%q) = %v, %v; want NaN", s, got, valid)
		}
	}
	for _, s := range []string{"", "+", "-", ".", "e5", "1e", "1e+", "0x10", "0x1p3", "1_000", " 1", "1 ", "1.2.3", "in", "infinit", "nana", "--1", "1e5.5", "١"} {
		if got, valid := parseF64(s); valid {
			t.Errorf("parseF64(%q) = %v: must not parse", s, got)
		}
	}
}

// TestNumericEdgeCases: NaN never compares, infinities and negative zero
// compare as IEEE numbers.
func TestNumericEdgeCases(t *testing.T) {
	cases := []struct {
		cmp, val, tag string
		want          bool
	}{
		{"gt", "1", "NaN", false}, {"lte", "1", "nan", false}, {"gte", "NaN", "NaN", false},
		{"gt", "1e308", "inf", true}, {"lt", "-1e308", "-inf", true},
		{"gte", "0", "-0", true}, {"lte", "-0", "0", true},
		{"gt", "0x10", "100", false},                          // hex refused on the filter side
		{"gt", "1", "1_000", false},                           // underscores refused on the tag side
		{"lt", "2", " 1", false},                              // no trimming
		{"gte", "9007199254740993", "9007199254740992", true}, // f64, not integers
	}
	for _, c := range cases {
		p := mustParse(t, `{"key":"k","cmp":"`+c.cmp+`","val":"`+c.val+`"}`, "", onCfg())
		if got := p.Match(&Message{Tags: map[string]string{"k": c.tag}}); got != c.want {
			t.Errorf("%s %s %s: got %v want %v", c.tag, c.cmp, c.val, got, c.want)
		}
	}
}
