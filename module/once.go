package billbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// once runs a money-moving event through the store, so that the legacy
// system sees it exactly once (design.md §3):
//
//  1. the first delivery claims the id with a lease; only the claimer posts;
//  2. a duplicate of a finished event gets the stored answer, byte for byte;
//  3. a duplicate of an event in flight waits for it, then replays, or is
//     told to retry (503);
//  4. the same id with another payload is never forwarded (409);
//  5. a legacy success completes the claim and keeps the answer;
//  6. a legacy failure releases the claim so the gateway's retry gets
//     through; an attempt that may have reached the legacy system is
//     recorded as such, and the next attempt asks the lookup call first;
//  7. an expired lease (a crashed instance) may be taken over, as uncertain;
//  8. a store that cannot be reached fails closed (503) unless configured
//     otherwise.
//
// What each verdict does to the claim is the policy table's settle column.
func (h *Handler) once(r *http.Request, ev *Event, body []byte) Result {
	p := h.profile.Payment
	if p.queued() {
		return h.hold(r, ev, body)
	}
	ctx := r.Context()
	key := h.key(ev)
	owner := newOwner()
	claim, err := h.claim(ctx, key, ev.Fingerprint, owner)
	if err != nil {
		return h.storeFailed(r, ev, err)
	}
	if claim.Outcome != store.Claimed {
		return h.notClaimed(r, claim, ev)
	}
	h.metrics.dedupe(h.name, "claimed")

	res := h.attempt(r.Context(), ev, claim.Ambiguous)
	res = h.acked(res)
	h.mark(r, res, ev)

	// The claim is settled even if the gateway went away: the outcome is
	// what the legacy system did, not whether anyone is still listening.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch policies[res.Verdict].settle {
	case complete:
		a := h.shape(res)
		err := h.store.Complete(sctx, key, owner, store.Response{Status: a.status, ContentType: a.header.Get("Content-Type"), Body: a.body}, time.Duration(p.Retention))
		switch {
		case err == nil:
		case errors.Is(err, store.ErrNotReplicated):
			// Done on the master, not confirmed by a replica: a failover
			// could erase it, so the gateway is not told yet. Its retry
			// replays (the record survived) or reconciles by lookup.
			h.logger.Warn("completed payment not confirmed by a replica; answering 503", zap.String("event_id", ev.LogID), zap.Error(err))
			return Stop(StoreUnavailable, "", err)
		case errors.Is(err, store.ErrRecordLost):
			h.logger.Warn("the store had lost this payment's record (a failover?); it is recorded as done again", zap.String("event_id", ev.LogID))
		case errors.Is(err, store.ErrLeaseLost):
			h.logger.Error("claim expired before the legacy call finished; raise lease", zap.String("event_id", ev.LogID))
		default:
			// The legacy system has the payment but we could not record
			// it: the gateway is not told it is done; its retry finds the
			// claim expired, counts it as uncertain and asks lookup.
			h.logger.Error("could not record a completed payment; answering 503", zap.String("event_id", ev.LogID), zap.Error(err))
			return Stop(StoreUnavailable, "", err)
		}
	case releaseClean, releaseMaybe:
		h.release(sctx, key, owner, ev, policies[res.Verdict].settle == releaseMaybe)
	case releaseLater:
		// Held, not released, for one legacy timeout: a delivery meanwhile
		// finds the event in flight. Should this process die first, the
		// lease runs out later and the next claim counts as uncertain too.
		time.AfterFunc(time.Duration(h.app.Legacy.Timeout), func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h.release(ctx, key, owner, ev, true)
		})
	default:
		// A verdict that settles nothing (a bug in the table) must not
		// leave the claim to expire silently: release it as uncertain.
		_ = h.store.Release(sctx, key, owner, true, time.Duration(p.Retention))
	}
	return res
}

// key is the store key of an event.
func (h *Handler) key(ev *Event) string { return h.profile.Key + ":" + ev.ID }

// storeFailed answers an event the store could not take: 503, unless
// on_store_error allow posts it without a claim.
func (h *Handler) storeFailed(r *http.Request, ev *Event, err error) Result {
	h.count(policies[StoreUnavailable].counter)
	if h.profile.Payment.OnStoreError == "allow" {
		h.logger.Warn("store unreachable; posting without a claim (on_store_error allow)",
			zap.String("flow", h.name), zap.String("event_id", ev.LogID), zap.Error(err))
		res := h.judge(ev, h.send(r.Context(), ev, true))
		h.mark(r, res, ev)
		return h.acked(res)
	}
	return Stop(StoreUnavailable, "", err)
}

