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
// pages for the same bill, and takes a token only when one is free now:
// callbacks wait for theirs (they reserve tokens ahead), pages never do.

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
		if !c.limiter.Allow() {
			return Bill{}, ErrBusy
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
