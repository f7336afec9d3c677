package billbridge

import (
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/billbridge/caddy-billbridge/module/store"
)

// hold takes a verified payment into custody (deliver queued): one store
// step keeps it, with what a worker needs to deliver it and the answer its
// duplicates get, and the gateway is answered success at once. The
// worker posts it under the same exactly-once contract as a synchronous
// delivery (custody_deliver.go).
func (h *Handler) hold(r *http.Request, ev *Event, body []byte) Result {
	p := h.profile.Payment
	kept, err := h.flow.(Keeper).Keep(ev, body)
	if err != nil {
		return Stop(Internal, "", fmt.Errorf("keeping the payment for delivery: %w", err))
	}
	a := h.shape(Result{Verdict: Held, Body: h.profile.Ack})
	e := store.Entry{
		Key:         h.key(ev),
		Flow:        h.profile.Key,
		Fingerprint: ev.Fingerprint,
		Payload:     kept,
		Response:    store.Response{Status: a.status, ContentType: a.header.Get("Content-Type"), Body: a.body},
	}
	res, err := h.store.(store.Queue).Hold(r.Context(), e, time.Duration(p.Retention))
	if err != nil {
		return h.storeFailed(r, ev, err)
	}
	if res.Outcome != store.Queued {
		return h.notClaimed(r, res, ev)
	}
	if res.Ambiguous {
		h.logger.Info("held a payment an earlier synchronous attempt may have booked; its delivery asks lookup first",
			zap.String("flow", h.name), zap.String("event_id", ev.LogID))
	}
	h.app.custody.wake()
	return h.marked(r, Result{Verdict: Held, Body: h.profile.Ack}, ev)
}