// notClaimed answers an event someone else has, or had: a replay of the
// stored answer, in flight (503), or a conflict (409).
func (h *Handler) notClaimed(r *http.Request, claim store.ClaimResult, ev *Event) Result {
	switch claim.Outcome {
	case store.Replay:
		if h.profile.Payment.OnDuplicate == "error" {
			return h.marked(r, Result{Verdict: Duplicate, Body: h.profile.Duplicate}, ev)
		}
		resp := claim.Record.Response
		return h.marked(r, Result{Verdict: Replayed, Status: resp.Status, Body: resp.Body,
			Header: http.Header{"Content-Type": {resp.ContentType}}}, ev)
	case store.InFlight:
		return h.marked(r, Result{Verdict: InFlight}, ev)
	case store.Conflict:
		h.logger.Warn("same transaction id with a different payload: not forwarded",
			zap.String("flow", h.name), zap.String("event_id", ev.LogID))
		return h.marked(r, Result{Verdict: Conflict}, ev)
	}
	return Stop(Internal, "", fmt.Errorf("store answered %v", claim.Outcome))
}

// release gives a claim up after a failed attempt.
func (h *Handler) release(ctx context.Context, key, owner string, ev *Event, uncertain bool) {
	err := h.store.Release(ctx, key, owner, uncertain, time.Duration(h.profile.Payment.Retention))
	switch {
	case err == nil, errors.Is(err, store.ErrLeaseLost):
	case errors.Is(err, store.ErrRecordLost):
		h.logger.Warn("the store had lost this payment's record (a failover?)",
			zap.String("event_id", ev.LogID), zap.Bool("uncertain", uncertain))
		if uncertain {
			// Write the uncertainty down again, or the next delivery would
			// post without asking lookup: claim the key anew and release it
			// as uncertain. Someone else's claim meanwhile carries on.
			owner := newOwner()
			p := h.profile.Payment
			if c, err := h.store.Claim(ctx, key, owner, ev.Fingerprint, time.Duration(p.Lease), time.Duration(p.Retention)); err == nil && c.Outcome == store.Claimed {
				_ = h.store.Release(ctx, key, owner, true, time.Duration(p.Retention))
			}
		}
	default:
		h.logger.Error("could not release a claim; the next delivery waits for its lease",
			zap.String("event_id", ev.LogID), zap.Error(err))
	}
}

// acked gives a payment the legacy system has the flow's acknowledgement.
func (h *Handler) acked(res Result) Result {
	if policies[res.Verdict].settle == complete && res.Body == nil {
		res.Body = h.profile.Ack
	}
	return res
}

// marked counts and emits a verdict, then returns it.
func (h *Handler) marked(r *http.Request, res Result, ev *Event) Result {
	h.count(policies[res.Verdict].counter)
	h.mark(r, res, ev)
	return res
}

// claim takes the event's id, waiting up to DuplicateWait while another
// delivery of it is in flight.
func (h *Handler) claim(ctx context.Context, key, fingerprint, owner string) (store.ClaimResult, error) {
	p := h.profile.Payment
	deadline := time.Now().Add(time.Duration(p.DuplicateWait))
	pause := 25 * time.Millisecond
	for {
		c, err := h.store.Claim(ctx, key, owner, fingerprint, time.Duration(p.Lease), time.Duration(p.Retention))
		if err != nil || c.Outcome != store.InFlight || time.Now().Add(pause).After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, nil
		case <-time.After(pause):
		}
		pause = min(pause*2, 500*time.Millisecond)
	}
}

// attempt posts a claimed event, asking the lookup call first when an
// earlier attempt may already have reached the legacy system.
func (h *Handler) attempt(ctx context.Context, ev *Event, uncertain bool) Result {
	p := h.profile.Payment
	if uncertain && ev.Call != nil {
		if p.lookup == nil {
			h.logger.Warn("an earlier attempt may have reached the legacy system and no lookup is configured; posting again with the same idempotency key",
				zap.String("event_id", ev.LogID))
		} else {
			found, stop := h.lookup(ctx, ev)
			if stop != nil {
				return *stop
			}
			if found {
				return Result{Verdict: FoundByLookup}
			}
		}
	}
	return h.judge(ev, h.send(ctx, ev, true))
}

// lookup asks the legacy system whether it has the payment. A non-nil
// result means it could not tell, and the attempt ends there (still
// uncertain): only an answer below 500 that found can judge is an answer.
func (h *Handler) lookup(ctx context.Context, ev *Event) (bool, *Result) {
	p := h.profile.Payment
	out := h.call(context.WithoutCancel(ctx), p.lookup, ev, true)
	if v, ok := failedCall(out); ok && v.Verdict == BadData {
		return false, &v // asking again cannot help: the gateway's data is at fault
	}
	if out.Err != nil {
		return false, &Result{Verdict: LookupFailed, Err: out.Err}
	}
	if out.Res.Status >= 500 {
		return false, &Result{Verdict: LookupFailed, Legacy: out.Res.Status, Detail: "lookup answered a server error"}
	}
	found, err := p.found.Bool(ev.Respond(out.Res))
	if err != nil {
		return false, &Result{Verdict: LookupFailed, Legacy: out.Res.Status, Detail: "found: " + err.Error()}
	}
	return found, nil
}
