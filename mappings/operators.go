package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

var (
	decimalType = reflect.TypeOf(Decimal{})
	boolType    = reflect.TypeOf(true)
	anyType     = reflect.TypeOf((*any)(nil)).Elem()
)

// errFloatMoney is returned when a float64 meets a Decimal: the float has
// already lost the exact value, so billbridge refuses to guess it.
var errFloatMoney = errors.New("a float cannot be mixed with a decimal amount; write the number as a literal or use decimal()")

// decimalPatcher rewrites the expression tree after type checking so that
// money stays exact:
//   - float literals (1.5) become Decimal constants, from their source digits;
//   - arithmetic and comparison where one side is a Decimal or has no static
//     type (a field of a decoded legacy body) become calls to the dynamic
//     operators below, which use decimal arithmetic for numbers and fall back
//     to expr's own semantics for everything else;
//   - division always goes through Decimal, so it never yields a float.
type decimalPatcher struct {
	src []rune // the expression, to read a literal's digits as written
}

func (p decimalPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.FloatNode:
		d, err := ParseDecimal(p.literal(n))
		if err != nil {
			return
		}
		c := &ast.ConstantNode{Value: d}
		c.SetType(decimalType)
		ast.Patch(node, c)
	case *ast.MemberNode:
		// A field of a decoded body (map[string]any) is read directly;
		// expr's generic fetch goes through reflection. Optional chains
		// (?.) and method calls keep expr's own handling.
		if isUntyped(n.Node.Type()) && !n.Optional && !n.Method {
			call(node, "_get", anyType, n.Node, n.Property)
		}
	case *ast.UnaryNode:
		if n.Operator == "-" && isDecimal(n.Node.Type()) {
			call(node, "_op_neg", decimalType, n.Node)
		} else if n.Operator == "-" && isUntyped(n.Node.Type()) {
			call(node, "_op_neg_any", anyType, n.Node)
		}
	case *ast.BinaryNode:
		l, r := n.Left.Type(), n.Right.Type()
		if isNonNumber(l) || isNonNumber(r) {
			// A string, a bool, a time...: expr's own checker reports
			// "Decimal + string" at compile time; patched, it would only
			// fail when the mapping runs.
			return
		}
		dec := isDecimal(l) || isDecimal(r)
		untyped := isUntyped(l) || isUntyped(r)
		if !dec && !untyped && n.Operator != "/" {
			return
		}
		switch n.Operator {
		case "==", "!=", "<", ">", "<=", ">=":
			call(node, opFuncs[n.Operator], boolType, n.Left, n.Right)
		case "+", "-", "*", "/":
			if dec || n.Operator == "/" {
				call(node, opFuncs[n.Operator]+"_dec", decimalType, n.Left, n.Right)
			} else {
				call(node, opFuncs[n.Operator], anyType, n.Left, n.Right)
			}
		}
	}
}

// literal returns a float literal's digits as written ("10.20"), falling
// back to the shortest form of its float64 value.
func (p decimalPatcher) literal(n *ast.FloatNode) string {
	loc := n.Location()
	if loc.From >= 0 && loc.To <= len(p.src) && loc.From < loc.To {
		text := strings.ReplaceAll(string(p.src[loc.From:loc.To]), "_", "")
		if _, err := ParseDecimal(text); err == nil {
			return text
		}
	}
	return strconv.FormatFloat(n.Value, 'f', -1, 64)
}

var opFuncs = map[string]string{
	"==": "_op_eq", "!=": "_op_ne", "<": "_op_lt", ">": "_op_gt", "<=": "_op_le", ">=": "_op_ge",
	"+": "_op_add", "-": "_op_sub", "*": "_op_mul", "/": "_op_div",
}

func call(node *ast.Node, fn string, t reflect.Type, args ...ast.Node) {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args}
	c.SetType(t)
	ast.Patch(node, c)
}

func isDecimal(t reflect.Type) bool { return t == decimalType }

