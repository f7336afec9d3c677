// Package qm holds Quantum Metal's flows, guest modules of the billbridge
// handler: qm_callback (a final bill, posted exactly once), qm_redirect
// (the customer's way back to the shop) and qm_create_bill (the legacy
// system creates a bill). QM's docs say never to trust a callback or a
// redirect: every one is asked of QM's Requery API first. The wire types
// and the signing client are in module/qm.
package qm

import (
	"context"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

func init() {
	caddy.RegisterModule(Callback{})
}

// Callback posts a Quantum Metal bill's final status to the legacy API
// exactly once: the bill is asked for again (Requery) and only QM's answer
// is acted on. A paid bill goes to call; a failed or cancelled one to
// on_failed or on_cancelled, or, without one, is acknowledged and nothing
// is sent.
type Callback struct {
	billbridge.Payment

	// OnFailed and OnCancelled are the legacy calls for a bill that ended
	// Failed or Cancelled.
	OnFailed    *billbridge.Call `json:"on_failed,omitempty"`
	OnCancelled *billbridge.Call `json:"on_cancelled,omitempty"`

	// SkipRequery trusts callbacks as sent, without asking QM's Requery
	// API. Never do this in production: anyone who can reach the route
	// could mark a bill paid. It is logged as a warning at start.
	SkipRequery bool `json:"skip_requery,omitempty"`

	app         *billbridge.App
	onFailed    *billbridge.CompiledCall
	onCancelled *billbridge.CompiledCall
}

type (
	reqEnv = mappings.RequestEnv[wire.Bill]
	resEnv = mappings.ResponseEnv[wire.Bill]
)

var ack = []byte(`{"received":true}`)

// CaddyModule returns the Caddy module information.
func (Callback) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.qm_callback",
		New: func() caddy.Module { return new(Callback) },
	}
}

// Provision compiles the payment's mappings and the failed/cancelled calls.
func (f *Callback) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFor(ctx, "qm")
	if err != nil {
		return err
	}
	f.app = app
	if err := f.Payment.Provision(app, reqEnv{}, resEnv{}); err != nil {
		return err
	}
	if f.OnFailed != nil {
		if f.onFailed, err = billbridge.CompileCall(f.OnFailed, app.Compiler(), reqEnv{}, "on_failed"); err != nil {
			return err
		}
	}
	if f.OnCancelled != nil {
		if f.onCancelled, err = billbridge.CompileCall(f.OnCancelled, app.Compiler(), reqEnv{}, "on_cancelled"); err != nil {
			return err
		}
	}
	if f.SkipRequery {
		ctx.Logger().Warn("qm_callback: requery is off: callbacks are trusted as sent, and anyone who can reach this route can mark a bill paid")
	}
	return nil
}

// Profile describes the flow to the pipeline.
func (f *Callback) Profile() billbridge.Profile {
	return billbridge.Profile{
		Key:         "qm:callback",
		Methods:     []string{http.MethodPost},
		ContentType: billbridge.JSONType,
		IDFields:    []string{"billId"},
		Payment:     &f.Payment,
		Ack:         ack,
		Duplicate:   ack,
	}
}

// Authenticate accepts QM's callback: QM documents no credentials on it,
// and the bill is requeried anyway. A Sign header, if QM sends one, must
// be right (protocols.md C.4).
func (f *Callback) Authenticate(r *http.Request, body []byte) bool {
	sign := r.Header.Get("Sign")
	return sign == "" || wire.VerifySign(body, f.app.QMSecret(), sign)
}

// Decode parses the callback: what it claims, to be requeried.
func (f *Callback) Decode(_ *http.Request, body []byte) (*billbridge.Event, error) {
	b, err := wire.DecodeCallback(body, f.app.Exponents())
	if err != nil {
		return nil, err
	}
	return f.event(b), nil
}

// event makes the event mappings see from a bill, with the call its
// status asks for.
func (f *Callback) event(b wire.Bill) *billbridge.Event {
	ev := billEvent(b)
	switch b.Status {
	case wire.StatusFailed:
		ev.Call = f.onFailed
	case wire.StatusCancelled:
		ev.Call = f.onCancelled
	default:
		ev.Call = f.CompiledCall()
	}
	return ev
}

// billEvent makes the event mappings see from a bill.
func billEvent(b wire.Bill) *billbridge.Event {
	return &billbridge.Event{
		Payload:     b,
		Env:         reqEnv{Req: b},
		Respond:     func(res mappings.Response) any { return resEnv{Req: b, Res: res} },
		ID:          b.BillID,
		Fingerprint: b.Fingerprint(),
		LogID:       b.BillID,
	}
}

