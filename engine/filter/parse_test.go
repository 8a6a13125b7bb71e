package filter

import (
	"errors"
	"strings"
	"testing"
)

// onCfg is Sockudo with tag filtering switched on (the shipped config.json).
func onCfg() Config {
	c := DefaultConfig()
	c.TagFiltering = true
	return c
}

func mustParse(t *testing.T, filter, tagsFilter string, cfg Config) *Predicate {
	t.Helper()
	p, err := Parse(b(filter), b(tagsFilter), cfg)
	if err != nil {
		t.Fatalf("Parse(%s, %s): %v", filter, tagsFilter, err)
	}
	return p
}

func b(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// TestParseErrorTexts pins every refusal to Sockudo's exact text, so the
// engine's sockudo:error 4000 reads as Sockudo's does.
func TestParseErrorTexts(t *testing.T) {
	const pre = "Invalid message format: "
	long := strings.Repeat("é", 150) // 300 bytes
	many := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	leaves := func(n int) string {
		return strings.TrimSuffix(strings.Repeat(`{"key":"k","cmp":"ex"},`, n), ",")
	}
	deep := func(depth int) string {
		s := `{"key":"k","cmp":"ex"}`
		for i := 1; i < depth; i++ {
			s = `{"op":"not","nodes":[` + s + `]}`
		}
		return s
	}
	cases := []struct {
		name, filter, want string
	}{
		{"events not array", `{"events":"a"}`, "filter.events must be an array of non-empty strings"},
		{"events null", `{"events":null}`, "filter.events must be an array of non-empty strings"},
		{"events empty string", `{"events":["a",""]}`, "filter.events must contain only non-empty strings"},
		{"events number", `{"events":[1]}`, "filter.events must contain only non-empty strings"},
		{"expression number", `{"expression":5}`, "filter.expression must be a JMESPath string or object"},
		{"expression empty", `{"expression":""}`, "filter.expression must be a JMESPath string or object"},
		{"expression null", `{"expression":null}`, "filter.expression must be a JMESPath string or object"},
		{"expression language", `{"expression":{"language":"jsonpath","source":"$.a"}}`, "Unsupported filter expression language 'jsonpath'"},
		{"expression no source", `{"expression":{"language":"jmespath"}}`, "filter.expression.source must be a non-empty string"},
		{"expression empty source", `{"expression":{"source":""}}`, "filter.expression.source must be a non-empty string"},
		{"events before expression", `{"events":5,"expression":5}`, "filter.events must be an array of non-empty strings"},
		{"too many events", `{"events":` + many(51, `"e"`) + `}`, "filter.events exceeds maximum of 50 event names"},
		{"event too long", `{"events":["` + long + `"]}`, "Event name '" + strings.Repeat("é", 20) + "...' exceeds maximum length of 200 characters"},
		{"tags null", `{"tags":null}`, "Invalid tags filter shape: invalid type: null, expected struct FilterNode"},
		{"tree not object", `["a"]`, "Invalid tags filter shape: invalid type: sequence, expected struct FilterNode"},
		{"tree string", `"a"`, `Invalid tags filter shape: invalid type: string "a", expected struct FilterNode`},
		{"op not string", `{"op":1,"nodes":[]}`, "Invalid tags filter shape: invalid type: number, expected a string (field op)"},
		{"vals not array", `{"key":"k","cmp":"in","vals":"a"}`, `Invalid tags filter shape: invalid type: string "a", expected a sequence (field vals)`},
		{"nodes not array", `{"op":"and","nodes":{}}`, "Invalid tags filter shape: invalid type: map, expected a sequence (field nodes)"},
		{"unknown op", `{"op":"xor","nodes":[{"key":"k","cmp":"ex"}]}`, "Invalid tags filter: unknown logical operator: xor"},
		{"and empty", `{"op":"and","nodes":[]}`, "Invalid tags filter: and operation requires at least one child node"},
		{"or empty", `{"op":"or"}`, "Invalid tags filter: or operation requires at least one child node"},
		{"not two", `{"op":"not","nodes":[{"key":"k","cmp":"ex"},{"key":"k","cmp":"ex"}]}`, "Invalid tags filter: not operation requires exactly one child node, got 2"},
		{"leaf no key", `{"cmp":"eq","val":"x"}`, "Invalid tags filter: Leaf node requires a non-empty key"},
		{"leaf empty key", `{"key":"","cmp":"eq","val":"x"}`, "Invalid tags filter: Leaf node requires a non-empty key"},
		{"leaf no cmp", `{"key":"k","val":"x"}`, "Invalid tags filter: Leaf node requires a comparison operator"},
		{"unknown cmp", `{"key":"k","cmp":"regex","val":".*"}`, "Invalid tags filter: unknown comparison operator: regex"},
		{"in no vals", `{"key":"k","cmp":"in"}`, "Invalid tags filter: in operation requires at least one value in vals"},
		{"nin empty vals", `{"key":"k","cmp":"nin","vals":[]}`, "Invalid tags filter: nin operation requires at least one value in vals"},
		{"eq no val", `{"key":"k","cmp":"eq"}`, "Invalid tags filter: eq operation requires a non-empty val"},
		{"gt empty val", `{"key":"k","cmp":"gt","val":""}`, "Invalid tags filter: gt operation requires a non-empty val"},
		{"child path", `{"op":"and","nodes":[{"key":"k","cmp":"ex"},{"op":"or","nodes":[{"key":"k","cmp":"sw"}]}]}`, "Invalid tags filter: Child node 1: Child node 0: sw operation requires a non-empty val"},
		{"compound tags validated", `{"events":["a"],"tags":{"key":"k","cmp":"zz","val":"1"}}`, "Invalid tags filter: unknown comparison operator: zz"},
		{"node limit", `{"op":"or","nodes":[` + leaves(128) + `]}`, "Invalid subscription filter: tag filter exceeds the node limit of 128"},
		{"depth limit", deep(17), "Invalid subscription filter: tag filter exceeds the depth limit of 16"},
		{"key limit", `{"key":"` + strings.Repeat("k", 257) + `","cmp":"ex"}`, "Invalid subscription filter: tag filter key exceeds the byte limit of 256"},
		{"val limit", `{"key":"k","cmp":"eq","val":"` + strings.Repeat("v", 1025) + `"}`, "Invalid subscription filter: tag filter value exceeds the byte limit of 1024"},
		{"vals entry limit", `{"key":"k","cmp":"in","vals":["a","` + strings.Repeat("v", 1025) + `"]}`, "Invalid subscription filter: tag filter value exceeds the byte limit of 1024"},
		{"vals count limit", `{"key":"k","cmp":"in","vals":` + many(129, "") + `}`, ""}, // placeholder, replaced below
		{"logical with key", `{"op":"and","key":"k","nodes":[{"key":"k","cmp":"ex"}]}`, "Invalid subscription filter: invalid tag filter: logical node contains comparison fields"},
		{"logical with vals", `{"op":"not","vals":["x"],"nodes":[{"key":"k","cmp":"ex"}]}`, "Invalid subscription filter: invalid tag filter: logical node contains comparison fields"},
		{"leaf with nodes", `{"key":"k","cmp":"ex","nodes":[{"key":"k","cmp":"ex"}]}`, "Invalid subscription filter: invalid tag filter: comparison node contains child nodes"},
		{"expression too long", `{"expression":"` + strings.Repeat("a", 4097) + `"}`, "Invalid subscription filter: JMESPath expression exceeds the byte limit of 4096"},
		{"no expression compiler", `{"expression":"a"}`, "Invalid subscription filter: JMESPath expressions are not supported by this server"},
	}
	for _, c := range cases {
		if c.name == "vals count limit" {
			vals := make([]string, 129)
			for i := range vals {
				vals[i] = `"v` + itoa(i) + `"`
			}
			c.filter = `{"key":"k","cmp":"in","vals":[` + strings.Join(vals, ",") + `]}`
			c.want = "Invalid subscription filter: tag filter value list exceeds the limit of 128"
		}
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse([]byte(c.filter), nil, onCfg())
			if err == nil {
				t.Fatalf("accepted (%v), want %q", p, c.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.Code() != 4000 {
				t.Fatalf("error %T %v is not a 4000 *Error", err, err)
			}
			if got := err.Error(); got != pre+c.want {
				t.Fatalf("error text\n got %q\nwant %q", got, pre+c.want)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// TestParseLimitsAtTheBoundary accepts exactly the maxima the errors above
// refuse one past.
func TestParseLimitsAtTheBoundary(t *testing.T) {
	deep := `{"key":"k","cmp":"ex"}`
	for i := 1; i < 16; i++ {
		deep = `{"op":"not","nodes":[` + deep + `]}`
	}
	leaves := strings.TrimSuffix(strings.Repeat(`{"key":"k","cmp":"ex"},`, 127), ",")
	vals := make([]string, 128)
	for i := range vals {
		vals[i] = `"v` + itoa(i) + `"`
	}
	events := make([]string, 50)
	for i := range events {
		events[i] = `"e` + itoa(i) + `"`
	}
	for _, f := range []string{
		deep,
		`{"op":"or","nodes":[` + leaves + `]}`,
		`{"key":"` + strings.Repeat("k", 256) + `","cmp":"ex"}`,
		`{"key":"k","cmp":"eq","val":"` + strings.Repeat("v", 1024) + `"}`,
		`{"key":"k","cmp":"in","vals":[` + strings.Join(vals, ",") + `]}`,
		// duplicates are removed before the count, as Sockudo's optimize does
		`{"key":"k","cmp":"in","vals":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 300), ",") + `]}`,
		`{"events":[` + strings.Join(events, ",") + `]}`,
		`{"events":["` + strings.Repeat("e", 200) + `"]}`,
	} {
		if _, err := Parse([]byte(f), nil, onCfg()); err != nil {
			t.Errorf("%.60s…: %v", f, err)
		}
	}
}

// TestParseConfiguredEventLimits: event_name_filtering.* are config keys;
// the compiled caps (64 / 256 bytes) still stand behind them.
func TestParseConfiguredEventLimits(t *testing.T) {
	cfg := onCfg()
	cfg.MaxEventsPerFilter, cfg.MaxEventNameLength = 2, 3
	if _, err := Parse([]byte(`{"events":["a","b","c"]}`), nil, cfg); err == nil ||
		err.Error() != "Invalid message format: filter.events exceeds maximum of 2 event names" {
		t.Fatalf("got %v", err)
	}
	if _, err := Parse([]byte(`{"events":["abcd"]}`), nil, cfg); err == nil ||
		err.Error() != "Invalid message format: Event name 'abcd...' exceeds maximum length of 3 characters" {
		t.Fatalf("got %v", err)
	}
	cfg.MaxEventsPerFilter, cfg.MaxEventNameLength = 1000, 1000
	ev := make([]string, 65)
	for i := range ev {
		ev[i] = `"e` + itoa(i) + `"`
	}
	if _, err := Parse([]byte(`{"events":[`+strings.Join(ev, ",")+`]}`), nil, cfg); err == nil ||
		err.Error() != "Invalid message format: Invalid subscription filter: event list exceeds the limit of 64" {
		t.Fatalf("got %v", err)
	}
	if _, err := Parse([]byte(`{"events":["a","`+strings.Repeat("e", 257)+`"]}`), nil, cfg); err == nil ||
		err.Error() != "Invalid message format: Invalid subscription filter: event at index 1 exceeds the byte limit of 256" {
		t.Fatalf("got %v", err)
	}
	cfg.Limits = Limits{MaxTagNodes: 1} // the rest default
	if _, err := Parse([]byte(`{"op":"not","nodes":[{"key":"k","cmp":"ex"}]}`), nil, cfg); err == nil ||
		err.Error() != "Invalid message format: Invalid subscription filter: tag filter exceeds the node limit of 1" {
		t.Fatalf("got %v", err)
	}
}

// TestParsePrecedence: filter wins over tags_filter; a compound object is
// one with events, tags or expression; anything else is a bare tree.
func TestParsePrecedence(t *testing.T) {
	eu := &Message{Event: "e", Tags: map[string]string{"region": "eu"}}
	us := &Message{Event: "e", Tags: map[string]string{"region": "us"}}
	cfg := onCfg()

	p := mustParse(t, `{"key":"region","cmp":"eq","val":"eu"}`, `{"key":"region","cmp":"eq","val":"us"}`, cfg)
	if !p.Match(eu) || p.Match(us) {
		t.Fatal("filter must win over tags_filter")
	}
	p = mustParse(t, `null`, `{"key":"region","cmp":"eq","val":"us"}`, cfg)
	if p.Match(eu) || !p.Match(us) {
		t.Fatal("a null filter counts as absent")
	}
	p = mustParse(t, "", `{"key":"region","cmp":"eq","val":"us"}`, cfg)
	if p.Match(eu) || !p.Match(us) {
		t.Fatal("tags_filter alone is the tag tree")
	}
	p = mustParse(t, `{"tags":{"key":"region","cmp":"eq","val":"eu"},"other":1}`, "", cfg)
	if !p.Match(eu) || p.Match(us) {
		t.Fatal("compound tags")
	}
	// a compound filter is refused on a bad tag tree even though its
	// error comes from the tags part
	if _, err := Parse([]byte(`{"events":["e"],"tags":{"key":"region"}}`), nil, cfg); err == nil {
		t.Fatal("a compound filter's tag tree must be validated")
	}
	if p := mustParse(t, "", "", cfg); p != nil {
		t.Fatal("no filter must give a nil predicate")
	}
	if p := mustParse(t, `{"events":[]}`, "", cfg); p != nil {
		t.Fatal("an empty events list filters nothing")
	}
	var none *Predicate
	if !none.Match(eu) {
		t.Fatal("a nil predicate passes everything")
	}
	// unknown fields of a node are ignored, as serde does
	p = mustParse(t, `{"key":"region","cmp":"eq","val":"eu","extra":[1,2]}`, "", cfg)
	if !p.Match(eu) {
		t.Fatal("unknown node fields must be ignored")
	}
}

// TestParseConfigSwitches: tag_filtering.enabled=false validates but does
// not enforce tags or expressions; event_name_filtering.enabled=false
// drops events (still shape-checked, not limit-checked).
func TestParseConfigSwitches(t *testing.T) {
	off := DefaultConfig()
	p := mustParse(t, `{"events":["a"],"tags":{"key":"region","cmp":"eq","val":"eu"}}`, "", off)
	if p == nil || p.HasTags() || len(p.Events()) != 1 {
		t.Fatalf("tag filtering off: want events only, got %+v", p)
	}
	if !p.Match(&Message{Event: "a"}) || p.Match(&Message{Event: "b"}) {
		t.Fatal("events still enforced with tag filtering off")
	}
	if _, err := Parse([]byte(`{"key":"region","cmp":"bad","val":"eu"}`), nil, off); err == nil {
		t.Fatal("tag filtering off still validates the tree")
	}
	if p := mustParse(t, `{"key":"region","cmp":"eq","val":"eu"}`, "", off); p != nil {
		t.Fatal("a tag-only filter with tag filtering off enforces nothing")
	}

	noEvents := onCfg()
	noEvents.EventNameFiltering = false
	noEvents.MaxEventsPerFilter = 1
	if p := mustParse(t, `{"events":["a","b","c"]}`, "", noEvents); p != nil {
		t.Fatal("event-name filtering off drops events, limits unchecked")
	}
	if _, err := Parse([]byte(`{"events":"a"}`), nil, noEvents); err == nil {
		t.Fatal("event-name filtering off still checks the events shape")
	}
}

// TestParseValConversion: val/vals numbers and bools compare as Sockudo
// prints them.
func TestParseValConversion(t *testing.T) {
	cases := []struct {
		val, tag string
	}{
		{`5`, "5"}, {`-5`, "-5"}, {`18446744073709551615`, "18446744073709551615"},
		{`1.5`, "1.5"}, {`1.0`, "1.0"}, {`1e3`, "1000.0"}, {`1e21`, "1e21"}, {`1e-7`, "1e-7"},
		{`0.0001`, "0.0001"}, {`true`, "true"}, {`false`, "false"}, {`"x"`, "x"},
	}
	for _, c := range cases {
		p := mustParse(t, `{"key":"k","cmp":"eq","val":`+c.val+`}`, "", onCfg())
		if !p.Match(&Message{Tags: map[string]string{"k": c.tag}}) {
			t.Errorf("val %s should equal tag %q", c.val, c.tag)
		}
		p = mustParse(t, `{"key":"k","cmp":"in","vals":["z",`+c.val+`]}`, "", onCfg())
		if !p.Match(&Message{Tags: map[string]string{"k": c.tag}}) {
			t.Errorf("vals entry %s should equal tag %q", c.val, c.tag)
		}
	}
}
