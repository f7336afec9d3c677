package qm

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

func init() {
	caddy.RegisterModule(Redirect{})
}

// Redirect is where the customer's browser comes back from QM, with
// ?billId=&merchantReference=&status=. The query's status is never
// believed: the bill is asked for again and the browser is sent (302) to a
// legacy page built from QM's answer.
type Redirect struct {
	// Redirect builds the page the customer is sent to, from the verified
	// bill: a path on this site or an http(s) URL.
	Redirect string `json:"redirect,omitempty"`

	app      *billbridge.App
	redirect *mappings.Program
}

// CaddyModule returns the Caddy module information.
func (Redirect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.qm_redirect",
		New: func() caddy.Module { return new(Redirect) },
	}
}

// Provision compiles the redirect expression.
func (f *Redirect) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFrom(ctx)
	if err != nil {
		return err
	}
	if err := app.NeedQM(); err != nil {
		return err
	}
	f.app = app
	if f.Redirect == "" {
		return errors.New("redirect <expr> is required: where to send the customer, built from the verified bill")
	}
	if f.redirect, err = app.Compiler().Compile(f.Redirect, reqEnv{}, mappings.KindString); err != nil {
		return fmt.Errorf("redirect: %v", err)
	}
	return nil
}

// Profile describes the flow to the pipeline.
func (f *Redirect) Profile() billbridge.Profile {
	return billbridge.Profile{Key: "qm:redirect", Methods: []string{http.MethodGet, http.MethodHead}, ContentType: "text/html; charset=utf-8"}
}

// Authenticate accepts anyone: the bill is requeried.
func (f *Redirect) Authenticate(*http.Request, []byte) bool { return true }

// Decode reads the bill id from the query; nothing else in it is used.
func (f *Redirect) Decode(r *http.Request, _ []byte) (*billbridge.Event, error) {
	id := r.URL.Query().Get("billId")
	if id == "" {
		return nil, errors.New("this link is missing its bill reference (billId)")
	}
	if wire.CheckBillID(id) != nil {
		return nil, errors.New("this link's bill reference is not valid")
	}
	ev := billEvent(wire.Bill{BillID: id})
	ev.ID = "" // moves no money
	return ev, nil
}

// Verify replaces the bill with QM's.
func (f *Redirect) Verify(ctx context.Context, ev *billbridge.Event) billbridge.Result {
	bill, stop := requery(ctx, f.app, ev.LogID, true)
	if stop != nil {
		return *stop
	}
	*ev = *billEvent(bill)
	ev.ID = ""
	return billbridge.Result{Verdict: billbridge.Verified}
}

// Answer sends the browser to the page built from the verified bill.
func (f *Redirect) Answer(ev *billbridge.Event, _ billbridge.Outcome) billbridge.Result {
	to, err := f.redirect.String(ev.Env)
	if err == nil && !safeRedirect(to) {
		err = fmt.Errorf("redirect %q is neither a path nor an http(s) URL", text.Truncate(to, 64))
	}
	if err != nil {
		return billbridge.Stop(billbridge.Internal, "We could not send you back to the shop. Please contact the merchant.", err)
	}
	return billbridge.Result{
		Verdict: billbridge.Answered,
		Status:  http.StatusFound,
		Label:   "redirected",
		Header:  http.Header{"Location": {to}},
		Body:    []byte(`<a href="` + html.EscapeString(to) + `">Continue</a>`),
	}
}

// safeRedirect accepts a path on this site or an absolute http(s) URL.
func safeRedirect(to string) bool {
	if strings.ContainsAny(to, "\r\n") {
		return false
	}
	if strings.HasPrefix(to, "/") {
		return !strings.HasPrefix(to, "//") && !strings.HasPrefix(to, "/\\")
	}
	return strings.HasPrefix(to, "https://") || strings.HasPrefix(to, "http://")
}

// Envelope is a small page for a person, not a machine.
func (f *Redirect) Envelope(_ int, msg string) []byte {
	return []byte("<!doctype html><meta charset=utf-8><title>Payment</title><p>" + html.EscapeString(msg) + "</p>\n")
}

// UnmarshalCaddyfile sets up the flow. Syntax:
//
//	qm_redirect {
//		redirect <value>
//	}
func (f *Redirect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the flow's name
	if d.NextArg() {
		return d.ArgErr()
	}
	chk := billbridge.NewExprChecker(reqEnv{}, resEnv{})
	seen := billbridge.Once{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "redirect" {
			return d.Errf("unrecognized subdirective '%s' in qm_redirect", d.Val())
		}
		if err := seen.Check(d); err != nil {
			return err
		}
		v, err := billbridge.OneArg(d)
		if err != nil {
			return err
		}
		if err := chk.Request(d, v, mappings.KindString); err != nil {
			return err
		}
		f.Redirect = v
	}
	if f.Redirect == "" {
		return d.Err("redirect <expr> is required")
	}
	return nil
}

// Interface guards
var (
	_ billbridge.Flow       = (*Redirect)(nil)
	_ billbridge.Verifier   = (*Redirect)(nil)
	_ billbridge.Answerer   = (*Redirect)(nil)
	_ caddyfile.Unmarshaler = (*Redirect)(nil)
)
