// Package jmes is the JMESPath adapter for filter.ExprCompiler, kept out
// of package filter so that the engine does not depend on the expression
// library; cmd/sockudo puts a Compiler into filter.Config.
//
// The library is github.com/jmespath-community/go-jmespath, the
// maintained Go implementation (the original github.com/jmespath/go-jmespath
// has seen no release since 2022). It implements JMESPath Community, a
// superset of the standard language; Sockudo evaluates standard JMESPath
// (the Rust jmespath crate), so Compiler refuses the community additions
// (arithmetic, let/variables, the root node `$`, and functions outside the
// standard 26) to accept exactly the filters Sockudo accepts.
package jmes

import (
	"fmt"

	"github.com/jmespath-community/go-jmespath/pkg/api"
	"github.com/jmespath-community/go-jmespath/pkg/functions"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
	"github.com/jmespath-community/go-jmespath/pkg/util"

	"github.com/sockudo/sockudo-go/engine/filter"
)

// Compiler compiles standard JMESPath expressions. The zero value is
// ready to use and holds no state.
type Compiler struct{}

var _ filter.ExprCompiler = Compiler{}

// CompileExpr parses source and enforces the AST node and depth limits.
// Error texts are Sockudo's PredicateCompileError texts.
func (Compiler) CompileExpr(source string, maxNodes, maxDepth int) (filter.Expr, error) {
	ast, err := parse(source)
	if err != nil {
		return nil, fmt.Errorf("invalid JMESPath expression: %v", err)
	}
	if err := checkAST(ast, maxNodes, maxDepth); err != nil {
		return nil, err
	}
	jp, err := api.Compile(source, copyingSortBy())
	if err != nil {
		return nil, fmt.Errorf("invalid JMESPath expression: %v", err)
	}
	return expr{jp}, nil
}

// parse runs the library's parser, turning a panic on hostile input into
// an error.
func parse(source string) (ast parsing.ASTNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser failure: %v", r)
		}
	}()
	return parsing.NewParser().Parse(source)
}

// standardFunctions are the built-ins of the JMESPath specification.
var standardFunctions = map[string]bool{
	"abs": true, "avg": true, "ceil": true, "contains": true, "ends_with": true,
	"floor": true, "join": true, "keys": true, "length": true, "map": true,
	"max": true, "max_by": true, "merge": true, "min": true, "min_by": true,
	"not_null": true, "reverse": true, "sort": true, "sort_by": true,
	"starts_with": true, "sum": true, "to_array": true, "to_number": true,
	"to_string": true, "type": true, "values": true,
}

type item struct {
	n     *parsing.ASTNode
	depth int
}

// checkAST walks the tree with an explicit stack, as Sockudo does, so a
// deep tree costs no Go stack.
func checkAST(root parsing.ASTNode, maxNodes, maxDepth int) error {
	stack := []item{{&root, 1}}
	count := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		if count > maxNodes {
			return fmt.Errorf("JMESPath expression exceeds the AST node limit of %d", maxNodes)
		}
		if it.depth > maxDepth {
			return fmt.Errorf("JMESPath expression exceeds the AST depth limit of %d", maxDepth)
		}
		if err := standardOnly(it.n); err != nil {
			return fmt.Errorf("invalid JMESPath expression: %v", err)
		}
		for i := range it.n.Children {
			stack = append(stack, item{&it.n.Children[i], it.depth + 1})
		}
	}
	return nil
}

func standardOnly(n *parsing.ASTNode) error {
	switch n.NodeType {
	case parsing.ASTArithmeticExpression, parsing.ASTArithmeticUnaryExpression:
		return fmt.Errorf("arithmetic is not standard JMESPath")
	case parsing.ASTRootNode:
		return fmt.Errorf("the root node $ is not standard JMESPath")
	case parsing.ASTLetExpression, parsing.ASTVariable, parsing.ASTBindings, parsing.ASTBinding:
		return fmt.Errorf("let expressions and variables are not standard JMESPath")
	case parsing.ASTFunctionExpression:
		name, _ := n.Value.(string)
		if !standardFunctions[name] {
			return fmt.Errorf("unknown function: %s()", name)
		}
	}
	return nil
}

type expr struct{ jp api.JMESPath }

// Match reports whether the result is truthy; an evaluation error or a
// panic inside the library is false (fail closed).
func (e expr) Match(doc any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	v, err := e.jp.Search(doc)
	return err == nil && !util.IsFalse(v)
}

// copyingSortBy replaces the library's sort_by, which sorts its argument
// in place: the document is shared by every subscriber and worker of a
// publish, so it must sort a copy.
func copyingSortBy() functions.FunctionEntry {
	for _, f := range functions.GetDefaultFunctions() {
		if f.Name != "sort_by" {
			continue
		}
		inPlace := f.Handler
		f.Handler = func(args []any) (any, error) {
			if arr, ok := args[0].([]any); ok {
				args = append([]any{append([]any(nil), arr...)}, args[1:]...)
			}
			return inPlace(args)
		}
		return f
	}
	panic("jmes: the JMESPath library has no sort_by")
}
