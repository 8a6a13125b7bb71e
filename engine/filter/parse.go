package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse compiles the raw JSON of a subscribe's `filter` and `tags_filter`
// fields (nil or empty when absent). `filter` wins; an explicit JSON null
// counts as absent. An object with any of events/tags/expression is a
// compound filter; anything else is a bare tag tree (the legacy shape).
//
// It returns nil, nil when nothing is left to enforce (no filter, an empty
// events list, or only parts that cfg switches off), and an *Error with
// Sockudo's text when the filter is refused.
func Parse(filter, tagsFilter []byte, cfg Config) (*Predicate, error) {
	raw := filter
	if isAbsent(raw) {
		raw = tagsFilter
	}
	if isAbsent(raw) {
		return nil, nil
	}
	v, err := decode(raw)
	if err != nil {
		return nil, shapeError(err.Error())
	}
	parts, err := split(v)
	if err != nil {
		return nil, err
	}
	if !cfg.EventNameFiltering {
		parts.events = nil
	}
	if err := checkEventConfig(parts.events, cfg); err != nil {
		return nil, err
	}
	return compile(parts, cfg)
}

// parts is a filter split into its three ANDed components.
type parts struct {
	events     []string
	tags       any // decoded tag tree, if hasTags
	hasTags    bool
	expression string
	hasExpr    bool
}

func isAbsent(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// decode keeps numbers as their literal text so val/vals convert exactly.
func decode(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if d.More() {
		return nil, fmt.Errorf("trailing characters after the filter")
	}
	return v, nil
}

// split follows Sockudo's extract_event_name_filter: events are checked
// before the expression, the tag tree is only carried along.
func split(v any) (parts, error) {
	obj, isObj := v.(map[string]any)
	_, hasEvents := obj["events"]
	_, hasTags := obj["tags"]
	_, hasExpr := obj["expression"]
	if !isObj || !(hasEvents || hasTags || hasExpr) {
		return parts{tags: v, hasTags: true}, nil
	}
	var p parts
	if hasEvents {
		ev, err := parseEvents(obj["events"])
		if err != nil {
			return p, err
		}
		p.events = ev
	}
	if hasExpr {
		src, err := parseExpression(obj["expression"])
		if err != nil {
			return p, err
		}
		p.expression, p.hasExpr = src, true
	}
	p.tags, p.hasTags = obj["tags"], hasTags
	return p, nil
}

func parseEvents(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errorf("filter.events must be an array of non-empty strings")
	}
	var names []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, errorf("filter.events must contain only non-empty strings")
		}
		names = append(names, s)
	}
	return names, nil
}

func parseExpression(v any) (string, error) {
	if s, ok := v.(string); ok && s != "" {
		return s, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", errorf("filter.expression must be a JMESPath string or object")
	}
	lang, ok := obj["language"].(string)
	if !ok {
		lang = "jmespath"
	}
	if lang != "jmespath" {
		return "", errorf("Unsupported filter expression language '%s'", lang)
	}
	src, ok := obj["source"].(string)
	if !ok || src == "" {
		return "", errorf("filter.expression.source must be a non-empty string")
	}
	return src, nil
}

// checkEventConfig applies the event_name_filtering limits, which Sockudo
// checks before it looks at the tag tree.
func checkEventConfig(events []string, cfg Config) error {
	if len(events) > cfg.MaxEventsPerFilter {
		return errorf("filter.events exceeds maximum of %d event names", cfg.MaxEventsPerFilter)
	}
	for _, name := range events {
		if len(name) > cfg.MaxEventNameLength {
			return errorf("Event name '%s...' exceeds maximum length of %d characters",
				prefixBytes(name, 40), cfg.MaxEventNameLength)
		}
	}
	return nil
}

// prefixBytes cuts s to at most n bytes on a rune boundary.
func prefixBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// rawNode is a tag-tree node as sent, before validation.
type rawNode struct {
	op, key, cmp   string
	hasOp, hasKey  bool
	hasCmp, hasVal bool
	val            string
	vals           []string
	nodes          []*rawNode
}

// toRawNode mirrors Sockudo's FilterNode deserialisation: unknown fields
// are ignored, null optional fields are absent, val/vals entries that are
// numbers or bools become their text.
func toRawNode(v any) (*rawNode, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("invalid type: %s, expected struct FilterNode", jsonKind(v))
	}
	n := &rawNode{}
	var err error
	if n.op, n.hasOp, err = optString(obj, "op"); err != nil {
		return nil, err
	}
	if n.key, n.hasKey, err = optString(obj, "key"); err != nil {
		return nil, err
	}
	if n.cmp, n.hasCmp, err = optString(obj, "cmp"); err != nil {
		return nil, err
	}
	if val, ok := obj["val"]; ok && val != nil {
		n.val, n.hasVal = scalarText(val), true
	}
	if vals, ok := obj["vals"]; ok {
		arr, ok := vals.([]any)
		if !ok {
			return nil, fmt.Errorf("invalid type: %s, expected a sequence (field vals)", jsonKind(vals))
		}
		for _, e := range arr {
			n.vals = append(n.vals, scalarText(e))
		}
		n.vals = sortedUnique(n.vals)
	}
	if nodes, ok := obj["nodes"]; ok {
		arr, ok := nodes.([]any)
		if !ok {
			return nil, fmt.Errorf("invalid type: %s, expected a sequence (field nodes)", jsonKind(nodes))
		}
		for _, e := range arr {
			c, err := toRawNode(e)
			if err != nil {
				return nil, err
			}
			n.nodes = append(n.nodes, c)
		}
	}
	return n, nil
}

func optString(obj map[string]any, field string) (string, bool, error) {
	v, ok := obj[field]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, fmt.Errorf("invalid type: %s, expected a string (field %s)", jsonKind(v), field)
	}
	return s, true, nil
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean `" + strconv.FormatBool(x) + "`"
	case json.Number:
		return "number"
	case string:
		return "string " + strconv.Quote(x)
	case []any:
		return "sequence"
	default:
		return "map"
	}
}

// scalarText converts a val/vals entry to the string Sockudo compares.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return numberText(string(x))
	case nil:
		return "null"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// numberText renders a JSON number as Rust does: integers that fit 64 bits
// keep their digits, anything else is an f64 printed shortest with a
// ".0" for whole numbers and a bare exponent ("1e21", "1e-7").
func numberText(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
		if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.FormatUint(u, 10)
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && f == 0 {
		return lit
	}
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs == 0 || (abs >= 1e-5 && abs < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "e" + exp
}

func sortedUnique(s []string) []string {
	if len(s) < 2 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}
