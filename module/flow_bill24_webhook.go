package billbridge

import (
	"errors"
	"time"

	"fmt"
	"github.com/caddyserver/caddy/v2"
	"net/http"
	"strings"

	"github.com/billbridge/caddy-billbridge/mappings"
	"github.com/billbridge/caddy-billbridge/module/bill24"
)

// bill24Webhook posts a Bill24 payment to the legacy API exactly once.
type bill24Webhook struct{}

type (
	webhookReqEnv = mappings.RequestEnv[bill24.Webhook]
	webhookResEnv = mappings.ResponseEnv[bill24.Webhook]
)

// defaultSuccess is what "the legacy system took the payment" means when
// the Caddyfile does not say.
const defaultSuccess = "res.status >= 200 && res.status < 300"

func (bill24Webhook) envs() (req, res any) { return webhookReqEnv{}, webhookResEnv{} }

// paymentSubdirectives are those of every money-moving flow.
var paymentSubdirectives = []string{"success", "lookup", "on_duplicate", "duplicate_wait", "lease", "retention", "idempotency_header", "on_store_error"}

func (bill24Webhook) movesMoney() bool { return true }

func (bill24Webhook) subdirectives() []string {
	return append([]string{"call"}, paymentSubdirectives...)
}

func (bill24Webhook) provision(h *Handler) error {
	if err := needBill24(h); err != nil {
		return err
	}
	if err := refuse(h, "when", len(h.Rules) > 0, "reply", len(h.Reply) > 0, "message", len(h.Messages) > 0); err != nil {
		return err
	}
	return compilePayment(h, webhookReqEnv{}, webhookResEnv{})
}

// compilePayment compiles what every money-moving flow has: the call, the
// success test and the optional lookup.
func compilePayment(h *Handler, reqEnv, resEnv any) error {
	if h.DuplicateWait <= 0 {
		h.DuplicateWait = caddy.Duration(defaultDuplicateWait)
	}
	if h.Lease <= 0 {
		h.Lease = caddy.Duration(2*time.Duration(h.app.Legacy.Timeout) + 10*time.Second)
	}
	if h.Retention <= 0 {
		h.Retention = caddy.Duration(defaultRetention)
	}
	if h.IdempotencyHeader == "" {
		h.IdempotencyHeader = defaultIdemHeader
	}
	comp := h.app.compiler
	var err error
	if h.compiled.call, err = compileCall(h.Call, comp, reqEnv, "call"); err != nil {
		return err
	}
	success := h.Success
	if success == "" {
		success = defaultSuccess
	}
	if h.compiled.success, err = comp.Compile(success, resEnv, mappings.KindBool); err != nil {
		return fmt.Errorf("success: %v", err)
	}
	if h.Lookup != nil {
		if h.compiled.lookup, err = compileCall(&h.Lookup.Call, comp, reqEnv, "lookup"); err != nil {
			return err
		}
		if h.Lookup.Found == "" {
			return errors.New("lookup: found is required (how to read 'the payment is there' from the answer)")
		}
		if h.compiled.found, err = comp.Compile(h.Lookup.Found, resEnv, mappings.KindBool); err != nil {
			return fmt.Errorf("lookup found: %v", err)
		}
	}
	return nil
}

func (bill24Webhook) authenticate(h *Handler, r *http.Request) bool { return bill24Token(h, r) }

func (bill24Webhook) decode(h *Handler, r *http.Request, body []byte) (event, error) {
	w, err := bill24.DecodeWebhook(body, h.app.exps)
	if err != nil {
		return event{}, err
	}
	if w.Status != "" && !strings.EqualFold(w.Status, "success") {
		return event{}, fmt.Errorf("status %q is not a completed payment; nothing was posted", truncateForLog(w.Status))
	}
	return event{
		payload:     w,
		env:         webhookReqEnv{Req: w},
		respond:     func(res mappings.Response) any { return webhookResEnv{Req: w, Res: res} },
		id:          "bill24:webhook:" + w.ID,
		fingerprint: w.Fingerprint(),
		logID:       w.ID,
	}, nil
}

