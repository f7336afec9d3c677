package mappings

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		scale int32
	}{
		{"10", "10", 0},
		{"-1", "-1", 0},
		{"+5", "5", 0},
		{"0", "0", 0},
		{"-0", "0", 0},
		{"-0.00", "0.00", 2},
		{"10.20", "10.20", 2},
		{"0.1", "0.1", 1},
		{"0.001", "0.001", 3},
		{"-0.05", "-0.05", 2},
		{"50000.00", "50000.00", 2},
		{"105800.00", "105800.00", 2},
		{"99999999999.99", "99999999999.99", 2},
		{"007", "7", 0},
		{"00.50", "0.50", 2},
		{"1e3", "1000", 0},
		{"1E3", "1000", 0},
		{"1e+3", "1000", 0},
		{"1.5E-2", "0.015", 3},
		{"1.500e3", "1500", 0},
		{"1.5e1", "15", 0},
		{"12.345e1", "123.45", 2},
		{"5e-1", "0.5", 1},
		{"0e5", "0", 0},
		{"1e0", "1", 0},
		{"1e-0", "1", 0},
		{"1e0003", "1000", 0},
		{"-2.5e2", "-250", 0},
		{"9223372036854775807", "9223372036854775807", 0},
		{"-9223372036854775808", "-9223372036854775808", 0},
		{"9223372036854775808", "9223372036854775808", 0},
		{"-9223372036854775809", "-9223372036854775809", 0},
		{"18446744073709551615", "18446744073709551615", 0},
		{"18446744073709551616", "18446744073709551616", 0},
		{"123456789012345678901234567890.12", "123456789012345678901234567890.12", 2},
		{"-0.000000000000000000000000000001", "-0.000000000000000000000000000001", 30},
		{"00000000000000000000000000000001.5", "1.5", 1},
		{"1e30", "1000000000000000000000000000000", 0},
		{"9.2233720368547758079e18", "9223372036854775807.9", 1},
		{"1e-1000", "0." + strings.Repeat("0", 999) + "1", 1000},
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("ParseDecimal(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if d.Scale() != tt.scale {
			t.Errorf("ParseDecimal(%q).Scale() = %d, want %d", tt.in, d.Scale(), tt.scale)
		}
	}
}

func TestParseDecimalErrors(t *testing.T) {
	bad := []string{
		"", "abc", "1.2.3", "NaN", "nan", "Inf", "+Inf", "-Inf", "Infinity",
		" 1", "1 ", "1_000", "1,000", "0x10", "0X1F", "0b1", "0o7",
		".5", "-.5", "5.", "-", "+", "--1", "+-1", "1e", "1e+", "1E-", "e3",
		"1.e3", "1e3.5", "1e3e3", "1.5f", "١٢", "10\x00", "1e1001", "1e-1001",
		"1e99999999999999999999", "1e1001x",
	}
	for _, s := range bad {
		d, err := ParseDecimal(s)
		if err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want error", s, d)
			continue
		}
		if !errors.Is(err, ErrInvalidDecimal) {
			t.Errorf("ParseDecimal(%q): %v, want ErrInvalidDecimal", s, err)
		}
	}

	_, err := ParseDecimal("1e1001")
	if !errors.Is(err, ErrExponentRange) {
		t.Errorf("1e1001: %v, want ErrExponentRange", err)
	}
	_, err = ParseDecimal("abc")
	if got, want := err.Error(), `invalid decimal: "abc"`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	_, err = ParseDecimal(strings.Repeat("9", 40) + "x")
	if got, want := err.Error(), `invalid decimal: "`+strings.Repeat("9", 32)+`..."`; got != want {
		t.Errorf("long input error %q, want %q", got, want)
	}
}

func TestMustDecimal(t *testing.T) {
	if got := MustDecimal("10.20").String(); got != "10.20" {
		t.Errorf("MustDecimal(10.20) = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustDecimal(abc) did not panic")
		}
	}()
	MustDecimal("abc")
}

func TestZeroValue(t *testing.T) {
	var d Decimal
	if d.String() != "0" || !d.IsZero() || d.Sign() != 0 || d.Scale() != 0 {
		t.Errorf("zero value: %q zero=%v sign=%d scale=%d", d.String(), d.IsZero(), d.Sign(), d.Scale())
	}
	if !d.Equal(MustDecimal("0.00")) {
		t.Error("zero value != 0.00")
	}
	if got := d.Add(MustDecimal("1.5")).String(); got != "1.5" {
		t.Errorf("0 + 1.5 = %s", got)
	}
	b, _ := json.Marshal(d)
	if string(b) != "0" {
		t.Errorf("json zero = %s", b)
	}
}

func TestDecimalFromInt(t *testing.T) {
	for _, i := range []int64{0, 1, -1, 45, 10000, math.MaxInt64, math.MinInt64} {
		d := DecimalFromInt(i)
		if v, ok := d.Int64(); !ok || v != i {
			t.Errorf("DecimalFromInt(%d).Int64() = %d, %v", i, v, ok)
		}
		if d.Scale() != 0 {
			t.Errorf("DecimalFromInt(%d).Scale() = %d", i, d.Scale())
		}
	}
	if got := DecimalFromInt(math.MinInt64).String(); got != "-9223372036854775808" {
		t.Errorf("MinInt64 = %s", got)
	}
}

