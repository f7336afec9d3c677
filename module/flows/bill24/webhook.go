// Package bill24 holds Bill24's flows, guest modules of the billbridge
// handler: bill24_proxy (what a customer owes) and bill24_webhook (a
// payment, posted exactly once). The wire types are in module/bill24.
package bill24

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/bill24"
)

func init() {
	caddy.RegisterModule(Webhook{})
}

// Webhook posts a Bill24 payment to the legacy API exactly once. With
// the bill24 settings' verify block, only a payment Bill24's Transaction
// Verify confirms goes on.
type Webhook struct {
	billbridge.Payment

	app      *billbridge.App
	verifier *wire.Verifier
}

type (
	webhookReqEnv = mappings.RequestEnv[wire.Webhook]
	webhookResEnv = mappings.ResponseEnv[wire.Webhook]
)

var (
	ackSuccess, _   = wire.Marshal(wire.AckSuccess)
	ackDuplicate, _ = wire.Marshal(wire.AckDuplicate)
)

// CaddyModule returns the Caddy module information.
func (Webhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.bill24_webhook",
		New: func() caddy.Module { return new(Webhook) },
	}
}

// Provision compiles the payment's mappings.
func (f *Webhook) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFor(ctx, "bill24")
	if err != nil {
		return err
	}
	f.app, f.verifier = app, app.Bill24Verifier()
	return f.Payment.Provision(app, webhookReqEnv{}, webhookResEnv{})
}

// Profile describes the flow to the pipeline.
func (f *Webhook) Profile() billbridge.Profile {
	return billbridge.Profile{
		Key:         "bill24:webhook",
		Methods:     []string{http.MethodPost},
		ContentType: billbridge.JSONType,
		IDFields:    []string{"tran_id", "tnx_id"},
		Payment:     &f.Payment,
		Ack:         ackSuccess,
		Duplicate:   ackDuplicate,
	}
}

// Authenticate checks Bill24's token header.
func (f *Webhook) Authenticate(r *http.Request, _ []byte) bool { return f.app.Bill24Token(r) }

// Decode parses and validates a webhook in any of its three shapes.
func (f *Webhook) Decode(_ *http.Request, body []byte) (*billbridge.Event, error) {
	w, err := wire.DecodeWebhook(body, f.app.Exponents())
	if err != nil {
		return nil, err
	}
	if w.Status != "" && !strings.EqualFold(w.Status, "success") {
		return nil, errStatus(w.Status)
	}
	return &billbridge.Event{
		Payload:     w,
		Env:         webhookReqEnv{Req: w},
		Respond:     func(res mappings.Response) any { return webhookResEnv{Req: w, Res: res} },
		ID:          w.ID,
		Fingerprint: w.Fingerprint(),
		LogID:       w.ID,
		Call:        f.CompiledCall(),
	}, nil
}

// Envelope is Bill24's webhook answer with status Error.
func (f *Webhook) Envelope(_ int, msg string) []byte {
	b, _ := wire.Marshal(wire.WebhookAck{Status: "Error", Message: msg})
	return b
}

// UnmarshalCaddyfile sets up the flow. Syntax: the payment subdirectives
// (see billbridge.Payment), of which call is required.
func (f *Webhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(webhookReqEnv{}, webhookResEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		handled, err := f.UnmarshalSubdirective(d, chk, seen)
		if err != nil {
			return err
		}
		if !handled {
			return d.Errf("unrecognized subdirective '%s' in bill24_webhook", d.Val())
		}
	}
	return f.RequireCall(d)
}

// Interface guards
var (
	_ billbridge.Flow       = (*Webhook)(nil)
	_ billbridge.Verifier   = (*Webhook)(nil)
	_ caddy.Provisioner     = (*Webhook)(nil)
	_ caddyfile.Unmarshaler = (*Webhook)(nil)
)