// verify confirms the webhook with Bill24's Transaction Verify, when the
// bill24 settings have a verify block: only a transaction Bill24 reports as
// success, with the webhook's amount and currency, goes on.
func (bill24Webhook) verify(h *Handler, r *http.Request, ev event) (event, *result) {
	if h.app.Bill24.Verify == nil {
		return ev, nil
	}
	w := ev.payload.(bill24.Webhook)
	t, err := h.app.Bill24.Verify.verifier.Verify(r.Context(), w.ID)
	switch {
	case errors.Is(err, bill24.ErrTransactionNotFound):
		// Not (yet) known to Bill24: forged, or not visible yet. Either
		// way nothing is posted; a genuine one goes through on a retry.
		h.metrics.verify(h.Flow, "unknown")
		res := h.retryable("verify_unknown", "transaction not found at Bill24; retry later", err)
		return ev, &res
	case err != nil:
		h.metrics.verify(h.Flow, "error")
		res := h.retryable("verify_unavailable", "unable to verify the transaction with Bill24; retry later", err)
		return ev, &res
	}
	if strings.EqualFold(t.Status, "pending") {
		h.metrics.verify(h.Flow, "not_final")
		res := h.retryable("verify_pending", "transaction is still pending at Bill24; retry later", nil)
		return ev, &res
	}
	if !strings.EqualFold(t.Status, "success") {
		return ev, h.mismatch(r, ev, "status "+t.Status)
	}
	claimed, verified := w.TotalAmount, t.TotalAmount
	if present(w.Raw, "tran_amount") {
		claimed, verified = w.TranAmount, t.TranAmount
	}
	if claimed.Cmp(verified) != 0 {
		return ev, h.mismatch(r, ev, "amount "+claimed.String()+" vs "+verified.String())
	}
	if w.Currency != t.Currency {
		return ev, h.mismatch(r, ev, "currency "+w.Currency+" vs "+t.Currency)
	}
	h.metrics.verify(h.Flow, "verified")
	return ev, nil
}

func present(raw map[string]any, name string) bool {
	v, ok := raw[name]
	return ok && v != nil
}

func (bill24Webhook) settle(h *Handler, ev event, c callOutcome) result {
	return settlePayment(h, ev, c, ackSuccess)
}

var ackSuccess, _ = bill24.Marshal(bill24.AckSuccess)

// settlePayment judges a payment's legacy call with the success expression.
func settlePayment(h *Handler, ev event, c callOutcome, ack []byte) result {
	if c.known {
		return result{status: http.StatusOK, body: ack, outcome: "posted", done: true}
	}
	if c.err != nil {
		return callFailed(h, c.err)
	}
	ok, err := h.compiled.success.Bool(ev.respond(c.res))
	if err != nil {
		// The legacy system answered, but we cannot tell what it did: treat
		// it as possibly posted, so the next attempt asks before posting.
		res := withLegacy(h.fail(http.StatusBadGateway, "mapping_failed", "cannot read the legacy answer", fmt.Errorf("success: %w", err)), c.res.Status)
		res.ambiguous = true
		return res
	}
	if !ok {
		return withLegacy(h.fail(http.StatusBadGateway, "legacy_refused",
			fmt.Sprintf("legacy system did not accept the payment (HTTP %d)", c.res.Status), nil), c.res.Status)
	}
	return result{status: http.StatusOK, body: ack, outcome: "posted", legacy: c.res.Status, done: true}
}

func (bill24Webhook) contentType() string { return jsonType }

func (bill24Webhook) envelope(status int, msg string) []byte {
	b, _ := bill24.Marshal(bill24.WebhookAck{Status: "Error", Message: msg})
	return b
}

var ackDuplicate, _ = bill24.Marshal(bill24.AckDuplicate)

func (bill24Webhook) duplicate() []byte { return ackDuplicate }
