package mappings

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"unicode/utf8"
)

// Errors returned by the decimal functions. They are wrapped with the
// offending input; test for them with errors.Is.
var (
	// ErrInvalidDecimal: the text is not a decimal number.
	ErrInvalidDecimal = errors.New("invalid decimal")
	// ErrExponentRange: an exponent ("1e5000") or a number of places is
	// beyond what billbridge accepts (±1000). It is wrapped together
	// with ErrInvalidDecimal when it comes from parsing.
	ErrExponentRange = errors.New("exponent out of range")
	// ErrDivisionByZero: the divisor of Div is zero.
	ErrDivisionByZero = errors.New("decimal division by zero")
	// ErrNotANumber: a JSON value is not a number or a string holding
	// one (null, true, false, an object or an array).
	ErrNotANumber = errors.New("json value is not a number")
	// ErrTooManyPlaces: the amount has non-zero digits beyond the
	// currency exponent, such as 10.205 in a currency with 2 places.
	ErrTooManyPlaces = errors.New("more decimal places than the exponent allows")
	// ErrOverflow: the value does not fit in an int64.
	ErrOverflow = errors.New("decimal overflows int64")
)

// DivScale is the number of fractional digits Div computes at least.
const DivScale = 16

// maxExponent bounds the exponents accepted by ParseDecimal, the
// exponents of MinorUnits and DecimalFromMinorUnits, and how far Round,
// RoundBank and Truncate pad with zeros. Without a bound, an input such
// as "1e999999999" would allocate gigabytes.
const maxExponent = 1000

// Decimal is an exact decimal number: an unscaled integer and a scale,
// the number of fractional digits. Its value is unscaled × 10^-scale.
// The scale is kept as given: "10.20" has scale 2 and prints as "10.20".
//
// The zero value is 0. A Decimal is immutable and safe to copy and to
// share between goroutines. Compare values with Cmp or Equal, not ==:
// 10.2 and 10.20 are equal numbers with different scales.
//
// The unscaled value is an int64 while it fits, and a *big.Int beyond.
// Amounts never pass through float64.
type Decimal struct {
	// big holds the unscaled value when it does not fit in an int64, and
	// is nil otherwise. It is never modified once the Decimal is built.
	big   *big.Int
	small int64
	scale int32 // >= 0
}

// pow10[i] is 10^i; 10^19 is the largest power of ten in a uint64.
var pow10 = func() (t [20]uint64) {
	p := uint64(1)
	for i := range t {
		t[i] = p
		p *= 10
	}
	return t
}()

// bigPow10Cache holds 10^0 … 10^63; the values are never modified.
var bigPow10Cache = func() (t [64]*big.Int) {
	ten := big.NewInt(10)
	p := big.NewInt(1)
	for i := range t {
		t[i] = new(big.Int).Set(p)
		p.Mul(p, ten)
	}
	return t
}()

// bigPow10 returns 10^k. The result must not be modified.
func bigPow10(k int64) *big.Int {
	if k < int64(len(bigPow10Cache)) {
		return bigPow10Cache[k]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(k), nil)
}

// mag returns |x|; it is exact for math.MinInt64 too.
func mag(x int64) uint64 {
	u := uint64(x) //nolint:gosec // G115: two's complement on purpose; -u below makes it |x|
	if x < 0 {
		u = -u
	}
	return u
}

