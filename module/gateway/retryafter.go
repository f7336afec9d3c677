package gateway

import (
	"net/http"
	"strings"
	"time"
)

// maxRetryAfterSeconds bounds a Retry-After in seconds that is read at
// all (about 12 days); a bigger one is nonsense, not a wait.
const maxRetryAfterSeconds = 1 << 20

// ParseRetryAfter reads a Retry-After header value (RFC 9110 §10.2.3):
// delay-seconds (digits only) or an HTTP-date, which counts from now and
// is zero if it has passed. ok is false for an empty or unreadable value.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		var s int64
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			if s = s*10 + int64(c-'0'); s > maxRetryAfterSeconds {
				return 0, false
			}
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
