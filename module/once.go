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
//     through; a call that may have reached the legacy system is recorded
//     as ambiguous, and the next attempt asks the lookup call first;
//  7. an expired lease (a crashed instance) may be taken over, as ambiguous;
//  8. a store that cannot be reached fails closed (503) unless configured
//     otherwise.
func (h *Handler) once(r *http.Request, ev event) result {
	ctx := r.Context()
	owner := newOwner()
	claim, err := h.claim(ctx, ev, owner)
	if err != nil {
		h.metrics.dedupe(h.Flow, "store_error")
		if h.OnStoreError == "allow" {
			h.logger.Warn("store unreachable; posting without a claim (on_store_error allow)",
				zap.String("flow", h.Flow), zap.String("event_id", ev.logID), zap.Error(err))
			return h.flow.settle(h, ev, h.callLegacy(r, ev, true))
		}
		return h.retryable("store_unavailable", "temporarily unable to process; retry later", err)
	}

	switch claim.Outcome {
	case store.Replay:
		h.metrics.dedupe(h.Flow, "replay")
		h.emit(r, "billbridge.duplicate", map[string]any{"event_id": ev.logID})
		if h.OnDuplicate == "error" {
			return result{status: http.StatusOK, body: h.flow.duplicate(), outcome: "duplicate"}
		}
		resp := claim.Record.Response
		return result{status: resp.Status, body: resp.Body, header: http.Header{"Content-Type": {resp.ContentType}}, outcome: "replay"}
	case store.InFlight:
		h.metrics.dedupe(h.Flow, "in_flight")
		return h.retryable("in_flight", "this transaction is being processed; retry later", nil)
	case store.Conflict:
		h.metrics.dedupe(h.Flow, "conflict")
		h.logger.Warn("same transaction id with a different payload: not forwarded",
			zap.String("flow", h.Flow), zap.String("event_id", ev.logID))
		h.emit(r, "billbridge.conflict", map[string]any{"event_id": ev.logID})
		return h.fail(http.StatusConflict, "conflict", "transaction id already used for a different payment", nil)
	}
	h.metrics.dedupe(h.Flow, "claimed")

	res := h.attempt(r, ev, claim.Ambiguous)

	// The claim is settled even if the gateway went away: the outcome is
	// what the legacy system did, not whether anyone is still listening.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if res.done {
		err = h.store.Complete(sctx, ev.id, owner, store.Response{Status: res.status, ContentType: jsonType, Body: res.body}, time.Duration(h.Retention))
		if errors.Is(err, store.ErrLeaseLost) {
			h.logger.Error("claim expired before the legacy call finished; raise lease", zap.String("event_id", ev.logID))
		} else if err != nil {
			// The legacy system has the payment but we could not record it:
			// the next delivery will find the claim expired, count it as
			// ambiguous and ask the lookup call before posting again.
			h.logger.Error("could not record a completed payment", zap.String("event_id", ev.logID), zap.Error(err))
		}
		return res
	}
	if err := h.store.Release(sctx, ev.id, owner, res.ambiguous, time.Duration(h.Retention)); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		h.logger.Error("could not release a claim; the next delivery waits for its lease",
			zap.String("event_id", ev.logID), zap.Error(err))
	}
	if res.status < 500 {
		// A failed attempt must make the gateway retry.
		res.status = http.StatusBadGateway
	}
	h.emit(r, "billbridge.legacy_failed", map[string]any{"event_id": ev.logID, "legacy_status": res.legacy, "ambiguous": res.ambiguous})
	return res
}

// claim takes the event's id, waiting up to DuplicateWait while another
// delivery of it is in flight.
func (h *Handler) claim(ctx context.Context, ev event, owner string) (store.ClaimResult, error) {
	deadline := time.Now().Add(time.Duration(h.DuplicateWait))
	pause := 25 * time.Millisecond
	for {
		c, err := h.store.Claim(ctx, ev.id, owner, ev.fingerprint, time.Duration(h.Lease), time.Duration(h.Retention))
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
func (h *Handler) attempt(r *http.Request, ev event, ambiguous bool) result {
	if ambiguous && !ev.noCall {
		if h.compiled.lookup == nil {
			h.logger.Warn("an earlier attempt may have reached the legacy system and no lookup is configured; posting again with the same idempotency key",
				zap.String("event_id", ev.logID))
		} else {
			found, res := h.lookup(r, ev)
			if res != nil {
				return *res
			}
			if found {
				h.metrics.dedupe(h.Flow, "found_by_lookup")
				res := h.flow.settle(h, ev, callOutcome{known: true})
				res.outcome = "found_by_lookup"
				return res
			}
		}
	}
	return h.flow.settle(h, ev, h.callLegacy(r, ev, true))
}

// lookup runs the lookup call. A non-nil result means it could not tell,
// and the attempt ends there (still ambiguous).
func (h *Handler) lookup(r *http.Request, ev event) (bool, *result) {
	c := h.runCall(context.WithoutCancel(r.Context()), h.compiled.lookup, ev, true)
	if c.err != nil {
		res := h.retryable("lookup_failed", "temporarily unable to confirm an earlier attempt; retry later", c.err)
		res.ambiguous = true
		return false, &res
	}
	found, err := h.compiled.found.Bool(ev.respond(c.res))
	if err != nil {
		res := h.retryable("lookup_failed", "temporarily unable to confirm an earlier attempt; retry later", fmt.Errorf("found: %w", err))
		res.ambiguous = true
		res.legacy = c.res.Status
		return false, &res
	}
	return found, nil
}
