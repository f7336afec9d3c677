package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/billbridge/caddy-billbridge/mappings"
)

func TestMarshal(t *testing.T) {
	b, err := Marshal(map[string]any{"url": "https://m.example/cb?a=1&b=<2>", "name": "ជា", "amount": mappings.MustDecimal("100.00")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":100.00,"name":"ជា","url":"https://m.example/cb?a=1&b=<2>"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	if _, err := Marshal(func() {}); err == nil {
		t.Error("Marshal of a func succeeded")
	}
}

func TestDecodeObject(t *testing.T) {
	m, err := DecodeObject([]byte(" \n{\"a\":1,\"b\":1.10,\"c\":1e3,\"d\":\"ជ\",\"e\":[2],\"f\":null}\r\n"), "the answer")
	if err != nil {
		t.Fatal(err)
	}
	if m["a"] != 1 || m["d"] != "ជ" || m["f"] != nil {
		t.Errorf("decoded %#v", m)
	}
	// No float64 anywhere: a fraction or an exponent is an exact Decimal.
	if d, ok := m["b"].(mappings.Decimal); !ok || d.String() != "1.10" {
		t.Errorf("b = %#v", m["b"])
	}
	if d, ok := m["c"].(mappings.Decimal); !ok || !d.Equal(mappings.MustDecimal("1000")) {
		t.Errorf("c = %#v", m["c"])
	}
	for _, tt := range []struct{ body, want string }{
		{"", "the answer is empty"},
		{" \t", "the answer is empty"},
		{"{\"a\":\"\xff\"}", "the answer is not valid UTF-8"},
		{`["a"]`, "the answer is not a JSON object"},
		{`null`, "the answer is not a JSON object"},
		{`<html>`, "the answer is not a JSON object"},
		{`{"a":1`, "the answer is malformed JSON"},
		{`{"a":1}{}`, "data after"},
		{`{"a":1}}`, "data after"},
		{`{"a":1e5000}`, "exponent"},
		{strings.Repeat(`{"a":`, 2000) + "1" + strings.Repeat("}", 2000), "the answer is malformed JSON"},
	} {
		if _, err := DecodeObject([]byte(tt.body), "the answer"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeObject(%.40q) = %v, want %q", tt.body, err, tt.want)
		}
	}
	// The problem is there to read, and the parser's error to unwrap.
	for body, want := range map[string]Problem{"": Empty, "\xff": NotUTF8, "[]": NotObject, "{": Malformed} {
		_, err := DecodeObject([]byte(body), "x")
		var de *DecodeError
		if !errors.As(err, &de) || de.Problem != want || de.What != "x" {
			t.Errorf("DecodeObject(%q) = %#v, want problem %d", body, err, want)
		}
	}
	_, err = DecodeObject([]byte(`{"a":1e5000}`), "x")
	if errors.Unwrap(err) == nil {
		t.Errorf("a parser error does not unwrap: %#v", err)
	}
}

func TestNumber(t *testing.T) {
	m, err := DecodeObject([]byte(`{"i":200,"d":2.50,"e":1e2,"s":"200"}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"i": "200", "d": "2.50", "e": "100"} {
		if got, err := Number(m[k]); err != nil || got != want {
			t.Errorf("Number(%s) = %q, %v; want %q", k, got, err, want)
		}
	}
	if _, err := Number(m["s"]); !errors.Is(err, ErrNotNumber) {
		t.Errorf("Number of a string: %v", err)
	}
}
