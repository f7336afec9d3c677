package billbridge

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// bodyKeys lists the res.body key paths ("customer.amt_due") that the
// mappings of a handler's JSON config read. Every string of a handler's
// config that parses as an expression is looked at: literals are quoted
// strings there and read nothing. A misspelt key yields nil when it runs,
// which a `when` or reply mapping turns into a silent 0 or false; a case
// whose playback lacks the key says so.
func bodyKeys(handlerJSON []byte) []string {
	var v any
	if json.Unmarshal(handlerJSON, &v) != nil {
		return nil
	}
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if !strings.Contains(v, "res.body") && !strings.Contains(v, "res?.body") {
				return
			}
			tree, err := parser.Parse(v)
			if err != nil {
				return
			}
			c := &chains{}
			ast.Walk(&tree.Node, c)
			for _, p := range c.paths {
				seen[p] = true
			}
		}
	}
	walk(v)
	// Only the longest paths: res.body.customer.tel covers res.body.customer.
	var out []string
	for p := range seen {
		longer := false
		for q := range seen {
			if strings.HasPrefix(q, p+".") {
				longer = true
				break
			}
		}
		if !longer {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// chains collects member chains rooted at res.body.
type chains struct{ paths []string }

func (c *chains) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	var keys []string
	var cur ast.Node = m
	for {
		switch x := cur.(type) {
		case *ast.MemberNode:
			s, ok := x.Property.(*ast.StringNode)
			if !ok || x.Method {
				keys = nil // an index or a method: the chain is cut there
			} else {
				keys = append(keys, s.Value)
			}
			cur = x.Node
			continue
		case *ast.ChainNode:
			cur = x.Node
			continue
		case *ast.IdentifierNode:
			if x.Value != "res" {
				return
			}
		default:
			return
		}
		break
	}
	slices.Reverse(keys)
	if len(keys) >= 2 && keys[0] == "body" {
		c.paths = append(c.paths, strings.Join(keys[1:], "."))
	}
}

// hasKeyPath reports whether a decoded body holds the dotted path. Arrays
// are looked into: any element holding the rest counts.
func hasKeyPath(v any, path []string) bool {
	if len(path) == 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		e, ok := x[path[0]]
		return ok && hasKeyPath(e, path[1:])
	case []any:
		for _, e := range x {
			if hasKeyPath(e, path) {
				return true
			}
		}
	}
	return false
}
