package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTruncate: Truncate and Clean never panic; Truncate keeps valid UTF-8
// valid, returns a prefix of s, and stays within n bytes plus the
// ellipsis; Clean's result is valid, printable and within the same bound.
func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "abc", "abជ", "ជជជជ", "a\xff\xfe", "\x00\n\u0085x", "  pad  "} {
		for _, n := range []int{-1, 0, 1, 2, 3, 4, 64} {
			f.Add(s, n)
		}
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 1 << 16
		got := Truncate(s, n)
		if got == s {
			if len(s) > max(n, 0) {
				t.Fatalf("Truncate(%q, %d) did not cut", s, n)
			}
		} else {
			prefix, ok := strings.CutSuffix(got, Ellipsis)
			if !ok || !strings.HasPrefix(s, prefix) || len(prefix) > max(n, 0) {
				t.Fatalf("Truncate(%q, %d) = %q", s, n, got)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q is not valid UTF-8", s, n, got)
		}
		c := Clean(s, n)
		if !utf8.ValidString(c) || !Printable(c) || len(c) > max(n, 0)+len(Ellipsis) {
			t.Fatalf("Clean(%q, %d) = %q", s, n, c)
		}
	})
}