func isUntyped(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

// isNonNumber reports whether t is a static type that is never a number.
func isNonNumber(t reflect.Type) bool {
	if isUntyped(t) || isDecimal(t) {
		return false
	}
	k := t.Kind()
	return !isIntKind(k) && k != reflect.Float32 && k != reflect.Float64
}

// operatorOptions registers the functions the patcher calls.
func operatorOptions() []expr.Option {
	cmp := func(name string, test func(c int) bool, fallback func(a, b any) bool) expr.Option {
		return expr.Function(name, func(p ...any) (any, error) {
			a, b := p[0], p[1]
			if da, db, ok, err := decimals(a, b); err != nil {
				return nil, err
			} else if ok {
				return test(da.Cmp(db)), nil
			}
			return fallback(a, b), nil
		}, new(func(any, any) bool))
	}
	arith := func(name string, op func(a, b Decimal) (Decimal, error), fallback func(a, b any) any) []expr.Option {
		dec := func(p ...any) (any, error) {
			da, db, ok, err := decimals(p[0], p[1])
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("cannot compute %s of %T and %T", name[4:], p[0], p[1])
			}
			return op(da, db)
		}
		dyn := func(p ...any) (any, error) {
			if isInt(p[0]) && isInt(p[1]) || !isNumber(p[0]) || !isNumber(p[1]) {
				return fallback(p[0], p[1]), nil
			}
			return dec(p...)
		}
		return []expr.Option{
			expr.Function(name+"_dec", dec, new(func(any, any) Decimal)),
			expr.Function(name, dyn, new(func(any, any) any)),
		}
	}
	opts := []expr.Option{
		cmp("_op_eq", func(c int) bool { return c == 0 }, runtime.Equal),
		cmp("_op_ne", func(c int) bool { return c != 0 }, func(a, b any) bool { return !runtime.Equal(a, b) }),
		cmp("_op_lt", func(c int) bool { return c < 0 }, runtime.Less),
		cmp("_op_gt", func(c int) bool { return c > 0 }, runtime.More),
		cmp("_op_le", func(c int) bool { return c <= 0 }, runtime.LessOrEqual),
		cmp("_op_ge", func(c int) bool { return c >= 0 }, runtime.MoreOrEqual),
		expr.Function("_get", func(p ...any) (any, error) {
			if m, ok := p[0].(map[string]any); ok {
				if k, ok := p[1].(string); ok {
					return m[k], nil
				}
			}
			return runtime.Fetch(p[0], p[1]), nil
		}, new(func(any, any) any)),
		expr.Function("_op_neg", func(p ...any) (any, error) {
			d, ok := p[0].(Decimal)
			if !ok {
				return nil, fmt.Errorf("cannot negate %T", p[0])
			}
			return d.Neg(), nil
		}, new(func(any) Decimal)),
		// -x where x has no static type: a Decimal of a legacy body, or
		// whatever expr negates itself.
		expr.Function("_op_neg_any", func(p ...any) (any, error) {
			if isInt(p[0]) || isFloat(p[0]) {
				return runtime.Negate(p[0]), nil
			}
			if d, ok := toDecimal(p[0]); ok {
				return d.Neg(), nil
			}
			return nil, fmt.Errorf("cannot negate %T", p[0])
		}, new(func(any) any)),
	}
	opts = append(opts, arith("_op_add", func(a, b Decimal) (Decimal, error) { return a.Add(b), nil }, runtime.Add)...)
	opts = append(opts, arith("_op_sub", func(a, b Decimal) (Decimal, error) { return a.Sub(b), nil }, runtime.Subtract)...)
	opts = append(opts, arith("_op_mul", func(a, b Decimal) (Decimal, error) { return a.Mul(b), nil }, runtime.Multiply)...)
	opts = append(opts, arith("_op_div", Decimal.Div, func(a, b any) any { return runtime.Divide(a, b) })...)
	return opts
}

// decimals converts both operands when both are numbers and at least one is
// exact. ok is false when the operation is not a decimal one (a string, a
// bool, nil), so the caller falls back to expr's semantics. A float next to a
// Decimal is an error.
func decimals(a, b any) (da, db Decimal, ok bool, err error) {
	if !isNumber(a) || !isNumber(b) {
		return da, db, false, nil
	}
	if isFloat(a) || isFloat(b) {
		if isExact(a) || isExact(b) {
			return da, db, false, errFloatMoney
		}
		return da, db, false, nil
	}
	da, okA := toDecimal(a)
	db, okB := toDecimal(b)
	if !okA || !okB {
		return da, db, false, fmt.Errorf("cannot use %v and %v as amounts", a, b)
	}
	return da, db, true, nil
}

// isExact reports whether v is an exact non-integer-typed number: a Decimal,
// or a json.Number (the raw document of a gateway's payload).
func isExact(v any) bool {
	switch v.(type) {
	case Decimal, json.Number:
		return true
	}
	return false
}

func isNumber(v any) bool {
	switch v.(type) {
	case Decimal, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

func isInt(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

func isFloat(v any) bool {
	switch v.(type) {
	case float32, float64:
		return true
	}
	return false
}

// toDecimal converts exact numbers (Decimal, json.Number and integers) to
// Decimal.
func toDecimal(v any) (Decimal, bool) {
	switch v := v.(type) {
	case Decimal:
		return v, true
	case json.Number:
		d, err := ParseDecimal(string(v))
		return d, err == nil
	case int:
		return DecimalFromInt(int64(v)), true
	case int8:
		return DecimalFromInt(int64(v)), true
	case int16:
		return DecimalFromInt(int64(v)), true
	case int32:
		return DecimalFromInt(int64(v)), true
	case int64:
		return DecimalFromInt(v), true
	case uint8:
		return DecimalFromInt(int64(v)), true
	case uint16:
		return DecimalFromInt(int64(v)), true
	case uint32:
		return DecimalFromInt(int64(v)), true
	case uint:
		d, err := ParseDecimal(strconv.FormatUint(uint64(v), 10))
		return d, err == nil
	case uint64:
		d, err := ParseDecimal(strconv.FormatUint(v, 10))
		return d, err == nil
	}
	return Decimal{}, false
}