func TestAddSub(t *testing.T) {
	tests := []struct{ a, b, sum, diff string }{
		{"0.1", "0.2", "0.3", "-0.1"},
		{"10.20", "0.2", "10.40", "10.00"},
		{"10", "0.20", "10.20", "9.80"},
		{"45", "0", "45", "45"},
		{"-1", "1", "0", "-2"},
		{"10000", "800", "10800", "9200"},
		{"50000.00", "500.00", "50500.00", "49500.00"},
		{"99999999999.99", "0.01", "100000000000.00", "99999999999.98"},
		{"9223372036854775807", "1", "9223372036854775808", "9223372036854775806"},
		{"-9223372036854775808", "-1", "-9223372036854775809", "-9223372036854775807"},
		{"-9223372036854775808", "9223372036854775807", "-1", "-18446744073709551615"},
		{"1", "-9223372036854775808", "-9223372036854775807", "9223372036854775809"},
		{"922337203685477580.7", "0.01", "922337203685477580.71", "922337203685477580.69"},
		{
			"123456789012345678901234567890.12", "0.88",
			"123456789012345678901234567891.00", "123456789012345678901234567889.24",
		},
		{
			"123456789012345678901234567890.12", "-123456789012345678901234567890.12",
			"0.00", "246913578024691357802469135780.24",
		},
		{
			"123456789012345678901234567890.12", "123456789012345678901234567890",
			"246913578024691357802469135780.12", "0.12",
		},
	}
	for _, tt := range tests {
		a, b := MustDecimal(tt.a), MustDecimal(tt.b)
		if got := a.Add(b).String(); got != tt.sum {
			t.Errorf("%s + %s = %s, want %s", tt.a, tt.b, got, tt.sum)
		}
		if got := b.Add(a).String(); got != tt.sum {
			t.Errorf("%s + %s = %s, want %s", tt.b, tt.a, got, tt.sum)
		}
		if got := a.Sub(b).String(); got != tt.diff {
			t.Errorf("%s - %s = %s, want %s", tt.a, tt.b, got, tt.diff)
		}
	}
	// 0.1 + 0.2 == 0.3 exactly, as a value too.
	if s := MustDecimal("0.1").Add(MustDecimal("0.2")); !s.Equal(MustDecimal("0.3")) || s.Cmp(MustDecimal("0.3")) != 0 {
		t.Errorf("0.1 + 0.2 = %s, not equal to 0.3", s)
	}
	// A result that comes back into int64 is small again.
	r := MustDecimal("9223372036854775808").Sub(DecimalFromInt(1))
	if r.big != nil {
		t.Error("9223372036854775808 - 1 stayed a big.Int")
	}
}

func TestMul(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"99999999999.99", "100", "9999999999999.00"},
		{"10.20", "100", "1020.00"},
		{"1.5", "1.50", "2.250"},
		{"-1", "10.20", "-10.20"},
		{"0.1", "0.1", "0.01"},
		{"0", "123.45", "0.00"},
		{"3037000500", "3037000500", "9223372037000250000"},
		{"-3037000499", "3037000499", "-9223372030926249001"},
		{"4294967296", "4294967296", "18446744073709551616"},
		{"-9223372036854775808", "1", "-9223372036854775808"},
		{"-9223372036854775808", "-1", "9223372036854775808"},
		{"123456789012345678901234567890.12", "2", "246913578024691357802469135780.24"},
		{"123456789012345678901234567890.12", "0", "0.00"},
		{"99999999999.99", "99999999999.99", "9999999999998000000000.0001"},
	}
	for _, tt := range tests {
		a, b := MustDecimal(tt.a), MustDecimal(tt.b)
		if got := a.Mul(b).String(); got != tt.want {
			t.Errorf("%s × %s = %s, want %s", tt.a, tt.b, got, tt.want)
		}
		if got := b.Mul(a).String(); got != tt.want {
			t.Errorf("%s × %s = %s, want %s", tt.b, tt.a, got, tt.want)
		}
	}
	// A big product that comes back into int64 is small again.
	if p := MustDecimal("123456789012345678901234567890.12").Mul(DecimalFromInt(0)); p.big != nil {
		t.Error("big × 0 stayed a big.Int")
	}
}