// signed returns -u if neg, else u, and whether that fits in an int64.
func signed(u uint64, neg bool) (int64, bool) {
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true //nolint:gosec // G115: u ≤ 1<<63, so -u is within int64
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// mulPow10 returns x × 10^k and whether it fits in an int64 (k >= 0).
func mulPow10(x int64, k int64) (int64, bool) {
	if x == 0 || k == 0 {
		return x, true
	}
	if k >= int64(len(pow10)) {
		return 0, false
	}
	hi, lo := bits.Mul64(mag(x), pow10[k])
	if hi != 0 {
		return 0, false
	}
	return signed(lo, x < 0)
}

// makeDecimal builds a Decimal from b, which it takes ownership of.
func makeDecimal(b *big.Int, scale int32) Decimal {
	if b.IsInt64() {
		return Decimal{small: b.Int64(), scale: scale}
	}
	return Decimal{big: b, scale: scale}
}

// unscaled returns the unscaled value. The result must not be modified.
func (d Decimal) unscaled() *big.Int {
	if d.big != nil {
		return d.big
	}
	return big.NewInt(d.small)
}

// bigAt returns a new big.Int holding the unscaled value of d at scale,
// which must be >= d.scale.
func (d Decimal) bigAt(scale int32) *big.Int {
	b := new(big.Int)
	if d.big != nil {
		b.Set(d.big)
	} else {
		b.SetInt64(d.small)
	}
	if scale > d.scale && b.Sign() != 0 {
		b.Mul(b, bigPow10(int64(scale)-int64(d.scale)))
	}
	return b
}

// mulPow10 returns d with its unscaled value multiplied by 10^k (k >= 0)
// and its scale unchanged.
func (d Decimal) mulPow10(k int64) Decimal {
	if d.IsZero() || k == 0 {
		return d
	}
	if d.big == nil {
		if v, ok := mulPow10(d.small, k); ok {
			return Decimal{small: v, scale: d.scale}
		}
	}
	b := d.bigAt(d.scale)
	return makeDecimal(b.Mul(b, bigPow10(k)), d.scale)
}

// rescale returns d with scale s >= d.scale, padding with zeros.
func (d Decimal) rescale(s int32) Decimal {
	r := d.mulPow10(int64(s) - int64(d.scale))
	r.scale = s
	return r
}

// maxDigits returns an upper bound of the number of decimal digits of a
// non-zero big unscaled value: |b| < 10^maxDigits.
func maxDigits(b *big.Int) int64 {
	return int64(b.BitLen())/3 + 1
}

// divisibleByPow10 reports whether the unscaled value is a multiple of
// 10^k (k >= 0).
func (d Decimal) divisibleByPow10(k int64) bool {
	if k == 0 || d.IsZero() {
		return true
	}
	if d.big == nil {
		if k >= int64(len(pow10)) {
			return false // 0 < |small| < 10^19
		}
		return mag(d.small)%pow10[k] == 0
	}
	if k >= maxDigits(d.big) {
		return false
	}
	_, r := new(big.Int).QuoRem(d.big, bigPow10(k), new(big.Int))
	return r.Sign() == 0
}

// DecimalFromInt returns i as a Decimal with scale 0.
func DecimalFromInt(i int64) Decimal {
	return Decimal{small: i}
}

// DecimalFromMinorUnits returns units × 10^-exp: (1020, 2) is 10.20, with
// scale exp. A negative exp multiplies: (5, -2) is 500. It panics if
// |exp| > 1000; currency exponents are 0 to 4.
func DecimalFromMinorUnits(units int64, exp int32) Decimal {
	if exp < -maxExponent || exp > maxExponent {
		panic(fmt.Sprintf("mappings: DecimalFromMinorUnits: %v: %d", ErrExponentRange, exp))
	}
	if exp >= 0 {
		return Decimal{small: units, scale: exp}
	}
	return Decimal{small: units}.mulPow10(-int64(exp))
}

// MustDecimal is ParseDecimal for constants and tests: it panics if s is
// not a decimal.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("mappings: " + err.Error())
	}
	return d
}

