package filter

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// opcode is a logical operator or a comparison of a compiled node.
type opcode uint8

const (
	opAnd opcode = iota + 1
	opOr
	opNot
	opEq
	opNeq
	opIn
	opNin
	opEx
	opNex
	opSw
	opEw
	opCt
	opGt
	opGte
	opLt
	opLte
)

func parseLogical(s string) (opcode, bool) {
	switch s {
	case "and":
		return opAnd, true
	case "or":
		return opOr, true
	case "not":
		return opNot, true
	}
	return 0, false
}

var compareOps = map[string]opcode{
	"eq": opEq, "neq": opNeq, "in": opIn, "nin": opNin, "ex": opEx, "nex": opNex,
	"sw": opSw, "ew": opEw, "ct": opCt, "gt": opGt, "gte": opGte, "lt": opLt, "lte": opLte,
}

func parseCompare(s string) (opcode, bool) {
	op, ok := compareOps[s]
	return op, ok
}

// node is a compiled tag-tree node: operands are pre-sorted (vals) and
// pre-parsed (num), so evaluation is lookups and comparisons only.
type node struct {
	op    opcode
	key   string
	val   string
	num   float64
	numOK bool
	vals  []string // sorted, unique
	kids  []node
}

func compileNode(r *rawNode) node {
	if r.hasOp {
		op, _ := parseLogical(r.op)
		n := node{op: op, kids: make([]node, len(r.nodes))}
		for i, c := range r.nodes {
			n.kids[i] = compileNode(c)
		}
		return n
	}
	op, _ := parseCompare(r.cmp)
	n := node{op: op, key: r.key, val: r.val, vals: r.vals}
	n.num, n.numOK = parseF64(r.val)
	return n
}

// match reports whether tags satisfy the node; a nil map has no tags.
func (n *node) match(tags map[string]string) bool {
	switch n.op {
	case opAnd:
		for i := range n.kids {
			if !n.kids[i].match(tags) {
				return false
			}
		}
		return true
	case opOr:
		for i := range n.kids {
			if n.kids[i].match(tags) {
				return true
			}
		}
		return false
	case opNot:
		return len(n.kids) == 1 && !n.kids[0].match(tags)
	}
	v, ok := tags[n.key]
	if !ok {
		return n.op == opNeq || n.op == opNin || n.op == opNex
	}
	switch n.op {
	case opEq:
		return v == n.val
	case opNeq:
		return v != n.val
	case opIn:
		return contains(n.vals, v)
	case opNin:
		return !contains(n.vals, v)
	case opEx:
		return true
	case opNex:
		return false
	case opSw:
		return strings.HasPrefix(v, n.val)
	case opEw:
		return strings.HasSuffix(v, n.val)
	case opCt:
		return strings.Contains(v, n.val)
	}
	return n.compareNum(v)
}

func (n *node) compareNum(v string) bool {
	if !n.numOK {
		return false
	}
	a, ok := parseF64(v)
	if !ok {
		return false
	}
	switch n.op {
	case opGt:
		return a > n.num
	case opGte:
		return a >= n.num
	case opLt:
		return a < n.num
	case opLte:
		return a <= n.num
	}
	return false
}

func contains(sorted []string, v string) bool {
	i := sort.SearchStrings(sorted, v)
	return i < len(sorted) && sorted[i] == v
}

// parseF64 accepts exactly what Rust's str::parse::<f64> accepts:
// [+-]? then inf, infinity or nan (any case), or decimal digits with an
// optional point and exponent; no spaces, hex or underscores. It checks
// the grammar first so that a bad tag value costs no allocation (an
// strconv error would allocate).
func parseF64(s string) (float64, bool) {
	body, neg := s, false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body, neg = body[1:], body[0] == '-'
	}
	if body == "" {
		return 0, false
	}
	if c := body[0] | 0x20; c == 'i' || c == 'n' {
		switch {
		case strings.EqualFold(body, "nan"):
			return math.NaN(), true
		case strings.EqualFold(body, "inf"), strings.EqualFold(body, "infinity"):
			if neg {
				return math.Inf(-1), true
			}
			return math.Inf(1), true
		}
		return 0, false
	}
	if !isDecimal(body) {
		return 0, false
	}
	// Only out of range can fail here, and then ParseFloat returns the
	// ±Inf or 0 that Rust yields.
	f, _ := strconv.ParseFloat(s, 64)
	return f, true
}

// isDecimal is Digit* [. Digit*] [(e|E) [+-] Digit+] with at least one
// mantissa digit.
func isDecimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
