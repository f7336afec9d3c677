// Package qm holds Quantum Metal's (QM) wire formats and a client for its
// billing API: request signing, Create Bill, Requery Bill, Cancel Bill, the
// bill callback, and the envelope QM answers with (protocols.md section C).
// It knows nothing of Caddy; the module wires it in.
//
// Amounts are exact (mappings.Decimal) from the wire to the caller: no QM
// answer or callback is ever decoded through float64.
package qm

import (
	"cmp"
	"crypto/md5" //nolint:gosec // G501: QM signs with MD5 (protocols.md C.1); billbridge cannot choose another
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// Sign returns QM's signature of a request: the lowercase hex MD5 of the
// exact body bytes followed by the secret, MD5(body + secret)
// (protocols.md C.1). The body must be the very bytes sent: re-serializing
// changes the signature.
func Sign(body []byte, secret string) string {
	h := md5.New() //nolint:gosec // G401: MD5(body + secret) is QM's signature scheme (protocols.md C.1), not a choice
	h.Write(body)
	_, _ = io.WriteString(h, secret) // a hash.Hash never returns a write error
	return hex.EncodeToString(h.Sum(nil))
}

// VerifySign reports, in constant time, whether sign is Sign(body, secret).
// Hex digits may be in either case. It is for inbound calls that carry a
// Sign header: QM does not document signing its callbacks, so whether one
// arrives is [UNKNOWN] (protocols.md C.4); a callback is confirmed by
// Requery regardless.
func VerifySign(body []byte, secret, sign string) bool {
	want := Sign(body, secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(sign))) == 1
}

// Defaults for Config.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRate       = 8 // QM allows 10 requests/s per IP, burst 10; stay under it
	DefaultBurst      = 8
	DefaultMaxRetries = 3
)

// Config configures a Client.
type Config struct {
	// BaseURL is QM's API root, such as https://api.quantummetal.example;
	// a trailing slash is optional and a path prefix is kept. QM's
	// production and sandbox hosts are not documented publicly.
	BaseURL string
	// Key is the API key, sent as the Key header.
	Key string
	// Secret signs requests (see Sign). It is never logged and never
	// appears in an error.
	Secret string
	// Timeout bounds each HTTP attempt, reading the answer included.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Rate is how many requests per second this client allows itself;
	// zero means DefaultRate. QM limits by IP, so several clients (or
	// Caddy instances) behind one address must share QM's 10/s between
	// them.
	Rate float64
	// Burst is the token bucket's size; zero means DefaultBurst.
	Burst int
	// MaxRetries is how many times a call is retried after a temporary
	// failure; zero means DefaultMaxRetries and a negative value turns
	// retries off. Requery retries on 429, 5xx and network errors;
	// CreateBill and Cancel retry only on 429, which QM answers before
	// doing anything. Before a retry the client waits as the answer's
	// Retry-After says (on 429 and 503; it gives up at once, returning
	// the answer's error, if that is over 10s or past the context's
	// deadline), otherwise 200ms doubling per retry up to 2s, with
	// jitter. Every attempt also waits for the rate limiter.
	MaxRetries int
	// HTTPClient sends the requests; nil means a client of its own. A
	// client that follows redirects on its own is given a CheckRedirect
	// that does not: a redirect would copy the Key header to wherever it
	// points.
	HTTPClient *http.Client
}

// Client calls QM's billing API. It is safe for concurrent use; all calls
// share one rate limiter, and concurrent Requery calls for one bill share
// one call to QM.
type Client struct {
	base       string // without a trailing slash
	key        string
	secret     string
	timeout    time.Duration
	maxRetries int
	limiter    *rate.Limiter
	gw         *gateway.Client
	// requeries shares one Requery among concurrent callers for a bill.
	requeries gateway.Flight[Bill]
	// pages are RequeryForPage's: their own flights (they may be refused
	// a token, which a callback sharing them must not be) and a cache.
	pageFlights gateway.Flight[Bill]
	pages       pageCache

	// Retry backoff without Retry-After: exponential from backoffBase,
	// capped at backoffMax, with jitter. Tests shorten them.
	backoffBase time.Duration
	backoffMax  time.Duration
	// maxRetryAfter is the longest Retry-After the client waits for; a
	// longer one ends the call with the 429's error.
	maxRetryAfter time.Duration
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	base, err := gateway.BaseURL("qm: base url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Key == "" {
		return nil, errors.New("qm: api key is required")
	}
	if cfg.Secret == "" {
		return nil, errors.New("qm: secret key is required")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("qm: timeout must not be negative")
	}
	if math.IsNaN(cfg.Rate) || cfg.Rate < 0 {
		return nil, errors.New("qm: rate must be a positive number of requests per second")
	}
	if cfg.Burst < 0 {
		return nil, errors.New("qm: burst must not be negative")
	}
	c := &Client{
		base:          base,
		key:           cfg.Key,
		secret:        cfg.Secret,
		timeout:       cmp.Or(cfg.Timeout, DefaultTimeout),
		maxRetries:    cmp.Or(cfg.MaxRetries, DefaultMaxRetries),
		backoffBase:   200 * time.Millisecond,
		backoffMax:    2 * time.Second,
		maxRetryAfter: 10 * time.Second,
	}
	if c.maxRetries < 0 {
		c.maxRetries = 0
	}
	r := cmp.Or(cfg.Rate, DefaultRate)
	c.limiter = rate.NewLimiter(rate.Limit(r), cmp.Or(cfg.Burst, DefaultBurst))
	c.gw = gateway.NewClient(cfg.HTTPClient, c.timeout, maxAnswer)
	return c, nil
}

// APIError is an answer in QM's envelope with a non-zero code
// (protocols.md C.3: 0 is success, 1 and above are errors).
type APIError struct {
	HTTPStatus int
	Code       int
	// Message is QM's message, shortened and stripped of control
	// characters.
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("qm: error code %d (http %d): %s", e.Code, e.HTTPStatus, msg)
}

// Temporary reports whether trying again later may succeed: QM answered
// 429 (rate limited) or a 5xx.
func (e *APIError) Temporary() bool { return gateway.TemporaryStatus(e.HTTPStatus) }

// ResponseError is an answer that is not a usable QM envelope: not JSON,
// no code, no data, a field of the wrong type, an HTML error page from a
// proxy, a redirect.
type ResponseError struct {
	HTTPStatus int
	// Reason says what was wrong.
	Reason string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("qm: unusable answer (http %d): %s", e.HTTPStatus, e.Reason)
}

// Temporary reports whether the answer came with HTTP 429 or a 5xx: a
// gateway's error page is worth retrying, a malformed 2xx is not.
func (e *ResponseError) Temporary() bool { return gateway.TemporaryStatus(e.HTTPStatus) }

// TransportError is a call that got no answer: the connection failed, the
// attempt timed out, or the context ended (while waiting for the rate
// limiter too). It unwraps to the cause, so errors.Is(err,
// context.Canceled) works.
//
// After a TransportError (or a 5xx) from CreateBill, QM may or may not
// have created the bill.
type TransportError struct {
	// Call is the operation: "create", "requery" or "cancel".
	Call string
	Err  error
}

func (e *TransportError) Error() string { return fmt.Sprintf("qm %s: %v", e.Call, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Temporary is always true: nothing was answered, so trying again may work.
func (e *TransportError) Temporary() bool { return true }

// IsTemporary reports whether err, or an error it wraps, says that trying
// again later may succeed: an APIError or ResponseError with HTTP 429 or
// 5xx, or a TransportError. It is gateway.IsTemporary.
func IsTemporary(err error) bool { return gateway.IsTemporary(err) }
