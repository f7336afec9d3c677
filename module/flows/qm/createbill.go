package qm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/billbridge/caddy-billbridge/internal/text"
	"github.com/billbridge/caddy-billbridge/mappings"
	billbridge "github.com/billbridge/caddy-billbridge/module"
	wire "github.com/billbridge/caddy-billbridge/module/qm"
)

func init() {
	caddy.RegisterModule(CreateBill{})
}

// CreateBill lets the legacy system create a QM bill in its own format:
// mappings build QM's create request, billbridge signs and sends it, and
// QM's answer is mapped back, so the legacy system never learns MD5
// signing. Restrict its route to the legacy system with Caddy's remote_ip
// matcher.
type CreateBill struct {
	// Bill maps the legacy request to QM's create request: amount
	// (required), merchant_reference, callback_url and redirect_url
	// (default: this host's /qm/callback and /qm/return).
	Bill map[string]string `json:"bill,omitempty"`

	// Reply maps QM's answer (res) and the legacy request (req) to the
	// fields of the legacy system's answer; without it the answer is QM's
	// bill as QM names its fields.
	Reply map[string]string `json:"reply,omitempty"`

	// Currency is the currency of the merchant's QM bills, whose places
	// bound an amount (QM's create request names none; its bills say
	// which). Default: MYR.
	Currency string `json:"currency,omitempty"`

	app   *billbridge.App
	bill  map[string]*mappings.Program
	reply []namedProgram
}

// LegacyRequest is what the legacy system sent, as mappings see it (req).
type LegacyRequest struct {
	// Body is decoded by content type, like a legacy answer's.
	Body   any               `expr:"body"`
	Query  map[string]string `expr:"query"`
	Header map[string]string `expr:"header"`
	// Host is the host the legacy system called, for building URLs.
	Host string `expr:"host"`
}

// createEnv is what reply mappings see: the legacy request and QM's bill.
type createEnv struct {
	Req LegacyRequest    `expr:"req"`
	Res wire.CreatedBill `expr:"res"`
}

type createReqEnv = mappings.RequestEnv[LegacyRequest]

type namedProgram struct {
	name string
	prog *mappings.Program
}

// billFields are the create request's fields and their kinds.
var billFields = map[string]mappings.Kind{
	"amount": mappings.KindDecimal, "merchant_reference": mappings.KindString,
	"callback_url": mappings.KindString, "redirect_url": mappings.KindString,
}

// defaultCurrency is what QM bills in: Quantum Metal is a Malaysian
// company (protocols.md C) and its create request names no currency.
const defaultCurrency = "MYR"

// maxMerchantReference bounds the merchant reference, in bytes: it comes
// back in every callback and redirect, and QM documents no limit.
const maxMerchantReference = 128

// Default paths of the callback and redirect routes, on the host the
// legacy system called, when the bill block does not give URLs.
const (
	defaultCallbackPath = "/qm/callback"
	defaultRedirectPath = "/qm/return"
)

// CaddyModule returns the Caddy module information.
func (CreateBill) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "billbridge.flows.qm_create_bill",
		New: func() caddy.Module { return new(CreateBill) },
	}
}

// Provision compiles the bill and reply mappings.
func (f *CreateBill) Provision(ctx caddy.Context) error {
	app, err := billbridge.AppFor(ctx, "qm")
	if err != nil {
		return err
	}
	f.app = app
	if f.Currency == "" {
		f.Currency = defaultCurrency
	}
	if _, ok := app.Exponents().Exponent(f.Currency); !ok {
		return fmt.Errorf("currency %q: unknown (add it to the app's currency exponents)", f.Currency)
	}
	if f.Bill["amount"] == "" {
		return errors.New("bill: amount is required")
	}
	f.bill = map[string]*mappings.Program{}
	for _, name := range sortedKeys(f.Bill) {
		kind, ok := billFields[name]
		if !ok {
			return fmt.Errorf("bill: unknown field %q (want amount, merchant_reference, callback_url, redirect_url)", name)
		}
		p, err := app.Compiler().Compile(f.Bill[name], createReqEnv{}, kind)
		if err != nil {
			return fmt.Errorf("bill %s: %w", name, err)
		}
		f.bill[name] = p
	}
	for _, name := range sortedKeys(f.Reply) {
		p, err := app.Compiler().Compile(f.Reply[name], createEnv{}, mappings.KindAny)
		if err != nil {
			return fmt.Errorf("reply %s: %w", name, err)
		}
		f.reply = append(f.reply, namedProgram{name, p})
	}
	return nil
}

