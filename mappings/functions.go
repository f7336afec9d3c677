package mappings

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
)

// AsDecimal converts what a mapping produced into an exact amount: a Decimal,
// an integer, or a string holding a decimal number. A float is refused: it
// has already lost the exact value.
func AsDecimal(v any) (Decimal, error) {
	switch v := v.(type) {
	case string:
		return ParseDecimal(strings.TrimSpace(v))
	case json.Number:
		return ParseDecimal(string(v))
	case float32, float64:
		return Decimal{}, errFloatMoney
	case nil:
		return Decimal{}, fmt.Errorf("no amount (nil)")
	}
	if d, ok := toDecimal(v); ok {
		return d, nil
	}
	return Decimal{}, fmt.Errorf("cannot use %T as an amount", v)
}

// functionOptions returns the helpers mappings can call. exps gives the
// currency exponents used by the formatting helpers.
func functionOptions(exps Exponents) []expr.Option {
	exponent := func(code string) (int32, error) {
		e, ok := exps.Exponent(code)
		if !ok {
			return 0, fmt.Errorf("unknown currency %q (add it to the currency exponents)", code)
		}
		return e, nil
	}
	return []expr.Option{
		// decimal(x): an exact amount from a number or a numeric string.
		expr.Function("decimal", func(p ...any) (any, error) {
			return AsDecimal(p[0])
		}, new(func(any) Decimal)),
		// round(x, places): half away from zero, to exactly places digits.
		expr.Function("round", func(p ...any) (any, error) {
			d, err := AsDecimal(p[0])
			if err != nil {
				return nil, err
			}
			return d.Round(places(p[1])), nil
		}, new(func(any, int) Decimal)),
		// round_bank(x, places): half to even.
		expr.Function("round_bank", func(p ...any) (any, error) {
			d, err := AsDecimal(p[0])
			if err != nil {
				return nil, err
			}
			return d.RoundBank(places(p[1])), nil
		}, new(func(any, int) Decimal)),
		// format_amount(x, currency): the amount with exactly the currency's
		// places ("10.20" USD, "50000" KHR); more places than that is an error,
		// never a silent rounding.
		expr.Function("format_amount", func(p ...any) (any, error) {
			d, err := AsDecimal(p[0])
			if err != nil {
				return nil, err
			}
			e, err := exponent(p[1].(string))
			if err != nil {
				return nil, err
			}
			if !d.FitsExponent(e) {
				return nil, fmt.Errorf("%s has more decimal places than %s allows (%d)", d, p[1], e)
			}
			return d.StringFixed(e), nil
		}, new(func(any, string) string)),
		// minor(x, currency): the amount in minor units (cents): 10.20 USD -> 1020.
		expr.Function("minor", func(p ...any) (any, error) {
			d, err := AsDecimal(p[0])
			if err != nil {
				return nil, err
			}
			e, err := exponent(p[1].(string))
			if err != nil {
				return nil, err
			}
			u, err := d.MinorUnits(e)
			return int(u), err
		}, new(func(any, string) int)),
		// from_minor(units, currency): 1020 USD -> 10.20.
		expr.Function("from_minor", func(p ...any) (any, error) {
			d, err := AsDecimal(p[0])
			if err != nil {
				return nil, err
			}
			u, ok := d.Int64()
			if !ok {
				return nil, fmt.Errorf("minor units must be a whole number, got %s", d)
			}
			e, err := exponent(p[1].(string))
			if err != nil {
				return nil, err
			}
			return DecimalFromMinorUnits(u, e), nil
		}, new(func(any, string) Decimal)),
		// urlquery(s): escape for a query value.
		expr.Function("urlquery", func(p ...any) (any, error) {
			s, err := Text(p[0])
			return url.QueryEscape(s), err
		}, new(func(any) string)),
		// urlpath(s): escape for one path segment.
		expr.Function("urlpath", func(p ...any) (any, error) {
			s, err := Text(p[0])
			return url.PathEscape(s), err
		}, new(func(any) string)),
		// text(x): any scalar as text, amounts exactly.
		expr.Function("text", func(p ...any) (any, error) {
			return Text(p[0])
		}, new(func(any) string)),
		// bill24_date(x): a time or date string as "YYYY-MM-DD HH:mm:ss" in Phnom Penh time.
		expr.Function("bill24_date", func(p ...any) (any, error) {
			return FormatBill24Date(p[0])
		}, new(func(any) string)),
		// parse_date(s [, zone]): a date as a time. It reads Bill24's
		// "2024-03-30 10:46:33", ISO 8601 with or without fractional
		// seconds ("2024-11-29T16:58:16.727168") and RFC 3339 with a zone;
		// zoneless text is in zone (default Phnom Penh time, +07:00). A time
		// passes through. QM's unix milliseconds: from_unix_ms.
		expr.Function("parse_date", func(p ...any) (any, error) {
			loc, err := zoneArg(p, 1)
			if err != nil {
				return nil, err
			}
			return AsTime(p[0], loc)
		}, new(func(time.Time, ...string) time.Time), new(func(string, ...string) time.Time)),
		// format_date(t, layout [, zone]): a time, or a date parse_date
		// reads, in Go layout ("2006-01-02 15:04:05") in zone (default
		// Phnom Penh time). zone is where the date is written: zoneless
		// text is read as parse_date reads it, in Phnom Penh time (Bill24's
		// dates); for another zone, parse_date(s, zone) first.
		expr.Function("format_date", func(p ...any) (any, error) {
			loc, err := zoneArg(p, 2)
			if err != nil {
				return nil, err
			}
			t, err := AsTime(p[0], PhnomPenh)
			if err != nil {
				return nil, err
			}
			layout, ok := p[1].(string)
			if !ok {
				return nil, fmt.Errorf("format_date: the layout must be text, got %T", p[1])
			}
			return t.In(loc).Format(layout), nil
		}, new(func(string, string, ...string) string), new(func(time.Time, string, ...string) string)),
		// from_unix_ms(n): a unix time in milliseconds (QM's dateTime and
		// expiredOn) as a time. Typed so that a float (req.dateTime / 1000)
		// or text is refused at load.
		expr.Function("from_unix_ms", func(p ...any) (any, error) {
			return FromUnixMs(p[0])
		}, new(func(Decimal) time.Time), new(func(int) time.Time)),
		// to_unix_ms(t): a time in unix milliseconds, as QM writes times.
		expr.Function("to_unix_ms", func(p ...any) (any, error) {
			t, ok := p[0].(time.Time)
			if !ok {
				return nil, fmt.Errorf("to_unix_ms takes a time (parse_date, from_unix_ms), got %T", p[0])
			}
			return int(ToUnixMs(t)), nil
		}, new(func(time.Time) int)),
		// date(...): expr's own, with its argument types declared so that
		// date(req.dateTime / 1000) is refused at load rather than failing
		// on every payment; a number gets a hint to use from_unix_ms.
		typedDate(),
		// truncate(s, n): at most n characters (not bytes: Khmer stays whole).
		expr.Function("truncate", func(p ...any) (any, error) {
			return truncateRunes(p[0].(string), p[1].(int)), nil
		}, new(func(string, int) string)),
		// digits(s): only the digits of s ("010-888 999" -> "010888999").
		expr.Function("digits", func(p ...any) (any, error) {
			return strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) {
					return r
				}
				return -1
			}, p[0].(string)), nil
		}, new(func(string) string)),
		// coalesce(a, b, ...): the first argument that is neither nil nor "".
		expr.Function("coalesce", func(p ...any) (any, error) {
			for _, v := range p {
				if v != nil && v != "" {
					return v, nil
				}
			}
			return nil, nil
		}),
	}
}