func TestDiv(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1", "3", "0.3333333333333333"},
		{"2", "3", "0.6666666666666667"},
		{"-2", "3", "-0.6666666666666667"},
		{"2", "-3", "-0.6666666666666667"},
		{"10.00", "4", "2.50"},
		{"10", "4", "2.5"},
		{"10", "2", "5"},
		{"10.20", "2", "5.10"},
		{"1", "0.25", "4.00"},
		{"0", "7", "0"},
		{"0.01", "1000000000000000000", "0.00"},
		{"0.00", "7", "0.00"},
		{"100", "7", "14.2857142857142857"},
		{"50500.00", "101", "500.00"},
		{"1", "8", "0.125"},
		// Half to even at the 16th digit; a zero result keeps the
		// operands' scale.
		{"0.00000000000000005", "1", "0.00000000000000005"},
		{"5", "100000000000000000", "0"},
		{"15", "100000000000000000", "0.0000000000000002"},
		{"25", "100000000000000000", "0.0000000000000002"},
		{"-15", "100000000000000000", "-0.0000000000000002"},
		{"123456789012345678901234567890.12", "2", "61728394506172839450617283945.06"},
		{"123456789012345678901234567890", "123456789012345678901234567890", "1"},
		{"9223372036854775807", "0.5", "18446744073709551614.0"},
		{"1", "123456789012345678901234567890", "0"},
		{"10", "3.000000000000000000001", "3.333333333333333333332"},
	}
	for _, tt := range tests {
		q, err := MustDecimal(tt.a).Div(MustDecimal(tt.b))
		if err != nil {
			t.Errorf("%s / %s: %v", tt.a, tt.b, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("%s / %s = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}

	for _, zero := range []string{"0", "0.00", "-0"} {
		_, err := MustDecimal("10.20").Div(MustDecimal(zero))
		if !errors.Is(err, ErrDivisionByZero) {
			t.Errorf("10.20 / %s: %v, want ErrDivisionByZero", zero, err)
		}
	}
	_, err := Decimal{}.Div(Decimal{})
	if !errors.Is(err, ErrDivisionByZero) {
		t.Errorf("0 / 0: %v, want ErrDivisionByZero", err)
	}
}

func TestCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"10.20", "10.2", 0},
		{"10.2", "10.20", 0},
		{"10", "10.00", 0},
		{"0", "-0.00", 0},
		{"10.20", "10.21", -1},
		{"10.21", "10.2", 1},
		{"-1", "1", -1},
		{"-1", "-2", 1},
		{"-0.5", "0", -1},
		{"99999999999.99", "100000000000", -1},
		{"9223372036854775807", "9223372036854775807.0", 0},
		{"9223372036854775807", "922337203685477580.71", 1},
		{"123456789012345678901234567890.12", "123456789012345678901234567890.120", 0},
		{"123456789012345678901234567890.12", "123456789012345678901234567890.13", -1},
		{"123456789012345678901234567890.12", "1", 1},
		{"-123456789012345678901234567890.12", "1", -1},
		{"-123456789012345678901234567890.12", "-123456789012345678901234567891", 1},
		{"1e3", "1000.000", 0},
	}
	for _, tt := range tests {
		a, b := MustDecimal(tt.a), MustDecimal(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		if got := a.Equal(b); got != (tt.want == 0) {
			t.Errorf("Equal(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

func TestSignNegAbs(t *testing.T) {
	tests := []struct {
		in       string
		sign     int
		neg, abs string
	}{
		{"0", 0, "0", "0"},
		{"0.00", 0, "0.00", "0.00"},
		{"10.20", 1, "-10.20", "10.20"},
		{"-10.20", -1, "10.20", "10.20"},
		{"-9223372036854775808", -1, "9223372036854775808", "9223372036854775808"},
		{"9223372036854775808", 1, "-9223372036854775808", "9223372036854775808"},
		{"-123456789012345678901234567890.12", -1, "123456789012345678901234567890.12", "123456789012345678901234567890.12"},
	}
	for _, tt := range tests {
		d := MustDecimal(tt.in)
		if d.Sign() != tt.sign {
			t.Errorf("Sign(%s) = %d, want %d", tt.in, d.Sign(), tt.sign)
		}
		if d.IsZero() != (tt.sign == 0) {
			t.Errorf("IsZero(%s) = %v", tt.in, d.IsZero())
		}
		if got := d.Neg().String(); got != tt.neg {
			t.Errorf("Neg(%s) = %s, want %s", tt.in, got, tt.neg)
		}
		if got := d.Abs().String(); got != tt.abs {
			t.Errorf("Abs(%s) = %s, want %s", tt.in, got, tt.abs)
		}
	}
	// -(-2^63) = 2^63 is big; its negation is small again.
	if n := MustDecimal("9223372036854775808").Neg(); n.big != nil {
		t.Error("-(2^63) stayed a big.Int")
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		in                 string
		places             int32
		round, bank, trunc string
	}{
		{"2.5", 0, "3", "2", "2"},
		{"-2.5", 0, "-3", "-2", "-2"},
		{"3.5", 0, "4", "4", "3"},
		{"-3.5", 0, "-4", "-4", "-3"},
		{"2.4", 0, "2", "2", "2"},
		{"2.6", 0, "3", "3", "2"},
		{"-2.6", 0, "-3", "-3", "-2"},
		{"10.005", 2, "10.01", "10.00", "10.00"},
		{"10.015", 2, "10.02", "10.02", "10.01"},
		{"-10.005", 2, "-10.01", "-10.00", "-10.00"},
		{"10.0051", 2, "10.01", "10.01", "10.00"},
		{"10.009", 2, "10.01", "10.01", "10.00"},
		{"10", 2, "10.00", "10.00", "10.00"},
		{"10.20", 2, "10.20", "10.20", "10.20"},
		{"10.2", 3, "10.200", "10.200", "10.200"},
		{"0.5", 0, "1", "0", "0"},
		{"-0.5", 0, "-1", "0", "0"},
		{"0.05", 1, "0.1", "0.0", "0.0"},
		{"0.004", 2, "0.00", "0.00", "0.00"},
		{"-0.004", 2, "0.00", "0.00", "0.00"},
		{"50000.00", 0, "50000", "50000", "50000"},
		{"1250", -2, "1300", "1200", "1200"},
		{"1350", -2, "1400", "1400", "1300"},
		{"-1250", -2, "-1300", "-1200", "-1200"},
		{"1249.99", -2, "1200", "1200", "1200"},
		{"49.99", -2, "0", "0", "0"},
		{"50", -2, "100", "0", "0"},
		{"12.5", -30, "0", "0", "0"},
		{"0.5", math.MinInt32, "0", "0", "0"},
		{"9223372036854775807", -18, "9000000000000000000", "9000000000000000000", "9000000000000000000"},
		{"9223372036854775807", -19, "10000000000000000000", "10000000000000000000", "0"},
		{"9223372036854775807", -20, "0", "0", "0"},
		{"-9223372036854775808", -19, "-10000000000000000000", "-10000000000000000000", "0"},
		{"0.9223372036854775807", 0, "1", "1", "0"},
		{"0.00000000000000000005", 0, "0", "0", "0"},
		{"0.50000000000000000000", 0, "1", "0", "0"},
		{"1.50000000000000000000", 0, "2", "2", "1"},
		{"123456789012345678901234567890.125", 2, "123456789012345678901234567890.13", "123456789012345678901234567890.12", "123456789012345678901234567890.12"},
		{"-123456789012345678901234567890.125", 2, "-123456789012345678901234567890.13", "-123456789012345678901234567890.12", "-123456789012345678901234567890.12"},
		{"123456789012345678901234567890.5", 0, "123456789012345678901234567891", "123456789012345678901234567890", "123456789012345678901234567890"},
		{"123456789012345678901234567890", -29, "100000000000000000000000000000", "100000000000000000000000000000", "100000000000000000000000000000"},
		{"123456789012345678901234567890", -30, "0", "0", "0"},
		{"523456789012345678901234567890", -30, "1000000000000000000000000000000", "1000000000000000000000000000000", "0"},
		{"123456789012345678901234567890", -31, "0", "0", "0"},
		{"123456789012345678901234567890", math.MinInt32, "0", "0", "0"},
		{"1.25", 1, "1.3", "1.2", "1.2"},
	}
	for _, tt := range tests {
		d := MustDecimal(tt.in)
		want := max(tt.places, 0)
		for _, c := range []struct {
			name string
			got  Decimal
			want string
		}{
			{"Round", d.Round(tt.places), tt.round},
			{"RoundBank", d.RoundBank(tt.places), tt.bank},
			{"Truncate", d.Truncate(tt.places), tt.trunc},
		} {
			if c.got.String() != c.want {
				t.Errorf("%s(%s, %d) = %s, want %s", c.name, tt.in, tt.places, c.got, c.want)
			}
			if c.got.Scale() != want {
				t.Errorf("%s(%s, %d).Scale() = %d, want %d", c.name, tt.in, tt.places, c.got.Scale(), want)
			}
		}
		if got := d.StringFixed(tt.places); got != tt.round {
			t.Errorf("StringFixed(%s, %d) = %s, want %s", tt.in, tt.places, got, tt.round)
		}
	}

	// Padding is bounded.
	if got := MustDecimal("1").Round(math.MaxInt32).Scale(); got != 1000 {
		t.Errorf("Round(1, MaxInt32).Scale() = %d, want 1000", got)
	}
	d := MustDecimal("1e-1000").Mul(MustDecimal("1e-200"))
	if got := d.Round(math.MaxInt32).Scale(); got != 1200 {
		t.Errorf("Round(1e-1200, MaxInt32).Scale() = %d, want 1200", got)
	}
}

func TestInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10", 10, true},
		{"10.00", 10, true},
		{"-1", -1, true},
		{"0.000", 0, true},
		{"10.5", 0, false},
		{"1e3", 1000, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"9223372036854775807.00", math.MaxInt64, true},
		{"-9223372036854775808.0", math.MinInt64, true},
		{"9223372036854775808.0", 0, false},
		{"0.00000000000000000000001", 0, false},
		{"1." + strings.Repeat("0", 40), 1, true},
		{"123456789012345678901234567890.00", 0, false},
		{"123456789012345678901234567890.01", 0, false},
	}
	for _, tt := range tests {
		got, ok := MustDecimal(tt.in).Int64()
		if got != tt.want || ok != tt.ok {
			t.Errorf("Int64(%s) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	tests := []struct {
		in   string
		exp  int32
		want int64
		err  error
	}{
		{"10.20", 2, 1020, nil},
		{"10.2", 2, 1020, nil},
		{"10", 2, 1000, nil},
		{"-1", 2, -100, nil},
		{"0", 2, 0, nil},
		{"50000.00", 0, 50000, nil},
		{"105800.00", 0, 105800, nil},
		{"10.2050", 3, 10205, nil},
		{"45", 0, 45, nil},
		{"500", -2, 5, nil},
		{"10.205", 2, 0, ErrTooManyPlaces},
		{"50000.50", 0, 0, ErrTooManyPlaces},
		{"0.001", 2, 0, ErrTooManyPlaces},
		{"550", -2, 0, ErrTooManyPlaces},
		{"92233720368547758.07", 2, math.MaxInt64, nil},
		{"-92233720368547758.08", 2, math.MinInt64, nil},
		{"92233720368547758.08", 2, 0, ErrOverflow},
		{"99999999999999999999", 0, 0, ErrOverflow},
		{"123456789012345678901234567890.12", 2, 0, ErrOverflow},
		{"1234567890123456789.00000000000000000000000000", 0, 1234567890123456789, nil},
		{"10", 1001, 0, ErrExponentRange},
		{"10", -1001, 0, ErrExponentRange},
	}
	for _, tt := range tests {
		got, err := MustDecimal(tt.in).MinorUnits(tt.exp)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("MinorUnits(%s, %d) = %d, %v, want %v", tt.in, tt.exp, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MinorUnits(%s, %d) = %d, %v, want %d", tt.in, tt.exp, got, err, tt.want)
		}
	}
	_, err := MustDecimal("10.205").MinorUnits(2)
	if got, want := err.Error(), `more decimal places than the exponent allows: "10.205" (exponent 2)`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestDecimalFromMinorUnits(t *testing.T) {
	tests := []struct {
		units int64
		exp   int32
		want  string
	}{
		{1020, 2, "10.20"},
		{-1, 2, "-0.01"},
		{50000, 0, "50000"},
		{0, 2, "0.00"},
		{5, -2, "500"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MaxInt64, -2, "922337203685477580700"},
	}
	for _, tt := range tests {
		d := DecimalFromMinorUnits(tt.units, tt.exp)
		if got := d.String(); got != tt.want {
			t.Errorf("DecimalFromMinorUnits(%d, %d) = %s, want %s", tt.units, tt.exp, got, tt.want)
		}
		back, err := d.MinorUnits(tt.exp)
		if err != nil || back != tt.units {
			t.Errorf("DecimalFromMinorUnits(%d, %d).MinorUnits = %d, %v", tt.units, tt.exp, back, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DecimalFromMinorUnits(1, -5000) did not panic")
		}
	}()
	DecimalFromMinorUnits(1, -5000)
}

func TestFitsExponent(t *testing.T) {
	tests := []struct {
		in   string
		exp  int32
		want bool
	}{
		{"50000.00", 0, true},
		{"50000.50", 0, false},
		{"10.205", 2, false},
		{"10.200", 2, true},
		{"10.20", 2, true},
		{"10", 2, true},
		{"10.2", 0, false},
		{"0.00000", 0, true},
		{"500", -2, true},
		{"550", -2, false},
		{"1", math.MinInt32, false},
		{"0", math.MinInt32, true},
		{"0.1", math.MaxInt32, true},
		{"1." + strings.Repeat("0", 30) + "1", 30, false},
		{"1." + strings.Repeat("0", 30) + "1", 31, true},
		{"123456789012345678901234567890.10", 1, true},
		{"123456789012345678901234567890.12", 1, false},
		{"123456789012345678901234567890", -1, true},
		{"123456789012345678901234567890", -2, false},
		{"123456789012345678901234567890", math.MinInt32, false},
	}
	for _, tt := range tests {
		if got := MustDecimal(tt.in).FitsExponent(tt.exp); got != tt.want {
			t.Errorf("FitsExponent(%s, %d) = %v, want %v", tt.in, tt.exp, got, tt.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, s := range []string{
		"10.20", "50000.00", "99999999999.99", "-1", "0", "0.3", "0.00", "45",
		"123456789012345678901234567890.12", "-0.000000000000000000000000000001",
	} {
		d := MustDecimal(s)
		b, err := json.Marshal(d)
		if err != nil || string(b) != s {
			t.Errorf("json.Marshal(%s) = %s, %v", s, b, err)
			continue
		}
		var back Decimal
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("json.Unmarshal(%s): %v", b, err)
			continue
		}
		if back.String() != s || back.Scale() != d.Scale() {
			t.Errorf("round trip %s: %s scale %d", s, back, back.Scale())
		}
	}

	// Inside a struct, by value and by pointer, and in a map.
	type payload struct {
		Amount Decimal   `json:"amount"`
		Fee    *Decimal  `json:"fee"`
		List   []Decimal `json:"list"`
	}
	fee := MustDecimal("0.20")
	in := payload{MustDecimal("10.20"), &fee, []Decimal{MustDecimal("50000.00"), DecimalFromInt(-1)}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":10.20,"fee":0.20,"list":[50000.00,-1]}`; string(b) != want {
		t.Errorf("json.Marshal(struct) = %s, want %s", b, want)
	}
	var out payload
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Amount.String() != "10.20" || out.Fee.String() != "0.20" || out.List[0].String() != "50000.00" || out.List[1].String() != "-1" {
		t.Errorf("json.Unmarshal(struct) = %+v", out)
	}
	m := map[string]Decimal{"a": MustDecimal("1.10")}
	if b, _ := json.Marshal(m); string(b) != `{"a":1.10}` {
		t.Errorf("json.Marshal(map) = %s", b)
	}

	// A Bill24 webhook body keeps its amounts exactly.
	var hook struct {
		TranAmount  Decimal `json:"tran_amount"`
		FeeAmount   Decimal `json:"fee_amount"`
		TotalAmount Decimal `json:"total_amount"`
	}
	body := `{"tran_id":"174952172035635","tran_amount":50000.00,"fee_amount":500.00,"total_amount":50500.00,"currency":"KHR"}`
	if err := json.Unmarshal([]byte(body), &hook); err != nil {
		t.Fatal(err)
	}
	if !hook.TranAmount.Add(hook.FeeAmount).Equal(hook.TotalAmount) || hook.TotalAmount.String() != "50500.00" {
		t.Errorf("webhook amounts: %+v", hook)
	}

	// A null for an optional pointer is nil; a missing field is 0.
	var opt payload
	if err := json.Unmarshal([]byte(`{"fee":null}`), &opt); err != nil || opt.Fee != nil || !opt.Amount.IsZero() {
		t.Errorf("optional: %+v, %v", opt, err)
	}
	// A null for a value field is an error.
	if err := json.Unmarshal([]byte(`{"amount":null}`), &opt); !errors.Is(err, ErrNotANumber) {
		t.Errorf("null amount: %v, want ErrNotANumber", err)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`10`, "10"},
		{`10.20`, "10.20"},
		{`"100.00"`, "100.00"},
		{`1e3`, "1000"},
		{`1.5E-2`, "0.015"},
		{`-1`, "-1"},
		{`0.20`, "0.20"},
		{`"-0.5"`, "-0.5"},
		{`"1e3"`, "1000"},
		{`"\u0031\u0030.20"`, "10.20"},
		{" 10.20\n", "10.20"},
	}
	for _, tt := range tests {
		var d Decimal
		if err := d.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalJSON(%s): %v", tt.in, err)
			continue
		}
		if d.String() != tt.want {
			t.Errorf("UnmarshalJSON(%s) = %s, want %s", tt.in, d, tt.want)
		}
		var viaJSON Decimal
		if err := json.Unmarshal([]byte(tt.in), &viaJSON); err != nil || viaJSON.String() != tt.want {
			t.Errorf("json.Unmarshal(%s) = %s, %v", tt.in, viaJSON, err)
		}
	}

	bad := []struct {
		in  string
		err error
	}{
		{`true`, ErrNotANumber},
		{`false`, ErrNotANumber},
		{`null`, ErrNotANumber},
		{`{}`, ErrNotANumber},
		{`[]`, ErrNotANumber},
		{`[1]`, ErrNotANumber},
		{``, ErrNotANumber},
		{`"abc"`, ErrInvalidDecimal},
		{`""`, ErrInvalidDecimal},
		{`" 10"`, ErrInvalidDecimal},
		{`"NaN"`, ErrInvalidDecimal},
		{`"Infinity"`, ErrInvalidDecimal},
		{`"10`, ErrInvalidDecimal},
		{`"`, ErrInvalidDecimal},
		{`"\x"`, ErrInvalidDecimal},
		{`1.2.3`, ErrInvalidDecimal},
		{`-`, ErrInvalidDecimal},
		{`1e5000`, ErrInvalidDecimal},
	}
	for _, tt := range bad {
		d := MustDecimal("7.77")
		err := d.UnmarshalJSON([]byte(tt.in))
		if !errors.Is(err, tt.err) {
			t.Errorf("UnmarshalJSON(%s): %v, want %v", tt.in, err, tt.err)
		}
		if d.String() != "7.77" {
			t.Errorf("UnmarshalJSON(%s) changed the value to %s", tt.in, d)
		}
	}
	for _, in := range []string{`true`, `{}`, `"abc"`, `null`} {
		var d Decimal
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("json.Unmarshal(%s) = %s, want error", in, d)
		}
	}
}

func TestText(t *testing.T) {
	d := MustDecimal("10.20")
	b, err := d.MarshalText()
	if err != nil || string(b) != "10.20" {
		t.Errorf("MarshalText = %s, %v", b, err)
	}
	var back Decimal
	if err := back.UnmarshalText([]byte("50000.00")); err != nil || back.String() != "50000.00" {
		t.Errorf("UnmarshalText = %s, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("abc")); !errors.Is(err, ErrInvalidDecimal) {
		t.Errorf("UnmarshalText(abc): %v", err)
	}
	if back.String() != "50000.00" {
		t.Errorf("failed UnmarshalText changed the value to %s", back)
	}

	// Text marshaling makes Decimal usable as a JSON map key.
	m := map[Decimal]string{MustDecimal("1.50"): "x"}
	if b, err := json.Marshal(m); err != nil || string(b) != `{"1.50":"x"}` {
		t.Errorf("json.Marshal(map key) = %s, %v", b, err)
	}

	got := MustDecimal("-0.05").AppendText([]byte("amount="))
	if string(got) != "amount=-0.05" {
		t.Errorf("AppendText = %q", got)
	}
	got = MustDecimal("123456789012345678901234567890.12").AppendText(nil)
	if string(got) != "123456789012345678901234567890.12" {
		t.Errorf("AppendText(big) = %q", got)
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		d    Decimal
		want string
	}{
		{Decimal{}, "0"},
		{Decimal{scale: 2}, "0.00"},
		{Decimal{small: 5, scale: 3}, "0.005"},
		{Decimal{small: -5, scale: 3}, "-0.005"},
		{Decimal{small: 12345, scale: 5}, "0.12345"},
		{Decimal{small: 12345, scale: 4}, "1.2345"},
		{Decimal{small: math.MinInt64, scale: 19}, "-0.9223372036854775808"},
		{Decimal{small: math.MinInt64, scale: 30}, "-0.000000000009223372036854775808"},
		{Decimal{big: new(big.Int).Lsh(big.NewInt(1), 64), scale: 25}, "0.0000018446744073709551616"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String(%#v) = %s, want %s", tt.d, got, tt.want)
		}
	}
}

// Values are safe to copy: operations never modify their operands, even
// when they share a big.Int.
func TestImmutable(t *testing.T) {
	a := MustDecimal("123456789012345678901234567890.12")
	b := a
	_ = a.Add(b)
	_ = a.Sub(b)
	_ = a.Mul(b)
	_, _ = a.Div(b)
	_ = a.Neg()
	_ = a.Round(0)
	_ = a.RoundBank(1)
	_ = a.Truncate(-3)
	_, _ = a.Int64()
	_ = a.FitsExponent(0)
	_, _ = a.MinorUnits(2)
	_ = a.Cmp(DecimalFromInt(1))
	if a.String() != "123456789012345678901234567890.12" || b.String() != "123456789012345678901234567890.12" {
		t.Errorf("operands changed: %s %s", a, b)
	}
}

func TestValidCurrencyCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"USD", true}, {"KHR", true}, {"XAU", true},
		{"usd", false}, {"Usd", false}, {"GC", false}, {"US", false},
		{"USDT", false}, {"", false}, {"U1D", false}, {"ÜSD", false}, {"US ", false},
	}
	for _, tt := range tests {
		if got := ValidCurrencyCode(tt.code); got != tt.want {
			t.Errorf("ValidCurrencyCode(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestDefaultExponents(t *testing.T) {
	e := DefaultExponents()
	want := map[string]int32{
		"USD": 2, "KHR": 0, "MYR": 2, "THB": 2, "EUR": 2, "SGD": 2, "VND": 0,
		"JPY": 0, "LAK": 0, "CNY": 2, "GBP": 2, "AUD": 2, "KWD": 3,
	}
	for code, exp := range want {
		if got, ok := e.Exponent(code); !ok || got != exp {
			t.Errorf("Exponent(%s) = %d, %v, want %d", code, got, ok, exp)
		}
	}
	for code, c := range e {
		if !ValidCurrencyCode(code) {
			t.Errorf("invalid code %q", code)
		}
		if c.Exponent < 0 || c.Exponent > 4 {
			t.Errorf("%s: exponent %d", code, c.Exponent)
		}
		if c.MaxIntDigits != 0 || e.MaxIntDigits(code) != DefaultMaxIntDigits {
			t.Errorf("%s: max integer digits %d (%d)", code, c.MaxIntDigits, e.MaxIntDigits(code))
		}
	}
	for _, code := range []string{"GC", "usd", "XXX", ""} {
		if _, ok := e.Exponent(code); ok {
			t.Errorf("Exponent(%q) known", code)
		}
	}

	// A fresh copy each time.
	e.SetExponent("USD", 3)
	if got, _ := DefaultExponents().Exponent("USD"); got != 2 {
		t.Errorf("DefaultExponents shares its map: USD = %d", got)
	}
	var nilExp Exponents
	if _, ok := nilExp.Exponent("USD"); ok {
		t.Error("nil Exponents knows USD")
	}

	// KHR 50000.00 fits; USD 10.205 does not.
	khr, _ := e.Exponent("KHR")
	if u, err := MustDecimal("50000.00").MinorUnits(khr); err != nil || u != 50000 {
		t.Errorf("KHR 50000.00 = %d, %v", u, err)
	}
	usd, _ := DefaultExponents().Exponent("USD")
	if MustDecimal("10.205").FitsExponent(usd) {
		t.Error("USD 10.205 fits")
	}
}

// rat returns the exact value of d, computed from its String form.
func rat(t testing.TB, d Decimal) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		t.Fatalf("big.Rat cannot parse %q", d.String())
	}
	return r
}

// ratPow10 returns 10^n as a Rat, for any sign of n.
func ratPow10(n int64) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(max(n, -n)), nil)
	if n < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

// refRound rounds r to places with math/big.Rat only.
func refRound(r *big.Rat, places int32, mode roundingMode) *big.Rat {
	x := new(big.Rat).Mul(r, ratPow10(int64(places)))
	n := new(big.Int).Quo(x.Num(), x.Denom()) // toward zero
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(n))
	frac.Abs(frac)
	c := frac.Cmp(big.NewRat(1, 2))
	var up bool
	switch mode {
	case halfAwayFromZero:
		up = c >= 0
	case halfEven:
		up = c > 0 || (c == 0 && n.Bit(0) == 1)
	}
	if up {
		if x.Sign() < 0 {
			n.Sub(n, big.NewInt(1))
		} else {
			n.Add(n, big.NewInt(1))
		}
	}
	return new(big.Rat).Mul(new(big.Rat).SetInt(n), ratPow10(-int64(places)))
}

// randomDecimal returns a decimal string of up to 40 digits, about half of
// them fitting an int64, with up to 25 fractional digits.
func randomDecimal(rng *rand.Rand) string {
	n := 1 + rng.IntN(19)
	if rng.IntN(3) == 0 {
		n = 1 + rng.IntN(40)
	}
	var sb strings.Builder
	if rng.IntN(2) == 0 {
		sb.WriteByte('-')
	}
	digits := make([]byte, n)
	for i := range digits {
		digits[i] = byte('0' + rng.IntN(10))
		if rng.IntN(5) == 0 {
			digits[i] = '0' // more trailing zeros and exact halves
		}
	}
	if rng.IntN(4) == 0 {
		digits[0] = '5'
		for i := 1; i < n; i++ {
			digits[i] = '0'
		}
	}
	scale := 0
	if rng.IntN(4) != 0 {
		scale = rng.IntN(min(n, 25) + 1)
	}
	if scale == n {
		sb.WriteByte('0')
	}
	sb.Write(digits[:n-scale])
	if scale > 0 {
		sb.WriteByte('.')
		sb.Write(digits[n-scale:])
	}
	return sb.String()
}

// TestAgainstRat checks the arithmetic against math/big.Rat on random
// values, small and big, including the int64 boundaries.
func TestAgainstRat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edges := []string{
		"9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"-9223372036854775809", "0.9223372036854775807", "-922337203685477580.8", "0", "0.00", "1", "-1",
	}
	next := func(i int) string {
		if i%7 == 0 {
			return edges[rng.IntN(len(edges))]
		}
		return randomDecimal(rng)
	}
	for i := range 20000 {
		as, bs := next(i), next(i+3)
		a, b := MustDecimal(as), MustDecimal(bs)
		ra, rb := rat(t, a), rat(t, b)
		if want, _ := new(big.Rat).SetString(as); ra.Cmp(want) != 0 {
			t.Fatalf("parse %s = %s", as, a)
		}
		s := max(a.Scale(), b.Scale())

		check := func(op string, got Decimal, want *big.Rat, scale int32) {
			t.Helper()
			if rat(t, got).Cmp(want) != 0 || got.Scale() != scale {
				t.Fatalf("%s %s %s = %s (scale %d), want %s (scale %d)", as, op, bs, got, got.Scale(), want.FloatString(int(scale)), scale)
			}
			if got.big != nil && got.big.IsInt64() {
				t.Fatalf("%s %s %s = %s: a big.Int that fits in int64", as, op, bs, got)
			}
		}
		check("+", a.Add(b), new(big.Rat).Add(ra, rb), s)
		check("-", a.Sub(b), new(big.Rat).Sub(ra, rb), s)
		check("×", a.Mul(b), new(big.Rat).Mul(ra, rb), a.Scale()+b.Scale())
		if got, want := a.Cmp(b), ra.Cmp(rb); got != want {
			t.Fatalf("Cmp(%s, %s) = %d, want %d", as, bs, got, want)
		}
		if got, want := a.Neg().Add(a), new(big.Rat); rat(t, got).Cmp(want) != 0 {
			t.Fatalf("-%s + %s = %s", as, as, got)
		}

		if !b.IsZero() {
			q, err := a.Div(b)
			if err != nil {
				t.Fatal(err)
			}
			ds := max(s, DivScale)
			want := refRound(new(big.Rat).Quo(ra, rb), ds, halfEven)
			if rat(t, q).Cmp(want) != 0 {
				t.Fatalf("%s / %s = %s, want %s", as, bs, q, want.FloatString(int(ds)))
			}
			// Trailing zeros are trimmed down to s and no further.
			if q.Scale() < s || q.Scale() > ds || (q.Scale() > s && strings.HasSuffix(q.String(), "0")) {
				t.Fatalf("%s / %s = %s: scale %d not trimmed to [%d, %d]", as, bs, q, q.Scale(), s, ds)
			}
		}

		places := int32(rng.IntN(30)) - 8
		for _, m := range []struct {
			name string
			mode roundingMode
			f    func(int32) Decimal
		}{
			{"Round", halfAwayFromZero, a.Round},
			{"RoundBank", halfEven, a.RoundBank},
			{"Truncate", towardZero, a.Truncate},
		} {
			got := m.f(places)
			if want := refRound(ra, places, m.mode); rat(t, got).Cmp(want) != 0 || got.Scale() != max(places, 0) {
				t.Fatalf("%s(%s, %d) = %s, want %s", m.name, as, places, got, want.FloatString(int(max(places, 0))))
			}
		}

		exp := int32(rng.IntN(8)) - 2
		scaled := new(big.Rat).Mul(ra, ratPow10(int64(exp)))
		if got := a.FitsExponent(exp); got != scaled.IsInt() {
			t.Fatalf("FitsExponent(%s, %d) = %v", as, exp, got)
		}
		units, err := a.MinorUnits(exp)
		switch {
		case !scaled.IsInt():
			if !errors.Is(err, ErrTooManyPlaces) {
				t.Fatalf("MinorUnits(%s, %d) = %d, %v, want ErrTooManyPlaces", as, exp, units, err)
			}
		case !scaled.Num().IsInt64():
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("MinorUnits(%s, %d) = %d, %v, want ErrOverflow", as, exp, units, err)
			}
		default:
			if err != nil || units != scaled.Num().Int64() {
				t.Fatalf("MinorUnits(%s, %d) = %d, %v, want %s", as, exp, units, err, scaled.Num())
			}
		}
		v, ok := a.Int64()
		if wantOK := ra.IsInt() && ra.Num().IsInt64(); ok != wantOK || (ok && v != ra.Num().Int64()) {
			t.Fatalf("Int64(%s) = %d, %v", as, v, ok)
		}
	}
}
