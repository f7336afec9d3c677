package mappings

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Kind is the type a mapping's result must have.
type Kind int

// The kinds of results.
const (
	KindAny     Kind = iota // anything (a request body, a header value)
	KindString              // text; amounts and numbers are written exactly
	KindDecimal             // an exact amount
	KindBool                // a condition
	KindInt                 // a whole number
	KindDate                // a date, written in the gateway's format
)

func (k Kind) String() string {
	return [...]string{"any value", "text", "an amount", "a condition (bool)", "a whole number", "a date"}[k]
}

// maxNodes bounds an expression's size: mappings are field formulas, not programs.
const maxNodes = 2000

// Compiler compiles mappings with billbridge's helpers and exact-money
// operators. It is safe for concurrent use.
type Compiler struct {
	plain []expr.Option // helpers and operators; Compile adds the patcher
}

// NewCompiler returns a compiler whose money helpers use exps.
func NewCompiler(exps Exponents) *Compiler {
	plain := append([]expr.Option{expr.MaxNodes(maxNodes)}, operatorOptions()...)
	plain = append(plain, functionOptions(exps)...)
	return &Compiler{plain: plain}
}

// Program is a compiled mapping.
type Program struct {
	src  string
	kind Kind
	prog *vm.Program
}

// Compile compiles src against env (a value of the environment type, such
// as RequestEnv[T]{}) and checks that its result can be of kind want.
func (c *Compiler) Compile(src string, env any, want Kind) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	opts := append([]expr.Option{expr.Env(env), expr.Patch(decimalPatcher{src: []rune(src)})}, c.plain...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	if err := c.strictCheck(src, env); err != nil {
		return nil, err
	}
	if err := checkKind(prog.Node().Type(), want); err != nil {
		return nil, err
	}
	if err := checkZoneLiterals(src, prog.Node()); err != nil {
		return nil, err
	}
	return &Program{src: src, kind: want, prog: prog}, nil
}

// strictCheck compiles src once more without the decimal patcher, to catch
// what expr v1.17's checker loses once a patcher is installed: after its
// first pass it no longer reports a misspelt field or a wrong argument type
// inside a function call. Without the patcher, decimal operators are
// errors, so only the kinds of error the patcher cannot fix are reported.
func (c *Compiler) strictCheck(src string, env any) error {
	opts := append([]expr.Option{expr.Env(env)}, c.plain...)
	_, err := expr.Compile(src, opts...)
	if err == nil {
		return nil
	}
	msg := oneLine(err.Error())
	for _, s := range []string{"has no field", "unknown name", "cannot use", "not enough arguments", "too many arguments"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// oneLine folds expr's multi-line error (message, source, caret) into one.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "|"))
	}
	return strings.Join(lines[:1], "")
}

var timeType = reflect.TypeOf(time.Time{})

// checkKind refuses a result type that can never be of kind want. Untyped
// results (fields of a legacy body) are checked when they run.
func checkKind(t reflect.Type, want Kind) error {
	if want == KindAny || isUntyped(t) {
		return nil
	}
	k := t.Kind()
	ok := false
	switch want {
	case KindString:
		ok = k == reflect.String || t == decimalType || isIntKind(k) || k == reflect.Bool || t == timeType
	case KindDecimal:
		ok = t == decimalType || isIntKind(k) || k == reflect.String
		if k == reflect.Float64 || k == reflect.Float32 {
			return fmt.Errorf("gives a float, which cannot carry money exactly; use decimal amounts")
		}
	case KindBool:
		ok = k == reflect.Bool
	case KindInt:
		ok = isIntKind(k) || t == decimalType
	case KindDate:
		ok = k == reflect.String || t == timeType
	}
	if !ok {
		return fmt.Errorf("gives %s, want %s", t, want)
	}
	return nil
}

func isIntKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// Run evaluates the mapping in env (the same type it was compiled against).
func (p *Program) Run(env any) (any, error) {
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(p.prog, env)
	vmPool.Put(m)
	if err != nil {
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	return out, nil
}

// Bool runs a condition.
func (p *Program) Bool(env any) (bool, error) {
	v, err := p.Run(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s gave %T, want a condition (bool)", p.src, v)
	}
	return b, nil
}

// String runs a text mapping; amounts and numbers are written exactly.
func (p *Program) String(env any) (string, error) {
	v, err := p.Run(env)
	if err != nil {
		return "", err
	}
	s, err := Text(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.src, err)
	}
	return s, nil
}

// Decimal runs an amount mapping.
func (p *Program) Decimal(env any) (Decimal, error) {
	v, err := p.Run(env)
	if err != nil {
		return Decimal{}, err
	}
	d, err := AsDecimal(v)
	if err != nil {
		return Decimal{}, fmt.Errorf("%s: %w", p.src, err)
	}
	return d, nil
}

// Bill24Date runs a date mapping and writes the result in Bill24's format.
func (p *Program) Bill24Date(env any) (string, error) {
	v, err := p.Run(env)
	if err != nil {
		return "", err
	}
	s, err := FormatBill24Date(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.src, err)
	}
	return s, nil
}

// Batch runs several mappings of one environment in a single pass of the
// VM: one array expression instead of one program each. When the combined
// expression cannot be compiled (a let in a field, say), it runs them one
// by one; either way each keeps its own compile-time checks and its own
// error.
type Batch struct {
	all  *Program
	each []*Program
}

// NewBatch combines progs, all compiled against env.
func (c *Compiler) NewBatch(progs []*Program, env any) *Batch {
	b := &Batch{each: progs}
	if len(progs) < 2 {
		return b
	}
	parts := make([]string, len(progs))
	for i, p := range progs {
		parts[i] = "(" + p.src + ")"
	}
	if all, err := c.Compile("["+strings.Join(parts, ",\n")+"]", env, KindAny); err == nil {
		b.all = all
	}
	return b
}

// Run evaluates every mapping. On an error it reports the index of the
// mapping that failed.
func (b *Batch) Run(env any) ([]any, int, error) {
	if b.all != nil {
		if v, err := b.all.Run(env); err == nil {
			if out, ok := v.([]any); ok && len(out) == len(b.each) {
				return out, -1, nil
			}
		}
	}
	out := make([]any, len(b.each))
	for i, p := range b.each {
		v, err := p.Run(env)
		if err != nil {
			return nil, i, err
		}
		out[i] = v
	}
	return out, -1, nil
}
