package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/billbridge/caddy-billbridge/internal/text"
)

// MaxExcerpt bounds, in bytes, the part of an answer an error quotes.
const MaxExcerpt = 200

// Excerpt returns what an error may quote of an answer's body: at most
// MaxExcerpt bytes, cut on a rune boundary, control characters as
// spaces, invalid UTF-8 as U+FFFD, surrounding space trimmed. A body
// holding a secret must have it blanked out by the caller first.
func Excerpt(body []byte) string {
	// Clean only the start: an answer may be a megabyte of HTML.
	if len(body) > 4*MaxExcerpt {
		body = body[:4*MaxExcerpt]
	}
	return text.Clean(string(body), MaxExcerpt)
}

// AnswerText describes an answer a client cannot use, for an error: its
// status and a short quote of its body,
//
//	HTTP 502 Bad Gateway: "<html>Bad Gateway</html>"
//	HTTP 503 Service Unavailable, empty answer
func AnswerText(status int, body []byte) string {
	s := "HTTP " + strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		s += " " + t
	}
	if e := Excerpt(body); e != "" {
		return s + fmt.Sprintf(": %q", e)
	}
	return s + ", empty answer"
}

// TemporaryStatus reports whether an answer with this HTTP status may be
// followed by a better one if the call is tried again later: 429 (rate
// limited) and 5xx.
func TemporaryStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}
