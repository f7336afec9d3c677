package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"10", "-1", "+5", "10.20", "0.1", "50000.00", "99999999999.99", "1e3",
	"1.5E-2", "-0.00", "007", "9223372036854775807", "-9223372036854775808",
	"9223372036854775808", "123456789012345678901234567890.12", "1e-1000",
	"1e1000", "", ".5", "5.", "1.2.3", "NaN", "Inf", " 1", "1_000", "0x10",
	"abc", "1e", "1e1001", "-", "1e-0", "0.0000000000000000000001",
}

// FuzzParseDecimal: ParseDecimal never panics, agrees with math/big.Rat
// on what it accepts, and what it prints parses back to the same value
// and scale.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDecimal) {
				t.Fatalf("ParseDecimal(%q): %v is not ErrInvalidDecimal", s, err)
			}
			return
		}
		if d.big != nil && d.big.IsInt64() {
			t.Fatalf("ParseDecimal(%q): a big.Int that fits in int64", s)
		}
		out := d.String()
		back, err := ParseDecimal(out)
		if err != nil {
			t.Fatalf("ParseDecimal(%q).String() = %q does not parse: %v", s, out, err)
		}
		if back.String() != out || back.Scale() != d.Scale() || !back.Equal(d) {
			t.Fatalf("round trip %q → %q → %q (scale %d, %d)", s, out, back.String(), d.Scale(), back.Scale())
		}
		if strings.ContainsAny(out, "eE+") || strings.HasPrefix(out, "-0") && d.Sign() == 0 {
			t.Fatalf("ParseDecimal(%q).String() = %q", s, out)
		}
		if string(d.AppendText([]byte("x"))) != "x"+out {
			t.Fatalf("AppendText(%q) differs from String", s)
		}
		b, _ := d.MarshalJSON()
		if string(b) != out || !json.Valid(b) {
			t.Fatalf("MarshalJSON(%q) = %s", s, b)
		}
		// The value is what math/big.Rat reads, which accepts a superset
		// of the syntax.
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("ParseDecimal accepts %q, big.Rat does not", s)
		}
		if got, _ := new(big.Rat).SetString(out); got.Cmp(r) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, big.Rat says %s", s, out, r.RatString())
		}
		// Basic identities, which also exercise the big.Int paths.
		if !d.Add(d).Equal(d.Mul(DecimalFromInt(2))) || !d.Sub(d).IsZero() || d.Neg().Neg().String() != out {
			t.Fatalf("identities fail for %q", s)
		}
	})
}

// FuzzDecimalJSON: UnmarshalJSON never panics, agrees with encoding/json
// on numbers, and what MarshalJSON writes is valid JSON that decodes to
// the same decimal.
func FuzzDecimalJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
		f.Add([]byte(`"` + s + `"`))
	}
	for _, s := range []string{`null`, `true`, `{}`, `[]`, `"\u0031"`, `"\x"`, `"`, ` 10 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decimal
		if err := d.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, ErrInvalidDecimal) && !errors.Is(err, ErrNotANumber) {
				t.Fatalf("UnmarshalJSON(%q): unexpected error %v", b, err)
			}
			if !d.IsZero() || d.Scale() != 0 {
				t.Fatalf("UnmarshalJSON(%q) failed but set %s", b, d)
			}
			// A valid JSON number (within the exponent bound) must be accepted.
			var n json.Number
			if json.Valid(b) && json.Unmarshal(b, &n) == nil && n != "" && !bytes.ContainsAny(b, `"`) && !errors.Is(err, ErrExponentRange) {
				t.Fatalf("UnmarshalJSON(%q): %v, but it is a JSON number", b, err)
			}
			return
		}
		out, err := d.MarshalJSON()
		if err != nil || !json.Valid(out) {
			t.Fatalf("MarshalJSON after UnmarshalJSON(%q) = %s, %v", b, out, err)
		}
		var back Decimal
		if err := json.Unmarshal(out, &back); err != nil || back.String() != d.String() || back.Scale() != d.Scale() {
			t.Fatalf("JSON round trip of %q: %s → %s, %v", b, out, back, err)
		}
		// A valid JSON document decodes the same through encoding/json.
		if json.Valid(b) {
			var viaJSON Decimal
			if err := json.Unmarshal(b, &viaJSON); err != nil || viaJSON.String() != d.String() {
				t.Fatalf("json.Unmarshal(%q) = %s, %v; UnmarshalJSON gave %s", b, viaJSON, err, d)
			}
		}
	})
}

// FuzzDecimalArith checks Add, Sub, Mul, Cmp and Div against
// math/big.Rat for any two decimals.
func FuzzDecimalArith(f *testing.F) {
	f.Add("0.1", "0.2")
	f.Add("9223372036854775807", "1")
	f.Add("-9223372036854775808", "-1")
	f.Add("123456789012345678901234567890.12", "0.88")
	f.Add("10.005", "3")
	f.Fuzz(func(t *testing.T, as, bs string) {
		a, err1 := ParseDecimal(as)
		b, err2 := ParseDecimal(bs)
		if err1 != nil || err2 != nil || len(as)+len(bs) > 200 || a.Scale() > 200 || b.Scale() > 200 {
			return
		}
		ra, rb := rat(t, a), rat(t, b)
		s := max(a.Scale(), b.Scale())
		for _, c := range []struct {
			op    string
			got   Decimal
			want  *big.Rat
			scale int32
		}{
			{"+", a.Add(b), new(big.Rat).Add(ra, rb), s},
			{"-", a.Sub(b), new(big.Rat).Sub(ra, rb), s},
			{"×", a.Mul(b), new(big.Rat).Mul(ra, rb), a.Scale() + b.Scale()},
		} {
			if rat(t, c.got).Cmp(c.want) != 0 || c.got.Scale() != c.scale {
				t.Fatalf("%s %s %s = %s", as, c.op, bs, c.got)
			}
		}
		if a.Cmp(b) != ra.Cmp(rb) {
			t.Fatalf("Cmp(%s, %s) = %d", as, bs, a.Cmp(b))
		}
		q, err := a.Div(b)
		if b.IsZero() {
			if !errors.Is(err, ErrDivisionByZero) {
				t.Fatalf("%s / %s: %v", as, bs, err)
			}
			return
		}
		want := refRound(new(big.Rat).Quo(ra, rb), max(s, DivScale), halfEven)
		if err != nil || rat(t, q).Cmp(want) != 0 {
			t.Fatalf("%s / %s = %s, %v", as, bs, q, err)
		}
	})
}