// Profile describes the flow to the pipeline.
func (f *CreateBill) Profile() billbridge.Profile {
	return billbridge.Profile{Key: "qm:create_bill", Methods: []string{http.MethodPost}, ContentType: billbridge.JSONType}
}

// Authenticate accepts the legacy system; restrict the route with Caddy's
// remote_ip matcher.
func (f *CreateBill) Authenticate(*http.Request, []byte) bool { return true }

// created is the flow's state from Send to Answer.
type created struct {
	req  LegacyRequest
	bill wire.CreateBillRequest
	got  wire.CreatedBill
}

// Decode reads the legacy system's request and maps it to QM's create
// request; a request the mappings cannot make a bill of is the legacy
// system's mistake (400).
func (f *CreateBill) Decode(r *http.Request, body []byte) (*billbridge.Event, error) {
	req := LegacyRequest{
		Body:   mappings.DecodeBody(r.Header.Get("Content-Type"), body),
		Query:  firstValues(r.URL.Query()),
		Header: firstValues(r.Header),
		Host:   r.Host,
	}
	env := createReqEnv{Req: req}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	cb, err := f.buildBill(env, scheme+"://"+req.Host)
	if err != nil {
		return nil, err
	}
	return &billbridge.Event{Payload: req, Env: env, State: &created{req: req, bill: cb}}, nil
}

// buildBill runs the bill mappings into QM's create request.
func (f *CreateBill) buildBill(env any, origin string) (wire.CreateBillRequest, error) {
	var cb wire.CreateBillRequest
	var err error
	if cb.Amount, err = f.bill["amount"].Decimal(env); err != nil {
		return cb, fmt.Errorf("amount: %w", err)
	}
	if cb.Amount.Sign() <= 0 {
		return cb, fmt.Errorf("amount must be positive, got %s", text.Truncate(cb.Amount.String(), 40))
	}
	// What QM would bill but no callback could post: more places than the
	// currency has (10.505 MYR: every callback's format_amount fails), or
	// more integer digits than any bill.
	if err := f.app.Exponents().CheckAmount("amount", cb.Amount, f.Currency); err != nil {
		return cb, err
	}
	str := func(name, def string) (string, error) {
		p := f.bill[name]
		if p == nil {
			return def, nil
		}
		v, err := p.String(env)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return v, nil
	}
	if cb.MerchantReference, err = str("merchant_reference", ""); err != nil {
		return cb, err
	}
	if err := checkReference(cb.MerchantReference); err != nil {
		return cb, fmt.Errorf("merchant_reference: %w", err)
	}
	if cb.CallbackURL, err = str("callback_url", origin+defaultCallbackPath); err != nil {
		return cb, err
	}
	if err := checkURL(cb.CallbackURL); err != nil {
		return cb, fmt.Errorf("callback_url: %w", err)
	}
	if cb.RedirectURL, err = str("redirect_url", origin+defaultRedirectPath); err != nil {
		return cb, err
	}
	if err := checkURL(cb.RedirectURL); err != nil {
		return cb, fmt.Errorf("redirect_url: %w", err)
	}
	return cb, nil
}