// ParseDecimal parses a decimal number in the JSON number syntax, with an
// optional leading '+' and leading zeros allowed: "10", "-1", "+5",
// "10.20", "007", "1e3", "1.5E-2". The scale is kept as written: "10.20"
// has scale 2. An exponent is applied exactly ("1e3" is 1000 with scale
// 0, "1.5E-2" is 0.015 with scale 3); it must be within ±1000.
//
// Rejected: "", ".5", "5.", "1.2.3", "1_000", " 1", "0x10", "NaN", "Inf".
func ParseDecimal(s string) (Decimal, error) {
	return parseDecimal(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func parseDecimal[T string | []byte](s T) (Decimal, error) {
	// A longer input could overflow the int32 scale.
	if len(s) == 0 || len(s) > math.MaxInt32/2 {
		return Decimal{}, invalid(string(s))
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}

	var m uint64 // the digits, while they fit
	overflow := false
	digits := func() int {
		start := i
		for ; i < len(s) && isDigit(s[i]); i++ {
			c := uint64(s[i] - '0')
			switch {
			case overflow:
			case m < 1e18:
				m = m*10 + c
			default:
				hi, lo := bits.Mul64(m, 10)
				if lo += c; hi != 0 || lo < c {
					overflow = true
				} else {
					m = lo
				}
			}
		}
		return i - start
	}

	intStart := i
	if digits() == 0 {
		return Decimal{}, invalid(string(s))
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		if digits() == 0 {
			return Decimal{}, invalid(string(s))
		}
		fracEnd = i
	}

	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		start := i
		for ; i < len(s) && isDigit(s[i]); i++ {
			if exp <= maxExponent { // saturate; leading zeros are fine
				exp = exp*10 + int64(s[i]-'0')
			}
		}
		if i == start {
			return Decimal{}, invalid(string(s))
		}
		if exp > maxExponent {
			if i != len(s) {
				return Decimal{}, invalid(string(s))
			}
			return Decimal{}, fmt.Errorf("%w: %w: %q", ErrInvalidDecimal, ErrExponentRange, truncate(string(s)))
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(s) {
		return Decimal{}, invalid(string(s))
	}

	var d Decimal
	fits := false
	if !overflow {
		d.small, fits = signed(m, neg)
	}
	if !fits {
		buf := make([]byte, 0, 1+(intEnd-intStart)+(fracEnd-fracStart))
		if neg {
			buf = append(buf, '-')
		}
		buf = append(buf, s[intStart:intEnd]...)
		buf = append(buf, s[fracStart:fracEnd]...)
		b, ok := new(big.Int).SetString(string(buf), 10)
		if !ok { // cannot happen: buf holds only digits
			return Decimal{}, invalid(string(s))
		}
		d = makeDecimal(b, 0)
	}

	scale := int64(fracEnd-fracStart) - exp
	if scale < 0 {
		return d.mulPow10(-scale), nil
	}
	d.scale = int32(scale) //nolint:gosec // G115: 0 ≤ scale ≤ len(s) + maxExponent, and len(s) ≤ MaxInt32/2
	return d, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func invalid(s string) error {
	return fmt.Errorf("%w: %q", ErrInvalidDecimal, truncate(s))
}

// String returns d exactly, with the digits of its scale: "10.20",
// "50000.00", "-1", "0.3". It never uses an exponent.
func (d Decimal) String() string {
	var buf [48]byte
	return string(d.AppendText(buf[:0]))
}

// AppendText appends the String form of d to b and returns the extended
// buffer.
//
// Unlike encoding.TextAppender, it returns no error (it cannot fail).
func (d Decimal) AppendText(b []byte) []byte {
	var digits []byte
	var buf [20]byte
	if d.big == nil {
		if d.small < 0 {
			b = append(b, '-')
		}
		digits = appendUint(buf[:0], mag(d.small))
	} else {
		digits = d.big.Append(nil, 10)
		if digits[0] == '-' {
			b = append(b, '-')
			digits = digits[1:]
		}
	}
	scale := int(d.scale)
	if scale == 0 {
		return append(b, digits...)
	}
	if n := len(digits); n > scale {
		b = append(b, digits[:n-scale]...)
		b = append(b, '.')
		return append(b, digits[n-scale:]...)
	}
	b = append(b, '0', '.')
	for range scale - len(digits) {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// appendUint appends the decimal digits of u (strconv.AppendUint, kept
// here so that buf stays on the stack).
func appendUint(b []byte, u uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for u >= 10 {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
	}
	i--
	tmp[i] = byte('0' + u)
	return append(b, tmp[i:]...)
}

// MarshalJSON encodes d as a bare JSON number with its scale: 10.20 is
// 10.20, never "10.20" and never 10.2.
func (d Decimal) MarshalJSON() ([]byte, error) {
	n := 24 + int(d.scale)
	if d.big != nil {
		n = 0
	}
	return d.AppendText(make([]byte, 0, n)), nil
}

// UnmarshalJSON accepts a JSON number (10, 10.20, 1e3) or a JSON string
// holding one ("100.00"), with the syntax of ParseDecimal. null, true,
// false, objects and arrays are ErrNotANumber; on error, d is unchanged.
//
// null is an error, not a no-op as encoding/json's convention would
// have it, so that a missing amount is noticed: declare optional amounts
// as *Decimal, which encoding/json sets to nil on null without calling
// UnmarshalJSON.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, " \t\r\n")
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrNotANumber)
	}
	switch c := b[0]; {
	case c == '"':
		if len(b) < 2 || b[len(b)-1] != '"' {
			return invalid(string(b))
		}
		inner := b[1 : len(b)-1]
		if bytes.IndexByte(inner, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return invalid(string(b))
			}
			inner = []byte(s)
		}
		v, err := parseDecimal(inner)
		if err != nil {
			return err
		}
		*d = v
		return nil
	case c == '-' || c == '+' || isDigit(c):
		v, err := parseDecimal(b)
		if err != nil {
			return err
		}
		*d = v
		return nil
	default:
		return fmt.Errorf("%w: %s", ErrNotANumber, truncate(string(b)))
	}
}

// MarshalText returns the String form of d.
func (d Decimal) MarshalText() ([]byte, error) {
	return d.MarshalJSON()
}

// UnmarshalText parses text with ParseDecimal.
func (d *Decimal) UnmarshalText(text []byte) error {
	v, err := parseDecimal(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Scale returns the number of fractional digits as stored.
func (d Decimal) Scale() int32 { return d.scale }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	if d.big != nil {
		return d.big.Sign()
	}
	return cmp.Compare(d.small, 0)
}

// IsZero reports whether d is 0, at any scale.
func (d Decimal) IsZero() bool { return d.big == nil && d.small == 0 }

// Cmp compares the values of d and o: -1 if d < o, 0 if equal, +1 if
// d > o. The scale does not matter: 10.20 equals 10.2.
func (d Decimal) Cmp(o Decimal) int {
	ds, os := d.Sign(), o.Sign()
	if ds != os {
		return cmp.Compare(ds, os)
	}
	if ds == 0 {
		return 0
	}
	if d.big == nil && o.big == nil {
		if d.scale == o.scale {
			return cmp.Compare(d.small, o.small)
		}
		s := max(d.scale, o.scale)
		a, ok1 := mulPow10(d.small, int64(s-d.scale))
		b, ok2 := mulPow10(o.small, int64(s-o.scale))
		if ok1 && ok2 {
			return cmp.Compare(a, b)
		}
	}
	s := max(d.scale, o.scale)
	return d.bigAt(s).Cmp(o.bigAt(s))
}

// Equal reports whether d and o have the same value: 10.20 equals 10.2.
func (d Decimal) Equal(o Decimal) bool { return d.Cmp(o) == 0 }

// Add returns d + o, with the larger of the two scales.
func (d Decimal) Add(o Decimal) Decimal { return d.add(o, false) }

// Sub returns d - o, with the larger of the two scales.
func (d Decimal) Sub(o Decimal) Decimal { return d.add(o, true) }

func (d Decimal) add(o Decimal, sub bool) Decimal {
	s := max(d.scale, o.scale)
	if d.big == nil && o.big == nil {
		a, ok1 := mulPow10(d.small, int64(s-d.scale))
		b, ok2 := mulPow10(o.small, int64(s-o.scale))
		if ok1 && ok2 && (!sub || b != math.MinInt64) { // -MinInt64 does not fit
			if sub {
				b = -b
			}
			if c := a + b; (c > a) == (b > 0) { // no overflow
				return Decimal{small: c, scale: s}
			}
		}
	}
	x, y := d.bigAt(s), o.bigAt(s)
	if sub {
		x.Sub(x, y)
	} else {
		x.Add(x, y)
	}
	return makeDecimal(x, s)
}

// Mul returns d × o, with the sum of the two scales: 1.5 × 1.50 is
// 2.250. It panics if that sum exceeds math.MaxInt32.
func (d Decimal) Mul(o Decimal) Decimal {
	s := int64(d.scale) + int64(o.scale)
	if s > math.MaxInt32 {
		panic("mappings: decimal scale overflow in Mul")
	}
	if d.big == nil && o.big == nil {
		hi, lo := bits.Mul64(mag(d.small), mag(o.small))
		if hi == 0 {
			if v, ok := signed(lo, (d.small < 0) != (o.small < 0)); ok {
				return Decimal{small: v, scale: int32(s)} //nolint:gosec // G115: 0 ≤ s ≤ MaxInt32, checked above
			}
		}
	}
	x := d.bigAt(d.scale)
	return makeDecimal(x.Mul(x, o.unscaled()), int32(s)) //nolint:gosec // G115: 0 ≤ s ≤ MaxInt32, checked above
}

// Div returns d / o. The quotient is computed to S = max(DivScale,
// d.Scale(), o.Scale()) fractional digits, rounded half to even at that
// digit, and then trailing zeros are removed down to, but not below,
// max(d.Scale(), o.Scale()). So 1/3 is 0.3333333333333333 (16 digits),
// 2/3 is 0.6666666666666667, 10.00/4 is 2.50 and 10/2 is 5.
//
// Div returns ErrDivisionByZero if o is zero.
func (d Decimal) Div(o Decimal) (Decimal, error) {
	if o.IsZero() {
		return Decimal{}, fmt.Errorf("%w: %q / %q", ErrDivisionByZero, truncate(d.String()), o.String())
	}
	minScale := max(d.scale, o.scale)
	if d.IsZero() {
		return Decimal{scale: minScale}, nil
	}
	s := max(minScale, DivScale)
	// q = d.unscaled × 10^k / o.unscaled has scale s.
	k := int64(s) + int64(o.scale) - int64(d.scale)
	neg := (d.Sign() < 0) != (o.Sign() < 0)

	if d.big == nil && o.big == nil && k < int64(len(pow10)) {
		y := mag(o.small)
		hi, lo := bits.Mul64(mag(d.small), pow10[k])
		if hi < y {
			q, r := bits.Div64(hi, lo, y)
			if q < 1<<63 {
				if c := cmp.Compare(r, y-r); c > 0 || (c == 0 && q&1 == 1) {
					q++
				}
				if v, ok := signed(q, neg); ok {
					return Decimal{small: v, scale: s}.trimZeros(minScale), nil
				}
			}
		}
	}

	num := d.bigAt(d.scale)
	num.Mul(num, bigPow10(k))
	y := o.unscaled()
	q, r := num.QuoRem(num, y, new(big.Int))
	r.Abs(r)
	r.Lsh(r, 1)
	if c := r.CmpAbs(y); c > 0 || (c == 0 && q.Bit(0) == 1) {
		if neg {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return makeDecimal(q, s).trimZeros(minScale), nil
}

// Canonical writes d without trailing fractional zeros ("45.00" -> "45"),
// so that equal amounts compare equal as text (fingerprints, keys).
func (d Decimal) Canonical() string {
	if d.scale < 0 {
		return d.String()
	}
	return d.trimZeros(0).String()
}

// trimZeros removes trailing fractional zeros down to scale minScale.
func (d Decimal) trimZeros(minScale int32) Decimal {
	if d.IsZero() {
		return Decimal{scale: min(d.scale, minScale)}
	}
	if d.big == nil {
		for d.scale > minScale && d.small%10 == 0 {
			d.small /= 10
			d.scale--
		}
		return d
	}
	if d.scale <= minScale {
		return d
	}
	q := new(big.Int).Set(d.big)
	r := new(big.Int)
	ten := big.NewInt(10)
	t := new(big.Int)
	s := d.scale
	for s > minScale {
		t.QuoRem(q, ten, r)
		if r.Sign() != 0 {
			break
		}
		q, t = t, q
		s--
	}
	return makeDecimal(q, s)
}

// Neg returns -d.
func (d Decimal) Neg() Decimal {
	if d.big != nil {
		return makeDecimal(new(big.Int).Neg(d.big), d.scale)
	}
	if d.small == math.MinInt64 {
		return makeDecimal(new(big.Int).Neg(big.NewInt(d.small)), d.scale)
	}
	return Decimal{small: -d.small, scale: d.scale}
}

// Abs returns |d|.
func (d Decimal) Abs() Decimal {
	if d.Sign() < 0 {
		return d.Neg()
	}
	return d
}

type roundingMode uint8

const (
	halfAwayFromZero roundingMode = iota
	halfEven
	towardZero
)

// Round rounds d to places fractional digits, halves away from zero
// ("commercial" rounding): Round(10.005, 2) is 10.01, Round(-2.5, 0) is
// -3. The result has exactly places digits: Round(10, 2) is "10.00". A
// negative places rounds to tens, hundreds, … with scale 0:
// Round(1250, -2) is 1300.
//
// Padding with zeros is limited: a places above both 1000 and d.Scale()
// is taken as the larger of the two. The same holds for RoundBank,
// Truncate and StringFixed.
func (d Decimal) Round(places int32) Decimal { return d.round(places, halfAwayFromZero) }

// RoundBank is Round with halves to even ("banker's" rounding):
// RoundBank(2.5, 0) is 2, RoundBank(3.5, 0) is 4.
func (d Decimal) RoundBank(places int32) Decimal { return d.round(places, halfEven) }

// Truncate is Round toward zero: Truncate(10.009, 2) is 10.00,
// Truncate(-1.99, 0) is -1.
func (d Decimal) Truncate(places int32) Decimal { return d.round(places, towardZero) }

// StringFixed returns Round(places).String().
func (d Decimal) StringFixed(places int32) string { return d.Round(places).String() }

// roundUp decides whether to add one to the magnitude of a truncated
// quotient q, given c, the comparison of the remainder with half the
// divisor.
func roundUp(mode roundingMode, c int, odd bool) bool {
	switch mode {
	case halfAwayFromZero:
		return c >= 0
	case halfEven:
		return c > 0 || (c == 0 && odd)
	}
	return false
}

func (d Decimal) round(places int32, mode roundingMode) Decimal {
	if places >= d.scale {
		if places > maxExponent {
			places = max(d.scale, maxExponent)
		}
		return d.rescale(places)
	}
	k := int64(d.scale) - int64(places) // > 0
	target := max(places, 0)
	r := Decimal{scale: target}
	if d.big == nil {
		if k < int64(len(pow10)) { // else |small| < 10^19 <= 10^k / 2: rounds to 0
			u, p := mag(d.small), pow10[k]
			q, rem := u/p, u%p
			if rem != 0 && roundUp(mode, cmp.Compare(rem, p-rem), q&1 == 1) {
				q++
			}
			r.small, _ = signed(q, d.small < 0) // |q| <= 2^63/10 + 1
		}
	} else if k < maxDigits(d.big) { // else |big| < 10^(k-1): rounds to 0
		p := bigPow10(k)
		q, rem := new(big.Int).QuoRem(d.big, p, new(big.Int))
		if rem.Sign() != 0 {
			rem.Abs(rem)
			if roundUp(mode, rem.Lsh(rem, 1).Cmp(p), q.Bit(0) == 1) {
				if d.big.Sign() < 0 {
					q.Sub(q, big.NewInt(1))
				} else {
					q.Add(q, big.NewInt(1))
				}
			}
		}
		r = makeDecimal(q, target)
	}
	if places < 0 {
		r = r.mulPow10(-int64(places))
	}
	return r
}

// Int64 returns the value of d and true if d is an integer (at any scale:
// 10.00 is 10) that fits in an int64.
func (d Decimal) Int64() (int64, bool) {
	if d.scale == 0 {
		return d.small, d.big == nil
	}
	if d.IsZero() {
		return 0, true
	}
	if !d.divisibleByPow10(int64(d.scale)) {
		return 0, false
	}
	if d.big == nil {
		v, _ := signed(mag(d.small)/pow10[d.scale], d.small < 0)
		return v, true
	}
	q := new(big.Int).Quo(d.big, bigPow10(int64(d.scale)))
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// FitsExponent reports whether d has no non-zero digit beyond exp
// fractional places: 50000.00 fits 0 (KHR), 10.205 does not fit 2. A
// negative exp requires a multiple of 10^-exp.
func (d Decimal) FitsExponent(exp int32) bool {
	if exp >= d.scale {
		return true
	}
	return d.divisibleByPow10(int64(d.scale) - int64(exp))
}

// MinorUnits returns d in minor units of a currency with exponent exp:
// 10.20 with exp 2 is 1020, 50000.00 with exp 0 is 50000. It returns
// ErrTooManyPlaces if d does not fit exp (10.205 with exp 2; nothing is
// rounded), ErrOverflow if the result does not fit in an int64, and
// ErrExponentRange if |exp| > 1000.
func (d Decimal) MinorUnits(exp int32) (int64, error) {
	if exp < -maxExponent || exp > maxExponent {
		return 0, fmt.Errorf("%w: %d", ErrExponentRange, exp)
	}
	if !d.FitsExponent(exp) {
		return 0, fmt.Errorf("%w: %q (exponent %d)", ErrTooManyPlaces, truncate(d.String()), exp)
	}
	if d.IsZero() {
		return 0, nil
	}
	k := int64(exp) - int64(d.scale)
	if k >= 0 {
		if d.big == nil {
			if v, ok := mulPow10(d.small, k); ok {
				return v, nil
			}
		}
		return 0, fmt.Errorf("%w: %q (exponent %d)", ErrOverflow, truncate(d.String()), exp)
	}
	if d.big == nil { // divisible by 10^-k, so -k < 19
		v, _ := signed(mag(d.small)/pow10[-k], d.small < 0)
		return v, nil
	}
	q := new(big.Int).Quo(d.big, bigPow10(-k))
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: %q (exponent %d)", ErrOverflow, truncate(d.String()), exp)
	}
	return q.Int64(), nil
}
