package qm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxAnswer bounds the body of a QM answer; a bill is a few hundred bytes.
const maxAnswer = 1 << 20

// CreateBill asks QM for a bill (POST /v1/bill/create). The body is
// marshalled once and those exact bytes are signed and sent.
//
// It is retried only after a 429, which QM answers before doing anything.
// After a TransportError, a 5xx or an unusable 2xx answer, QM may or may
// not have created the bill; trying again could create a second one (QM
// does not check merchantReference for uniqueness), so that is the
// caller's decision.
func (c *Client) CreateBill(ctx context.Context, req CreateBillRequest) (CreatedBill, error) {
	if req.Amount.Sign() <= 0 {
		return CreatedBill{}, fmt.Errorf("qm create: amount must be positive, got %s", req.Amount)
	}
	body, err := marshal(req)
	if err != nil {
		return CreatedBill{}, fmt.Errorf("qm create: %w", err)
	}
	status, answer, err := c.do(ctx, "create", http.MethodPost, "/v1/bill/create", body, false)
	if err != nil {
		return CreatedBill{}, err
	}
	return decodeCreate(status, answer)
}

// Requery asks QM for a bill's current state (GET /v1/bill/requery). It is
// retried after a 429, a 5xx or a network error. The answer must be about
// billID: one about another bill is an error.
func (c *Client) Requery(ctx context.Context, billID string) (Bill, error) {
	if !validBillID(billID) {
		return Bill{}, fmt.Errorf("qm requery: bill id must be 1 to %d printable characters", MaxIDLen)
	}
	status, answer, err := c.do(ctx, "requery", http.MethodGet, "/v1/bill/requery?billId="+url.QueryEscape(billID), nil, true)
	if err != nil {
		return Bill{}, err
	}
	return decodeRequery(status, answer, billID)
}

// Cancel cancels a bill (POST /v1/bill/cancel); QM allows it only while the
// bill is pending payment, and answers an APIError otherwise.
//
// Like CreateBill it is retried only after a 429: a cancel repeated after
// an unanswered first one would fail once the first has taken effect.
func (c *Client) Cancel(ctx context.Context, billID string) error {
	if !validBillID(billID) {
		return fmt.Errorf("qm cancel: bill id must be 1 to %d printable characters", MaxIDLen)
	}
	status, answer, err := c.do(ctx, "cancel", http.MethodPost, "/v1/bill/cancel?billId="+url.QueryEscape(billID), nil, false)
	if err != nil {
		return err
	}
	_, err = decodeAnswer(status, answer, false)
	return err
}

