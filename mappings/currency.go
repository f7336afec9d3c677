package mappings

// Exponents maps ISO 4217 alphabetic codes to the number of minor-unit
// digits billbridge uses: the most fractional places an amount in that
// currency may have. Codes are upper case ("USD"); lookups are exact.
//
// Only currencies appear here. Quantum Metal's "GC" (gold credits) is a
// unit of its own, not an ISO 4217 currency: it is not two places of
// anything, and ValidCurrencyCode rejects it.
type Exponents map[string]int32

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
	return Exponents{
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
}

// Exponent returns the exponent of code and whether code is known.
// A nil Exponents knows no code.
func (e Exponents) Exponent(code string) (int32, bool) {
	exp, ok := e[code]
	return exp, ok
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
