package billbridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/module/store"
)

// deliver makes one attempt at a held payment, leased to owner, and
// settles it in the store: done when the legacy system has it; queued
// again on the retry schedule when it does not (uncertain when the
// attempt may have reached it, so the next one asks lookup first); dead
// when the legacy system rejects it for good or the schedule is over.
//
// The attempt is the synchronous one (attempt: lookup, post, judge), so a
// payment is posted at most once whichever way it travels.
func (h *Handler) deliver(q store.Queue, owner string, d store.Delivery) {
	p := h.profile.Payment
	retention := time.Duration(p.Retention)
	ctx := context.Background() // the legacy client bounds every call
	ev, err := h.flow.(Keeper).Restore(d.Record.Payload)
	if err != nil {
		a := store.Attempt{Outcome: "unrestorable", Error: text.Truncate(err.Error(), store.MaxAttemptError)}
		h.bury(ctx, q, owner, d, a, false, "cannot rebuild the payment from what was kept: "+err.Error())
		return
	}
	res := h.attempt(ctx, ev, d.Ambiguous)
	a := store.Attempt{Outcome: string(res.Verdict), Legacy: res.Legacy, Error: attemptError(res)}
	pol := policies[res.Verdict]
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	if pol.settle == complete {
		err := q.Delivered(sctx, d.Key, owner, a, retention)
		switch {
		case err == nil, errors.Is(err, store.ErrRecordLost), errors.Is(err, store.ErrLeaseLost):
			// Done either way: the legacy system has it. A lost lease
			// means another worker took over: its lookup finds it.
			if err != nil {
				h.logger.Warn("delivered a held payment, but the store had moved on", zap.String("event_id", ev.LogID), zap.Error(err))
			}
		default:
			// Booked but not recorded: the lease runs out, and the next
			// attempt is uncertain and asks lookup.
			h.logger.Error("delivered a held payment but could not record it; the next attempt asks lookup first",
				zap.String("event_id", ev.LogID), zap.Error(err))
		}
		h.metrics.delivered(h.name, "delivered")
		h.logger.Info("held payment delivered", zap.String("flow", h.name), zap.String("event_id", ev.LogID),
			zap.String("outcome", string(res.Verdict)), zap.Int("legacy_status", res.Legacy), zap.Int("attempt", d.Record.Attempts))
		h.emit("billbridge.delivered", ev, d, a)
		return
	}

	// An attempt that may have reached the legacy system stays uncertain
	// whatever becomes of the payment, so a redelivery asks lookup first.
	uncertain := pol.settle == releaseMaybe || pol.settle == releaseLater
	if h.rejected(ev, res) {
		h.bury(ctx, q, owner, d, a, uncertain, "rejected by the legacy system: "+a.Error)
		return
	}
	next := p.retryDelay(d.Record.Attempts)
	if pol.settle == releaseLater {
		// The legacy system may still be booking it: give it one more
		// timeout before lookup asks, or the lookup could miss it.
		next = max(next, time.Duration(h.app.Legacy.Timeout))
	}
	if age := time.Since(d.Record.CreatedAt); age+next > time.Duration(p.GiveUpAfter) {
		h.bury(ctx, q, owner, d, a, uncertain, fmt.Sprintf("gave up after %d attempts over %s: %s", d.Record.Attempts, age.Round(time.Second), a.Error))
		return
	}
	if err := q.Retry(sctx, d.Key, owner, a, uncertain, next, retention); err != nil {
		h.logger.Error("could not put a held payment back in the queue; its lease hands it to the next worker",
			zap.String("event_id", ev.LogID), zap.Error(err))
	}
	h.metrics.delivered(h.name, "retry")
	h.logger.Warn("held payment not delivered; retrying", zap.String("flow", h.name), zap.String("event_id", ev.LogID),
		zap.String("outcome", string(res.Verdict)), zap.Int("legacy_status", res.Legacy), zap.Int("attempt", d.Record.Attempts),
		zap.Duration("next_in", next), zap.Bool("uncertain", uncertain), zap.String("error", a.Error))
}

// rejected reports whether the reject expression refuses the legacy
// answer for good.
func (h *Handler) rejected(ev *Event, res Result) bool {
	p := h.profile.Payment
	if p.reject == nil || res.answer == nil {
		return false
	}
	ok, err := p.reject.Bool(ev.Respond(*res.answer))
	if err != nil {
		h.logger.Warn("reject could not be evaluated; retrying", zap.String("event_id", ev.LogID), zap.Error(err))
		return false
	}
	return ok
}

// bury makes a held payment dead: kept, with why, for an operator;
// uncertain records that this attempt may have reached the legacy system.
func (h *Handler) bury(ctx context.Context, q store.Queue, owner string, d store.Delivery, a store.Attempt, uncertain bool, reason string) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reason = text.Truncate(reason, 500)
	if err := q.Bury(sctx, d.Key, owner, a, d.Ambiguous || uncertain, reason, time.Duration(h.profile.Payment.Retention)); err != nil {
		h.logger.Error("could not record a dead payment; its lease hands it to the next worker",
			zap.String("key", d.Key), zap.Error(err))
	}
	h.metrics.delivered(h.name, "dead")
	h.logger.Error("held payment is dead: redeliver or discard it (caddy billbridge-events)",
		zap.String("flow", h.name), zap.String("key", d.Key), zap.Int("attempts", d.Record.Attempts), zap.String("reason", reason))
	h.emit("billbridge.dead", nil, d, a)
}

// emit publishes a custody event for alerting hooks.
func (h *Handler) emit(name string, ev *Event, d store.Delivery, a store.Attempt) {
	if h.events == nil {
		return
	}
	data := map[string]any{"flow": h.name, "key": d.Key, "attempts": d.Record.Attempts, "outcome": a.Outcome}
	if ev != nil {
		data["event_id"] = ev.LogID
	}
	if a.Legacy != 0 {
		data["legacy_status"] = a.Legacy
	}
	if a.Error != "" {
		data["error"] = a.Error
	}
	h.events.Emit(h.ctx, name, data)
}

// attemptError is what a record keeps of a failed attempt.
func attemptError(res Result) string {
	if policies[res.Verdict].settle == complete {
		return ""
	}
	msg := res.Message
	if msg == "" {
		msg = policies[res.Verdict].message
	}
	if res.Detail != "" {
		msg += ": " + res.Detail
	}
	if res.Err != nil {
		msg += ": " + res.Err.Error()
	}
	return text.Truncate(msg, store.MaxAttemptError)
}
