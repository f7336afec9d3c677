package bill24

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

// Verify confirms the webhook with Bill24's Transaction Verify, when the
// bill24 settings have a verify block: only a transaction Bill24 reports as
// success, that agrees with the webhook on every field both give, goes on,
// and the mappings see Bill24's record (see reconcile).
func (f *Webhook) Verify(ctx context.Context, ev *billbridge.Event) billbridge.Result {
	if f.verifier == nil {
		return billbridge.Result{Verdict: billbridge.Verified}
	}
	w := ev.Payload.(wire.Webhook)
	t, err := f.verifier.Verify(ctx, w.ID)
	switch {
	case errors.Is(err, wire.ErrTransactionNotFound):
		// Not (yet) known to Bill24: forged, or not visible yet. Either
		// way nothing is posted; a genuine one goes through on a retry.
		return billbridge.Stop(billbridge.VerifyUnknown, "transaction not found at Bill24; retry later", err)
	case err != nil:
		return billbridge.Stop(billbridge.VerifyUnavailable, "unable to verify the transaction with Bill24; retry later", err)
	}
	if strings.EqualFold(t.Status, "pending") {
		return billbridge.Stop(billbridge.VerifyPending, "transaction is still pending at Bill24; retry later", nil)
	}
	if !strings.EqualFold(t.Status, "success") {
		return mismatch("status " + text.Truncate(t.Status, 32))
	}
	if err := t.Check(f.app.Exponents()); err != nil {
		// Bill24's own record is not a payment billbridge can post.
		return mismatch("Bill24's record: " + err.Error())
	}
	verified, what := reconcile(w, t)
	if what != "" {
		return mismatch(what)
	}
	verifiedEvent(ev, verified, t)
	return billbridge.Result{Verdict: billbridge.Verified}
}

// verifiedEvent makes the mappings see Bill24's record from here on, and
// keeps the record for a payment held in custody (Keep).
func verifiedEvent(ev *billbridge.Event, verified wire.Webhook, t wire.Transaction) {
	ev.Payload = verified
	ev.Env = webhookReqEnv{Req: verified}
	ev.Respond = func(res mappings.Response) any { return webhookResEnv{Req: verified, Res: res} }
	ev.Fingerprint = verified.Fingerprint()
	ev.State = t
}

func mismatch(what string) billbridge.Result {
	return billbridge.Result{Verdict: billbridge.VerifyMismatch, Detail: what}
}

// errStatus refuses a webhook whose status is not a completed payment.
func errStatus(status string) error {
	return fmt.Errorf("status %q is not a completed payment; nothing was posted", text.Truncate(status, 64))
}
