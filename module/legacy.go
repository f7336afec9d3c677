package billbridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Legacy is the merchant's existing billing API. Its scheme, host and port
// are fixed here; mappings choose only the method, path and query, so no
// mapping can send a request anywhere else.
type Legacy struct {
	// BaseURL is the legacy API's address, e.g. http://127.0.0.1:8081 or
	// https://billing.internal/api. A path here prefixes every call's path.
	BaseURL string `json:"base_url,omitempty"`

	// Timeout bounds each legacy call, from sending the request to reading
	// the whole answer. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Headers are sent on every legacy call, e.g. an API key. Values may
	// hold {env.*} and {file.*} placeholders, resolved when the config
	// loads; an unset one is an error, never an empty header.
	Headers map[string]string `json:"headers,omitempty"`

	// MaxResponseSize bounds a legacy answer's body. Default: 1 MiB.
	MaxResponseSize int64 `json:"max_response_size,omitempty"`

	// intercept, in a dry run, takes the request instead of sending it.
	intercept func(*http.Request) (*http.Response, error)

	base    *url.URL
	headers http.Header
	client  *http.Transport
	poolKey string
}

const (
	defaultLegacyTimeout   = 10 * time.Second
	defaultMaxResponseSize = 1 << 20
)

// legacyClients shares HTTP clients (and so their warm connections) across
// config reloads, keyed by what shapes the connections.
var legacyClients = caddy.NewUsagePool()

type pooledClient struct{ *http.Transport }

func (c pooledClient) Destruct() error {
	c.CloseIdleConnections()
	return nil
}

func (l *Legacy) provision() error {
	raw := resolve(l.BaseURL)
	if raw == "" {
		return errors.New("base URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("base URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("base URL %q must be http:// or https:// with a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("base URL %q must not carry a query, fragment or credentials (use header)", u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	l.base = u
	if l.Timeout <= 0 {
		l.Timeout = caddy.Duration(defaultLegacyTimeout)
	}
	if l.MaxResponseSize <= 0 {
		l.MaxResponseSize = defaultMaxResponseSize
	}
	l.headers = make(http.Header, len(l.Headers))
	for k, v := range l.Headers {
		rv, err := resolveLegacyHeader(k, v)
		if err != nil {
			return err
		}
		l.headers.Set(k, rv)
	}

	sum := sha256.Sum256([]byte(u.Scheme + "://" + u.Host + "|" + time.Duration(l.Timeout).String()))
	l.poolKey = hex.EncodeToString(sum[:])
	c, _, err := legacyClients.LoadOrNew(l.poolKey, func() (caddy.Destructor, error) {
		return pooledClient{newLegacyTransport(time.Duration(l.Timeout))}, nil
	})
	if err != nil {
		return err
	}
	l.client = c.(pooledClient).Transport
	return nil
}

func (l *Legacy) cleanup() {
	if l.poolKey != "" {
		_, _ = legacyClients.Delete(l.poolKey)
	}
}

// newLegacyTransport returns the connection pool for a legacy API. Calls
// go straight to RoundTrip, like reverse_proxy's: no redirect is followed
// (a legacy redirect could point anywhere; the answer is the 3xx itself),
// and the deadline is the request context's.
func newLegacyTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // the legacy API is the merchant's own; never via a proxy from the environment
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
}

// legacyRequest is one call a mapping built.
type legacyRequest struct {
	method      string
	pathQuery   string // from the mapping: "/api/x?y=z"
	query       string // extra encoded query
	header      http.Header
	body        []byte
	contentType string
}

// legacyAnswer is what came back.
type legacyAnswer struct {
	status int
	header http.Header
	body   []byte
}

// callError says how a legacy call failed, which decides whether it may
// have reached the legacy system (ambiguous) and what the gateway is told.
type callError struct {
	err     error
	timeout bool // the deadline passed
	sent    bool // the request may have reached the legacy system
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// do sends a request to the legacy API.
func (l *Legacy) do(ctx context.Context, lr legacyRequest) (legacyAnswer, error) {
	u, err := l.resolveURL(lr.pathQuery, lr.query)
	if err != nil {
		return legacyAnswer{}, &callError{err: err}
	}
	var body io.Reader
	if lr.body != nil {
		body = bytes.NewReader(lr.body)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(l.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, lr.method, u, body)
	if err != nil {
		return legacyAnswer{}, &callError{err: err}
	}
	for k, v := range l.headers {
		req.Header[k] = v
	}
	for k, v := range lr.header {
		req.Header[k] = v
	}
	if lr.contentType != "" {
		req.Header.Set("Content-Type", lr.contentType)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, */*;q=0.5")
	}
	resp, err := l.roundTrip(req)
	if err != nil {
		return legacyAnswer{}, classifyCallError(err, ctx)
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp, l.MaxResponseSize)
	if err != nil {
		ce := classifyCallError(err, ctx)
		ce.sent = true // the status line came back: the request arrived
		return legacyAnswer{}, ce
	}
	if int64(len(data)) > l.MaxResponseSize {
		return legacyAnswer{}, &callError{err: fmt.Errorf("legacy answer is larger than %d bytes", l.MaxResponseSize), sent: true}
	}
	return legacyAnswer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// roundTrip sends req, unless a dry run intercepts it.
func (l *Legacy) roundTrip(req *http.Request) (*http.Response, error) {
	if l.intercept != nil {
		return l.intercept(req)
	}
	return l.client.RoundTrip(req)
}

// readAnswer reads at most limit+1 bytes of an answer, in one allocation
// of the right size when the length is announced.
func readAnswer(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

// classifyCallError tells a refused connection (nothing sent) from a
// timeout or a cut connection (the legacy system may have the request).
func classifyCallError(err error, ctx context.Context) *callError {
	ce := &callError{err: err, sent: true}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout() {
		ce.timeout = true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		ce.sent = false // never connected: the request did not leave
		ce.timeout = false
	}
	return ce
}

// resolveURL joins a mapping's path (and query) onto the fixed base URL.
// The result always has the base's scheme and host: a mapping that tries
// to name another host, or to climb out of the base path, is refused.
func (l *Legacy) resolveURL(pathQuery, extraQuery string) (string, error) {
	ref, err := legacyPath(pathQuery)
	if err != nil {
		return "", err
	}
	u := *l.base
	u.Path = l.base.Path + ref.Path
	u.RawPath = ""
	if ref.RawPath != "" {
		u.RawPath = l.base.EscapedPath() + ref.RawPath
	}
	u.RawQuery = ref.RawQuery
	if extraQuery != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += extraQuery
	}
	return u.String(), nil
}

func truncateForLog(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
