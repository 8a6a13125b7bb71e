package filter

import (
	"strconv"
	"strings"
)

// ExprCompiler is the port through which JMESPath comes in (package
// filter/jmes implements it), so that this package, and the engine that
// imports it, stay free of the expression library.
type ExprCompiler interface {
	// CompileExpr parses source, enforcing the AST limits. Its error text
	// is sent to the client after "Invalid subscription filter: ".
	CompileExpr(source string, maxNodes, maxDepth int) (Expr, error)
}

// Expr is a compiled expression. It must be safe for concurrent use and
// must not modify doc, which other subscribers' expressions share.
type Expr interface {
	// Match evaluates the expression on a document from
	// Message.Document and reports whether the result is truthy; an
	// evaluation error is false (fail closed).
	Match(doc any) bool
}

// Predicate is one subscription's compiled filter: its non-empty parts
// are ANDed. It is immutable and may be shared. A nil *Predicate matches
// every message.
type Predicate struct {
	events []string // sorted, unique
	tags   *node
	expr   Expr
	source string // expression source, for diagnostics
	key    string // canonical form, see Key
}

// Key is a canonical form of the filter: two predicates with equal keys
// accept the same messages (event order, duplicate values and JSON
// spelling do not matter). Index uses it to evaluate identical filters
// once per message.
func (p *Predicate) Key() string {
	if p == nil {
		return ""
	}
	return p.key
}

// Match reports whether msg passes. Without an expression it allocates
// nothing; with one it may build msg's document (once per message) and
// fails closed if that document is over its limit or malformed.
func (p *Predicate) Match(msg *Message) bool {
	if p == nil {
		return true
	}
	if !p.matchCheap(msg) {
		return false
	}
	if p.expr == nil {
		return true
	}
	doc, ok := msg.Document()
	return ok && p.expr.Match(doc)
}

// matchCheap is the event and tag part, checked before any expression
// so that a cheap rejection never builds the document.
func (p *Predicate) matchCheap(msg *Message) bool {
	if len(p.events) > 0 && !contains(p.events, msg.Event) {
		return false
	}
	return p.tags == nil || p.tags.match(msg.Tags)
}

// Events is the event-name list (sorted), nil when the filter has none.
func (p *Predicate) Events() []string {
	if p == nil {
		return nil
	}
	return p.events
}

// HasTags reports whether a tag tree is enforced.
func (p *Predicate) HasTags() bool { return p != nil && p.tags != nil }

// Expression is the enforced JMESPath source, "" when none.
func (p *Predicate) Expression() string {
	if p == nil {
		return ""
	}
	return p.source
}

// compile is Sockudo's tag-shape and validation pass followed by
// MessagePredicate::compile_with_limits, in that order.
func compile(ps parts, cfg Config) (*Predicate, error) {
	lim := cfg.Limits.withDefaults()
	var root *rawNode
	if ps.hasTags {
		r, err := toRawNode(ps.tags)
		if err != nil {
			return nil, shapeError(err.Error())
		}
		if msg := validateTree(r); msg != "" {
			return nil, treeError(msg)
		}
		root = r
	}
	if err := checkEventLimits(ps.events, lim); err != nil {
		return nil, err
	}
	p := &Predicate{events: sortedUnique(append([]string(nil), ps.events...))}
	if root != nil {
		if msg := checkLimits(root, lim); msg != "" {
			return nil, compileError(msg)
		}
		n := compileNode(root)
		p.tags = &n
	}
	if ps.hasExpr {
		e, err := compileExpr(ps.expression, lim, cfg.Expressions)
		if err != nil {
			return nil, err
		}
		p.expr, p.source = e, ps.expression
	}
	if !cfg.TagFiltering {
		p.tags, p.expr, p.source = nil, nil, ""
	}
	if len(p.events) == 0 && p.tags == nil && p.expr == nil {
		return nil, nil
	}
	p.key = canonical(p)
	return p, nil
}

// checkEventLimits are the compiled caps, behind the configured ones.
func checkEventLimits(events []string, lim Limits) error {
	if len(events) > lim.MaxEvents {
		return compileError(sprintf("event list exceeds the limit of %d", lim.MaxEvents))
	}
	for i, e := range events {
		if e == "" {
			return compileError(sprintf("event at index %d is empty", i))
		}
		if len(e) > lim.MaxEventBytes {
			return compileError(sprintf("event at index %d exceeds the byte limit of %d", i, lim.MaxEventBytes))
		}
	}
	return nil
}

func compileExpr(src string, lim Limits, c ExprCompiler) (Expr, error) {
	switch {
	case src == "":
		return nil, compileError("JMESPath expression is empty")
	case len(src) > lim.MaxExpressionBytes:
		return nil, compileError(sprintf("JMESPath expression exceeds the byte limit of %d", lim.MaxExpressionBytes))
	case c == nil:
		return nil, compileError("JMESPath expressions are not supported by this server")
	}
	e, err := c.CompileExpr(src, lim.MaxExpressionNodes, lim.MaxExpressionDepth)
	if err != nil {
		return nil, compileError(err.Error())
	}
	return e, nil
}

// canonical writes every part length-prefixed so no two different
// filters share a key.
func canonical(p *Predicate) string {
	var b strings.Builder
	b.WriteString("e")
	for _, e := range p.events {
		writeField(&b, e)
	}
	if p.tags != nil {
		b.WriteString("t")
		p.tags.canonical(&b)
	}
	if p.expr != nil {
		b.WriteString("x")
		writeField(&b, p.source)
	}
	return b.String()
}

func (n *node) canonical(b *strings.Builder) {
	b.WriteByte('(')
	b.WriteString(strconv.Itoa(int(n.op)))
	writeField(b, n.key)
	writeField(b, n.val)
	b.WriteByte('[')
	for _, v := range n.vals {
		writeField(b, v)
	}
	b.WriteByte(']')
	for i := range n.kids {
		n.kids[i].canonical(b)
	}
	b.WriteByte(')')
}

func writeField(b *strings.Builder, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}
