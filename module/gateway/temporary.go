package gateway

import (
	"context"
	"errors"
	"net"
)

// IsTemporary reports whether err says that trying again later may
// succeed, so that the gateway's call should be retried (by the gateway,
// after an answer asking it to) rather than refused:
//
//   - an error in err's chain with a Temporary() bool method other than a
//     net.Error decides (the gateways' own error types: an answer with
//     HTTP 429 or 5xx is temporary, a malformed 2xx is not);
//   - otherwise a context that ended (deadline or cancellation) and any
//     network error are temporary: nothing was answered;
//   - anything else, nil included, is not.
//
// net.Error's Temporary is deprecated and says false for most failures
// worth retrying (a refused connection, a reset), so it is not asked.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		if _, isNet := t.(net.Error); !isNet {
			return t.Temporary()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
