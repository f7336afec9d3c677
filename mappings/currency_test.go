package mappings

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAmount(t *testing.T) {
	e := DefaultExponents()
	e.SetMaxIntDigits("KHR", 12)
	tests := []struct {
		amount, code string
		want         error // nil, ErrTooManyDigits or ErrTooManyPlaces
		text         string
	}{
		{"45", "USD", nil, ""},
		{"45.00", "USD", nil, ""},
		{"999999999999999.99", "USD", nil, ""}, // 15 integer digits
		{"1000000000000000", "USD", ErrTooManyDigits, "tran_amount 1000000000000000 has more integer digits than USD allows (15)"},
		{"-1000000000000000", "USD", ErrTooManyDigits, ""},
		{"1e15", "USD", ErrTooManyDigits, ""},
		{"1e14", "USD", nil, ""},
		{"1e1000", "USD", ErrTooManyDigits, "tran_amount 10000000000000000000000000000000... has more integer digits"},
		{"99999999999999999999999999.5", "USD", ErrTooManyDigits, ""}, // a big unscaled value
		{"0.99999999999999999999999999", "USD", ErrTooManyPlaces, ""},
		{"0.000", "USD", nil, ""},
		{"0", "USD", nil, ""},
		{"10.205", "USD", ErrTooManyPlaces, "tran_amount 10.205 has more decimal places than USD allows (2)"},
		{"10.200", "USD", nil, ""},
		{"1e-1000", "USD", ErrTooManyPlaces, ""},
		{"50000.00", "KHR", nil, ""},
		{"50000.5", "KHR", ErrTooManyPlaces, ""},
		{"999999999999", "KHR", nil, ""}, // the configured 12
		{"1000000000000", "KHR", ErrTooManyDigits, "than KHR allows (12)"},
		{"1.005", "KWD", nil, ""},
		{"1.0005", "KWD", ErrTooManyPlaces, ""},
		{"1.25", "ZZZ", nil, ""}, // unknown: DefaultExponent places, default digits
		{"1.255", "ZZZ", ErrTooManyPlaces, "than ZZZ allows (2)"},
		{"1000000000000000", "ZZZ", ErrTooManyDigits, ""},
	}
	for _, tt := range tests {
		err := e.CheckAmount("tran_amount", MustDecimal(tt.amount), tt.code)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s %s: %v", tt.amount, tt.code, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s %s: %v, want %v with %q", tt.amount, tt.code, err, tt.want, tt.text)
		}
	}
}

func TestFitsIntDigits(t *testing.T) {
	for _, tt := range []struct {
		amount string
		n      int32
		want   bool
	}{
		{"0", 0, true}, {"0.5", 0, true}, {"1", 0, false}, {"9", 1, true}, {"10", 1, false},
		{"-9.99", 1, true}, {"-10.00", 1, false}, {"9223372036854775807", 19, true},
		{"9223372036854775807", 18, false}, {"0.09223372036854775807", 0, true},
		{"12345678901234567890123", 23, true}, {"12345678901234567890123", 22, false},
		{"99999999999999999999.999999999999", 20, true}, {"100000000000000000000.000000000000", 20, false},
	} {
		if got := MustDecimal(tt.amount).fitsIntDigits(tt.n); got != tt.want {
			t.Errorf("fitsIntDigits(%s, %d) = %v", tt.amount, tt.n, got)
		}
	}
}

func TestExponentsSet(t *testing.T) {
	e := DefaultExponents()
	e.SetMaxIntDigits("USD", 9)
	e.SetExponent("USD", 3)
	if exp, _ := e.Exponent("USD"); exp != 3 || e.MaxIntDigits("USD") != 9 {
		t.Errorf("USD = %+v", e["USD"])
	}
	e.SetMaxIntDigits("XYZ", 4) // a new code gets DefaultExponent
	if exp, ok := e.Exponent("XYZ"); !ok || exp != DefaultExponent || e.MaxIntDigits("XYZ") != 4 {
		t.Errorf("XYZ = %+v", e["XYZ"])
	}
	e.SetExponent("ABC", 0) // a new code gets the default bound
	if e.MaxIntDigits("ABC") != DefaultMaxIntDigits {
		t.Errorf("ABC = %+v", e["ABC"])
	}
	var none Exponents
	if _, ok := none.Exponent("USD"); ok || none.MaxIntDigits("USD") != DefaultMaxIntDigits {
		t.Error("a nil Exponents knows USD")
	}
	if d, _ := DefaultExponents().Exponent("USD"); d != 2 || DefaultExponents().MaxIntDigits("USD") != DefaultMaxIntDigits {
		t.Error("the defaults changed")
	}
}
