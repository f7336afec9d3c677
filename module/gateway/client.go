package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/billbridge/caddy-billbridge/internal/tracing"
	"io"
	"net/http"
	"time"
)

// NoRedirects returns a copy of hc (or a new client if hc is nil) that
// never follows a redirect: a 3xx is the answer, for the caller to refuse.
// A followed redirect would carry the request's credentials (a bearer
// token, an API key, a signed body) to wherever it points. hc itself is
// not changed; a CheckRedirect it already has is kept, as the owner's
// choice.
func NoRedirects(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	if c.CheckRedirect == nil {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// Client sends a gateway's requests: one attempt at a time with Send, or
// with retries as a Retry allows with Do. It is safe for concurrent use.
type Client struct {
	hc        *http.Client
	timeout   time.Duration
	maxAnswer int
}

// NewClient returns a Client sending with NoRedirects(hc). timeout bounds
// each attempt, reading the answer included (zero: no bound but the
// context's); maxAnswer bounds the answer read (see Response.TooLarge).
func NewClient(hc *http.Client, timeout time.Duration, maxAnswer int) *Client {
	return &Client{hc: NoRedirects(hc), timeout: timeout, maxAnswer: maxAnswer}
}

// HTTPClient is the client that sends, which never follows redirects.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Request is one call to a gateway. The body is sent as is: the bytes
// that were signed are the bytes sent, on every attempt.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Response is a gateway's answer.
type Response struct {
	Status int
	Header http.Header
	// Body holds at most the client's maxAnswer+1 bytes of the answer.
	Body []byte
	// TooLarge: the answer was longer than maxAnswer bytes; Body holds
	// its start only.
	TooLarge bool
}

// Send makes one attempt. An error is a call that got no whole answer:
// no connection, the attempt's timeout, the context, or an answer cut
// short, in which case the Response holds its status and header. The
// error says so when the attempt's own timeout ended it ("no answer
// within 10s"), and wraps the cause (a *url.Error, context.Canceled, …).
func (c *Client) Send(ctx context.Context, req Request) (Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	var body io.Reader = http.NoBody
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, req.URL, body)
	if err != nil {
		return Response{}, err
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	resp, err := c.traced(ctx).Do(hr)
	if err != nil {
		return Response{}, c.timeoutErr(ctx, actx, err)
	}
	defer resp.Body.Close()
	r := Response{Status: resp.StatusCode, Header: resp.Header}
	r.Body, err = io.ReadAll(io.LimitReader(resp.Body, int64(c.maxAnswer)+1))
	if err != nil {
		return Response{Status: r.Status, Header: r.Header}, c.timeoutErr(ctx, actx, fmt.Errorf("reading the answer: %w", err))
	}
	r.TooLarge = len(r.Body) > c.maxAnswer
	return r, nil
}

// traced is the client, its transport a child span of the gateway
// request's span when Caddy's tracing is on.
func (c *Client) traced(ctx context.Context) *http.Client {
	if !tracing.Traced(ctx) {
		return c.hc
	}
	rt := c.hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc := *c.hc
	hc.Transport = tracing.Transport(ctx, rt, "gateway")
	return &hc
}

// timeoutErr says so when the attempt's own timeout, not the caller's
// context, ended it.
func (c *Client) timeoutErr(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", c.timeout, err)
	}
	return err
}
