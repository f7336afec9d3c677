package mappings

import (
	"errors"
	"fmt"
	"math/big"
)

// DefaultMaxIntDigits is how many integer digits an amount may have in a
// currency whose table entry sets no bound, or that is not in the table:
// 15 digits (999 trillion) is beyond any payment in any currency
// billbridge knows, and far below what a typo or an attack ("1e1000")
// gives.
const DefaultMaxIntDigits = 15

// DefaultExponent is the number of places allowed for a currency missing
// from the table: 2, ISO 4217's most common exponent.
const DefaultExponent = 2

// ErrTooManyDigits: an amount has more integer digits than its currency
// allows (MaxIntDigits). Test for it with errors.Is.
var ErrTooManyDigits = errors.New("more integer digits than the currency allows")

// Currency is what billbridge knows of one currency.
type Currency struct {
	// Exponent is the number of minor-unit digits: the most fractional
	// places an amount may have.
	Exponent int32
	// MaxIntDigits is the most integer digits an amount may have; 0 means
	// DefaultMaxIntDigits.
	MaxIntDigits int32
}

// Exponents maps ISO 4217 alphabetic codes to what billbridge knows of
// each currency: its exponent (the number of minor-unit digits, the most
// fractional places an amount may have) and the most integer digits an
// amount may have. Codes are upper case ("USD"); lookups are exact.
// Change entries with SetExponent and SetMaxIntDigits.
//
// Only currencies appear here. Quantum Metal's "GC" (gold credits) is a
// unit of its own, not an ISO 4217 currency: it is not two places of
// anything, and ValidCurrencyCode rejects it.
type Exponents map[string]Currency

// DefaultExponents returns a fresh copy of billbridge's exponents, which
// a configuration may change.
//
// They follow ISO 4217 except where the fraction does not circulate and
// gateways never send one:
//   - KHR is 0, although ISO 4217 says 2: the riel's fractions (kak, sen)
//     are out of circulation, prices and bills are whole riel, and
//     Bill24's KHR amounts are whole riel written with ".00" (50000.00).
//     A riel amount with a non-zero fraction is invalid input, not
//     something to round.
//   - LAK is 0, although ISO 4217 says 2, for the same reason: the att is
//     not in use.
//
// VND, JPY and KRW are 0 in ISO 4217 too; BHD, KWD, OMR, JOD and TND are 3.
func DefaultExponents() Exponents {
	places := map[string]int32{
		// Cambodia and the region.
		"KHR": 0,
		"USD": 2,
		"THB": 2,
		"VND": 0,
		"LAK": 0,
		"MYR": 2,
		"SGD": 2,
		"IDR": 2,
		"PHP": 2,
		"MMK": 2,
		"BND": 2,
		"CNY": 2,
		"HKD": 2,
		"TWD": 2,
		"JPY": 0,
		"KRW": 0,
		"INR": 2,
		// Others in common use.
		"EUR": 2,
		"GBP": 2,
		"CHF": 2,
		"AUD": 2,
		"NZD": 2,
		"CAD": 2,
		"SEK": 2,
		"NOK": 2,
		"DKK": 2,
		"AED": 2,
		"SAR": 2,
		"BHD": 3,
		"KWD": 3,
		"OMR": 3,
		"JOD": 3,
		"TND": 3,
		"CLP": 0,
		"ISK": 0,
		"XAF": 0,
		"XOF": 0,
	}
	e := make(Exponents, len(places))
	for code, exp := range places {
		e[code] = Currency{Exponent: exp}
	}
	return e
}

// Exponent returns the exponent of code and whether code is known.
// A nil Exponents knows no code.
func (e Exponents) Exponent(code string) (int32, bool) {
	c, ok := e[code]
	return c.Exponent, ok
}

// MaxIntDigits returns the most integer digits an amount in code may
// have: the entry's bound, or DefaultMaxIntDigits.
func (e Exponents) MaxIntDigits(code string) int32 {
	if n := e[code].MaxIntDigits; n > 0 {
		return n
	}
	return DefaultMaxIntDigits
}

// SetExponent sets code's exponent, adding code if it is new and keeping
// its digit bound.
func (e Exponents) SetExponent(code string, exp int32) {
	c := e[code]
	c.Exponent = exp
	e[code] = c
}

// SetMaxIntDigits sets the most integer digits an amount in code may
// have (0: DefaultMaxIntDigits), adding code with DefaultExponent if it
// is new.
func (e Exponents) SetMaxIntDigits(code string, n int32) {
	c, ok := e[code]
	if !ok {
		c.Exponent = DefaultExponent
	}
	c.MaxIntDigits = n
	e[code] = c
}

// CheckAmount checks that d is a valid amount in currency code: no more
// integer digits than MaxIntDigits (ErrTooManyDigits) and no non-zero
// digit beyond the exponent's places (ErrTooManyPlaces); a code missing
// from e has DefaultExponent places. name says which field it is in the
// error, e.g. "tran_amount 10.205 has more decimal places than USD allows
// (2)". The sign is the caller's to check.
func (e Exponents) CheckAmount(name string, d Decimal, code string) error {
	if n := e.MaxIntDigits(code); !d.fitsIntDigits(n) {
		return &amountError{fmt.Sprintf("%s %s has more integer digits than %s allows (%d)", name, truncate(d.String()), code, n), ErrTooManyDigits}
	}
	exp, ok := e.Exponent(code)
	if !ok {
		exp = DefaultExponent
	}
	if !d.FitsExponent(exp) {
		return &amountError{fmt.Sprintf("%s %s has more decimal places than %s allows (%d)", name, truncate(d.String()), code, exp), ErrTooManyPlaces}
	}
	return nil
}

// amountError says what is wrong with an amount in words, and is the
// sentinel kind for errors.Is.
type amountError struct {
	msg  string
	kind error
}

func (e *amountError) Error() string { return e.msg }
func (e *amountError) Unwrap() error { return e.kind }

// fitsIntDigits reports whether |d| < 10^n, that is, d has at most n
// integer digits (n >= 0).
func (d Decimal) fitsIntDigits(n int32) bool {
	k := int64(n) + int64(d.scale) // |d| < 10^n iff |unscaled| < 10^k
	if d.big == nil {
		if k >= int64(len(pow10)) {
			return true // |small| <= 2^63 < 10^19
		}
		return mag(d.small) < pow10[k]
	}
	if k >= maxDigits(d.big) {
		return true
	}
	return new(big.Int).Abs(d.big).Cmp(bigPow10(k)) < 0
}

// ValidCurrencyCode reports whether code has the shape of an ISO 4217
// alphabetic code: exactly three ASCII upper-case letters. It does not
// check that the currency exists.
func ValidCurrencyCode(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}
