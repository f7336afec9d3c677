package text

import (
	"strings"
	"testing"
)

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd…"},
		// "ជ" is 3 bytes: a cut inside it moves back to its start.
		{"abជ", 3, "ab…"},
		{"abជ", 4, "ab…"},
		{"abជ", 5, "abជ"},
		{"ជជ", 5, "ជ…"},
		{"abc", 0, "…"},
		{"abc", -1, "…"},
		// Invalid bytes are not rune starts' continuations: cut as bytes.
		{"a\xffbc", 2, "a\xff…"},
	} {
		if got := Truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "INV-0001": true, "សួស្តី": true, "a b": true, "\xff": true,
		"a\nb": false, "\x00": false, "a\x7f": false, "\u0085": false, "\u009f": false, "\t": false,
	} {
		if got := Printable(s); got != want {
			t.Errorf("Printable(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"  Too many requests\r\n", 200, "Too many requests"},
		{"a\x00b\u0085c", 200, "a b c"},
		{"bad \xff byte", 200, "bad \uFFFD byte"},
		{strings.Repeat("ជ", 100), 10, "ជជជ…"},
		{"\n\t", 200, ""},
	} {
		if got := Clean(tt.s, tt.n); got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
