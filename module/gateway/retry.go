package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Retry says how Do tries a call again.
type Retry struct {
	// Max is how many times a call is tried again after the first attempt;
	// zero or less: never.
	Max int
	// Base and Cap shape the wait before a retry when the answer has no
	// usable Retry-After: Base doubling per retry, at most Cap, drawn
	// uniformly from the upper half of that (jitter, so that clients
	// refused together do not come back together).
	Base, Cap time.Duration
	// MaxRetryAfter is the longest Retry-After (on 429 and 503) worth
	// waiting for; a longer one ends the call at once with that answer's
	// error. Zero: any.
	MaxRetryAfter time.Duration
	// Before, if set, runs before every attempt, such as a rate limiter's
	// Wait; its error ends the call, as is.
	Before func(context.Context) error
}

// Check reads the outcome of one attempt: the answer, or Send's error. A
// nil error ends the call with that answer. Otherwise retry says whether
// another attempt may help (a 429 always may; a 5xx or no answer only for
// a call that is safe to repeat), and err is what the call fails with if
// it is not tried again.
type Check func(resp Response, sendErr error) (retry bool, err error)

// Do sends req, and again as r and check allow, and returns the first
// answer check accepts, or the last error. Before a retry it waits as the
// answer's Retry-After says (on 429 and 503), or else backs off; it gives
// up at once, with the last error, if that wait is over r.MaxRetryAfter or
// would end past ctx's deadline. An error after more than one attempt
// says how many ("gave up after 3 attempts"); one while waiting to retry
// wraps both the last error and ctx's. Once ctx has ended, an attempt
// without an answer is not retried.
func (c *Client) Do(ctx context.Context, req Request, r Retry, check Check) (Response, error) {
	for attempt := 0; ; attempt++ {
		if r.Before != nil {
			if err := r.Before(ctx); err != nil {
				return Response{}, err
			}
		}
		resp, sendErr := c.Send(ctx, req)
		retry, err := check(resp, sendErr)
		if err == nil {
			return resp, nil
		}
		if sendErr != nil && ctx.Err() != nil {
			// The caller gave up; do not wait for another try.
			return Response{}, err
		}
		if attempt > 0 {
			err = fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
		}
		if !retry || attempt >= r.Max {
			return Response{}, err
		}
		wait := r.backoff(attempt)
		if sendErr == nil && (resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable) {
			if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				if r.MaxRetryAfter > 0 && ra > r.MaxRetryAfter {
					return Response{}, err
				}
				wait = ra
			}
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return Response{}, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Response{}, fmt.Errorf("%w (stopped waiting to retry: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff returns the wait before retry number n+1.
func (r Retry) backoff(n int) time.Duration {
	d := r.Cap
	if n < 30 {
		if e := r.Base << n; e > 0 && e < d {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1) //nolint:gosec // G404: jitter only spreads retries; nobody gains by predicting it
}
