package billbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/internal/tracing"
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

	// Transport connects to the legacy API: reverse_proxy's `http`
	// transport (TLS with private CAs and client certificates, keep-alive,
	// dial timeout, network proxy...), the only protocol allowed. Unlike
	// reverse_proxy's, it uses a proxy only when one is configured, never
	// one from the environment. Default: dial_timeout 5s, keep-alive probes
	// every 30s, 256 idle connections (128 per host) kept 90s, TLS
	// handshake timeout 5s for an https base URL.
	TransportRaw json.RawMessage `json:"transport,omitempty" caddy:"namespace=http.reverse_proxy.transport inline_key=protocol"`

	// intercept, in a dry run or a playback, takes the request instead
	// of sending it.
	intercept func(*http.Request) (*http.Response, error)

	base     *url.URL
	headers  http.Header
	rt       *http.Transport
	poolKey  string
	replacer bool // the transport resolves placeholders per request (TLS server name, proxy URL)
}

const (
	defaultLegacyTimeout   = 10 * time.Second
	defaultMaxResponseSize = 1 << 20
)

// provision checks the settings (and provisionTransport, after it, loads
// the transport). Its errors never show a secret: see redactURL.
func (l *Legacy) provision() error {
	raw := resolve(l.BaseURL)
	if raw == "" {
		return errors.New("base URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("base URL is not a valid URL (%s); it is not shown, as it may hold a secret", urlErrorReason(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("base URL %q must be http:// or https:// with a host", redactURL(u))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("base URL %q must not carry a query, fragment or credentials (use header)", redactURL(u))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
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
	return nil
}

func (l *Legacy) cleanup() {
	if l.poolKey != "" {
		_, _ = legacyTransports.Delete(l.poolKey)
		l.poolKey = ""
	}
}

// redactURL shows a URL in an error message without what may be a
// secret: userinfo, query, fragment and an opaque part (http:user@host,
// or user:password@host, read as scheme "user") are replaced by REDACTED.
// Scheme, host and path stay, to find the typo.
func redactURL(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, OmitHost: u.OmitHost}
	if u.Opaque != "" {
		// alice:s3cret@host parses as scheme "alice": show only a real one.
		r = url.URL{Opaque: "REDACTED"}
		if u.Scheme == "http" || u.Scheme == "https" {
			r.Scheme = u.Scheme
		}
	}
	if u.User != nil {
		r.User = url.User("REDACTED")
	}
	if u.RawQuery != "" || u.ForceQuery {
		r.RawQuery = "REDACTED"
	}
	if u.Fragment != "" {
		r.Fragment = "REDACTED"
	}
	return r.String()
}

// urlErrorReason says why url.Parse refused a URL without quoting it:
// url.Error holds the whole URL, and its inner errors quote parts of it
// (a port, an escape that may sit in a password). Only url's fixed
// messages are passed on.
func urlErrorReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ee url.EscapeError
	var he url.InvalidHostError
	switch msg := err.Error(); {
	case errors.As(err, &ee):
		return "a bad %-escape"
	case errors.As(err, &he):
		return "an invalid character in the host"
	case strings.ContainsAny(msg, "\"'`"):
		return "malformed"
	default:
		return msg
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
// have reached the legacy system and what the gateway is told.
type callError struct {
	err     error
	timeout bool // the deadline passed after the request may have left
	sent    bool // the request may have reached the legacy system
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// uncertain reports whether the legacy system may have the request: it may
// have booked it though no answer came back. Only a request that provably
// never left is certain (it was refused before it was built or sent, or no
// connection was ever handed to it: refused, unresolvable, a failed TLS
// handshake or proxy tunnel); a cut or reset connection, a timeout, an
// answer that cannot be read or is too large are all uncertain.
func (e *callError) uncertain() bool { return e.sent }

// do sends a request to the legacy API: exactly once. Below billbridge,
// nothing may send it again (see oneShotBody), so one call is one attempt.
func (l *Legacy) do(ctx context.Context, lr legacyRequest) (legacyAnswer, error) {
	if l.rt == nil {
		return legacyAnswer{}, &callError{err: errors.New("legacy transport is not provisioned")}
	}
	u, err := l.resolveURL(lr.pathQuery, lr.query)
	if err != nil {
		return legacyAnswer{}, &callError{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(l.Timeout))
	defer cancel()
	// The transport writes a request only on a connection it has handed to
	// the request, and says so through GotConn (HTTP/1 and HTTP/2 alike):
	// until then, not one byte can have left.
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	if l.replacer {
		ctx = context.WithValue(ctx, caddy.ReplacerCtxKey, caddy.NewReplacer())
	}
	req, err := http.NewRequestWithContext(ctx, lr.method, u, nil)
	if err != nil {
		return legacyAnswer{}, &callError{err: err}
	}
	oneShotBody(req, lr.body)
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
		return legacyAnswer{}, classifyCallError(ctx, err, connected.Load())
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp, l.MaxResponseSize)
	if err != nil {
		return legacyAnswer{}, classifyCallError(ctx, err, true) // the status line came back: the request arrived
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
	return tracing.Transport(req.Context(), l.rt, "legacy").RoundTrip(req)
}

// oneShotBody gives req a body that the transport cannot replay.
//
// Go's transports resend a request on their own when it looks safe to them:
// HTTP/1 after a reused keep-alive connection closed before answering, if
// the request is "replayable" (GET, HEAD, OPTIONS, TRACE, or any method with
// an Idempotency-Key or X-Idempotency-Key header, when its body is nil,
// http.NoBody or has GetBody); HTTP/2 after a GOAWAY or REFUSED_STREAM, when
// its body is nil, http.NoBody or has GetBody. A legacy system may have
// booked a payment before it hung up, so billbridge, not the transport,
// decides what happens next (lookup, then maybe another attempt).
//
// Every one of those rules needs a body that is nil, NoBody or rewindable,
// so the rule here is: always a non-nil body, never NoBody, no GetBody.
// Neither the method nor any header can then make the request replayable.
// A bodiless request gets an empty such body. For GET, HEAD, DELETE and
// OPTIONS, HTTP/1 probes a body of unknown length and, finding it empty,
// sends none: the wire is as before. For POST, PUT and PATCH without a body,
// HTTP/1 sends it as chunked with a zero-size chunk (instead of
// Content-Length: 0); HTTP/2 sends an empty DATA frame that ends the stream.
// Keep-alive is untouched: the connection is reused as before.
//
// What remains is what sends nothing twice: a retry when the first
// connection proved unusable before the request was written to it.
func oneShotBody(req *http.Request, body []byte) {
	// NopCloser over a bytes.Reader, as http.NewRequest builds, so the
	// transport still writes headers and body in one go.
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = nil
}

// readAnswer reads at most limit+1 bytes of an answer, in one allocation
// of the right size when the length is announced.
func readAnswer(resp *http.Response, limit int64) ([]byte, error) {
	if resp.Body == http.NoBody {
		return nil, nil // an answer to HEAD: its Content-Length is the GET's
	}
	if n := resp.ContentLength; n >= 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

// classifyCallError tells a request that never left (no connection was
// handed to it) from one the legacy system may have (a cut connection, a
// reset, a timeout after it was given a connection). A deadline that
// passed before a connection came is a failure to connect, not a timeout
// of the legacy system.
func classifyCallError(ctx context.Context, err error, connected bool) *callError {
	ce := &callError{err: err, sent: connected}
	var ne net.Error
	if connected && (errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout()) {
		ce.timeout = true
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
