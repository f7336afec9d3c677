package qm

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/billbridge/caddy-billbridge/module/gateway"
)

// A customer's browser coming back from QM (qm_redirect) needs the bill's
// status too, but it must never cost a payment its Requery: QM allows 10
// requests a second per address, and an anonymous flood of redirects would
// otherwise starve the callbacks that post payments. So a page's Requery
// is served from a short cache where it can be, shares a call with other
// pages for the same bill, and takes only a token no callback has
// reserved, waiting at most pageMaxWait for one; past it a page is told to
// reload. Callbacks wait for theirs (they reserve tokens ahead), so pages
// only ever get what is left.

// ErrBusy is a page's Requery that was not sent: the rate budget is kept
// for payments just now. It is temporary.
var ErrBusy = &TransportError{Call: "requery", Err: errors.New("the rate budget is kept for payments just now")}

const (
	// pageFinalTTL: how long a page reuses a final bill's status, which
	// does not change. A bill still pending is not cached: the customer
	// reloading the page must see it paid as soon as QM says so, and
	// concurrent loads share one call anyway.
	pageFinalTTL = time.Minute
	// unknownTTL: how long an unknown bill id is remembered as unknown,
	// so a made-up id costs at most one Requery per interval.
	unknownTTL = 30 * time.Second
	// pageMaxWait: the longest a page waits for a rate token. A customer
	// back from QM while its callback takes a token still gets the page;
	// a flood gets "reload in a moment" instead of the callbacks' budget.
	pageMaxWait = 250 * time.Millisecond
	pagePoll    = 20 * time.Millisecond
	// pageCacheMax bounds the cache; past it, expired entries go, then
	// (under a flood of distinct ids) the whole cache.
	pageCacheMax = 10000
)

type pageEntry struct {
	bill  Bill
	err   error
	until time.Time
}

type pageCache struct {
	mu sync.Mutex
	m  map[string]pageEntry
}

func (p *pageCache) get(id string, now time.Time) (pageEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[id]
	if !ok || now.After(e.until) {
		return pageEntry{}, false
	}
	return e, true
}

func (p *pageCache) put(id string, e pageEntry, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]pageEntry)
	}
	if len(p.m) >= pageCacheMax {
		for k, v := range p.m {
			if now.After(v.until) {
				delete(p.m, k)
			}
		}
		if len(p.m) >= pageCacheMax {
			clear(p.m)
		}
	}
	p.m[id] = e
}

// RequeryForPage asks QM for a bill on behalf of a customer's browser:
// like Requery, but second to payments (see ErrBusy) and cached briefly.
func (c *Client) RequeryForPage(ctx context.Context, billID string) (Bill, error) {
	if !validBillID(billID) {
		return Bill{}, &ResponseError{Reason: "not a bill id"}
	}
	now := time.Now()
	if e, ok := c.pages.get(billID, now); ok {
		return e.bill, e.err
	}
	b, err := c.pageFlights.Do(ctx, billID, func(ctx context.Context) (Bill, error) {
		if err := c.pageToken(ctx); err != nil {
			return Bill{}, err
		}
		// One attempt, on the token just taken: a page can be reloaded.
		status, answer, err := c.send(ctx, "requery", http.MethodGet, "/v1/bill/requery?billId="+url.QueryEscape(billID), nil, true, gateway.Retry{})
		if err != nil {
			return Bill{}, err
		}
		return decodeRequery(status, answer, billID)
	})
	switch {
	case err == nil:
		if FinalStatus(b.Status) && b.IsFinal {
			c.pages.put(billID, pageEntry{bill: b, until: now.Add(pageFinalTTL)}, now)
		}
	case !IsTemporary(err):
		c.pages.put(billID, pageEntry{err: err, until: now.Add(unknownTTL)}, now)
	}
	return b, err
}

// pageToken takes a rate token for a page if one is free within
// pageMaxWait, or answers ErrBusy. It asks for a free token now and then
// rather than reserving one: a reservation would be a claim on the future
// that pushes the callbacks' own reservations back, while a free token is
// one no callback has reserved.
func (c *Client) pageToken(ctx context.Context) error {
	deadline := time.Now().Add(pageMaxWait)
	for {
		if c.limiter.Allow() {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrBusy
		}
		t := time.NewTimer(pagePoll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return &TransportError{Call: "requery", Err: ctx.Err()}
		}
	}
}