// marshal encodes a request body without HTML escaping (a callbackUrl's
// "&" stays "&") and without encoding/json's trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// do sends a request, waiting on the rate limiter before each attempt and
// retrying as the call allows: after a 429 always, after a 5xx or a
// network error only if idempotent. It returns the last answer that is not
// worth retrying, for the caller to decode; an answer with HTTP 429 or 5xx
// that is not retried becomes an error.
//
// Every request is signed over the exact bytes of its body. A call
// without a body signs the empty string, MD5("" + secret): QM documents
// signing only for bodies, so this is [INFER] (protocols.md C.1).
func (c *Client) do(ctx context.Context, call, method, path string, body []byte, idempotent bool) (int, []byte, error) {
	u := c.base + path
	sign := Sign(body, c.secret)
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return 0, nil, &TransportError{Call: call, Err: fmt.Errorf("waiting for the rate limiter: %w", err)}
		}
		status, header, answer, err := c.attempt(ctx, method, u, body, sign)
		var retryable bool
		switch {
		case err != nil:
			if ctx.Err() != nil {
				// The caller gave up; do not wait for another try.
				return 0, nil, &TransportError{Call: call, Err: err}
			}
			err = &TransportError{Call: call, Err: err}
			retryable = idempotent
		case temporaryStatus(status):
			_, err = decodeAnswer(status, answer, false)
			if err == nil { // cannot happen: decodeAnswer refuses these statuses
				err = &ResponseError{HTTPStatus: status, Reason: "unexpected status"}
			}
			retryable = status == http.StatusTooManyRequests || idempotent
		default:
			return status, answer, nil
		}
		if attempt > 0 {
			err = fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		if !retryable || attempt >= c.maxRetries {
			return 0, nil, err
		}
		wait := c.backoff(attempt)
		if ra, ok := retryAfter(header); ok && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			if ra > c.maxRetryAfter {
				return 0, nil, err
			}
			wait = ra
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return 0, nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil, fmt.Errorf("%w (stopped waiting to retry: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt sends one request, bounded by the client's timeout, and reads at
// most maxAnswer+1 bytes of the answer.
func (c *Client) attempt(ctx context.Context, method, u string, body []byte, sign string) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Key", c.key)
	req.Header.Set("Sign", sign)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, c.timeoutErr(ctx, actx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, nil, c.timeoutErr(ctx, actx, fmt.Errorf("reading the answer: %w", err))
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// timeoutErr says so when the attempt's own timeout, not the caller's
// context, ended it.
func (c *Client) timeoutErr(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", c.timeout, err)
	}
	return err
}

// backoff returns the wait before retry number n+1: exponential from
// backoffBase, capped at backoffMax, drawn uniformly from its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffMax
	if n < 30 {
		if e := c.backoffBase << n; e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter reads a Retry-After header: delay seconds, or an HTTP date.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 || s > 1<<20 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// decodeAnswer checks QM's envelope, {"code":0,"message":"…","data":{…}},
// and returns its data. A non-zero code is an *APIError; anything else
// wrong, a non-2xx status included, is a *ResponseError. needData requires
// data to be an object.
func decodeAnswer(status int, body []byte, needData bool) (map[string]any, error) {
	ok2xx := status >= 200 && status <= 299
	bad := func(format string, args ...any) error {
		reason := fmt.Sprintf(format, args...)
		if !ok2xx {
			reason = http.StatusText(status) + ": " + reason
		}
		return &ResponseError{HTTPStatus: status, Reason: reason}
	}
	if len(body) > maxAnswer {
		return nil, bad("the answer is longer than %d bytes", maxAnswer)
	}
	m, err := decodeObject(body, "the answer")
	if err != nil {
		return nil, bad("%v", err)
	}
	cv, ok := m["code"]
	if !ok || cv == nil {
		return nil, bad("the answer has no code")
	}
	code, err := intValue(cv)
	if err != nil || int64(int(code)) != code {
		return nil, bad("code is not an integer: %s", describe(cv))
	}
	if code != 0 {
		msg, _ := m["message"].(string)
		return nil, &APIError{HTTPStatus: status, Code: int(code), Message: cleanMessage(msg)}
	}
	if !ok2xx {
		return nil, bad("code 0 with a failing status")
	}
	if !needData {
		return nil, nil
	}
	d, ok := m["data"]
	if !ok || d == nil {
		return nil, bad("the answer has no data")
	}
	data, ok := d.(map[string]any)
	if !ok {
		return nil, bad("data is not an object: %s", describe(d))
	}
	return data, nil
}

// decodeRequery decodes a Requery answer about billID.
func decodeRequery(status int, body []byte, billID string) (Bill, error) {
	data, err := decodeAnswer(status, body, true)
	if err != nil {
		return Bill{}, err
	}
	b, err := decodeBill(data)
	if err != nil {
		return Bill{}, &ResponseError{HTTPStatus: status, Reason: "data: " + err.Error()}
	}
	if b.BillID != billID {
		return Bill{}, &ResponseError{HTTPStatus: status, Reason: fmt.Sprintf("the answer is about bill %q, not %q", b.BillID, truncate(billID))}
	}
	return b, nil
}

// decodeCreate decodes a Create Bill answer.
func decodeCreate(status int, body []byte) (CreatedBill, error) {
	data, err := decodeAnswer(status, body, true)
	if err != nil {
		return CreatedBill{}, err
	}
	cb, err := decodeCreated(data)
	if err != nil {
		return CreatedBill{}, &ResponseError{HTTPStatus: status, Reason: "data: " + err.Error()}
	}
	return cb, nil
}
