package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/billbridge/caddy-billbridge/mappings"
)

// FuzzParseRetryAfter: ParseRetryAfter never panics, never gives a
// negative wait, accepts digits only as seconds within its bound, and
// agrees with http.ParseTime on dates.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "5", " 120 ", "1048576", "1048577", "-1", "+5", "1.5", "", "9223372036854775807",
		"Tue, 01 Dec 2026 12:00:30 GMT", "Tuesday, 01-Dec-26 12:01:00 GMT", "Tue Dec  1 12:00:10 2026", "Mon, 01 Jan 0001 00:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "tomorrow"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v", v, d, ok)
		}
		s := strings.TrimSpace(v)
		if ok && s != "" && s[0] >= '0' && s[0] <= '9' {
			if strings.Trim(s, "0123456789") != "" || d > maxRetryAfterSeconds*time.Second || d%time.Second != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
			}
		}
	})
}

// FuzzDecodeObject: DecodeObject never panics; what it accepts is one
// valid JSON object of valid UTF-8 with the same members encoding/json
// reads, and no float64 anywhere in it.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1.10,"b":[1e3,-0,"x"],"c":{"d":null}}`, ` {"a":true} `, `{"a":1}{}`, `{"a":1}}`,
		`[]`, `null`, ``, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1e5000}`, `{"a":1,"a":2}`, `{"ជ":"ជ"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeObject(body, "x")
		if err != nil {
			if m != nil {
				t.Fatal("a map with an error")
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("accepted %q", body)
		}
		var std map[string]any
		if err := json.Unmarshal(body, &std); err != nil || len(std) != len(m) {
			t.Fatalf("encoding/json reads %q as %v (%v), DecodeObject as %v", body, std, err, m)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			case nil, bool, string, int, mappings.Decimal:
			default:
				t.Fatalf("%q decoded to a %T", body, v)
			}
		}
		walk(m)
	})
}

// FuzzAnswerText: the text of any answer is valid, printable (but for
// what %q escapes) and short.
func FuzzAnswerText(f *testing.F) {
	for _, s := range []string{"", "<html>Bad Gateway</html>", "a\x00b", "\xff\xfe", strings.Repeat("ជ", 500)} {
		f.Add(502, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		s := AnswerText(status, body)
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00") || len(s) > 100+4*MaxExcerpt {
			t.Fatalf("AnswerText(%d, %q) = %q", status, body, s)
		}
	})
}
