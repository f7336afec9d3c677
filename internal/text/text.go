// Package text holds the helpers that quote outside text (a gateway's
// answer, a field of a payload, a value from a config) in errors and logs:
// cut to a bound on a rune boundary, never mid-character, and stripped of
// control characters, so that what a log line shows is what was sent and
// one bad byte cannot split or forge a line.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis marks where Truncate cut.
const Ellipsis = "…"

// Truncate returns s if it is at most n bytes long, and otherwise its
// longest prefix of at most n bytes that ends on a rune boundary, followed
// by Ellipsis. A cut never splits a UTF-8 sequence, so valid UTF-8 stays
// valid; a negative n counts as 0.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}

// Printable reports whether s holds no control character: none of C0
// (U+0000–U+001F), DEL or C1 (U+0080–U+009F). It does not check that s is
// valid UTF-8 (an invalid byte reads as U+FFFD, which is printable); use
// utf8.ValidString for that.
func Printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Clean makes outside text fit to quote in an error or a log: invalid
// UTF-8 becomes U+FFFD, each control character a space, surrounding space
// is trimmed, and the rest is cut to n bytes by Truncate.
func Clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return Truncate(strings.TrimSpace(s), n)
}
