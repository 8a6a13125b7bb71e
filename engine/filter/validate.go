package filter

import "fmt"

// validateTree is Sockudo's FilterNode::validate: a recursive check whose
// message names the failing child's path ("Child node 1: …"). It runs
// before the limits, as in Sockudo.
func validateTree(n *rawNode) string {
	if n.hasOp {
		lop, ok := parseLogical(n.op)
		if !ok {
			return "unknown logical operator: " + n.op
		}
		switch {
		case lop != opNot && len(n.nodes) == 0:
			return n.op + " operation requires at least one child node"
		case lop == opNot && len(n.nodes) != 1:
			return fmt.Sprintf("not operation requires exactly one child node, got %d", len(n.nodes))
		}
		for i, c := range n.nodes {
			if msg := validateTree(c); msg != "" {
				return fmt.Sprintf("Child node %d: %s", i, msg)
			}
		}
		return ""
	}
	if n.key == "" {
		return "Leaf node requires a non-empty key"
	}
	if !n.hasCmp {
		return "Leaf node requires a comparison operator"
	}
	cop, ok := parseCompare(n.cmp)
	if !ok {
		return "unknown comparison operator: " + n.cmp
	}
	switch {
	case cop == opIn || cop == opNin:
		if len(n.vals) == 0 {
			return n.cmp + " operation requires at least one value in vals"
		}
	case cop == opEx || cop == opNex:
	default:
		if n.val == "" {
			return n.cmp + " operation requires a non-empty val"
		}
	}
	return ""
}

type stackItem struct {
	n     *rawNode
	depth int
}

// checkLimits is Sockudo's validate_tags: a depth-first walk with an
// explicit stack (last child first) applying the size limits and the
// shape rules validateTree does not cover.
func checkLimits(root *rawNode, lim Limits) string {
	stack := []stackItem{{root, 1}}
	count := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.n
		count++
		if count > lim.MaxTagNodes {
			return fmt.Sprintf("tag filter exceeds the node limit of %d", lim.MaxTagNodes)
		}
		if it.depth > lim.MaxTagDepth {
			return fmt.Sprintf("tag filter exceeds the depth limit of %d", lim.MaxTagDepth)
		}
		if len(n.key) > lim.MaxTagKeyBytes {
			return fmt.Sprintf("tag filter key exceeds the byte limit of %d", lim.MaxTagKeyBytes)
		}
		if len(n.val) > lim.MaxTagValueBytes || longest(n.vals) > lim.MaxTagValueBytes {
			return fmt.Sprintf("tag filter value exceeds the byte limit of %d", lim.MaxTagValueBytes)
		}
		if len(n.vals) > lim.MaxTagValuesPerNode {
			return fmt.Sprintf("tag filter value list exceeds the limit of %d", lim.MaxTagValuesPerNode)
		}
		if msg := checkShape(n); msg != "" {
			return "invalid tag filter: " + msg
		}
		for _, c := range n.nodes {
			stack = append(stack, stackItem{c, it.depth + 1})
		}
	}
	return ""
}

func longest(s []string) int {
	m := 0
	for _, v := range s {
		m = max(m, len(v))
	}
	return m
}

// checkShape rejects nodes that are both logical and a comparison, which
// validateTree lets through.
func checkShape(n *rawNode) string {
	if n.hasOp {
		if n.hasKey || n.hasCmp || n.hasVal || len(n.vals) > 0 {
			return "logical node contains comparison fields"
		}
		return ""
	}
	if len(n.nodes) > 0 {
		return "comparison node contains child nodes"
	}
	return ""
}