// zoneArg is the location named by the optional argument p[i]; default
// Phnom Penh time, billbridge's zone for dates without one.
func zoneArg(p []any, i int) (*time.Location, error) {
	if len(p) <= i {
		return PhnomPenh, nil
	}
	if len(p) > i+1 {
		return nil, fmt.Errorf("too many arguments: the last one is the time zone")
	}
	name, ok := p[i].(string)
	if !ok {
		return nil, fmt.Errorf("a time zone must be text, got %T", p[i])
	}
	return LoadZone(name)
}

// checkZoneLiterals makes a time zone written as a literal in format_date,
// parse_date or date that cannot be loaded an error when the config loads,
// not on every payment, at the zone's position in src. (A patcher could
// not do it: the checker drops argument errors once one is installed.)
func checkZoneLiterals(src string, root ast.Node) error {
	v := &zoneLiterals{}
	ast.Walk(&root, v)
	if v.err == nil {
		return nil
	}
	return fmt.Errorf("%s", oneLine(v.err.Bind(file.NewSource(src)).Error()))
}

type zoneLiterals struct{ err *file.Error }

// Visit implements ast.Visitor.
func (z *zoneLiterals) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || z.err != nil {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	at, load := -1, func(name string) error { _, err := LoadZone(name); return err }
	switch callee.Value {
	case "format_date":
		at = 2
	case "parse_date":
		at = 1
	case "date": // expr's own: date(s, layout, zone), zones by IANA name only
		at = 2
		load = func(name string) error {
			if _, err := time.LoadLocation(name); err != nil || name == "" || name == "Local" {
				return fmt.Errorf("unknown time zone %q (date wants an IANA name such as Asia/Kuala_Lumpur)", truncateText(name, 40))
			}
			return nil
		}
	}
	if at < 0 || len(call.Arguments) <= at {
		return
	}
	lit, ok := call.Arguments[at].(*ast.StringNode)
	if !ok {
		return
	}
	if err := load(lit.Value); err != nil {
		z.err = &file.Error{Location: lit.Location(), Message: err.Error()}
	}
}

// typedDate is expr's date builtin with declared argument types: the
// builtin accepts any argument when the config loads and then fails on the
// first payment when it is not text.
func typedDate() expr.Option {
	builtinDate := builtin.Builtins[builtin.Index["date"]].Func
	return expr.Function("date", func(p ...any) (any, error) {
		texts := p
		if _, isZone := p[0].(*time.Location); isZone {
			texts = p[1:]
		}
		if len(texts) > 3 {
			return nil, fmt.Errorf("date takes at most a date, a layout and a zone")
		}
		for _, v := range texts {
			if _, ok := v.(string); !ok {
				if isNumber(v) {
					return nil, fmt.Errorf("date takes text, got the number %v: for unix milliseconds (QM's dateTime) use from_unix_ms", v)
				}
				return nil, fmt.Errorf("date takes text, got %T", v)
			}
		}
		return builtinDate(p...)
	}, new(func(*time.Location, string, ...string) time.Time), new(func(string, ...string) time.Time))
}

func truncateRunes(s string, n int) string {
	if n < 0 {
		n = 0
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// places is round's places argument as an int32. Beyond int32's range it
// saturates, which gives the same result as the exact value would (Round
// caps places at maxExponent, and rounding to 10^2147483648 gives 0),
// where a plain conversion would wrap: 2^32+1 places would round to 1.
func places(p any) int32 {
	n := p.(int)
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < math.MinInt32:
		return math.MinInt32
	}
	return int32(n)
}
