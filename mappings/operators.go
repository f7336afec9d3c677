package mappings

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

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
type decimalPatcher struct{}

func (decimalPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.FloatNode:
		d, err := ParseDecimal(strconv.FormatFloat(n.Value, 'f', -1, 64))
		if err != nil {
			return
		}
		c := &ast.ConstantNode{Value: d}
		c.SetType(decimalType)
		ast.Patch(node, c)
	case *ast.UnaryNode:
		if n.Operator == "-" && isDecimal(n.Node.Type()) {
			call(node, "_op_neg", decimalType, n.Node)
		}
	case *ast.BinaryNode:
		l, r := n.Left.Type(), n.Right.Type()
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
		expr.Function("_op_neg", func(p ...any) (any, error) {
			d, ok := p[0].(Decimal)
			if !ok {
				return nil, fmt.Errorf("cannot negate %T", p[0])
			}
			return d.Neg(), nil
		}, new(func(any) Decimal)),
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
		if _, isDec := a.(Decimal); isDec {
			return da, db, false, errFloatMoney
		}
		if _, isDec := b.(Decimal); isDec {
			return da, db, false, errFloatMoney
		}
		return da, db, false, nil
	}
	da, _ = toDecimal(a)
	db, _ = toDecimal(b)
	return da, db, true, nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case Decimal, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
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

// toDecimal converts exact numbers (Decimal and integers) to Decimal.
func toDecimal(v any) (Decimal, bool) {
	switch v := v.(type) {
	case Decimal:
		return v, true
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
