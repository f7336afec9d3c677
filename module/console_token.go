package billbridge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The console's forms carry a token that proves the page they came from
// was served by this process, to the same operator, for the same action
// on the same event, lately: an HMAC over all four and the time it was
// made. A page elsewhere cannot make one (cross-site request forgery),
// and a token for redelivering one event does not discard another.

// consoleKey is the process's key for the tokens, random, made once: a
// config reload keeps the forms on open pages valid; a restart does not
// (its forms answer 403, and reloading the page makes new ones). Nor does
// another instance: behind a load balancer, operators reach the console
// on one instance (a host of its own, or sticky sessions).
var consoleKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand never fails (it crashes the program instead)
	return k
})

// consoleTokenTTL is how long a form's token stays valid: a page left
// open over lunch still works.
const consoleTokenTTL = 4 * time.Hour

// consoleTokenSkew is how far in the future a token's time may be (a
// clock step between two requests).
const consoleTokenSkew = time.Minute

var errBadToken = errors.New("the form's token is missing, expired, or not for this action")

// token signs action on key for user at now: "<unix seconds>.<mac>".
func (c *ConsoleHandler) token(action, key, user string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + base64.RawURLEncoding.EncodeToString(c.mac(action, key, user, ts))
}

// checkToken verifies a token made by token for the same action, key and
// user, no older than consoleTokenTTL.
func (c *ConsoleHandler) checkToken(tok, action, key, user string, now time.Time) error {
	ts, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return errBadToken
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errBadToken
	}
	at := time.Unix(sec, 0)
	if now.Sub(at) > consoleTokenTTL || at.Sub(now) > consoleTokenSkew {
		return errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac(action, key, user, ts)) {
		return errBadToken
	}
	return nil
}

// mac is the HMAC-SHA256 of the token's fields; each is length-prefixed,
// so no two sets of fields write the same message.
func (c *ConsoleHandler) mac(action, key, user, ts string) []byte {
	m := hmac.New(sha256.New, c.key)
	for _, f := range []string{"billbridge console", action, key, user, ts} {
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return m.Sum(nil)
}
