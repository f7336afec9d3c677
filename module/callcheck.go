package billbridge

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/billbridge/caddy-billbridge/internal/text"
)

// pathError is a legacy path that cannot be sent: one that does not start
// with /, names a host, has dot segments or characters a path cannot hold.
// Its reason never repeats the path: at run time the path holds gateway
// data (a consumer code), and the reason is logged.
type pathError struct {
	reason string
	path   string
}

func (e *pathError) Error() string {
	return fmt.Sprintf("legacy path %q %s", text.Truncate(e.path, 64), e.reason)
}

// legacyPath checks a mapping's path (and query) and parses it. It is the
// one rule for a legacy path: checked on constant paths when the config
// loads, on every built call (a refusal then is the gateway data's fault),
// and once more by the transport.
func legacyPath(pathQuery string) (*url.URL, error) {
	fail := func(reason string) (*url.URL, error) { return nil, &pathError{reason, pathQuery} }
	if !strings.HasPrefix(pathQuery, "/") {
		return fail("must start with /")
	}
	if strings.HasPrefix(pathQuery, "//") || strings.ContainsAny(pathQuery, "\\#\r\n\t ") {
		return fail("is not a plain path (escape values with urlpath/urlquery)")
	}
	ref, err := url.Parse(pathQuery)
	if err != nil {
		return fail("cannot be parsed")
	}
	if ref.Scheme != "" || ref.Host != "" || ref.User != nil {
		return fail("names a host")
	}
	for _, seg := range strings.Split(ref.Path, "/") {
		if seg == ".." || seg == "." {
			return fail("has dot segments")
		}
	}
	return ref, nil
}

// literalOf returns the text of an expression that is one string literal
// (what the Caddyfile makes of a bare or double-quoted value).
func literalOf(src string) (string, bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return "", false
	}
	s, ok := tree.Node.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// maxPathShapes bounds how many alternatives (ternaries) a path's static
// check follows; beyond that the run-time check alone applies.
const maxPathShapes = 16

// checkPathExpr checks a call's path expression before any payment runs.
//
// Gateway data (anything read from req) may enter a path only through
// urlpath (before the ?) or urlquery (after it): concatenated as is, a
// consumer code of "x?amount=99999&reference=OTHER" would become part of
// the legacy request's query. The literal parts are checked too: with each
// escaped value standing in as "x", every shape the path can take must be
// a legal legacy path (it starts with /, has no dot segment, no #).
// What depends on values (a ".." consumer code) is checked when the call
// is built.
func checkPathExpr(src string) error {
	if lit, ok := literalOf(src); ok {
		_, err := legacyPath(lit)
		return err
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // the compiler has reported it
	}
	pc := &pathCheck{shapes: []string{""}, known: true}
	pc.walk(tree.Node)
	if pc.err != nil {
		return pc.err
	}
	if !pc.known {
		return nil
	}
	for _, s := range pc.shapes {
		if _, err := legacyPath(s); err != nil {
			return fmt.Errorf("%w (with each escaped value as \"x\")", err)
		}
	}
	return nil
}

// pathCheck follows the concatenation of a path expression, keeping every
// shape the path can take so far.
type pathCheck struct {
	shapes []string
	known  bool // false once a part is neither a literal nor an escaped value
	err    error
}

func (pc *pathCheck) walk(n ast.Node) {
	if pc.err != nil {
		return
	}
	switch n := n.(type) {
	case *ast.BinaryNode:
		if n.Operator == "+" {
			pc.walk(n.Left)
			pc.walk(n.Right)
			return
		}
	case *ast.StringNode:
		pc.add(n.Value)
		return
	case *ast.ConditionalNode:
		a := &pathCheck{shapes: slices.Clone(pc.shapes), known: pc.known}
		a.walk(n.Exp1)
		b := &pathCheck{shapes: slices.Clone(pc.shapes), known: pc.known}
		b.walk(n.Exp2)
		pc.err = errors.Join(a.err, b.err)
		pc.known = a.known && b.known
		pc.shapes = append(append([]string{}, a.shapes...), b.shapes...)
		if len(pc.shapes) > maxPathShapes {
			pc.known, pc.shapes = false, []string{""}
		}
		return
	case *ast.VariableDeclaratorNode:
		pc.walk(n.Expr)
		return
	case *ast.SequenceNode:
		if len(n.Nodes) > 0 {
			pc.walk(n.Nodes[len(n.Nodes)-1])
		}
		return
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (id.Value == "urlpath" || id.Value == "urlquery") {
			for _, s := range pc.shapes {
				inQuery := strings.Contains(s, "?")
				if inQuery && id.Value == "urlpath" {
					pc.err = errors.New("after the ? of a call path, escape values with urlquery, not urlpath (which leaves & and = as they are)")
					return
				}
				if !inQuery && id.Value == "urlquery" {
					pc.err = errors.New("in the path part of a call path, escape a segment with urlpath, not urlquery (which writes a space as +)")
					return
				}
			}
			pc.add("x")
			return
		}
	}
	if readsData(n) {
		pc.err = fmt.Errorf("gateway data %s in a call path must be escaped: wrap it in urlpath(…) before the ? or urlquery(…) after it", describeNode(n))
		return
	}
	// A constant of some other form (a number, a helper over literals):
	// its text is known only when it runs.
	pc.known = false
}

func (pc *pathCheck) add(s string) {
	for i := range pc.shapes {
		pc.shapes[i] += s
	}
}

// readsData reports whether n reads a value: req, or a let variable that
// may hold it. A function's own name is not a value.
func readsData(n ast.Node) bool {
	var ids []*ast.IdentifierNode
	callees := map[*ast.IdentifierNode]bool{}
	ast.Walk(&n, visitor(func(node *ast.Node) {
		switch x := (*node).(type) {
		case *ast.IdentifierNode:
			ids = append(ids, x)
		case *ast.PointerNode:
			ids = append(ids, &ast.IdentifierNode{Value: "#"})
		case *ast.CallNode:
			if id, ok := x.Callee.(*ast.IdentifierNode); ok {
				callees[id] = true
			}
		}
	}))
	for _, id := range ids {
		if !callees[id] {
			return true
		}
	}
	return false
}

type visitor func(*ast.Node)

func (f visitor) Visit(n *ast.Node) { f(n) }

// describeNode names a part of an expression for an error message.
func describeNode(n ast.Node) string {
	return "`" + text.Truncate(n.String(), 64) + "`"
}