// Verify asks QM for the bill and acts only on QM's answer: a callback that
// contradicts it is never forwarded, and only a final bill goes on.
func (f *Callback) Verify(ctx context.Context, ev *billbridge.Event) billbridge.Result {
	claimed := ev.Payload.(wire.Bill)
	bill := claimed
	if !f.SkipRequery {
		var stop *billbridge.Result
		if bill, stop = requery(ctx, f.app, claimed.BillID, false); stop != nil {
			return *stop
		}
		switch {
		case bill.Status != claimed.Status:
			return mismatch(fmt.Sprintf("status %d vs %d", claimed.Status, bill.Status))
		case bill.BillAmount.Cmp(claimed.BillAmount) != 0:
			return mismatch("amount " + claimed.BillAmount.String() + " vs " + bill.BillAmount.String())
		case bill.Currency != claimed.Currency:
			return mismatch("currency " + claimed.Currency + " vs " + bill.Currency)
		}
	}
	if !wire.FinalStatus(bill.Status) {
		return billbridge.Stop(billbridge.NotFinal, "bill is not final yet; call again later", nil)
	}
	*ev = *f.event(bill)
	return billbridge.Result{Verdict: billbridge.Verified}
}

// requery asks QM for a bill. For a browser (page), an unknown bill is
// the link's fault (400); for a callback it contradicts the message.
func requery(ctx context.Context, app *billbridge.App, id string, page bool) (wire.Bill, *billbridge.Result) {
	requery := app.QMClient().Requery
	if page {
		// Second to payments: a flood of redirects cannot spend the
		// callbacks' rate budget.
		requery = app.QMClient().RequeryForPage
	}
	bill, err := requery(ctx, id)
	if err == nil {
		return bill, nil
	}
	var res billbridge.Result
	switch {
	case wire.IsTemporary(err) && page:
		res = billbridge.Stop(billbridge.VerifyUnavailable, "We could not confirm your payment just now. Please reload this page in a moment.", err)
	case wire.IsTemporary(err):
		res = billbridge.Stop(billbridge.VerifyUnavailable, "unable to confirm the bill with Quantum Metal; retry later", err)
	case page:
		res = billbridge.Stop(billbridge.UnknownBill, "We could not find this bill. Please go back to the shop and try again.", err)
	default:
		res = mismatch("bill unknown to Quantum Metal: " + err.Error())
	}
	return bill, &res
}

func mismatch(what string) billbridge.Result {
	return billbridge.Result{Verdict: billbridge.VerifyMismatch, Detail: what}
}

// Envelope is a small JSON error.
func (f *Callback) Envelope(_ int, msg string) []byte { return jsonError(msg) }

func jsonError(msg string) []byte {
	b, _ := mappings.EncodeJSONValue(map[string]any{"error": msg})
	return b
}

// UnmarshalCaddyfile sets up the flow. Syntax: the payment subdirectives
// (see billbridge.Payment), of which call is required, and
//
//	on_failed    <method> <path> { … }
//	on_cancelled <method> <path> { … }
//	requery off
func (f *Callback) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(reqEnv{}, resEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		handled, err := f.UnmarshalSubdirective(d, chk, seen)
		if err != nil {
			return err
		}
		if handled {
			continue
		}
		switch sub := d.Val(); sub {
		case "on_failed", "on_cancelled":
			if err := seen.Check(d); err != nil {
				return err
			}
			c, _, err := billbridge.ParseCall(d, chk, false)
			if err != nil {
				return err
			}
			if sub == "on_failed" {
				f.OnFailed = c
			} else {
				f.OnCancelled = c
			}
		case "requery":
			if err := seen.Check(d); err != nil {
				return err
			}
			v, err := billbridge.OneArg(d)
			if err != nil {
				return err
			}
			if v != "off" {
				return d.Errf("requery takes only off (it is on by default), not %q", v)
			}
			f.SkipRequery = true
		default:
			return d.Errf("unrecognized subdirective '%s' in qm_callback", sub)
		}
	}
	return f.RequireCall(d)
}

// Interface guards
var (
	_ billbridge.Flow       = (*Callback)(nil)
	_ billbridge.Verifier   = (*Callback)(nil)
	_ caddy.Provisioner     = (*Callback)(nil)
	_ caddyfile.Unmarshaler = (*Callback)(nil)
)
