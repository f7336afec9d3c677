package qm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/module/gateway"
)

const (
	// maxAnswer bounds the body of a QM answer; a bill is a few hundred
	// bytes.
	maxAnswer = 1 << 20
	// maxMessageLen bounds QM's message quoted in an APIError.
	maxMessageLen = 200
	// maxQuote bounds a value quoted in an error.
	maxQuote = 64
)

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
	body, err := gateway.Marshal(req)
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
//
// Concurrent Requery calls for one bill id share a single call to QM (see
// gateway.Flight), so that a burst of duplicate callbacks and redirects
// costs one request of QM's rate limit. Each caller may give up on its own
// context; the call is canceled only when all of them have.
func (c *Client) Requery(ctx context.Context, billID string) (Bill, error) {
	if !validBillID(billID) {
		return Bill{}, fmt.Errorf("qm requery: bill id must be 1 to %d printable characters", MaxIDLen)
	}
	b, err := c.requeries.Do(ctx, billID, func(ctx context.Context) (Bill, error) {
		status, answer, err := c.do(ctx, "requery", http.MethodGet, "/v1/bill/requery?billId="+url.QueryEscape(billID), nil, true)
		if err != nil {
			return Bill{}, err
		}
		return decodeRequery(status, answer, billID)
	})
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		// This caller gave up while others still wait for the answer.
		return Bill{}, &TransportError{Call: "requery", Err: fmt.Errorf("gave up waiting for the answer: %w", err)}
	}
	return b, err
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

// do sends a request, waiting on the rate limiter before each attempt and
// retrying as the call allows (gateway.Client.Do): after a 429 always,
// after a 5xx or a network error only if idempotent. It returns the last
// answer that is not worth retrying, for the caller to decode; an answer
// with HTTP 429 or 5xx that is not retried becomes an error.
//
// Every request is signed over the exact bytes of its body. A call
// without a body signs the empty string, MD5("" + secret): QM documents
// signing only for bodies, so this is [INFER] (protocols.md C.1).
func (c *Client) do(ctx context.Context, call, method, path string, body []byte, idempotent bool) (int, []byte, error) {
	return c.send(ctx, call, method, path, body, idempotent, gateway.Retry{
		Max: c.maxRetries, Base: c.backoffBase, Cap: c.backoffMax, MaxRetryAfter: c.maxRetryAfter,
		Before: func(ctx context.Context) error {
			if err := c.limiter.Wait(ctx); err != nil {
				return &TransportError{Call: call, Err: fmt.Errorf("waiting for the rate limiter: %w", err)}
			}
			return nil
		},
	})
}

// send sends a request under retry, QM's way: signed, its answer judged.
func (c *Client) send(ctx context.Context, call, method, path string, body []byte, idempotent bool, retry gateway.Retry) (int, []byte, error) {
	req := gateway.Request{Method: method, URL: c.base + path, Body: body, Header: http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"Key":          {c.key},
		"Sign":         {Sign(body, c.secret)},
	}}
	resp, err := c.gw.Do(ctx, req, retry, func(resp gateway.Response, err error) (bool, error) {
		switch {
		case err != nil:
			return idempotent, &TransportError{Call: call, Err: err}
		case gateway.TemporaryStatus(resp.Status):
			_, err := decodeAnswer(resp.Status, resp.Body, false)
			if err == nil { // cannot happen: decodeAnswer refuses these statuses
				err = &ResponseError{HTTPStatus: resp.Status, Reason: "unexpected status"}
			}
			return resp.Status == http.StatusTooManyRequests || idempotent, err
		}
		return false, nil
	})
	return resp.Status, resp.Body, err
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
	m, err := gateway.DecodeObject(body, "the answer")
	if err != nil {
		if e := gateway.Excerpt(body); e != "" {
			return nil, bad("%v: %q", err, e)
		}
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
		return nil, &APIError{HTTPStatus: status, Code: int(code), Message: text.Clean(msg, maxMessageLen)}
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
		return Bill{}, &ResponseError{HTTPStatus: status, Reason: fmt.Sprintf("the answer is about bill %q, not %q", b.BillID, text.Truncate(billID, maxQuote))}
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
