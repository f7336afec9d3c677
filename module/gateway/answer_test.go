package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAnswerText(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   string
	}{
		{502, "<html>Bad Gateway</html>\n", `HTTP 502 Bad Gateway: "<html>Bad Gateway</html>"`},
		{503, "", "HTTP 503 Service Unavailable, empty answer"},
		{503, " \r\n", "HTTP 503 Service Unavailable, empty answer"},
		{599, "x", `HTTP 599: "x"`},
		{500, "line1\nline2\x00", `HTTP 500 Internal Server Error: "line1 line2"`},
		{500, "bad \xff", `HTTP 500 Internal Server Error: "bad ` + "\uFFFD" + `"`},
	} {
		if got := AnswerText(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("AnswerText(%d, %q) = %s, want %s", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	// A megabyte of Khmer: the quote is short, valid and cut on a rune.
	body := []byte(strings.Repeat("ជ", 1<<20/3))
	e := Excerpt(body)
	if len(e) > MaxExcerpt+len("…") || !utf8.ValidString(e) || !strings.HasSuffix(e, "…") || !strings.HasPrefix(e, "ជជ") {
		t.Errorf("Excerpt = %q (%d bytes)", e, len(e))
	}
}

func TestTemporaryStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 302: false, 400: false, 401: false, 404: false, 429: true, 500: true, 502: true, 503: true, 599: true} {
		if TemporaryStatus(status) != want {
			t.Errorf("TemporaryStatus(%d) = %v", status, !want)
		}
	}
}
