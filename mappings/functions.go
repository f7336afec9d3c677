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
		// parse_date(s): a date string as a time; zoneless means Phnom Penh time.
		expr.Function("parse_date", func(p ...any) (any, error) {
			return ParseDate(p[0].(string), PhnomPenh)
		}, new(func(string) time.Time)),
		// format_date(t, layout): a time in Go layout, in Phnom Penh time.
		expr.Function("format_date", func(p ...any) (any, error) {
			return p[0].(time.Time).In(PhnomPenh).Format(p[1].(string)), nil
		}, new(func(time.Time, string) string)),
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
