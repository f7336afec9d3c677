package mappings

import (
	"encoding/json"
	"testing"
)

// Run with: go test -run '^$' -bench Decimal -benchmem ./mappings/

var benchInputs = []struct{ name, s string }{
	{"int", "45"},
	{"cents", "10.20"},
	{"khr", "50000.00"},
	{"exp", "1.5E-2"},
	{"big", "123456789012345678901234567890.12"},
}

var (
	sinkDecimal Decimal
	sinkString  string
	sinkBytes   []byte
	sinkInt     int
)

func BenchmarkDecimalParse(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkDecimal, _ = ParseDecimal(in.s)
			}
		})
	}
}

func BenchmarkDecimalString(b *testing.B) {
	for _, in := range benchInputs {
		d := MustDecimal(in.s)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkString = d.String()
			}
		})
	}
}

func BenchmarkDecimalAppendText(b *testing.B) {
	d := MustDecimal("10.20")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		sinkBytes = d.AppendText(buf[:0])
	}
}

func BenchmarkDecimalMarshalJSON(b *testing.B) {
	for _, in := range benchInputs {
		d := MustDecimal(in.s)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkBytes, _ = d.MarshalJSON()
			}
		})
	}
}

func BenchmarkDecimalUnmarshalJSON(b *testing.B) {
	for _, in := range []struct{ name, s string }{
		{"number", "10.20"},
		{"string", `"100.00"`},
		{"big", "123456789012345678901234567890.12"},
	} {
		raw := []byte(in.s)
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			var d Decimal
			for b.Loop() {
				_ = d.UnmarshalJSON(raw)
			}
			sinkDecimal = d
		})
	}
}

// A Bill24 webhook body through encoding/json, for scale.
func BenchmarkDecimalWebhookJSON(b *testing.B) {
	body := []byte(`{"tran_id":"174952172035635","tran_amount":50000.00,"fee_amount":500.00,"total_amount":50500.00,"currency":"KHR"}`)
	var hook struct {
		TranAmount  Decimal `json:"tran_amount"`
		FeeAmount   Decimal `json:"fee_amount"`
		TotalAmount Decimal `json:"total_amount"`
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = json.Unmarshal(body, &hook)
	}
}

func BenchmarkDecimalAdd(b *testing.B) {
	for _, c := range []struct{ name, a, b string }{
		{"same_scale", "10.20", "0.20"},
		{"mixed_scale", "10", "0.20"},
		{"big", "123456789012345678901234567890.12", "0.88"},
	} {
		x, y := MustDecimal(c.a), MustDecimal(c.b)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkDecimal = x.Add(y)
			}
		})
	}
}

func BenchmarkDecimalCmp(b *testing.B) {
	for _, c := range []struct{ name, a, b string }{
		{"same_scale", "10.20", "10.21"},
		{"mixed_scale", "10.20", "10.2"},
		{"big", "123456789012345678901234567890.12", "123456789012345678901234567890.1"},
	} {
		x, y := MustDecimal(c.a), MustDecimal(c.b)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkInt = x.Cmp(y)
			}
		})
	}
}

func BenchmarkDecimalMul(b *testing.B) {
	x, y := MustDecimal("10.20"), MustDecimal("0.015")
	b.ReportAllocs()
	for b.Loop() {
		sinkDecimal = x.Mul(y)
	}
}

func BenchmarkDecimalDiv(b *testing.B) {
	for _, c := range []struct{ name, a, b string }{
		{"small", "10.20", "4"},
		{"repeating", "100", "7"},
		{"wide", "50500.00", "3"},
	} {
		x, y := MustDecimal(c.a), MustDecimal(c.b)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkDecimal, _ = x.Div(y)
			}
		})
	}
}

func BenchmarkDecimalRound(b *testing.B) {
	x := MustDecimal("10.005")
	b.ReportAllocs()
	for b.Loop() {
		sinkDecimal = x.Round(2)
	}
}

func BenchmarkDecimalMinorUnits(b *testing.B) {
	x := MustDecimal("50000.00")
	b.ReportAllocs()
	for b.Loop() {
		sinkInt, _ = func() (int, error) { u, err := x.MinorUnits(0); return int(u), err }()
	}
}