// checkReference refuses a merchant reference that would come back in
// callbacks and redirects as something other than what was meant: control
// characters (a tab or a newline can turn a redirect built from it into
// another host), invalid UTF-8, or more than maxMerchantReference bytes.
func checkReference(ref string) error {
	switch {
	case len(ref) > maxMerchantReference:
		return fmt.Errorf("longer than %d bytes", maxMerchantReference)
	case !utf8.ValidString(ref):
		return errors.New("not valid UTF-8")
	case !text.Printable(ref):
		return fmt.Errorf("%q holds a control character", text.Truncate(ref, 40))
	}
	return nil
}

// maxURL bounds callback_url and redirect_url, in bytes.
const maxURL = 2048

// checkURL refuses a callback or redirect URL QM could not use: not an
// absolute http(s) URL with a host, or with control characters or spaces.
func checkURL(s string) error {
	if len(s) > maxURL {
		return fmt.Errorf("longer than %d bytes", maxURL)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) || !utf8.ValidString(s) {
		return fmt.Errorf("%q holds a control character or a space", text.Clean(s, 64))
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute http(s) URL", text.Clean(s, 64))
	}
	return nil
}

// Send creates the bill at QM: the flow's outbound step.
func (f *CreateBill) Send(ctx context.Context, ev *billbridge.Event) error {
	st := ev.State.(*created)
	var err error
	st.got, err = f.app.QMClient().CreateBill(ctx, st.bill)
	return err
}

// Answer maps QM's answer back to the legacy system's format.
func (f *CreateBill) Answer(ev *billbridge.Event, out billbridge.Outcome) billbridge.Result {
	st := ev.State.(*created)
	if err := out.Err; err != nil {
		var apiErr *wire.APIError
		switch {
		case errors.As(err, &apiErr) && !apiErr.Temporary():
			return billbridge.Stop(billbridge.UpstreamRefused, "Quantum Metal refused the bill: "+apiErr.Message, err)
		case wire.IsTemporary(err):
			// A create that may have reached QM is not retried here: the
			// legacy system decides, knowing its own order.
			return billbridge.Stop(billbridge.UpstreamDown, "Quantum Metal is unavailable; the bill may or may not exist, check before retrying", err)
		}
		return billbridge.Stop(billbridge.UpstreamFailed, "unexpected answer from Quantum Metal", err)
	}
	ev.LogID = st.got.BillID
	if st.got.BillAmount.Cmp(st.bill.Amount) != 0 {
		return billbridge.Stop(billbridge.UpstreamFailed, fmt.Sprintf("Quantum Metal billed %s, not %s", st.got.BillAmount, st.bill.Amount), nil)
	}
	env := createEnv{Req: st.req, Res: st.got}
	var body []byte
	var err error
	if len(f.reply) == 0 {
		body, err = mappings.EncodeJSONValue(map[string]any{
			"billId": env.Res.BillID, "billUrl": env.Res.BillURL, "expiredOn": env.Res.ExpiredOn,
			"billAmount": env.Res.BillAmount, "requireGCAmount": env.Res.RequireGCAmount,
			"currency": env.Res.Currency, "merchantReference": env.Res.MerchantReference,
		})
	} else {
		out := make(map[string]any, len(f.reply))
		for _, r := range f.reply {
			v, err := r.prog.Run(env)
			if err != nil {
				return billbridge.Stop(billbridge.AnswerUnreadable, "cannot map Quantum Metal's answer", fmt.Errorf("reply %s: %w", r.name, err))
			}
			out[r.name] = v
		}
		body, err = mappings.EncodeJSONValue(out)
	}
	if err != nil {
		return billbridge.Stop(billbridge.Internal, "cannot encode the answer", err)
	}
	return billbridge.Result{Verdict: billbridge.Answered, Body: body, Label: "created"}
}

// Envelope is a small JSON error.
func (f *CreateBill) Envelope(_ int, msg string) []byte { return jsonError(msg) }

func firstValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Interface guards
var (
	_ billbridge.Flow     = (*CreateBill)(nil)
	_ billbridge.Sender   = (*CreateBill)(nil)
	_ billbridge.Answerer = (*CreateBill)(nil)
)
